/**
 * The emulator's price list. These are illustrative figures, not Browser Use's live prices; they
 * keep the documented shape (LLM tokens per model, proxy bandwidth, browser time) so costs move
 * the way real ones do. All amounts are integer micro-USD (see money.ts).
 *
 * Per agent step (a plain task runs 3 steps):
 *   - LLM: 2,000 input + 200 output tokens, priced per model below (USD per 1M tokens);
 *     with `useOwnKey` Browser Use bills 0.2x of that (BYOK orchestration fee).
 *   - Proxy: 0.1 MB when `proxyCountryCode` is not null, at $10 per GB ($0.01 per MB).
 *   - Browser: the step's duration at $0.06 per hour, rounded up to a whole micro-USD.
 * Standalone browsers (POST /browsers): $0.02 per hour, the whole `timeout` charged up front,
 * and on stop the unused part refunded: the final charge is the minutes used, rounded up, at
 * least one.
 */
import type { BuModel } from "../../src/v3/schemas";
import { toMicros } from "./money";
import type { Usage } from "./state";

/** USD per 1M tokens, as [input, output] decimal strings (read exactly, never as floats). */
const USD_PER_MILLION_TOKENS: Record<BuModel, readonly [string, string]> = {
  // cheap: the Flash tier (bu-mini is Gemini 3 Flash)
  "bu-mini": ["0.6", "3.6"],
  "gemini-3-flash": ["0.6", "3.6"],
  "gemini-3.5-flash": ["0.6", "3.6"],
  "glm-5.3-flash": ["0.3", "1.2"],
  "deepseek-v4-flash-vision": ["0.3", "1.2"],
  // small general models
  "gpt-5.4-mini": ["0.9", "5.4"],
  "gpt-5-mini": ["0.3", "2.4"],
  "claude-haiku-4.5": ["1.2", "6"],
  "minimax-m3": ["0.36", "1.44"],
  "glm-5.2": ["0.72", "2.64"],
  // mid: the Sonnet tier (bu-max is Claude Sonnet)
  "bu-max": ["3.6", "18"],
  "claude-sonnet-4.6": ["3.6", "18"],
  "claude-sonnet-5": ["3.6", "18"],
  "gpt-5.2": ["1.5", "12"],
  "gpt-5.5": ["1.5", "12"],
  "gpt-5.6-sol": ["1.5", "12"],
  "gpt-5.6-terra": ["1.5", "12"],
  "gpt-5.6-luna": ["1.5", "12"],
  "gemini-3-pro": ["2.4", "14.4"],
  "gemini-3.1-pro": ["2.4", "14.4"],
  "grok-4.6": ["3.6", "18"],
  // expensive: the Opus tier (bu-ultra is Claude Opus)
  "bu-ultra": ["6", "30"],
  "claude-opus-4.6": ["6", "30"],
  "claude-opus-4.7": ["6", "30"],
  "claude-opus-4.8": ["6", "30"],
};

export const TOKENS_PER_STEP = { input: 2_000, output: 200 } as const;
/** Thousandths of a MB per step through the proxy (0.1 MB). */
export const PROXY_MILLI_MB_PER_STEP = 100;
/** $10 per GB = $0.01 per MB, in micro-USD per MB (1 GB = 1,000 MB). */
export const PROXY_MICROS_PER_MB = 10_000;
/** Agent sessions' browser time: $0.06 per hour. */
export const AGENT_BROWSER_MICROS_PER_HOUR = 60_000;
/** Standalone browsers: $0.02 per hour. */
export const BROWSER_MICROS_PER_HOUR = 20_000;

const MS_PER_HOUR = 3_600_000;

/** What one step adds to a session's counters: the same fields as its cumulative usage. */
export type StepUsage = Omit<Usage, "idleMs">;

export interface StepPricing {
  model: BuModel;
  proxied: boolean;
  useOwnKey: boolean;
  stepMs: number;
  /** A directive's exact cost per step, which replaces the table (see directives.ts). */
  exactMicros?: number;
}

/** The usage and cost of one agent step. */
export function stepUsage(p: StepPricing): StepUsage {
  const tokens = { inputTokens: TOKENS_PER_STEP.input, outputTokens: TOKENS_PER_STEP.output };
  const proxyMilliMb = p.proxied ? PROXY_MILLI_MB_PER_STEP : 0;
  if (p.exactMicros !== undefined) {
    // Split deterministically, remainder to the LLM, so the three parts sum to the exact figure.
    const browserMicros = Math.floor(p.exactMicros / 10);
    const proxyMicros = p.proxied ? Math.floor(p.exactMicros / 5) : 0;
    return {
      ...tokens,
      proxyMilliMb,
      browserMicros,
      proxyMicros,
      llmMicros: p.exactMicros - browserMicros - proxyMicros,
    };
  }
  const [inPrice, outPrice] = USD_PER_MILLION_TOKENS[p.model].map(toMicros) as [number, number];
  // Micro-USD per 1M tokens times tokens, over 1M: integer arithmetic, rounded up to a whole micro.
  const listMicros = Math.ceil((tokens.inputTokens * inPrice + tokens.outputTokens * outPrice) / 1_000_000);
  return {
    ...tokens,
    proxyMilliMb,
    llmMicros: p.useOwnKey ? Math.ceil(listMicros / 5) : listMicros,
    proxyMicros: (proxyMilliMb * PROXY_MICROS_PER_MB) / 1_000,
    browserMicros: Math.ceil((p.stepMs * AGENT_BROWSER_MICROS_PER_HOUR) / MS_PER_HOUR),
  };
}

/** A standalone browser's charge for `minutes` of time (rounded up to a whole micro-USD). */
export function browserMinutesMicros(minutes: number): number {
  return Math.ceil((minutes * BROWSER_MICROS_PER_HOUR) / 60);
}

/** Minutes billed for a browser that ran `elapsedMs`: whole minutes, rounded up, at least one. */
export function billedMinutes(elapsedMs: number): number {
  return Math.max(1, Math.ceil(elapsedMs / 60_000));
}
