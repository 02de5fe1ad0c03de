// Transactions per property type over time: an inline SVG line chart (one <path> per tipo),
// its legend (buttons that hide or show a line) and a tooltip. Counts only, never money.

import { MONTHS, formatCount, formatDate } from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const DAY_MS = 86_400_000;
const AUTO_DAILY_MAX_DAYS = 92;
const AUTO_WEEKLY_MAX_DAYS = 730;
const X_LABELS = 7;
const Y_TICKS = 5;
const BOX = { width: 960, height: 380, left: 70, right: 20, top: 20, bottom: 62 };
const PLOT_W = BOX.width - BOX.left - BOX.right;
const PLOT_H = BOX.height - BOX.top - BOX.bottom;
// Distinguishable on white and for common colour blindness; past 12 tipos lines are dashed.
const PALETTE = ["#1f6fb2", "#e08a00", "#138a5e", "#c43c2f", "#8d5fb8", "#2aa3c9",
                 "#8c6d1f", "#d45a9e", "#4d4d4d", "#7a9a01", "#0b3d63", "#b35c00"];

const dayNumber = (iso) => {
  const [y, m, d] = iso.slice(0, 10).split("-").map((part) => parseInt(part, 10));
  return Date.UTC(y, m - 1, d) / DAY_MS;
};
const isoOfDay = (day) => new Date(day * DAY_MS).toISOString().slice(0, 10);

const GROUPINGS = {
  dia: {
    label: "dia",
    bucket: (day) => day,
    next: (day) => day + 1,
    format: (day) => formatDate(isoOfDay(day)),
  },
  semana: { // weeks start on Monday; 1970-01-01 (day 0) was a Thursday
    label: "semana",
    bucket: (day) => day - ((day + 3) % 7),
    next: (day) => day + 7,
    format: (day) => formatDate(isoOfDay(day)),
  },
  mes: {
    label: "mês",
    bucket: (day) => dayNumber(`${isoOfDay(day).slice(0, 7)}-01`),
    next: (day) => {
      const date = new Date(day * DAY_MS);
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1) / DAY_MS;
    },
    format: (day) => {
      const iso = isoOfDay(day);
      return `${MONTHS[parseInt(iso.slice(5, 7), 10) - 1]}/${iso.slice(0, 4)}`;
    },
  },
};

function groupingFor(choice, firstDay, lastDay) {
  if (choice in GROUPINGS) return GROUPINGS[choice];
  const span = lastDay - firstDay + 1;
  if (span <= AUTO_DAILY_MAX_DAYS) return GROUPINGS.dia;
  return span <= AUTO_WEEKLY_MAX_DAYS ? GROUPINGS.semana : GROUPINGS.mes;
}

/** Daily rows -> {grouping, buckets: [day numbers], series: [{tipo, values, total, ...}]}:
 * every bucket from the first to the last day, 0 where a tipo had no transaction. */
function buildSeries(rows, choice) {
  const days = rows.map((row) => dayNumber(row.data_transacao));
  const firstDay = days.reduce((a, b) => Math.min(a, b));
  const lastDay = days.reduce((a, b) => Math.max(a, b));
  const grouping = groupingFor(choice, firstDay, lastDay);
  const buckets = [];
  for (let b = grouping.bucket(firstDay); b <= lastDay; b = grouping.next(b)) buckets.push(b);
  const position = new Map(buckets.map((b, i) => [b, i]));
  const byTipo = new Map();
  rows.forEach((row, i) => {
    if (!byTipo.has(row.tipo)) byTipo.set(row.tipo, new Array(buckets.length).fill(0));
    byTipo.get(row.tipo)[position.get(grouping.bucket(days[i]))] += row.quantidade_transacoes;
  });
  const tipos = [...byTipo.keys()].sort((a, b) => a.localeCompare(b, "pt-BR"));
  const series = tipos.map((tipo, i) => ({
    tipo,
    values: byTipo.get(tipo),
    total: byTipo.get(tipo).reduce((a, b) => a + b, 0),
    color: PALETTE[i % PALETTE.length],
    dashed: i >= PALETTE.length,
  }));
  return { grouping, buckets, series };
}

