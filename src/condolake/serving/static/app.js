// CondoLake dashboard: vanilla JS modules, no build step, no network besides this server.
// Sign-in with an API key (kept in sessionStorage), then freshness badge, grand totals,
// totals per condominium, daily chart per property type and the top residents by value.

import { apiGet, errorMessage, fetchAll, fetchDaily, isAuthError } from "./api.js";
import { renderChart } from "./chart.js";
import {
  formatAge, formatBrl, formatCents, formatCount, formatDateTime, parseCents,
} from "./format.js";

const KEY_STORAGE = "condolake.apiKey";
const TOP_RESIDENTS = 10;
const STALE_AFTER_S = 3600; // the badge turns amber after an hour without a new version
const FRESHNESS_POLL_MS = 60_000;
const AGE_TICK_MS = 15_000;
const MAX_SET_RETRIES = 3; // a new gold set arrived while the tables were read: read again
const DAILY_NOTE = "O gráfico diário por tipo de imóvel reúne todos os condomínios e não " +
  "está disponível para chaves restritas a um condomínio.";

const $ = (selector) => document.querySelector(selector);

const state = {
  key: null,
  generation: 0, // bumps at every sign-in/out: late answers of an older one are dropped
  daily: null, // rows of the daily mart, or null when the key may not read it
  hiddenTipos: new Set(),
  versions: null,
  freshness: null,
  freshnessAt: 0,
  timers: [],
};

// ------------------------------------------------------------------ key and page state

function readStoredKey() {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch (_) {
    return null;
  }
}

function storeKey(key) {
  try {
    if (key === null) sessionStorage.removeItem(KEY_STORAGE);
    else sessionStorage.setItem(KEY_STORAGE, key);
  } catch (_) {
    // Storage disabled: the key lives only in this page.
  }
}

function showError(message) {
  const box = $("#erro");
  box.textContent = message;
  box.hidden = !message;
}

function setSignedIn(signedIn) {
  $("#form-chave").hidden = signedIn;
  $("#sessao").hidden = !signedIn;
  $("#conteudo").hidden = !signedIn;
  if (!signedIn) $("#freshness").hidden = true;
}

function setLoading(loading) {
  $("#carregando").hidden = !loading;
  $("#entrar").disabled = loading;
  document.body.setAttribute("aria-busy", String(loading));
}

function stopTimers() {
  state.timers.forEach((timer) => clearInterval(timer));
  state.timers = [];
}

function signOut(message = "") {
  state.generation += 1;
  Object.assign(state, { key: null, versions: null, daily: null });
  state.hiddenTipos.clear();
  stopTimers();
  storeKey(null);
  setLoading(false);
  setSignedIn(false);
  showError(message);
  $("#api-key").value = "";
  $("#api-key").focus();
}

async function signIn(key) {
  state.generation += 1;
  const generation = state.generation;
  state.key = key;
  stopTimers();
  showError("");
  setLoading(true);
  try {
    const data = await fetchGoldSet(key);
    if (generation !== state.generation) return;
    storeKey(key);
    render(data);
    setSignedIn(true);
    state.timers.push(setInterval(() => pollFreshness(generation), FRESHNESS_POLL_MS),
                      setInterval(renderFreshness, AGE_TICK_MS));
  } catch (error) {
    if (generation !== state.generation) return;
    if (isAuthError(error)) {
      signOut(errorMessage(error));
    } else {
      showError(errorMessage(error));
    }
  } finally {
    if (generation === state.generation) setLoading(false);
  }
}

/**
 * The three tables as one published gold set: every answer's version must be the one the
 * freshness call named, or a new set arrived meanwhile and everything is read again.
 */
async function fetchGoldSet(key) {
  for (let attempt = 0; attempt < MAX_SET_RETRIES; attempt += 1) {
    // The cheap call first: a wrong key fails once, not four times in parallel.
    const freshness = await apiGet(key, "v1/freshness");
    const [condominios, top, daily] = await Promise.all([
      fetchAll(key, "v1/transacoes-por-condominio", { sort: "condominio_id" }),
      apiGet(key, "v1/transacoes-por-morador",
             { sort: "-valor_total", limit: TOP_RESIDENTS, offset: 0 }),
      fetchDaily(key),
    ]);
    const served = Object.fromEntries((freshness.tables || []).map((t) => [t.table, t.version]));
    if (condominios.version === served.transacoes_por_condominio &&
        top.table_version === served.transacoes_por_morador &&
        (daily === null || daily.version === served.transacoes_diarias_por_tipo)) {
      return { freshness, condominios, top, daily };
    }
  }
  throw new Error("os dados mudaram durante a leitura; tente de novo");
}

/** Reload everything when a gold table has a new version; otherwise refresh the badge. */
async function pollFreshness(generation) {
  try {
    const freshness = await apiGet(state.key, "v1/freshness");
    if (generation !== state.generation) return;
    if (tableVersions(freshness) !== state.versions) {
      await signIn(state.key);
    } else {
      setFreshness(freshness);
    }
  } catch (error) {
    if (generation === state.generation && isAuthError(error)) signOut(errorMessage(error));
  }
}

// ------------------------------------------------------------------ rendering

