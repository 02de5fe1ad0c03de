// pt-BR presentation, the same rules as condolake.formatting: "R$ 1.234,56", "1.234",
// "31/01/2024". Money arrives as decimal strings ("1234.50") and is only ever handled as text
// or as BigInt cents: never Number(), so every real shown is exact to the cent.

export const TIME_ZONE = "America/Sao_Paulo"; // CondoManage's clock: times shown as in Brasília
export const MONTHS = ["jan", "fev", "mar", "abr", "mai", "jun",
                       "jul", "ago", "set", "out", "nov", "dez"];

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ".");
}

/** "1234.5" / "-0.07" / "12" -> BigInt cents; anything else is an error, never a guess. */
export function parseCents(text) {
  const match = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(text).trim());
  if (!match) {
    throw new Error(`valor monetário inesperado: ${JSON.stringify(text)}`);
  }
  const [, sign, reais, fraction = ""] = match;
  const cents = BigInt(reais + fraction.padEnd(2, "0"));
  return sign === "-" ? -cents : cents;
}

/** BigInt cents -> "R$ 1.234,56" (negative: "-R$ 1.234,56", as condolake.formatting). */
export function formatCents(cents) {
  const negative = cents < 0n;
  const digits = (negative ? -cents : cents).toString().padStart(3, "0");
  const reais = digits.slice(0, -2).replace(/^0+(?=\d)/, "");
  return `${negative ? "-" : ""}R$ ${groupThousands(reais)},${digits.slice(-2)}`;
}

export function formatBrl(text) {
  return formatCents(parseCents(text));
}

/** A count (JSON integer or BigInt) -> "1.234". */
export function formatCount(value) {
  const text = BigInt(value).toString();
  return text.startsWith("-") ? `-${groupThousands(text.slice(1))}` : groupThousands(text);
}

/** "2024-01-31" -> "31/01/2024", straight from the ISO text (no time zone involved). */
export function formatDate(iso) {
  const [year, month, day] = iso.slice(0, 10).split("-");
  return `${day}/${month}/${year}`;
}

const dateTimeParts = new Intl.DateTimeFormat("pt-BR", {
  timeZone: TIME_ZONE, year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23",
});

/** An instant (ISO with zone) -> "26/11/2026 03:10" on Brasília's clock. */
export function formatDateTime(iso) {
  const parts = Object.fromEntries(
    dateTimeParts.formatToParts(new Date(iso)).map((part) => [part.type, part.value]));
  return `${parts.day}/${parts.month}/${parts.year} ${parts.hour}:${parts.minute}`;
}

/** Seconds -> "há 5 min", "há 2 h 5 min", "há 3 dias". */
export function formatAge(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return "há menos de 1 min";
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `há ${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `há ${hours} h ${minutes % 60} min`;
  return `há ${formatCount(Math.floor(hours / 24))} dias`;
}
