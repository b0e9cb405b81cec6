import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import type { Bindings } from "../src/env";
import { countedD1 } from "../bench/counted-d1";
import worker from "../src/index";
import { expectDocumented, expectDocumentedEvent } from "./response-conformance";
import { type CostFigures, getUsage } from "../src/store/usage";

export const ADMIN_TOKEN = "test-admin-token";
export const GATEWAY = "https://gateway.test";
/** The emulator's own origin (its control endpoints live outside /api/v3). */
export const EMULATOR = env.UPSTREAM_URL.replace(/\/api\/v3$/, "");

/** A request an emulator inbox received, and what it answered. */
export interface Received {
  at: string;
  headers: Record<string, string>;
  body: string;
  status: number;
}

/**
 * A receiver of the gateway's events (hook callbacks, budget alerts): an emulator inbox, which can
 * be told to fail (`configure`). Every event it received must be one the OpenAPI document's
 * `webhooks` describe; reading them fails otherwise, as `gateway()` does for answers.
 */
export function eventInbox(name = `inbox-${crypto.randomUUID()}`) {
  const url = `${EMULATOR}/_emulator/inbox/${name}`;
  return {
    url,
    configure: (config: Record<string, unknown>) =>
      fetch(`${url}/config`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(config),
      }),
    received: async (): Promise<Received[]> => {
      const { requests } = (await (await fetch(url)).json()) as { requests: Received[] };
      for (const r of requests) await expectDocumentedEvent(r.body);
      return requests;
    },
  };
}

/**
 * Calls the gateway's fetch handler in this isolate and waits for its after-response work
 * (ledger writes), so a test sees the database as it is once the request is fully done.
 * `bindings` replaces the gateway's env, e.g. to point it at an upstream account of its own.
 * Every answer must be one the gateway's OpenAPI document allows; the call fails otherwise.
 */
export async function gateway(
  path: string,
  init: RequestInit = {},
  bindings: Bindings = env,
): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(GATEWAY + path, init);
  const res = await worker.fetch(request, bindings, ctx);
  await waitOnExecutionContext(ctx);
  await expectDocumented(request, res);
  return res;
}

export interface TenantRequest {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The gateway's env for this call (default: the test env and its shared upstream). */
  env?: Bindings;
}

/** A request as a tenant, JSON in and out. */
export function asTenant(key: string, path: string, init: TenantRequest = {}) {
  const headers: Record<string, string> = { "X-Browser-Use-API-Key": key, ...init.headers };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return gateway(
    path,
    {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    },
    init.env,
  );
}

/** A Browser Use account of a test's own in the shared emulator (an emulator project). */
export interface UpstreamAccount {
  key: string;
  /** The gateway's env with this account as its upstream. */
  env: Bindings;
  /** A call to one of the emulator's /_emulator controls for this account; the JSON answer. */
  control<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** Every session and browser of the account, deleted ones included, costs up to now. */
  truth(): Promise<{ sessions: SessionView[]; browsers: SessionView[] }>;
}

/**
 * A fresh upstream account, so a test's faults, clock and settings reach only its own requests.
 * `settings` are the emulator's /_emulator/config settings for it.
 */
