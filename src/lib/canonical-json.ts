/**
 * JSON as Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"))` writes it, which is
 * what Browser Use signs its webhooks over: keys sorted (by code point) at every depth, no
 * whitespace, and every non-ASCII character escaped as `\uXXXX` (Python's default ensure_ascii).
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${asciiString(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return typeof value === "string" ? asciiString(value) : JSON.stringify(value);
}

const asciiString = (s: string) =>
  JSON.stringify(s).replace(
    /[\u0080-\uffff]/g,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
