// Money as the API gives it: decimal strings. Sums are made in integer micro-USD with BigInt and
// written back as the shortest decimal string, as the gateway does; no float ever holds money.

const DECIMAL = /^(-?)(\d*)(?:\.(\d{0,6}))?$/;

/** "1.316" → 1316000n. The API never sends more than six decimals. */
export function toMicros(text) {
  const match = DECIMAL.exec(String(text).trim());
  if (!match) throw new RangeError(`not a decimal amount: ${text}`);
  const [, sign, whole, frac = ""] = match;
  const micros = BigInt(whole || "0") * 1_000_000n + BigInt(frac.padEnd(6, "0"));
  return sign === "-" ? -micros : micros;
}

/** 1316000n → "1.316", 0n → "0". */
export function fromMicros(micros) {
  const sign = micros < 0n ? "-" : "";
  const abs = micros < 0n ? -micros : micros;
  const frac = String(abs % 1_000_000n)
    .padStart(6, "0")
    .replace(/0+$/, "");
  return `${sign}${abs / 1_000_000n}${frac ? `.${frac}` : ""}`;
}

/** The exact sum of decimal strings. */
export function addAll(values) {
  return fromMicros(values.reduce((sum, v) => sum + toMicros(v), 0n));
}

/** A decimal string as a dollar figure for people: "$1.316" (every digit kept). */
export function usd(text) {
  if (text === null || text === undefined) return "no cap";
  return text.startsWith("-") ? `-$${text.slice(1)}` : `$${text}`;
}
