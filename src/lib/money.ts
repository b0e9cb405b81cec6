/**
 * Money is integer micro-USD inside the gateway and a decimal string on the wire.
 * These two functions are the only crossing between the two; no float ever holds money.
 * The same functions convert proxy megabytes, which upstream sends in the same decimal form.
 */

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
export const MICROS_PER_UNIT = 1_000_000;

/**
 * Parses a decimal string ("0.0123", "+1.", ".5", "12", "1.5E-7") into integer millionths.
 * Digits past the sixth decimal round half up, so a sum of parsed parts can differ
 * from the parsed total by at most half a micro per part. A limit someone set (a task's
 * `maxCostUsd`) is read with `rounding: "down"` instead: toward zero, so it never grows.
 * An exponent is read because Browser Use's figures are Python Decimals, which `str()` writes
 * with one once they are small ("0E-7", "1.5E-7"); what clients and admins send is checked
 * against patterns without one before it gets here.
 */
export function toMicros(value: string | number, rounding: "halfUp" | "down" = "halfUp"): number {
  const text = typeof value === "number" ? numberToDecimal(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match || (match[2] === "" && (match[3] ?? "") === "")) {
    throw new RangeError(`not a decimal amount: ${JSON.stringify(value)}`);
  }
  const { whole, frac } = shiftPoint(match[2] ?? "", match[3] ?? "", Number(match[4] ?? "0"), value);
  const padded = `${frac}0000000`;
  let micros = Number(whole || "0") * MICROS_PER_UNIT + Number(padded.slice(0, 6));
  if (rounding === "halfUp" && Number(padded[6]) >= 5) micros += 1;
  if (!Number.isSafeInteger(micros)) throw new RangeError(`amount out of range: ${JSON.stringify(value)}`);
  return match[1] === "-" ? -micros : micros;
}

/**
 * The whole and fractional digits of `whole.frac` times ten to the `exponent`, without its
 * leading zeros. Past 30 whole digits no amount is in range; a first digit past the seventh
 * decimal rounds to nothing either way, so no exponent makes a long string.
 */
function shiftPoint(
  whole: string,
  frac: string,
  exponent: number,
  value: string | number,
): { whole: string; frac: string } {
  const all = whole + frac;
  const digits = all.replace(/^0+/, "");
  const point = whole.length + exponent - (all.length - digits.length);
  if (digits === "" || point < -7) return { whole: "", frac: "" };
  if (point > 30) throw new RangeError(`amount out of range: ${JSON.stringify(value)}`);
  if (point <= 0) return { whole: "", frac: "0".repeat(-point) + digits };
  if (point >= digits.length) return { whole: digits + "0".repeat(point - digits.length), frac: "" };
  return { whole: digits.slice(0, point), frac: digits.slice(point) };
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
