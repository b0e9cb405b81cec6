import { randomUUID } from "node:crypto";

/**
 * JSON text that a response carries exactly as written (the `outputJson` directive): Browser Use
 * writes its JSON from Python, whose numbers may have more digits than a double keeps
 * (12345678901234567890) or a form JavaScript would not write (10.0), and a client that reads the
 * text must see them so. Responses that hold one are written with jsonText.
 */
export class RawJson {
  constructor(readonly text: string) {}

  /** What plain JSON.stringify writes of it: the parsed value (its numbers as doubles). */
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** JSON.stringify, but with every RawJson written as its text. */
export function jsonText(value: unknown): string {
  const raws: string[] = [];
  // A mark no string of the value can hold by chance: a NUL and a fresh UUID.
  const mark = `\u0000${randomUUID()}:`;
  const text = JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const original = this[key];
    return original instanceof RawJson ? `${mark}${raws.push(original.text) - 1}` : v;
  });
  if (raws.length === 0) return text;
  const quoted = JSON.stringify(mark).slice(0, -1); // `"\u0000<uuid>:`, as JSON.stringify wrote it
  return text.replaceAll(new RegExp(`${quoted.replace(/\\/g, "\\\\")}(\\d+)"`, "g"), (_, i: string) =>
    String(raws[Number(i)]),
  );
}
