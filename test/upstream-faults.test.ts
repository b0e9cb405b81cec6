import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { observeViews } from "../src/ledger/observe";
import { createLogger } from "../src/lib/log";
import { toMicros } from "../src/lib/money";
import { getCounter } from "../src/store/budgets";
import { reconcile } from "../src/reconciler/run";
import { getUsage, sumCostEvents } from "../src/store/usage";
import { BROWSERS, SESSIONS } from "../src/upstream/kinds";
import {
  admin,
  asTenant,
  emuTask,
  eventually,
  expectJson,
  gateway,
  newTenant,
  putPolicy,
  type TestTenant,
  figuresOf,
  waitForStatus,
  type SessionView as View,
} from "./helpers";

type Answer = "pass" | ((init: RequestInit | undefined) => Response | Promise<Response>);

const log = createLogger({ test: "upstream-faults" });
const realFetch = globalThis.fetch;

/** Every call the gateway made upstream while a fake was installed. */
interface UpstreamCall {
  method: string;
  path: string;
}

/**
 * Answers the gateway's upstream calls from a script, in order ("pass" lets one reach the emulator;
 * calls beyond the script pass too). Anything not addressed to upstream goes through untouched.
 * Restored after each test.
 */
function fakeUpstream(answers: Answer[]): UpstreamCall[] {
  const calls: UpstreamCall[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (!url.startsWith(env.UPSTREAM_URL)) return realFetch(input, init);
    calls.push({ method: init?.method ?? "GET", path: new URL(url).pathname.replace(/^\/api\/v3/, "") });
    const answer = answers[calls.length - 1] ?? "pass";
    return answer === "pass" ? realFetch(input, init) : answer(init);
  });
  return calls;
}

afterEach(() => {
  vi.restoreAllMocks();
});

const json = (status: number, body: unknown) => () => Response.json(body, { status });
const html = (status: number) => () =>
  new Response("<html><body>Bad Gateway</body></html>", { status, headers: { "Content-Type": "text/html" } });
const networkError = () => () => {
  throw new TypeError("Network connection lost.");
};

/** A gateway call with some env vars overridden, waiting for its after-response work. */
async function gatewayWith(
  overrides: Record<string, string>,
  key: string,
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<Response> {
  const headers: Record<string, string> = { "X-Browser-Use-API-Key": key };
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return gateway(
    path,
    {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    },
    { ...env, ...overrides },
  );
}

async function newSession(t: TestTenant, body: Record<string, unknown> = {}): Promise<View> {
  return expectJson<View>(await asTenant(t.key, "/api/v3/sessions", { body }), 200);
}

async function holds(tenantId: string) {
  const { results } = await env.DB.prepare(
    "SELECT resource_id, state FROM holds WHERE tenant_id = ? ORDER BY created_at",
  )
    .bind(tenantId)
    .all<{ resource_id: string | null; state: string }>();
  return results;
}

/** The tenant's one hold settled at `micros`, and its budget (period `none`) holding nothing and spent that. */
async function expectSettledAt(tenantId: string, micros: number): Promise<void> {
  const { results } = await env.DB.prepare("SELECT state, settled_micros FROM holds WHERE tenant_id = ?")
    .bind(tenantId)
    .all();
  expect(results).toEqual([{ state: "settled", settled_micros: micros }]);
  expect(await getCounter(env.DB, "tenant", tenantId, "none")).toMatchObject({
    heldMicros: 0,
    spentMicros: micros,
  });
}

async function costEventCount(id: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM cost_events WHERE id = ?")
    .bind(id.toLowerCase())
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe("retries", () => {
  it("retries a read that got a 5xx once and answers with the second attempt", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([json(500, { detail: "Internal Server Error" }), "pass"]);
    const got = await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 200);
    expect(got.id).toBe(s.id);
    expect(calls).toEqual([
      { method: "GET", path: `/sessions/${s.id}` },
      { method: "GET", path: `/sessions/${s.id}` },
    ]);
  });

  it("retries a read once after a network error", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([networkError(), "pass"]);
    expect((await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 200)).id).toBe(s.id);
    expect(calls).toHaveLength(2);
  });

  it("passes upstream's 5xx through with its status and body when the retry fails too", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([
      json(500, { detail: "Internal Server Error" }),
      json(503, { detail: "Service Unavailable" }),
    ]);
    const res = await asTenant(t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, 503)).toEqual({ detail: "Service Unavailable" });
    expect(calls).toHaveLength(2);
  });

  it("answers 502 upstream_bad_response when the failed retry's body is not JSON", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([html(502), html(502)]);
    const res = await asTenant(t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_bad_response" });
    expect(calls).toHaveLength(2);
  });

  it("answers 502 upstream_unreachable when both attempts of a read fail on the network", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([networkError(), networkError()]);
    const res = await asTenant(t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_unreachable" });
    expect(calls).toHaveLength(2);
  });

  it("never retries POST /sessions after a 5xx, and keeps its hold open as its outcome is unknown", async () => {
    const t = await newTenant();
    const calls = fakeUpstream([json(500, { detail: "Internal Server Error" })]);
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("once", { steps: 1 }) } });
    expect(await expectJson(res, 500)).toEqual({ detail: "Internal Server Error" });
    expect(calls).toEqual([{ method: "POST", path: "/sessions" }]);
    expect(await holds(t.tenantId)).toEqual([{ resource_id: null, state: "open" }]);
  });

  it.each([
    ["POST", "/sessions/{id}/stop", { strategy: "task" }],
    ["DELETE", "/sessions/{id}", undefined],
    ["POST", "/sessions", {}],
  ] as const)("never retries %s %s after a 5xx", async (method, path, body) => {
    const t = await newTenant();
    const s = await newSession(t);
    // A delete first stops the session (to book its last figures); the delete itself then fails.
    const first: Answer[] = method === "DELETE" ? ["pass"] : [];
    const calls = fakeUpstream([...first, json(502, { detail: "Bad Gateway" }), "pass"]);
    const res = await asTenant(t.key, `/api/v3${path.replace("{id}", s.id)}`, { method, body });
    expect(await expectJson(res, 502)).toEqual({ detail: "Bad Gateway" });
    expect(calls).toHaveLength(first.length + 1);
    expect(calls.at(-1)?.method).toBe(method);
  });
});