function niceStep(max) {
  const raw = Math.max(max, 1) / Y_TICKS;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return Math.max(1, [1, 2, 5, 10].map((f) => f * magnitude).find((s) => s >= raw));
}

function svg(name, attributes = {}, text = null) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [attribute, value] of Object.entries(attributes)) {
    element.setAttribute(attribute, String(value));
  }
  if (text !== null) element.textContent = text;
  return element;
}

function scales(buckets, visible) {
  const maxValue = Math.max(1, ...visible.flatMap((s) => s.values));
  const step = niceStep(maxValue);
  const yMax = Math.ceil(maxValue / step) * step;
  const last = buckets.length - 1;
  return {
    step,
    yMax,
    x: (i) => BOX.left + (last === 0 ? PLOT_W / 2 : (i * PLOT_W) / last),
    y: (v) => BOX.top + PLOT_H - (v * PLOT_H) / yMax,
  };
}

function drawAxes({ grouping, buckets }, { step, yMax, x, y }) {
  const axes = svg("g", { class: "eixos", "aria-hidden": "true" });
  for (let v = 0; v <= yMax; v += step) {
    axes.append(svg("line", { x1: BOX.left, x2: BOX.width - BOX.right, y1: y(v), y2: y(v),
                              class: v === 0 ? "eixo" : "grade" }));
    axes.append(svg("text", { x: BOX.left - 8, y: y(v) + 4, class: "rotulo-y" },
                    formatCount(v)));
  }
  const count = Math.min(buckets.length, X_LABELS);
  const last = buckets.length - 1;
  const labelled = new Set(Array.from({ length: count },
    (_, k) => (count === 1 ? 0 : Math.round((k * last) / (count - 1)))));
  for (const i of labelled) {
    // The end labels hang inwards so they never leave the drawing.
    const anchor = last > 0 && i === 0 ? "start" : last > 0 && i === last ? "end" : "middle";
    axes.append(svg("line", { x1: x(i), x2: x(i), y1: y(0), y2: y(0) + 5, class: "eixo" }));
    axes.append(svg("text", { x: x(i), y: y(0) + 20, class: "rotulo-x", "text-anchor": anchor },
                    grouping.format(buckets[i])));
  }
  axes.append(svg("text", { x: BOX.left + PLOT_W / 2, y: BOX.height - 10, class: "titulo-eixo" },
                  grouping === GROUPINGS.mes ? "Mês da transação" : "Data da transação"));
  const middle = BOX.top + PLOT_H / 2;
  axes.append(svg("text", { x: 16, y: middle, class: "titulo-eixo",
                            transform: `rotate(-90 16 ${middle})` },
                  `Transações por ${grouping.label}`));
  return axes;
}

