import { BrowserUse } from "browser-use-sdk/v3";
import { expect } from "vitest";
import * as z from "zod";
import { type EmulatorOptions, type RunningEmulator, startEmulator } from "../src/server";

export const API_KEY = "bu_emulator_test_key";
/** Step duration for tests: short, but long enough to watch a task run. */
export const STEP_MS = 15;

export interface Harness {
  running: RunningEmulator;
  /** The API base, as the SDK's `baseUrl` takes it. */
  base: string;
  client: BrowserUse;
  /** Raw request to the API with the key (unless `key` says otherwise). */
  api: (method: string, path: string, init?: RawInit) => Promise<RawResponse>;
  /** Raw request to a /_emulator control endpoint. */
  control: (method: string, path: string, body?: unknown) => Promise<RawResponse>;
  close: () => Promise<void>;
}

export interface RawInit {
  /** A JSON value, or a string sent verbatim. */
  body?: unknown;
  /** The API key to send; null sends none. */
  key?: string | null;
}

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed JSON body, or undefined when it is not JSON. */
  body: unknown;
}

export async function startHarness(options: Partial<EmulatorOptions> = {}): Promise<Harness> {
  const running = await startEmulator({ apiKey: API_KEY, stepMs: STEP_MS, log: () => {}, ...options });
  const base = `${running.url}/api/v3`;
  const request = async (url: string, method: string, body: unknown, headers: Record<string, string>) => {
    const hasBody = body !== undefined;
    const res = await fetch(url, {
      method,
      headers: hasBody ? { ...headers, "Content-Type": "application/json" } : headers,
      body: hasBody ? (typeof body === "string" ? body : JSON.stringify(body)) : undefined,
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
  return {
    running,
    base,
    client: new BrowserUse({ apiKey: API_KEY, baseUrl: base, maxRetries: 0 }),
    api: (method, path, init = {}) => {
      const key = init.key === undefined ? API_KEY : init.key;
      return request(
        `${base}${path}`,
        method,
        init.body,
        key === null ? {} : { "X-Browser-Use-API-Key": key },
      );
    },
    control: (method, path, body) => request(`${running.url}/_emulator${path}`, method, body, {}),
    close: () => running.close(),
  };
}

/**
 * Asserts `value` matches `schema` exactly: it parses, and parsing changed nothing, so a key the
 * schema does not know (which zod strips) fails too.
 */
export function expectShape<S extends z.core.$ZodType>(schema: S, value: unknown): z.output<S> {
  const result = z.safeParse(schema, value);
  expect(result.success, `${JSON.stringify(result.error?.issues)}\nin ${JSON.stringify(value)}`).toBe(true);
  expect(result.data, "unknown keys in the response").toEqual(value);
  return result.data as z.output<S>;
}

/** Asserts a raw response's status, showing the body on failure. */
export function expectStatus(res: RawResponse, status: number): void {
  expect(res.status, `HTTP ${res.status}: ${res.text}`).toBe(status);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` holds (or fails after `timeoutMs`). */
export async function waitFor<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in ${timeoutMs} ms; last: ${JSON.stringify(value)}`);
    await sleep(5);
  }
}

/** Micro-USD of a decimal string, for exact cost arithmetic in assertions. */
export function micros(decimal: string | null | undefined): number {
  const [whole = "0", frac = ""] = String(decimal ?? "0").split(".");
  return Number(whole) * 1_000_000 + Number(frac.padEnd(6, "0").slice(0, 6));
}