describe("faults", () => {
  it("answers 502 upstream_unreachable for a create whose connection failed, without retrying", async () => {
    const t = await newTenant();
    const calls = fakeUpstream([networkError(), "pass"]);
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("lost", { steps: 1 }) } });
    expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_unreachable" });
    expect(calls).toHaveLength(1);
  });

  it("answers, records and holds a create whose figures the ledger cannot read, and books it at its next read", async () => {
    const t = await newTenant();
    // Upstream made the session, but its answer carries a figure past what the ledger can hold.
    fakeUpstream([
      async (init) => {
        const made = await realFetch(`${env.UPSTREAM_URL}/sessions`, init);
        return Response.json({ ...((await made.json()) as object), llmCostUsd: "99999999999999999999" });
      },
    ]);
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("odd figure", { steps: 2, stepMs: 60_000 }) },
    });
    const created = await expectJson<{ id: string }>(res, 200);
    vi.restoreAllMocks();
    const { results } = await env.DB.prepare("SELECT state, resource_id FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .all<{ state: string; resource_id: string | null }>();
    expect(results).toEqual([{ state: "open", resource_id: created.id }]);
    expect(await getUsage(env.DB, "session", created.id)).toBeNull();
    await expectJson(await asTenant(t.key, `/api/v3/sessions/${created.id}`), 200);
    expect(await getUsage(env.DB, "session", created.id)).toMatchObject({ llmCostMicros: 0 });
  });

  it.each([
    // Without the session's total: what it has cost so far, which the follow-up is held against.
    ["its cost figures the ledger cannot read", "totalCostUsd", {}],
    // Without proxyCountryCode (not null: absent), where the policy judges the session's proxy.
    [
      "nothing of its proxy, where countries are restricted",
      "proxyCountryCode",
      { allowedCountries: ["us"] },
    ],
  ])(
    "answers 502 upstream_bad_response to a follow-up whose session's view says %s, holding nothing",
    async (_, left, policy) => {
      const t = await newTenant();
      await putPolicy("tenants", t.tenantId, { allowKeepAlive: true, ...policy });
      const s = await newSession(t, { task: emuTask("first", { steps: 1 }), keepAlive: true });
      await waitForStatus(t, s.id, ["idle"]);
      // The read the follow-up is judged by comes without that field.
      fakeUpstream([
        async (init) => {
          const read = await realFetch(`${env.UPSTREAM_URL}/sessions/${s.id}`, init);
          const { [left]: _, ...view } = (await read.json()) as View;
          return Response.json(view);
        },
      ]);
      const res = await asTenant(t.key, "/api/v3/sessions", { body: { sessionId: s.id, task: "second" } });
      expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_bad_response" });
      vi.restoreAllMocks();
      expect((await holds(t.tenantId)).map((h) => h.state)).toEqual(["settled"]);
      await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
    },
  );

  it("answers 502 upstream_bad_response for a 200 whose body is not JSON", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([() => new Response("<html>ok</html>", { status: 200 })]);
    const res = await asTenant(t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_bad_response" });
    expect(calls).toHaveLength(1);
  });

  it("answers 504 upstream_timeout when upstream does not answer within UPSTREAM_TIMEOUT_MS", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    let abortedBy: unknown;
    const calls = fakeUpstream([
      (init) =>
        new Promise<Response>((_, reject) => {
          const signal = init?.signal;
          signal?.addEventListener("abort", () => {
            abortedBy = signal.reason;
            reject(signal.reason);
          });
        }),
    ]);
    const res = await gatewayWith({ UPSTREAM_TIMEOUT_MS: "200" }, t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, 504)).toMatchObject({ code: "upstream_timeout" });
    // It was the attempt's own timeout that gave up, not anything else.
    expect(abortedBy).toMatchObject({ name: "TimeoutError" });
    // The budget is per attempt and its expiry is the client's 504: a timed-out read is not retried.
    expect(calls).toHaveLength(1);
  });

  // The per-attempt timeout covers the body: headers in time and a body that stalls is still a 504.
  it("answers 504 upstream_timeout when upstream's body stalls past UPSTREAM_TIMEOUT_MS", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    fakeUpstream([
      (init) => {
        const signal = init?.signal;
        const stalled = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode('{"id": "'));
            // As fetch does: the request's signal aborting errors the response body.
            signal?.addEventListener("abort", () => controller.error(signal.reason));
          },
        });
        return new Response(stalled, { status: 200, headers: { "Content-Type": "application/json" } });
      },
    ]);
    const res = await gatewayWith({ UPSTREAM_TIMEOUT_MS: "200" }, t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, 504)).toMatchObject({ code: "upstream_timeout" });
  });

  it.each([
    [400, { detail: "Agent session already has a running task." }],
    [402, { detail: "Insufficient credits" }],
    [422, { detail: [{ type: "missing", loc: ["body", "task"], msg: "Field required", input: null }] }],
    [429, { detail: "Too many concurrent active sessions." }],
  ])("passes an upstream %i through with its status and body unchanged", async (status, body) => {
    const t = await newTenant();
    const s = await newSession(t);
    const calls = fakeUpstream([json(status, body)]);
    const res = await asTenant(t.key, `/api/v3/sessions/${s.id}`);
    expect(await expectJson(res, status)).toEqual(body);
    expect(calls).toHaveLength(1);
  });

  it("answers an object upstream no longer knows like an unknown id, and forgets it", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const unknown = await expectJson(await asTenant(t.key, `/api/v3/sessions/${crypto.randomUUID()}`), 404);
    const calls = fakeUpstream([json(404, { detail: "Session not found" })]);
    const gone = await expectJson(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 404);
    expect({ ...gone, requestId: null }).toEqual({ ...unknown, requestId: null });
    const again = await expectJson(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 404);
    expect({ ...again, requestId: null }).toEqual({ ...unknown, requestId: null });
    expect(calls).toHaveLength(1);
  });

  it("passes a 4xx answer to a task through and releases its hold", async () => {
    const t = await newTenant();
    const body = { detail: "Insufficient credits" };
    fakeUpstream([json(402, body)]);
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("poor", { steps: 1 }) } });
    expect(await expectJson(res, 402)).toEqual(body);
    expect(await holds(t.tenantId)).toEqual([{ resource_id: null, state: "released" }]);
  });
});

