/**
 * Upstream's JSON, parsed so that a session's `output` keeps its numbers as upstream wrote them.
 *
 * `output` is whatever the task's agent returned: with an `outputSchema`, JSON whose numbers
 * Browser Use (Python) writes in full (an int past 2^53, `12345678901234567890`) and in its own
 * form (a float's `10.0`). JSON.parse makes each a double, and JSON.stringify writes that back
 * changed (`12345678901234567000`, `10`): in a list the gateway serves, in the view it stores, in
 * the callback made from it. Here every number inside an `output` member whose text JSON.stringify
 * would not write again is a `JSON.rawJSON` of its text, which JSON.stringify writes byte for
 * byte (and D1's JSON functions keep). Every number elsewhere is the plain number it always was:
 * the fields the gateway reads (counts, costs) are exactly as before.
 */

/** JSON.rawJSON and the reviver's source text (TC39 "JSON.parse source text access"), in workerd's V8. */
interface JsonWithSource {
  rawJSON(text: string): object;
  parse(
    text: string,
    reviver: (this: object, key: string, value: unknown, context?: { source?: string }) => unknown,
  ): unknown;
}
const JSON_ = JSON as unknown as JsonWithSource;

/** An `output` that may hold a number: one that starts as a number, an array or an object. */
const STRUCTURED_OUTPUT = /"output"\s*:\s*[-\d[{]/;

/** JSON.parse, but numbers inside `output` members kept as written (see the module comment). */
export function parseUpstreamJson(text: string): unknown {
  // A string or null output (most sessions) holds no number: the plain parse, at its speed.
  if (!STRUCTURED_OUTPUT.test(text)) return JSON.parse(text);
  try {
    return parseKeepingOutputNumbers(text);
  } catch (err) {
    // Nested too deep for the reviver's recursion (JSON.parse alone goes deeper): as before.
    if (err instanceof RangeError) return JSON.parse(text);
    throw err;
  }
}

function parseKeepingOutputNumbers(text: string): unknown {
  // The reviver sees a number before it knows whether an `output` holds it (members are revived
  // innermost first): the text of each one that would be written back otherwise is noted by its
  // holder and key, and swapped in when the `output` that holds it comes by.
  const written = new Map<object, Map<string, string>>();
  const swapped = new WeakSet<object>();
  return JSON_.parse(text, function (this: object, key, value, context) {
    if (typeof value === "number") {
      const source = context?.source;
      if (source === undefined || source === JSON.stringify(value)) return value;
      if (key === "output") return JSON_.rawJSON(source);
      const keys = written.get(this) ?? new Map<string, string>();
      written.set(this, keys.set(key, source));
      return value;
    }
    if (key === "output" && written.size > 0 && typeof value === "object" && value !== null) {
      swapIn(value, written, swapped);
    }
    return value;
  });
}

/** Puts the noted text of every number in `node` in its place, as JSON.rawJSON. */
function swapIn(node: object, written: Map<object, Map<string, string>>, swapped: WeakSet<object>): void {
  // An output nested in this one was swapped when it came by: each node is walked once.
  if (swapped.has(node)) return;
  swapped.add(node);
  const keys = written.get(node);
  const members = node as Record<string, unknown>;
  for (const key of Object.keys(node)) {
    const source = keys?.get(key);
    if (source !== undefined) members[key] = JSON_.rawJSON(source);
    else if (typeof members[key] === "object" && members[key] !== null)
      swapIn(members[key], written, swapped);
  }
}
