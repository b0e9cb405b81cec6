/**
 * Directives let a test script a task from its text, through any client, the gateway included:
 *
 *     "Find the cheapest flight [emu steps=5 cost=0.02 stepMs=50 outcome=success]"
 *
 * A directive is `[emu` followed by space-separated `key=value` pairs and `]`, anywhere in the
 * task; several blocks merge, later keys winning. Keys (case-insensitive):
 *   steps=N            agent steps before the outcome, 0..1000 (default 3)
 *   cost=USD           exact total cost of each step, a decimal such as 0.02; split into
 *                      browser 10%, proxy 20% (only with a proxy) and LLM the rest, so the
 *                      three cost fields still add up exactly (default: the pricing table)
 *   stepMs=N           duration of each step in ms, 1..3600000 (default: the emulator's)
 *   outcome=KIND       success (default): output set, isTaskSuccessful true
 *                      fail: the agent gives up; isTaskSuccessful false
 *                      error: the sandbox fails; the session ends in status "error"
 *                      hang: after its steps the task keeps running until stopped
 *   output=TEXT        the final output (a string task); quote it to include spaces:
 *                      output="All done"
 *   outputJson=TEXT    the final output as JSON text, percent-encoded (encodeURIComponent),
 *                      sent in every view exactly as written: numbers keep every digit and
 *                      their form, as Browser Use (Python) may write them, e.g.
 *                      12345678901234567890 or 10.0; it wins over output=, outputSchema's
 *                      sample and code mode
 * A malformed directive is a 422 on the `task` field, so a typo never passes silently.
 */
import { toMicros } from "./money";

export type Outcome = "success" | "fail" | "error" | "hang";

/** Steps of a task without a `steps=` directive. */
export const DEFAULT_STEPS = 3;

export interface Directive {
  steps?: number;
  costMicros?: number;
  stepMs?: number;
  outcome?: Outcome;
  output?: string;
  /** The output's JSON text, decoded and checked to be JSON. */
  outputJson?: string;
}

export type ParsedTask = { ok: true; directive: Directive; text: string } | { ok: false; error: string };

const BLOCK = /\[emu\b([^\]]*)\]/gi;
const PAIR = /^(\w+)=(?:"([^"]*)"|([^\s"]+))/;
const OUTCOMES: readonly Outcome[] = ["success", "fail", "error", "hang"];

/** Splits a task into its directive and the text with the directive removed. */
export function parseTask(task: string): ParsedTask {
  const directive: Directive = {};
  for (const block of task.matchAll(BLOCK)) {
    let rest = (block[1] ?? "").trim();
    while (rest !== "") {
      const pair = PAIR.exec(rest);
      if (!pair) return { ok: false, error: `cannot read "${rest}"` };
      const key = (pair[1] ?? "").toLowerCase();
      const error = apply(directive, key, pair[2] ?? pair[3] ?? "");
      if (error) return { ok: false, error };
      rest = rest.slice(pair[0].length).trimStart();
    }
  }
  const text = task.replace(BLOCK, " ").replace(/\s+/g, " ").trim();
  return { ok: true, directive, text };
}

function apply(d: Directive, key: string, value: string): string | undefined {
  switch (key) {
    case "steps":
      d.steps = integer(value, 0, 1000);
      return d.steps === undefined ? "steps must be an integer from 0 to 1000" : undefined;
    case "stepms":
      d.stepMs = integer(value, 1, 3_600_000);
      return d.stepMs === undefined ? "stepMs must be an integer from 1 to 3600000" : undefined;
    case "cost": {
      const micros = /^\d*\.?\d*$/.test(value) ? safeMicros(value) : undefined;
      d.costMicros = micros;
      return micros === undefined ? "cost must be a non-negative decimal such as 0.02" : undefined;
    }
    case "outcome":
      if (!OUTCOMES.includes(value as Outcome)) return `outcome must be one of ${OUTCOMES.join(", ")}`;
      d.outcome = value as Outcome;
      return undefined;
    case "output":
      d.output = value;
      return undefined;
    case "outputjson":
      d.outputJson = decodedJson(value);
      return d.outputJson === undefined ? "outputJson must be percent-encoded JSON text" : undefined;
    default:
      return `unknown key "${key}" (known: steps, cost, stepMs, outcome, output, outputJson)`;
  }
}

function integer(value: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min && n <= max ? n : undefined;
}

function decodedJson(value: string): string | undefined {
  try {
    const text = decodeURIComponent(value);
    JSON.parse(text);
    return text;
  } catch {
    return undefined;
  }
}

function safeMicros(value: string): number | undefined {
  try {
    return toMicros(value);
  } catch {
    return undefined;
  }
}
