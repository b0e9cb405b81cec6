/**
 * Money inside the emulator is integer micro-USD (1 USD = 1_000_000); it becomes a decimal string
 * only in a response. Integers add exactly, so `totalCostUsd` is always the exact sum of its parts.
 * Proxy traffic uses the same scheme in thousandths of a megabyte.
 */

export const MICROS_PER_USD = 1_000_000;

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;

/** Parses a decimal string or JSON number into micro-USD; digits past the sixth round half up. */
export function toMicros(value: string | number): number {
  const text = typeof value === "number" ? numberText(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) {
    throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
  }
  const [, sign, whole = "", frac = ""] = match;
  const padded = `${frac}0000000`;
  let micros = Number(whole || "0") * MICROS_PER_USD + Number(padded.slice(0, 6));
  if (Number(padded[6]) >= 5) micros += 1;
  if (!Number.isSafeInteger(micros)) throw new RangeError(`amount out of range: ${JSON.stringify(value)}`);
  return sign === "-" ? -micros : micros;
}

/** Formats micro-USD as the shortest exact decimal: 1_500_000 → "1.5", 4_320 → "0.00432", 0 → "0". */
export function formatMicros(micros: number): string {
  return formatScaled(micros, 6);
}

/** Formats thousandths of a megabyte: 250 → "0.25". */
export function formatMilli(milli: number): string {
  return formatScaled(milli, 3);
}

function formatScaled(value: number, digits: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer amount: ${value}`);
  const unit = 10 ** digits;
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(value);
  const frac = String(abs % unit)
    .padStart(digits, "0")
    .replace(/0+$/, "");
  return `${sign}${Math.floor(abs / unit)}${frac ? `.${frac}` : ""}`;
}

// A JSON number reaches us as a float; read it through its shortest round-trip text, which is
// the decimal the client wrote, rather than doing arithmetic on the float.
function numberText(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite amount: ${value}`);
  const text = String(value);
  return /e/i.test(text) ? value.toFixed(7) : text;
}