export async function newUpstreamAccount(settings: Record<string, unknown> = {}): Promise<UpstreamAccount> {
  const res = await fetch(`${EMULATOR}/_emulator/projects`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ concurrencyLimit: 100_000, creditsUsd: "1000000", ...settings }),
  });
  const { apiKey } = await expectJson<{ apiKey: string }>(res, 201);
  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const r = await fetch(`${EMULATOR}/_emulator${path}`, {
      method,
      headers: { "X-Browser-Use-API-Key": apiKey, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return expectJson<T>(r, 200);
  };
  return {
    key: apiKey,
    env: { ...env, BROWSER_USE_API_KEY: apiKey },
    control,
    truth: () => control("GET", "/sessions"),
  };
}

/** A call to the admin API, JSON in and out; `bindings` as for `gateway`. */
export const admin = (path: string, method = "GET", body?: unknown, bindings: Bindings = env) =>
  gateway(
    `/admin/v1${path}`,
    {
      method,
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    },
    bindings,
  );

export async function adminPost<T = Record<string, string>>(path: string, body: unknown): Promise<T> {
  const res = await gateway(path, {
    method: "POST",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`POST ${path} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

export interface TestTenant {
  orgId: string;
  tenantId: string;
  keyId: string;
  key: string;
}

/** A fresh org, tenant and key (or a tenant in an existing org), through the admin API. */
export async function newTenant(orgId?: string): Promise<TestTenant> {
  const org = orgId ?? (await adminPost("/admin/v1/orgs", { name: `org-${crypto.randomUUID()}` })).id;
  const tenant = await adminPost(`/admin/v1/orgs/${org}/tenants`, { name: `tenant-${crypto.randomUUID()}` });
  const key = await adminPost(`/admin/v1/tenants/${tenant.id}/keys`, { name: "test" });
  return {
    orgId: org as string,
    tenantId: tenant.id as string,
    keyId: key.id as string,
    key: key.key as string,
  };
}

/** JSON of a response, with the status and body in the message when it is not the expected status. */
export async function expectJson<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** What the emulator billed for every session, whoever created it: the truth for ledger checks. */
export async function emulatorTruth(): Promise<Record<string, unknown>[]> {
  const res = await fetch(`${EMULATOR}/_emulator/sessions`);
  return ((await res.json()) as { sessions: Record<string, unknown>[] }).sessions;
}

/** Polls until `check` returns a value (not undefined), or fails after `ms`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  ms = 10_000,
  what = "condition",
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A task text carrying the emulator's directive, which fixes steps, cost per step and outcome. */
export function emuTask(
  text: string,
  d: {
    steps?: number;
    cost?: string;
    stepMs?: number;
    outcome?: "success" | "error" | "hang";
    /** The output's JSON text, sent by the emulator exactly as written (percent-encoded here). */
    outputJson?: string;
  } = {},
): string {
  const parts = Object.entries(d).map(([k, v]) => `${k}=${k === "outputJson" ? encodeURIComponent(v) : v}`);
  return parts.length ? `${text} [emu ${parts.join(" ")}]` : text;
}

/** A session as the tests read it. */
export type SessionView = Record<string, unknown> & { id: string; status: string };

/** Polls the session through the gateway until it reaches one of `statuses` (by default, any end). */
export async function waitForStatus(
  t: { key: string },
  id: string,
  statuses = ["stopped", "idle", "error", "timed_out"],
  bindings?: Bindings,
): Promise<SessionView> {
  return eventually(
    async () => {
      const s = await expectJson<SessionView>(
        await asTenant(t.key, `/api/v3/sessions/${id}`, { env: bindings }),
        200,
      );
      return statuses.includes(s.status) ? s : undefined;
    },
    15_000,
    `session ${id} to reach ${statuses.join("|")}`,
  );
}

/** Creates a session (or dispatches a task) as the tenant and expects upstream's 200. */
export async function startSession(t: { key: string }, body: unknown): Promise<SessionView> {
  return expectJson<SessionView>(await asTenant(t.key, "/api/v3/sessions", { body }), 200);
}

/** Replaces an org's or a tenant's policy document through the admin API. */
export async function putPolicy(scope: "orgs" | "tenants", id: string, doc: unknown): Promise<void> {
  const res = await gateway(`/admin/v1/${scope}/${id}/policy`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify(doc),
  });
  await expectJson(res, 200);
}

/** A session's or browser's latest figures in the ledger, without its status; fails when it has none. */
export async function figuresOf(kind: "session" | "browser", id: string): Promise<CostFigures> {
  const usage = await getUsage(env.DB, kind, id);
  if (!usage) throw new Error(`no usage row for ${kind} ${id}`);
  const { status: _, ...figures } = usage;
  return figures;
}

/**
 * The gateway's env with a D1 that fails every statement whose SQL matches `pattern` (alone or in
 * a batch), as D1 does when it is unreachable; the rest reach the real database.
 */
export function storeFailingOn(pattern: RegExp, bindings: Bindings = env): Bindings {
  const real = bindings.DB;
  const failure = () => Promise.reject(new Error("D1_ERROR: Network connection lost."));
  class Statement {
    constructor(
      readonly inner: D1PreparedStatement,
      readonly fails: boolean,
    ) {}
    bind(...values: unknown[]) {
      return new Statement(this.inner.bind(...values), this.fails);
    }
    first(column?: string) {
      return this.fails ? failure() : column ? this.inner.first(column) : this.inner.first();
    }
    run() {
      return this.fails ? failure() : this.inner.run();
    }
    all() {
      return this.fails ? failure() : this.inner.all();
    }
    raw() {
      return this.fails ? failure() : this.inner.raw();
    }
  }
  const db = {
    prepare: (sql: string) => new Statement(real.prepare(sql), pattern.test(sql)),
    batch: (statements: Statement[]) =>
      statements.some((s) => s.fails) ? failure() : real.batch(statements.map((s) => s.inner)),
  };
  return { ...bindings, DB: db as unknown as D1Database };
}

/**
 * Calls the gateway as `gateway` does, with its D1 binding counted as the benchmark counts it:
 * each round trip's statements, those made before the response and those after it (waitUntil),
 * and the rows D1 read for all of them (`meta.rows_read`).
 */
export async function countRoundTrips(
  path: string,
  init: RequestInit,
  bindings: Bindings = env,
): Promise<{ res: Response; onPath: string[][]; after: string[][]; rowsRead: number }> {
  const trips: string[][] = [];
  let rowsRead = 0;
  const ctx = createExecutionContext();
  const DB = countedD1(bindings.DB, {
    sent: (sql) => trips.push(sql),
    answered: (_sql, _ms, rows) => {
      rowsRead += rows;
    },
  });
  const request = new Request(GATEWAY + path, init);
  const res = await worker.fetch(request, { ...bindings, DB }, ctx);
  const onPath = trips.length;
  await waitOnExecutionContext(ctx);
  await expectDocumented(request, res);
  return { res, onPath: trips.slice(0, onPath), after: trips.slice(onPath), rowsRead };
}

/** Hex HMAC-SHA256 of `message` under `secret`, as Browser Use signs its webhooks (WebCrypto, not the gateway's helpers). */
export async function hmacHex(secret: string, message: string): Promise<string> {
  const k = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Posts `body` to a hook as a sender would: signed with the hook's secret by the standardwebhooks
 * library, with `webhook-id` (a fresh one unless given) and the time of `at`. `headers` replace any
 * of the three (a test of a bad header); `env` as for `gateway`.
 */
export function deliverToHook(
  hook: { id: string; secret: string },
  body: string,
  options: { id?: string; at?: Date; headers?: Record<string, string>; env?: Bindings } = {},
): Promise<Response> {
  const id = options.id ?? `msg_${crypto.randomUUID()}`;
  const at = options.at ?? new Date();
  return gateway(
    `/hooks/${hook.id}`,
    {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "webhook-id": id,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": new Webhook(hook.secret).sign(id, at, body),
        ...options.headers,
      },
      body,
    },
    options.env,
  );
}
