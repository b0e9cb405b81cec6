/**
 * Money is integer micro-USD inside the gateway and a decimal string on the wire.
 * These two functions are the only crossing between the two; no float ever holds money.
 * The same functions convert proxy megabytes, which upstream sends in the same decimal form.
 */

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?$/;
export const MICROS_PER_UNIT = 1_000_000;

/**
 * Parses a decimal string ("0.0123", "+1.", ".5", "12") into integer millionths.
 * Digits past the sixth decimal round half up, so a sum of parsed parts can differ
 * from the parsed total by at most half a micro per part. A limit someone set (a task's
 * `maxCostUsd`) is read with `rounding: "down"` instead: toward zero, so it never grows.
 */
export function toMicros(value: string | number, rounding: "halfUp" | "down" = "halfUp"): number {
  const text = typeof value === "number" ? numberToDecimal(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) {
    throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
  }
  const [, sign, whole = "", frac = ""] = match;
  const padded = `${frac}0000000`;
  let micros = Number(whole || "0") * MICROS_PER_UNIT + Number(padded.slice(0, 6));
  if (rounding === "halfUp" && Number(padded[6]) >= 5) micros += 1;
  if (!Number.isSafeInteger(micros)) throw new RangeError(`amount out of range: ${JSON.stringify(value)}`);
  return sign === "-" ? -micros : micros;
}

/** Formats integer millionths as the shortest exact decimal string: 1500000 → "1.5", 0 → "0". */
export function fromMicros(micros: number): string {
  if (!Number.isSafeInteger(micros)) throw new RangeError(`not an integer amount: ${micros}`);
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  const whole = Math.floor(abs / MICROS_PER_UNIT);
  const frac = String(abs % MICROS_PER_UNIT)
    .padStart(6, "0")
    .replace(/0+$/, "");
  return `${sign}${whole}${frac ? `.${frac}` : ""}`;
}

/** Integer micro-USD of `value` if it is a decimal amount within [0, maxMicros], else null. */
export function microsWithin(value: string | number, maxMicros: number): number | null {
  try {
    const micros = toMicros(value);
    return micros >= 0 && micros <= maxMicros ? micros : null;
  } catch {
    return null;
  }
}

// A JSON number such as 2.5 or 1e-7 arrives as a float; read it through its shortest
// round-trip decimal text, never through arithmetic on the float itself.
function numberToDecimal(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError(`not a finite amount: ${value}`);
  const text = String(value);
  if (!/e/i.test(text)) return text;
  return value.toFixed(7);
}