function render({ freshness, condominios, top, daily }) {
  state.versions = tableVersions(freshness);
  setFreshness(freshness);
  renderCondominios(condominios.items);
  renderTotals(condominios.items);
  renderTopResidents(top.items);
  state.daily = daily === null ? null : daily.items;
  renderDaily();
  const only = daily === null && condominios.items.length === 1 ? condominios.items[0] : null;
  $("#perfil").textContent = only ? `Acesso ao condomínio ${only.nome}`
    : "Acesso a todos os condomínios";
}

function tableVersions(freshness) {
  return (freshness.tables || []).map((t) => `${t.table}@${t.version}`).sort().join(",");
}

function setFreshness(freshness) {
  state.freshness = freshness;
  state.freshnessAt = Date.now();
  renderFreshness();
}

/** The badge speaks for the stalest gold table: the page is only as fresh as that one. */
function renderFreshness() {
  const badge = $("#freshness");
  const tables = (state.freshness?.tables || []).filter((t) => t.committed_at);
  badge.hidden = false;
  if (tables.length === 0) {
    badge.textContent = "Sem informação de atualização";
    badge.dataset.stale = "true";
    badge.className = "frescor desatualizado";
    return;
  }
  const oldest = tables.reduce((a, b) =>
    (Date.parse(a.committed_at) <= Date.parse(b.committed_at) ? a : b));
  const elapsed = (Date.now() - state.freshnessAt) / 1000;
  const age = Math.max(...tables.map((t) => Number(t.age_seconds) || 0)) + elapsed;
  const stale = age > STALE_AFTER_S;
  badge.dataset.stale = String(stale);
  badge.className = stale ? "frescor desatualizado" : "frescor";
  const when = document.createElement("strong");
  when.textContent = `Atualizado em ${formatDateTime(oldest.committed_at)}`;
  const ageText = document.createElement("span");
  ageText.className = "idade";
  ageText.textContent = ` · ${formatAge(age)}${stale ? " (desatualizado)" : ""}`;
  badge.replaceChildren(when, ageText);
  badge.title = tables.map((t) =>
    `${t.table}: versão ${t.version}, ${formatDateTime(t.committed_at)}`).join("\n");
}

function cell(text, className, tag = "td") {
  const element = document.createElement(tag);
  element.textContent = text;
  if (className) element.className = className;
  if (tag === "th") element.scope = "row";
  return element;
}

function fillBody(selector, items, columns, emptyText, rowOf) {
  const body = $(`${selector} tbody`);
  if (items.length === 0) {
    const empty = cell(emptyText, "vazio");
    empty.colSpan = columns;
    const row = document.createElement("tr");
    row.append(empty);
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(...items.map(rowOf));
}

function renderCondominios(items) {
  fillBody("#tabela-condominios", items, 4, "Nenhum condomínio encontrado.", (item) => {
    const row = document.createElement("tr");
    row.dataset.condominioId = String(item.condominio_id);
    row.append(cell(String(item.condominio_id), "num"), cell(item.nome, "", "th"),
               cell(formatCount(item.quantidade_transacoes), "num"),
               cell(formatBrl(item.valor_total), "num"));
    return row;
  });
}

/** Grand totals: BigInt sums over every condominium, exact to the cent. */
function renderTotals(items) {
  let count = 0n;
  let cents = 0n;
  for (const item of items) {
    count += BigInt(item.quantidade_transacoes);
    cents += parseCents(item.valor_total);
  }
  $("#total-transacoes").textContent = formatCount(count);
  $("#valor-total").textContent = formatCents(cents);
  $("#total-condominios").textContent = formatCount(items.length);
}

function renderTopResidents(items) {
  fillBody("#top-moradores", items, 6, "Nenhum morador encontrado.", (item, index) => {
    const row = document.createElement("tr");
    row.dataset.moradorId = String(item.morador_id);
    row.append(cell(`${index + 1}º`, "num posicao"), cell(String(item.morador_id), "num"),
               cell(item.nome, "", "th"), cell(String(item.condominio_id), "num"),
               cell(formatCount(item.quantidade_transacoes), "num"),
               cell(formatBrl(item.valor_total), "num"));
    return row;
  });
}

function renderDaily() {
  const forbidden = state.daily === null;
  $("#figura-diario").hidden = forbidden;
  $("#agrupamento").closest("label").hidden = forbidden;
  $("#nota-diario").hidden = !forbidden;
  $("#nota-diario").textContent = forbidden ? DAILY_NOTE : "";
  if (forbidden) return;
  const elements = { chart: $("#grafico-diario"), desc: $("#grafico-desc"),
                     legend: $("#legenda-diario"), figure: $("#figura-diario") };
  renderChart(elements, state.daily, $("#agrupamento").value, state.hiddenTipos, toggleTipo);
}

function toggleTipo(tipo) {
  if (state.hiddenTipos.has(tipo)) state.hiddenTipos.delete(tipo);
  else state.hiddenTipos.add(tipo);
  renderDaily();
  const again = [...document.querySelectorAll("#legenda-diario button")]
    .find((button) => button.dataset.tipo === tipo);
  again?.focus();
}

// ------------------------------------------------------------------ wiring

function init() {
  $("#form-chave").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("#api-key").value.trim();
    if (!key) {
      showError("Informe a chave de API.");
      $("#api-key").focus();
      return;
    }
    signIn(key);
  });
  $("#sair").addEventListener("click", () => signOut());
  $("#agrupamento").addEventListener("change", renderDaily);
  $("#entrar").disabled = false;
  const stored = readStoredKey();
  if (stored) signIn(stored);
}

init(); // a module runs after the document is parsed