function drawLines({ series }, { x, y }, hidden) {
  const lines = svg("g", { class: "linhas" });
  for (const s of series) {
    const d = s.values.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`)
      .join("");
    const path = svg("path", { d, class: "linha", "data-tipo": s.tipo, stroke: s.color,
                               "stroke-dasharray": s.dashed ? "6 3" : "none" });
    if (hidden.has(s.tipo)) path.setAttribute("visibility", "hidden");
    path.append(svg("title", {}, `${s.tipo}: ${formatCount(s.total)} transações`));
    lines.append(path);
  }
  return lines;
}

function tooltipOf(figure) {
  let box = figure.querySelector(".dica");
  if (!box) {
    box = document.createElement("div");
    box.className = "dica";
    box.setAttribute("aria-hidden", "true"); // the same numbers are in the legend and <desc>
    figure.append(box);
  }
  box.hidden = true;
  return box;
}

/** A guide line and a tooltip with every visible tipo's value at the pointer's bucket. */
function addHover(chart, figure, { grouping, buckets }, visible, { x }) {
  const guide = svg("line", { class: "guia", y1: BOX.top, y2: BOX.top + PLOT_H,
                              visibility: "hidden", "aria-hidden": "true" });
  const overlay = svg("rect", { x: BOX.left, y: BOX.top, width: PLOT_W, height: PLOT_H,
                                class: "sobreposicao" });
  chart.append(guide, overlay);
  const tooltip = tooltipOf(figure);
  const last = buckets.length - 1;
  overlay.addEventListener("pointerleave", () => {
    guide.setAttribute("visibility", "hidden");
    tooltip.hidden = true;
  });
  overlay.addEventListener("pointermove", (event) => {
    const box = chart.getBoundingClientRect();
    const scale = BOX.width / box.width;
    const px = (event.clientX - box.left) * scale;
    const i = Math.max(0, Math.min(last, Math.round(((px - BOX.left) * last) / PLOT_W)));
    guide.setAttribute("x1", x(i));
    guide.setAttribute("x2", x(i));
    guide.setAttribute("visibility", "visible");
    const title = document.createElement("strong");
    title.textContent = grouping === GROUPINGS.semana
      ? `semana de ${grouping.format(buckets[i])}` : grouping.format(buckets[i]);
    const list = document.createElement("ul");
    for (const s of [...visible].sort((a, b) => b.values[i] - a.values[i])) {
      const item = document.createElement("li");
      item.style.setProperty("--cor", s.color);
      item.textContent = `${s.tipo}: ${formatCount(s.values[i])}`;
      list.append(item);
    }
    tooltip.replaceChildren(title, list);
    tooltip.hidden = false;
    const area = figure.getBoundingClientRect();
    const left = event.clientX - area.left + 14;
    tooltip.style.left = `${Math.min(left, area.width - tooltip.offsetWidth - 4)}px`;
    tooltip.style.top = `${box.top - area.top + BOX.top / scale + 4}px`;
  });
}

function describe({ grouping, buckets, series }) {
  const leader = [...series].sort((a, b) => b.total - a.total)[0];
  return `Uma linha por tipo de imóvel (${series.length} tipos), de ` +
    `${grouping.format(buckets[0])} a ${grouping.format(buckets[buckets.length - 1])}, ` +
    `quantidade de transações por ${grouping.label}. ` +
    `Tipo com mais transações: ${leader.tipo} (${formatCount(leader.total)}).`;
}

function renderLegend(legend, { series }, hidden, onToggle) {
  legend.replaceChildren(...series.map((s) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.tipo = s.tipo;
    button.setAttribute("aria-pressed", String(!hidden.has(s.tipo)));
    button.style.setProperty("--cor", s.color);
    button.classList.toggle("tracejada", s.dashed);
    const swatch = document.createElement("span");
    swatch.className = "amostra";
    swatch.setAttribute("aria-hidden", "true");
    const name = document.createElement("span");
    name.textContent = s.tipo;
    const total = document.createElement("span");
    total.className = "total";
    total.textContent = formatCount(s.total);
    button.append(swatch, name, total);
    button.addEventListener("click", () => onToggle(s.tipo));
    const item = document.createElement("li");
    item.append(button);
    return item;
  }));
}

/** Draws `rows` (items of /v1/transacoes-diarias-por-tipo) into the page's chart elements.
 * `hidden` holds the tipos switched off in the legend; `onToggle(tipo)` flips one. */
export function renderChart({ chart, desc, legend, figure }, rows, choice, hidden, onToggle) {
  chart.querySelectorAll(":scope > :not(title):not(desc)").forEach((node) => node.remove());
  if (rows.length === 0) {
    desc.textContent = "Ainda não há transações.";
    legend.replaceChildren();
    return;
  }
  const data = buildSeries(rows, choice);
  const visible = data.series.filter((s) => !hidden.has(s.tipo));
  const scale = scales(data.buckets, visible);
  chart.append(drawAxes(data, scale), drawLines(data, scale, hidden));
  addHover(chart, figure, data, visible, scale);
  desc.textContent = describe(data);
  renderLegend(legend, data, hidden, onToggle);
}
