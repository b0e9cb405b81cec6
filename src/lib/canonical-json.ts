/**
 * JSON as Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"))` writes it, which is
 * what Browser Use signs its webhooks over: keys sorted by code point at every depth, no
 * whitespace, every character outside printable ASCII escaped as `\uXXXX` (Python's default
 * `ensure_ascii`), and floats as Python's `repr` writes them (`1.0`, `1e-07`).
 */

/** The canonical form of a JavaScript value (numbers as JavaScript has them). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return object(entries.map(([k, v]) => [k, canonicalJson(v)]));
  }
  return typeof value === "string" ? pythonString(value) : JSON.stringify(value);
}

/**
 * The canonical form of JSON text as Python would re-serialise it after `json.loads`: a number
 * written with a fraction or an exponent is a float there (`1.0` stays `1.0`, `0.00000010` becomes
 * `1e-07`), one without is an int, however large. Throws a SyntaxError on text that is not JSON;
 * depth is the caller's to bound first.
 */
export function pythonCanonicalJson(text: string): string {
  return readCanonical(text).whole;
}

/**
 * The canonical form of JSON text and, when it is an object, of each of its top-level members
 * (older Browser Use deliveries signed only `payload`).
 */
export function readCanonical(text: string): { whole: string; members: ReadonlyMap<string, string> } {
  const reader = new Reader(text);
  const whole = reader.value();
  reader.end();
  return { whole, members: reader.topMembers };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: JSON strings may not hold raw control characters.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

class Reader {
  private at = 0;
  private depth = 0;
  /** The top-level object's members, canonical, once read. */
  topMembers = new Map<string, string>();
  constructor(private readonly text: string) {}

  value(): string {
    this.space();
    const ch = this.text[this.at];
    if (ch === "{") return this.object();
    if (ch === "[") return this.array();
    if (ch === '"') return pythonString(this.string());
    for (const word of ["true", "false", "null"]) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return word;
      }
    }
    return this.number();
  }

  end(): void {
    this.space();
    if (this.at !== this.text.length) throw new SyntaxError("trailing characters after JSON");
  }

  private object(): string {
    this.at++;
    const entries = new Map<string, string>();
    if (this.depth === 0) this.topMembers = entries;
    this.depth++;
    this.space();
    if (this.text[this.at] === "}") {
      this.at++;
      this.depth--;
      return "{}";
    }
    for (;;) {
      this.space();
      const key = this.string();
      this.space();
      this.expect(":");
      // A repeated key keeps its last value, as a Python dict does.
      entries.set(key, this.value());
      this.space();
      if (this.text[this.at] === "}") {
        this.at++;
        this.depth--;
        return object([...entries]);
      }
      this.expect(",");
    }
  }

  private array(): string {
    this.at++;
    this.depth++;
    const items: string[] = [];
    this.space();
    if (this.text[this.at] === "]") {
      this.at++;
      this.depth--;
      return "[]";
    }
    for (;;) {
      items.push(this.value());
      this.space();
      if (this.text[this.at] === "]") {
        this.at++;
        this.depth--;
        return `[${items.join(",")}]`;
      }
      this.expect(",");
    }
  }

  private string(): string {
    const match = this.match(STRING);
    if (!match) throw new SyntaxError(`bad string at ${this.at}`);
    return JSON.parse(match[0]) as string;
  }

  private number(): string {
    const match = this.match(NUMBER);
    if (!match) throw new SyntaxError(`unexpected character at ${this.at}`);
    const isFloat = match[1] !== undefined || match[2] !== undefined;
    if (!isFloat) return match[0] === "-0" ? "0" : match[0];
    return pythonFloat(Number(match[0]));
  }

  private match(pattern: RegExp): RegExpExecArray | null {
    pattern.lastIndex = this.at;
    const match = pattern.exec(this.text);
    if (match) this.at += match[0].length;
    return match;
  }

  private space(): void {
    while (/[ \t\n\r]/.test(this.text[this.at] ?? "")) this.at++;
  }

  private expect(ch: string): void {
    if (this.text[this.at] !== ch) throw new SyntaxError(`expected '${ch}' at ${this.at}`);
    this.at++;
  }
}

/** `{...}` of already-canonical values, keys sorted by code point (Python compares strings so). */
function object(entries: [string, string][]): string {
  entries.sort(([a], [b]) => compareCodePoints(a, b));
  return `{${entries.map(([k, v]) => `${pythonString(k)}:${v}`).join(",")}}`;
}

function compareCodePoints(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i]?.codePointAt(0) ?? 0) - (y[i]?.codePointAt(0) ?? 0);
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** A string as Python's json writes it with ensure_ascii: only printable ASCII stays as it is. */
function pythonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const code = s.charCodeAt(i);
    if (ESCAPES[ch]) out += ESCAPES[ch];
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}

/** A float as Python's repr writes it: shortest round-trip digits, fixed from 1e-4 up to 1e16. */
function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "Infinity" : "-Infinity";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mantissa = "", exponent = "0"] = x.toExponential().split("e");
  const sign = x < 0 ? "-" : "";
  const digits = mantissa.replace("-", "").replace(".", "");
  const exp = Number(exponent);
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  if (exp < 0) return `${sign}0.${"0".repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
  return `${sign}${whole}.${digits.slice(exp + 1) || "0"}`;
}