describe("secrets", () => {
  it("never puts the upstream key or the tenant key in an error body or a log line", async () => {
    const t = await newTenant();
    const s = await newSession(t);
    const secrets = [env.BROWSER_USE_API_KEY, t.key];
    const lines: string[] = [];
    for (const method of ["log", "info", "warn", "error"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      });
    }
    const sentKeys: (string | null)[] = [];
    // A runtime may well put the request in a network error's message; the gateway must not repeat it.
    const leakyError = (init: RequestInit | undefined) => {
      const key = new Headers(init?.headers).get("X-Browser-Use-API-Key");
      sentKeys.push(key);
      throw new TypeError(`connect failed for ${env.UPSTREAM_URL} with X-Browser-Use-API-Key: ${key}`);
    };
    const hang = (init: RequestInit | undefined) =>
      new Promise<Response>((_, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal?.reason)),
      );
    fakeUpstream([
      leakyError,
      leakyError, // GET: 502 unreachable after the retry
      leakyError, // POST: 502 unreachable
      json(500, { detail: "Internal Server Error" }),
      html(500), // GET: 502 bad response
      html(200), // POST: 502 bad response
      json(401, { detail: "Invalid API key" }), // upstream refusing our key: 502, not a tenant 401
      hang, // 504
    ]);
    const bodies: string[] = [];
    const task = { task: emuTask("secret", { steps: 1 }) };
    for (const res of [
      await asTenant(t.key, `/api/v3/sessions/${s.id}`),
      await asTenant(t.key, "/api/v3/sessions", { body: task }),
      await asTenant(t.key, `/api/v3/sessions/${s.id}`),
      await asTenant(t.key, "/api/v3/sessions", { body: task }),
      await asTenant(t.key, `/api/v3/sessions/${s.id}`),
      await gatewayWith({ UPSTREAM_TIMEOUT_MS: "100" }, t.key, `/api/v3/sessions/${s.id}`),
    ]) {
      bodies.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
    }
    expect(bodies.map((b) => b.slice(0, 3))).toEqual(["502", "502", "502", "502", "502", "504"]);
    expect(bodies[4]).toContain("upstream_unauthorized");
    expect(sentKeys).toEqual([env.BROWSER_USE_API_KEY, env.BROWSER_USE_API_KEY, env.BROWSER_USE_API_KEY]);
    expect(lines.length).toBeGreaterThan(0);
    for (const text of [...bodies, ...lines]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});

describe("ledger", () => {
  it("books and settles a session whose figures upstream writes with an exponent, as Python's Decimal does", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    const s = await newSession(t, { task: emuTask("exponents", { steps: 2, cost: "0.01" }) });
    // It ends with no one asking through the gateway; the reconciler reads it.
    const upstreamView = async () =>
      (await (
        await realFetch(`${env.UPSTREAM_URL}/sessions/${s.id}`, {
          headers: { "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY },
        })
      ).json()) as View;
    await eventually(async () => ((await upstreamView()).status === "stopped" ? true : undefined));
    // str(Decimal) writes an amount with an exponent once it is small enough ("0E-7", "1.5E-7"):
    // the emulator's amounts, written that way, in every session view upstream answers with.
    const exponent = (v: unknown) => (typeof v === "string" ? `${toMicros(v)}E-6` : v);
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const res = await realFetch(input, init);
      if (!url.startsWith(`${env.UPSTREAM_URL}/sessions/`) || res.status !== 200) return res;
      const view = (await res.json()) as View;
      for (const field of ["llmCostUsd", "proxyCostUsd", "browserCostUsd", "totalCostUsd", "proxyUsedMb"])
        view[field] = exponent(view[field]);
      return Response.json(view);
    });
    const report = await reconcile(env, log);
    vi.restoreAllMocks();
    expect(report.failures).toBe(0);
    expect(await getUsage(env.DB, "session", s.id)).toMatchObject({
      status: "stopped",
      totalCostMicros: 20_000,
    });
    await expectSettledAt(t.tenantId, 20_000);
  });

  it.each([
    ["lacks its total", undefined],
    ["gives a negative total", "-0.02"],
  ])("books no view of a session that %s: its hold is not settled at nothing", async (_, total) => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    const s = await newSession(t, { task: emuTask("no total", { steps: 2, cost: "0.01", outcome: "hang" }) });
    await eventually(async () => {
      const v = await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 200);
      return v.totalCostUsd === "0.02" ? v : undefined;
    });
    // It is stopped with no one asking through the gateway; the reconciler reads it.
    const stopped = await realFetch(`${env.UPSTREAM_URL}/sessions/${s.id}/stop`, {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY, "Content-Type": "application/json" },
      body: JSON.stringify({ strategy: "session" }),
    });
    expect(stopped.status).toBe(200);
    // Upstream's final view comes without its total (a field renamed or left out, say), or with
    // one no cost can be: nothing says what the session cost, and $0 is not the answer.
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const res = await realFetch(input, init);
      if (url !== `${env.UPSTREAM_URL}/sessions/${s.id}` || res.status !== 200) return res;
      const { totalCostUsd: _, ...view } = (await res.json()) as View;
      return Response.json(total === undefined ? view : { ...view, totalCostUsd: total });
    });
    await reconcile(env, log);
    vi.restoreAllMocks();
    expect(await getUsage(env.DB, "session", s.id)).toMatchObject({ totalCostMicros: 20_000 });
    const { results } = await env.DB.prepare("SELECT state FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .all();
    expect(results).toEqual([{ state: "open" }]);
    // Read whole again, it is booked and settled at what it cost.
    await reconcile(env, log);
    await expectSettledAt(t.tenantId, 20_000);
  });

  it("still stops by policy a session whose view the ledger cannot book", async () => {
    const t = await newTenant();
    const s = await newSession(t, { task: emuTask("runs on", { steps: 1, outcome: "hang" }) });
    // Suspended with its sessions to stop; the stop at once fails, so the reconciler's is due.
    fakeUpstream([json(503, { detail: "Service Unavailable" })]);
    const suspended = await admin(`/tenants/${t.tenantId}/suspend`, "POST", { stopSessions: true });
    expect(await expectJson(suspended, 200)).toMatchObject({ stopped: 0 });
    vi.restoreAllMocks();
    // Every read of it comes without its total: nothing can be booked of it, but it is a
    // suspended tenant's, and live, so it must be stopped all the same.
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      const res = await realFetch(input, init);
      const read = (init?.method ?? "GET") === "GET" && url === `${env.UPSTREAM_URL}/sessions/${s.id}`;
      if (!read || res.status !== 200) return res;
      const { totalCostUsd: _, ...view } = (await res.json()) as View;
      return Response.json(view);
    });
    const report = await reconcile(env, log);
    vi.restoreAllMocks();
    expect(report.stoppedSuspended).toBeGreaterThanOrEqual(1);
    const upstream = await realFetch(`${env.UPSTREAM_URL}/sessions/${s.id}`, {
      headers: { "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY },
    });
    expect((await expectJson<View>(upstream, 200)).status).toBe("stopped");
    // The stop's own view is whole: booked, and the hold settled at it.
    const { results } = await env.DB.prepare("SELECT state FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .all();
    expect(results).toEqual([{ state: "settled" }]);
  });

  it("books nothing more when the same read of an ended session is replayed", async () => {
    const t = await newTenant();
    const s = await newSession(t, { task: emuTask("replay", { steps: 2, cost: "0.01" }) });
    const done = await waitForStatus(t, s.id, ["stopped"]);
    const before = await costEventCount(s.id);
    expect(before).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) {
      expect(await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 200)).toEqual(done);
    }
    expect(await costEventCount(s.id)).toBe(before);
    const figures = await figuresOf("session", s.id);
    expect(figures.totalCostMicros).toBe(20_000);
    expect(await sumCostEvents(env.DB, "session", s.id)).toEqual(figures);
  });

  it("books and settles a session whose output is larger than a D1 row, keeping its view without the output", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    // The agent's output is bounded by nothing the gateway checks: what the task asks for, here
    // through its output schema, two and a half megabytes of it (D1 keeps at most 2 MB a row).
    const s = await newSession(t, {
      task: emuTask("a long answer", { steps: 2, cost: "0.01" }),
      outputSchema: { type: "string", minLength: 2_500_000 },
    });
    const done = await waitForStatus(t, s.id, ["stopped"]);
    expect(String(done.output).length).toBe(2_500_000);
    expect(await getUsage(env.DB, "session", s.id)).toMatchObject({
      status: "stopped",
      totalCostMicros: 20_000,
    });
    await expectSettledAt(t.tenantId, 20_000);
    // A list serves the stored view, which has no room for the output; the session's own read has it.
    const list = await expectJson<{ sessions: View[] }>(await asTenant(t.key, "/api/v3/sessions"), 200);
    expect(list.sessions.map((v) => [v.id, v.status, v.output])).toEqual([[s.id, "stopped", null]]);
  });

  it("keeps the view of a session whose output nests deeper than SQLite reads JSON without it, so live lists still answer", async () => {
    const t = await newTenant();
    const s = await newSession(t, { task: emuTask("deep answer", { steps: 1 }), keepAlive: true });
    try {
      const idle = await waitForStatus(t, s.id, ["idle"]);
      // Its view as upstream could give it and the emulator cannot (a code-mode task's output,
      // say): nested 1,001 deep, one level past what SQLite's JSON functions read. The session is
      // still live (idle), so every live list reads its stored view.
      let deep: unknown = "leaf";
      for (let i = 0; i < 1001; i++) deep = [deep];
      const at = new Date().toISOString();
      await observeViews(env, log, SESSIONS, t, [{ ...idle, output: deep, updatedAt: at }], at);
      const live = await expectJson<{ items: { id: string }[] }>(
        await asTenant(t.key, "/gateway/v1/live"),
        200,
      );
      expect(live.items.map((i) => i.id)).toEqual([s.id]);
      const list = await expectJson<{ sessions: View[] }>(await asTenant(t.key, "/api/v3/sessions"), 200);
      expect(list.sessions.map((v) => v.id)).toEqual([s.id]);
    } finally {
      await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
    }
  });

  it("never lowers a session's figures on a stale view", async () => {
    const t = await newTenant();
    const s = await newSession(t, { task: emuTask("stale", { steps: 2, cost: "0.01", outcome: "hang" }) });
    try {
      const later = await eventually(
        async () => {
          const v = await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 200);
          return v.totalCostUsd === "0.02" ? v : undefined;
        },
        15_000,
        "both steps to be billed",
      );
      expect(later.status).toBe("running");
      const events = await costEventCount(s.id);
      // The create's own view, older and lower, arrives late (a slow reader, a delayed webhook).
      await observeViews(env, log, SESSIONS, t, [s], new Date().toISOString());
      expect(await getUsage(env.DB, "session", s.id)).toMatchObject({
        status: "running",
        totalCostMicros: 20_000,
      });
      expect(await costEventCount(s.id)).toBe(events);
    } finally {
      await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
    }
  });

  it("writes a final view read again after the same view was refused as older than the stored one", async () => {
    const t = await newTenant();
    const s = await newSession(t, { task: emuTask("late", { steps: 1 }) });
    // Upstream's final view, read straight from it: the gateway has not seen it.
    const stopped = await eventually(
      async () => {
        const res = await fetch(`${env.UPSTREAM_URL}/sessions/${s.id}`, {
          headers: { "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY },
        });
        const v = await expectJson<View>(res, 200);
        return v.status === "stopped" ? v : undefined;
      },
      15_000,
      "the session to stop",
    );
    const status = () =>
      env.DB.prepare("SELECT status FROM resources WHERE kind = 'session' AND id = ?")
        .bind(s.id)
        .first<string>("status");
    // First it arrives stamped before the create's view was stored (a read whose clock was behind):
    // the stored view stays.
    await observeViews(
      env,
      log,
      SESSIONS,
      t,
      [stopped],
      new Date(Date.parse(String(s.createdAt)) - 60_000).toISOString(),
    );
    expect(await status()).toBe("running");
    // The same view read again, now: it is written, not skipped as already booked.
    await observeViews(env, log, SESSIONS, t, [stopped], new Date().toISOString());
    expect(await status()).toBe("stopped");
  });

  it("lowers a browser's figures only on its final view, which carries the refund", async () => {
    const t = await newTenant();
    const active = await expectJson<View>(
      await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 30 } }),
      201,
    );
    expect(active.browserCost).toBe("0.01");
    expect((await getUsage(env.DB, "browser", active.id))?.totalCostMicros).toBe(10_000);
    const stopped = await expectJson<View>(
      await asTenant(t.key, `/api/v3/browsers/${active.id}`, { method: "PATCH", body: { action: "stop" } }),
      200,
    );
    expect(stopped.status).toBe("stopped");
    const refunded = await getUsage(env.DB, "browser", active.id);
    expect(refunded?.status).toBe("stopped");
    expect(refunded?.totalCostMicros).toBeLessThan(10_000);
    // The create's view, higher but not final, arrives late: it must not undo the refund.
    await observeViews(env, log, BROWSERS, t, [active], new Date().toISOString());
    expect(await getUsage(env.DB, "browser", active.id)).toEqual(refunded);
    expect(await sumCostEvents(env.DB, "browser", active.id)).toEqual(await figuresOf("browser", active.id));
  });
});
