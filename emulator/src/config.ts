/** Options of `startEmulator`, their defaults, and the settings that can change at runtime. */
import type { BuModel } from "../../src/v3/schemas";
import { toMicros } from "./money";

export interface EmulatorOptions {
  /** The one API key accepted in `X-Browser-Use-API-Key`. */
  apiKey: string;
  /** The account's `projectId` in `GET /billing/account` (default PROJECT_ID: the main project's). */
  projectId?: string;
  /** TCP port; 0 (the default) picks a free one. */
  port?: number;
  /** Interface to bind; 127.0.0.1 by default. */
  host?: string;
  /** Duration of one agent step, ms (default 1000). Directives may override it per task. */
  stepMs?: number;
  /**
   * Start-up time of a new session given a task, ms (default 0: POST /sessions answers
   * `running`). The session shows `created` meanwhile. A session created without a task
   * becomes `idle` after one step duration instead.
   */
  bootMs?: number;
  /** Inactivity after which an idle session times out, ms (default 15 minutes). */
  idleTimeoutMs?: number;
  /** Active sessions plus active browsers allowed at once (default 25); beyond → 429. */
  concurrencyLimit?: number;
  /** Starting credit balance in USD (default "100"); when spent, new work gets 402. */
  creditsUsd?: string | number;
  /** Session budget when `maxCostUsd` is omitted, USD (default "10"). */
  defaultMaxCostUsd?: string | number;
  /**
   * Whether an agent session's browser time is billed while it runs no task (`created` without a
   * task, or `idle`), at the same $0.06 an hour as its steps (default false). Browser Use does not
   * document which it does; the gateway must book either correctly.
   */
  idleBrowserBilling?: boolean;
  /**
   * Whether GET /browsers also lists each agent session's own browser, with its `agentSessionId`
   * (default false), as Browser Use's API can ("None for standalone BaaS sessions"). Its time is
   * billed in the session, so it shows no cost of its own.
   */
  agentBrowsers?: boolean;
  /**
   * The model a new session runs on when its create names none (default DEFAULT_MODEL, the one
   * the OpenAPI document declares). Browser Use may change its default at any time; a gateway
   * that judges a request naming no model by the documented default must not be fooled by that.
   */
  defaultModel?: BuModel;
  /** Where task status webhooks go (off by default); can be changed at /_emulator/webhook. */
  webhookUrl?: string;
  webhookSecret?: string;
  /** Period of the background ticker that fires webhooks and timeouts, ms (default min(stepMs, 250)). */
  tickMs?: number;
  /** Base for the URLs the emulator hands out (uploads, downloads, live view); default: the request's origin. */
  publicUrl?: string;
  /** Where the emulator logs warnings (default console.warn). */
  log?: (line: string) => void;
}

/** Settings that POST /_emulator/config may change; reset restores the started ones. */
export interface Settings {
  stepMs: number;
  bootMs: number;
  idleTimeoutMs: number;
  concurrencyLimit: number;
  creditsMicros: number;
  defaultMaxCostMicros: number;
  idleBrowserBilling: boolean;
  agentBrowsers: boolean;
  defaultModel: BuModel;
}

export const DEFAULT_STEP_MS = 1_000;
export const DEFAULT_IDLE_TIMEOUT_MS = 15 * 60_000;
export const DEFAULT_CONCURRENCY_LIMIT = 25;
export const DEFAULT_CREDITS_USD = "100";
export const DEFAULT_MAX_COST_USD = "10";
export const DEFAULT_MODEL: BuModel = "claude-opus-4.7";

/** A fixed project id, so the account view is stable across restarts. */
export const PROJECT_ID = "2b7c4a1e-8f3d-4c6b-9a5e-0d1f2e3c4b5a";

export function initialSettings(o: EmulatorOptions): Settings {
  const stepMs = o.stepMs ?? DEFAULT_STEP_MS;
  return {
    stepMs,
    bootMs: o.bootMs ?? 0,
    idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    concurrencyLimit: o.concurrencyLimit ?? DEFAULT_CONCURRENCY_LIMIT,
    creditsMicros: toMicros(o.creditsUsd ?? DEFAULT_CREDITS_USD),
    defaultMaxCostMicros: toMicros(o.defaultMaxCostUsd ?? DEFAULT_MAX_COST_USD),
    idleBrowserBilling: o.idleBrowserBilling ?? false,
    agentBrowsers: o.agentBrowsers ?? false,
    defaultModel: o.defaultModel ?? DEFAULT_MODEL,
  };
}
