import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openHold } from "../src/budget/holds";
import { GatewayError } from "../src/lib/errors";
import { createLogger } from "../src/lib/log";
import { toMicros } from "../src/lib/money";
import { effectivePolicy } from "../src/policy/effective";
import { reconcile } from "../src/reconciler/run";
import { getCounter } from "../src/store/budgets";
import { recordCreatedStatement } from "../src/store/resources";
import { getUsage, sumCostEvents } from "../src/store/usage";
import {
  asTenant,
  emuTask,
  emulatorTruth,
  eventually,
  expectJson,
  gateway,
  newTenant,
  type TestTenant,
  figuresOf,
  putPolicy,
  startSession,
  storeFailingOn,
  newUpstreamAccount,
  type UpstreamAccount,
  waitForStatus,
  type SessionView as View,
} from "./helpers";

const log = createLogger({ test: "governance" });
const realFetch = globalThis.fetch;

afterEach(() => {
  vi.restoreAllMocks();
});

/** Counts the gateway's upstream calls from here on; they still reach the emulator. */
function countUpstream(): { method: string; url: string }[] {
  const calls: { method: string; url: string }[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url.startsWith(env.UPSTREAM_URL)) calls.push({ method: init?.method ?? "GET", url });
    return realFetch(input, init);
  });
  return calls;
}

/** Rows a tenant has in the ledger's tables: a refused request must leave none. */
async function rowsOf(tenantId: string): Promise<{ holds: number; resources: number; usage: number }> {
  const row = await env.DB.prepare(
    `SELECT (SELECT count(*) FROM holds WHERE tenant_id = ?1) AS holds,
            (SELECT count(*) FROM resources WHERE tenant_id = ?1) AS resources,
            (SELECT count(*) FROM usage WHERE tenant_id = ?1) AS usage`,
  )
    .bind(tenantId)
    .first<{ holds: number; resources: number; usage: number }>();
  return row ?? { holds: -1, resources: -1, usage: -1 };
}

async function holdsOf(tenantId: string) {
  const { results } = await env.DB.prepare(
    "SELECT resource_id, amount_micros, state, settled_micros FROM holds WHERE tenant_id = ? ORDER BY created_at",
  )
    .bind(tenantId)
    .all<{
      resource_id: string | null;
      amount_micros: number;
      state: string;
      settled_micros: number | null;
    }>();
  return results;
}

const hangTask = (text: string) => ({ task: emuTask(text, { outcome: "hang" }) });

/** Stops sessions this test left running: the emulator is shared and has a concurrency limit. */
async function stopAll(t: TestTenant, ids: string[]): Promise<void> {
  for (const id of ids) {
    await asTenant(t.key, `/api/v3/sessions/${id}/stop`, { body: { strategy: "session" } });
  }
}

/** Polls the emulator itself (not through the gateway, which would observe it) for a session's status. */
async function upstreamStatus(id: string, statuses: string[]): Promise<Record<string, unknown>> {
  return eventually(
    async () => (await emulatorTruth()).find((s) => s.id === id && statuses.includes(String(s.status))),
    15_000,
    `upstream session ${id} to reach ${statuses.join("|")}`,
  );
}

describe("proxy country", () => {
  it("injects the default country, announces it and upstream really gets it", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { allowedCountries: ["de", "fr"], defaultCountry: "de" });
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("where", { steps: 1 }) },
    });
    const s = await expectJson<View>(res, 200);
    expect(res.headers.get("X-Gateway-Applied")).toBe("proxyCountryCode=de, skills=false");
    expect(s.proxyCountryCode).toBe("de");
    const truth = (await emulatorTruth()).find((u) => u.id === s.id);
    expect(truth?.proxyCountryCode).toBe("de");
  });

  it.each([
    ["a country outside the allowlist", { proxyCountryCode: "us" }],
    ["no country where upstream's default is outside the allowlist", {}],
  ])("refuses %s with 403, sending and writing nothing", async (_, extra) => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { allowedCountries: ["de", "fr"] });
    const calls = countUpstream();
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: "t", ...extra } });
    expect(await expectJson(res, 403)).toMatchObject({ code: "country_not_allowed", allowed: ["de", "fr"] });
    const browser = await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 5, ...extra } });
    expect(await expectJson(browser, 403)).toMatchObject({ code: "country_not_allowed" });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
  });
});

describe("model and keepAlive", () => {
  it("refuses a model outside the allowlist with 403 and forwards one inside it", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { allowedModels: ["bu-mini"] });
    const calls = countUpstream();
    const refused = await asTenant(t.key, "/api/v3/sessions", { body: { task: "t", model: "bu-max" } });
    expect(await expectJson(refused, 403)).toMatchObject({ code: "model_not_allowed", allowed: ["bu-mini"] });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
    const ok = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("m", { steps: 1 }), model: "bu-mini" },
    });
    expect((await expectJson<View>(ok, 200)).model).toBe("bu-mini");
  });

  it("names the default model it judged a request by, so upstream's own default cannot slip past the allowlist", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { allowedModels: ["claude-opus-4.7"] });
    // An account whose default is no longer the documented one (Browser Use may change it).
    const account = await newUpstreamAccount({ defaultModel: "bu-max" });
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("no model", { steps: 1 }) },
      env: account.env,
    });
    const made = await expectJson<View>(res, 200);
    expect(made.model).toBe("claude-opus-4.7");
    expect(res.headers.get("X-Gateway-Applied")).toContain("model=claude-opus-4.7");
    // Where no allowlist restricts models, nothing is written in: upstream's default it is.
    const free = await newTenant();
    const open = await asTenant(free.key, "/api/v3/sessions", {
      body: { task: emuTask("any model", { steps: 1 }) },
      env: account.env,
    });
    expect((await expectJson<View>(open, 200)).model).toBe("bu-max");
  });

  it("refuses keepAlive with 403 where the policy forbids it", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { allowKeepAlive: false });
    const calls = countUpstream();
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: "t", keepAlive: true } });
    expect(await expectJson(res, 403)).toMatchObject({ code: "keep_alive_not_allowed" });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
  });
});

describe("a follow-up under a policy narrowed since its session was created", () => {
  // Upstream runs a follow-up on its session's browser, behind the proxy it was created with, and
  // on the session's model unless the follow-up names one: the follow-up body's country (and an
  // absent model judged as upstream's default) is not what runs.
  it("refuses a follow-up whose session's proxy country the policy no longer allows, whatever country the body names", async () => {
    const t = await newTenant();
    const s = await startSession(t, {
      task: emuTask("first", { steps: 1 }),
      keepAlive: true,
      proxyCountryCode: "us",
    });
    await waitForStatus(t, s.id, ["idle"]);
    await putPolicy("orgs", t.orgId, { allowedCountries: ["de"] });
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("again", { steps: 1 }), sessionId: s.id, proxyCountryCode: "de" },
    });
    expect(await expectJson(res, 403)).toMatchObject({ code: "country_not_allowed" });
    const [truth] = (await emulatorTruth()).filter((x) => x.id === s.id);
    expect(truth?.tasks).toHaveLength(1);
    expect(await findOpenHoldOf(s.id)).toBe(0);
  });

  it("refuses a follow-up naming no model whose session's model the policy no longer allows", async () => {
    const t = await newTenant();
    const s = await startSession(t, {
      task: emuTask("first", { steps: 1 }),
      keepAlive: true,
      model: "bu-ultra",
    });
    await waitForStatus(t, s.id, ["idle"]);
    // Upstream's default model stays allowed; the session's own is not any more.
    await putPolicy("orgs", t.orgId, { allowedModels: ["bu-mini", "claude-opus-4.7"] });
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("again", { steps: 1 }), sessionId: s.id },
    });
    expect(await expectJson(res, 403)).toMatchObject({ code: "model_not_allowed" });
    const [truth] = (await emulatorTruth()).filter((x) => x.id === s.id);
    expect(truth?.tasks).toHaveLength(1);
    // Naming an allowed model runs the task on it.
    const ok = await startSession(t, {
      task: emuTask("mini", { steps: 1 }),
      sessionId: s.id,
      model: "bu-mini",
    });
    expect(ok.model).toBe("bu-mini");
  });

  // Upstream keeps a session's useOwnKey and enableScheduledTasks for its follow-ups (the emulator
  // as Browser Use: a dispatch changes only what it names, and its views never show either): a
  // session created with one under a policy that allowed it would go on running on the account's
  // own key, or making tasks upstream runs later past every hold, after the policy stopped it.
  it.each([
    { field: "useOwnKey", allow: "allowOwnKey", code: "own_key_not_allowed" },
    { field: "enableScheduledTasks", allow: "allowScheduledTasks", code: "scheduled_tasks_not_allowed" },
  ])(
    "refuses a follow-up on a session created with $field once the policy no longer allows it",
    async ({ field, allow, code }) => {
      const t = await newTenant();
      await putPolicy("orgs", t.orgId, { [allow]: true });
      const s = await startSession(t, { task: emuTask(field, { steps: 1 }), keepAlive: true, [field]: true });
      await waitForStatus(t, s.id, ["idle"]);
      await putPolicy("orgs", t.orgId, {});
      // Saying false in the follow-up changes nothing: upstream keeps what the session was created with.
      for (const body of [
        { task: emuTask("again", { steps: 1 }), sessionId: s.id },
        { task: emuTask("again", { steps: 1 }), sessionId: s.id, [field]: false },
      ]) {
        const res = await asTenant(t.key, "/api/v3/sessions", { body });
        expect(await expectJson(res, 403)).toMatchObject({ code });
      }
      const [truth] = (await emulatorTruth()).filter((x) => x.id === s.id);
      expect(truth?.tasks).toHaveLength(1);
      expect(await findOpenHoldOf(s.id)).toBe(0);
      // A session created without it takes its follow-up as ever.
      const plain = await startSession(t, { task: emuTask("plain", { steps: 1 }), keepAlive: true });
      await waitForStatus(t, plain.id, ["idle"]);
      await startSession(t, { task: emuTask("plain again", { steps: 1 }), sessionId: plain.id });
      await stopAll(t, [s.id, plain.id]);
    },
  );

  it("takes a follow-up naming no model or country on a session whose own the policy allows, whatever upstream's defaults are", async () => {
    const t = await newTenant();
    // Neither upstream's default model nor its default country ("us") is allowed; the session's are.
    await putPolicy("orgs", t.orgId, { allowedModels: ["bu-max"], allowedCountries: ["de"] });
    const s = await startSession(t, {
      task: emuTask("first", { steps: 1 }),
      keepAlive: true,
      model: "bu-max",
      proxyCountryCode: "de",
    });
    await waitForStatus(t, s.id, ["idle"]);
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("again", { steps: 1 }), sessionId: s.id },
    });
    expect(res.status).toBe(200);
    // Nothing was written into the body for it: a follow-up's country changes nothing upstream.
    expect(res.headers.get("X-Gateway-Applied") ?? "").not.toContain("proxyCountryCode");
    await res.body?.cancel();
    const [truth] = (await emulatorTruth()).filter((x) => x.id === s.id);
    expect(truth?.tasks).toHaveLength(2);
  });

  it("ends a kept-alive session after its follow-up once the policy forbids keepAlive, rather than keeping it idle", async () => {
    const t = await newTenant();
    const s = await startSession(t, { task: emuTask("first", { steps: 1 }), keepAlive: true });
    await waitForStatus(t, s.id, ["idle"]);
    await putPolicy("orgs", t.orgId, { allowKeepAlive: false });
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("again", { steps: 1 }), sessionId: s.id },
    });
    await expectJson(res, 200);
    // Kept alive, it would sit idle (and bill its idle time outside any hold) for the next task.
    expect((await waitForStatus(t, s.id)).status).toBe("stopped");
    expect(res.headers.get("X-Gateway-Applied")).toContain("keepAlive=false");
  });
});

/** Open holds of a session: a refused follow-up must leave none. */
async function findOpenHoldOf(sessionId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE resource_id = ? AND state = 'open'")
    .bind(sessionId.toLowerCase())
    .first<{ n: number }>();
  return row?.n ?? -1;
}

describe("features shared across the upstream account", () => {
  /** The JSON bodies the gateway sends upstream from here on; they still reach the emulator. */
  function upstreamBodies(): Record<string, unknown>[] {
    const bodies: Record<string, unknown>[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith(env.UPSTREAM_URL) && typeof init?.body === "string")
        bodies.push(JSON.parse(init.body));
      return realFetch(input, init);
    });
    return bodies;
  }

  it("forwards skills: false, first task and follow-up alike, and says so, unless the org allows skills", async () => {
    const t = await newTenant();
    const sent = upstreamBodies();
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("learn", { steps: 1 }), skills: true, keepAlive: true },
    });
    const s = await expectJson<View>(res, 200);
    expect(res.headers.get("X-Gateway-Applied")).toBe("skills=false");
    await waitForStatus(t, s.id, ["idle"]);
    await startSession(t, { task: emuTask("again", { steps: 1 }), sessionId: s.id });
    expect(sent.map((b) => b.skills)).toEqual([false, false]);

    const allowed = await newTenant();
    await putPolicy("orgs", allowed.orgId, { allowSkills: true });
    const ok = await asTenant(allowed.key, "/api/v3/sessions", {
      body: { task: emuTask("learn", { steps: 1 }) },
    });
    await expectJson(ok, 200);
    expect(ok.headers.get("X-Gateway-Applied")).toBeNull();
    expect(sent[2]).not.toHaveProperty("skills");
  });

  it("refuses enableScheduledTasks with 403 unless the org allows scheduled tasks", async () => {
    const t = await newTenant();
    const calls = countUpstream();
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: "t", enableScheduledTasks: true },
    });
    expect(await expectJson(res, 403)).toMatchObject({ code: "scheduled_tasks_not_allowed" });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
    await putPolicy("orgs", t.orgId, { allowScheduledTasks: true });
    await startSession(t, { task: emuTask("scheduled", { steps: 1 }), enableScheduledTasks: true });
  });

  it("refuses useOwnKey with 403, first task and follow-up alike, unless the org allows the account's own LLM key", async () => {
    // useOwnKey runs inference on the LLM key in the upstream project's settings: the provider
    // bills it to whoever owns that key, and Browser Use reports (and maxCostUsd bounds) only its
    // 0.2x fee, so the tenant's budget would see a fifth of what its task cost.
    const t = await newTenant();
    const calls = countUpstream();
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: "t", useOwnKey: true } });
    expect(await expectJson(res, 403)).toMatchObject({ code: "own_key_not_allowed" });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });

    const s = await startSession(t, { task: emuTask("first", { steps: 1 }), keepAlive: true });
    await waitForStatus(t, s.id, ["idle"]);
    const holdsBefore = await holdsOf(t.tenantId);
    const followUp = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: "again", sessionId: s.id, useOwnKey: true },
    });
    expect(await expectJson(followUp, 403)).toMatchObject({ code: "own_key_not_allowed" });
    expect(await holdsOf(t.tenantId)).toEqual(holdsBefore);
    await stopAll(t, [s.id]);

    await putPolicy("orgs", t.orgId, { allowOwnKey: true });
    await startSession(t, { task: emuTask("own key", { steps: 1 }), useOwnKey: true });
  });
});

describe("upstream's own browser timeout limit", () => {
  it("refuses a timeout over 240 minutes with upstream's 403 before pricing or holding it", async () => {
    const t = await newTenant();
    const res = await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 9007199254740991 } });
    expect(await expectJson(res, 403)).toMatchObject({
      code: "timeout_not_allowed",
      detail: "Maximum session timeout is 4 hours (240 minutes).",
    });
    expect(await holdsOf(t.tenantId)).toEqual([]);
  });
});

describe("browser timeout", () => {
  it("refuses a timeout over the ceiling with 403, sending nothing", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxBrowserTimeoutMinutes: 15 });
    const calls = countUpstream();
    const res = await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 16 } });
    expect(await expectJson(res, 403)).toMatchObject({ code: "timeout_not_allowed", maxTimeoutMinutes: 15 });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
  });

  it("injects the ceiling when no timeout is sent, announces it and holds its price", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxBrowserTimeoutMinutes: 15 });
    const res = await asTenant(t.key, "/api/v3/browsers", { body: {} });
    const b = await expectJson<View>(res, 201);
    try {
      expect(res.headers.get("X-Gateway-Applied")).toBe("timeout=15");
      const minutes = (Date.parse(String(b.timeoutAt)) - Date.parse(String(b.startedAt))) / 60_000;
      expect(minutes).toBeCloseTo(15, 3);
      // 15 minutes at $0.02 an hour, and the default proxy allowance for upstream's proxy.
      expect((await holdsOf(t.tenantId)).map((h) => h.amount_micros)).toEqual([5_000 + 100_000]);
    } finally {
      await asTenant(t.key, `/api/v3/browsers/${b.id}`, { method: "PATCH", body: { action: "stop" } });
    }
  });
});

describe("concurrency", () => {
  it("answers the third live task of a tenant limited to 2 with 429 and admits one after a stop", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 2 });
    const live: string[] = [];
    try {
      for (const i of [1, 2]) {
        live.push((await startSession(t, hangTask(`h${i}`))).id);
      }
      const calls = countUpstream();
      const third = await asTenant(t.key, "/api/v3/sessions", { body: hangTask("h3") });
      expect(third.headers.get("Retry-After")).toMatch(/^[1-9]\d*$/);
      expect(await expectJson(third, 429)).toMatchObject({
        code: "concurrency_limit",
        scope: "tenant",
        limit: 2,
      });
      expect(calls).toEqual([]);
      vi.restoreAllMocks();

      const stopped = await asTenant(t.key, `/api/v3/sessions/${live[0]}/stop`, {
        body: { strategy: "session" },
      });
      expect((await expectJson<View>(stopped, 200)).status).toBe("stopped");
      const again = await asTenant(t.key, "/api/v3/sessions", { body: hangTask("h4") });
      live.push((await expectJson<View>(again, 200)).id);
    } finally {
      await stopAll(t, live);
    }
  });

  it("admits no more than the limit when many tasks race for the last slots", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 2 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        asTenant(t.key, "/api/v3/sessions", { body: hangTask(`race ${i}`) }),
      ),
    );
    const admitted = await Promise.all(
      results.filter((r) => r.status === 200).map(async (r) => ((await r.json()) as View).id),
    );
    try {
      expect(results.map((r) => r.status).sort()).toEqual([200, 200, 429, 429, 429, 429]);
    } finally {
      await stopAll(t, admitted);
    }
  });

  it("counts a live browser against the same limit", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 1 });
    const b = await expectJson<View>(
      await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 1 } }),
      201,
    );
    try {
      const res = await asTenant(t.key, "/api/v3/sessions", { body: hangTask("after browser") });
      expect(await expectJson(res, 429)).toMatchObject({ code: "concurrency_limit" });
    } finally {
      await asTenant(t.key, `/api/v3/browsers/${b.id}`, { method: "PATCH", body: { action: "stop" } });
    }
  });

  it("counts an org's tenants together against the org's limit", async () => {
    const a = await newTenant();
    const b = await newTenant(a.orgId);
    await putPolicy("orgs", a.orgId, { maxConcurrentSessions: 2 });
    const live: [TestTenant, string][] = [];
    const start = async (t: TestTenant, text: string) =>
      asTenant(t.key, "/api/v3/sessions", { body: hangTask(text) });
    try {
      live.push([a, (await expectJson<View>(await start(a, "a1"), 200)).id]);
      live.push([b, (await expectJson<View>(await start(b, "b1"), 200)).id]);
      for (const t of [a, b]) {
        const res = await start(t, "over");
        expect(res.headers.get("Retry-After")).not.toBeNull();
        expect(await expectJson(res, 429)).toMatchObject({
          code: "concurrency_limit",
          scope: "org",
          limit: 2,
        });
      }
      const [first] = live;
      if (!first) throw new Error("no live session");
      await expectJson(await asTenant(a.key, `/api/v3/sessions/${first[1]}/stop`, { body: {} }), 200);
      live.push([b, (await expectJson<View>(await start(b, "b2"), 200)).id]);
    } finally {
      for (const [t, id] of live) await stopAll(t, [id]);
    }
  });

  // A session created without a task takes a slot too; otherwise a task dispatched to it later
  // (a follow-up, which adds no session) would slip past the limit.
  it("never lets a tenant limited to 2 live sessions run a third task, even through an empty session", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 2 });
    const live: string[] = [];
    try {
      for (const i of [1, 2]) {
        live.push((await startSession(t, hangTask(`h${i}`))).id);
      }
      const empty = await asTenant(t.key, "/api/v3/sessions", { body: {} });
      if (empty.status === 200) {
        const id = ((await empty.json()) as View).id;
        live.push(id);
        await upstreamStatus(id, ["idle"]);
        await asTenant(t.key, "/api/v3/sessions", { body: { ...hangTask("h3"), sessionId: id } });
      }
      const running = (await emulatorTruth()).filter(
        (s) => live.includes(String(s.id)) && s.status === "running",
      );
      expect(running.map((s) => s.id)).toHaveLength(2);
    } finally {
      await stopAll(t, live);
    }
  });
});

describe("requests per minute", () => {
  it("answers the request past the limit with 429 rate_limited and Retry-After", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { requestsPerMinute: 3 });
    // The window is a fixed clock minute: start in a fresh one if this one is nearly over.
    const left = 60 - (Math.floor(Date.now() / 1000) % 60);
    if (left < 5) await new Promise((r) => setTimeout(r, left * 1000 + 100));
    const statuses: number[] = [];
    let refused: Response | undefined;
    for (let i = 0; i < 4 && !refused; i++) {
      const res = await asTenant(t.key, "/api/v3/billing/account");
      statuses.push(res.status);
      if (res.status === 429) refused = res;
      else await expectJson(res, 200);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const retryAfter = Number(refused?.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await expectJson(refused as Response, 429)).toMatchObject({ code: "rate_limited", limit: 3 });
    // Refused requests count for nothing, but the window stays full until it ends.
    expect(await expectJson(await asTenant(t.key, "/api/v3/billing/account"), 429)).toMatchObject({
      code: "rate_limited",
    });
  });
  it("counts in the key's Durable Object, not D1: a store refusing every write still rate-limits", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { requestsPerMinute: 2 });
    const left = 60 - (Math.floor(Date.now() / 1000) % 60);
    if (left < 5) await new Promise((r) => setTimeout(r, left * 1000 + 100));
    const noWrites = storeFailingOn(/^\s*(INSERT|UPDATE|DELETE)/i);
    const statuses = [];
    for (let i = 0; i < 3; i++)
      statuses.push((await asTenant(t.key, "/api/v3/billing/account", { env: noWrites })).status);
    expect(statuses).toEqual([200, 200, 429]);
  });

  it("lets exactly the limit through when requests arrive at once, and a new window starts afresh", async () => {
    const counter = env.RATE_COUNTERS.get(env.RATE_COUNTERS.idFromName(crypto.randomUUID()));
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    const decisions = await Promise.all(Array.from({ length: 12 }, () => counter.take(5, minute + 1_000)));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(5);
    expect(decisions.find((d) => !d.allowed)).toEqual({ allowed: false, retryAfterS: 59 });
    expect(await counter.take(5, minute + 60_000)).toEqual({ allowed: true });
  });
});

describe("budget store failures", () => {
  it("openHold() refuses with 503 budget_unavailable when the store cannot answer", async () => {
    const t = await newTenant();
    const db = {
      prepare: (sql: string) => env.DB.prepare(sql),
      batch: async () => {
        throw new Error("D1_ERROR: Network connection lost.");
      },
    } as unknown as D1Database;
    const policy = effectivePolicy({ budget: { capUsd: "5", period: "month" } }, null);
    const request = {
      kind: "session" as const,
      resourceId: null,
      requestedMicros: 100_000,
      exact: false,
      addsLive: true,
    };
    const err = await openHold(db, t, policy, request).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect(err).toMatchObject({ code: "budget_unavailable", status: 503 });
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
  });

  it("answers a task with 503 budget_unavailable and forwards nothing when the store fails", async () => {
    const t = await newTenant();
    const db = {
      prepare: (sql: string) => env.DB.prepare(sql),
      batch: async () => {
        throw new Error("D1_ERROR: Network connection lost.");
      },
    } as unknown as D1Database;
    const calls = countUpstream();
    const res = await gateway(
      "/api/v3/sessions",
      {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task: "t" }),
      },
      { ...env, DB: db },
    );
    expect(await expectJson(res, 503)).toMatchObject({ code: "budget_unavailable" });
    expect(calls).toEqual([]);
    expect(await rowsOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
  });
});

describe("reconciler", () => {
  const inMinutes = (m: number) => new Date(Date.now() + m * 60_000);
  // Each test reconciles only its own org, against an upstream account of its own, so a pass
  // looks at this test's sessions and no one else's.
  const on = (account: UpstreamAccount) => ({ env: account.env });
  /** A session made on `account` directly, behind the gateway's back, as its owner could. */
  const madeOutside = async (account: UpstreamAccount, task: string) =>
    expectJson<View>(
      await fetch(`${env.UPSTREAM_URL}/sessions`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task }),
      }),
      200,
    );
  /** A kept-alive session of `t` on `account`, once its one-step task has ended and it sits idle. */
  async function keptAliveIdle(t: TestTenant, account: UpstreamAccount): Promise<View> {
    const s = await expectJson<View>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("kept", { steps: 1 }), keepAlive: true },
        ...on(account),
      }),
      200,
    );
    await eventually(async () =>
      (await account.truth()).sessions.find((u) => u.id === s.id)?.status === "idle" ? true : undefined,
    );
    return s;
  }

  /**
   * The hold a follow-up to session `id` takes once admitted under `policy`, before upstream
   * answers: its task, from where the session stood in `idle` (an idle view ends no task).
   */
  const holdFollowUp = (t: TestTenant, id: string, idle: View, policy: ReturnType<typeof effectivePolicy>) =>
    openHold(env.DB, t, policy, {
      kind: "session",
      resourceId: id,
      requestedMicros: 100_000,
      exact: false,
      addsLive: false,
      baseline: { stepCount: Number(idle.stepCount), updatedAt: String(idle.updatedAt) },
    });

  it("stops a kept-alive session idle longer than the tenant's maxIdleMinutes and settles its hold", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxIdleMinutes: 1 });
    const s = await expectJson<View>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("idle", { steps: 1, cost: "0.01" }), keepAlive: true },
        ...on(account),
      }),
      200,
    );
    const idle = await eventually(async () =>
      (await account.truth()).sessions.find((u) => u.status === "idle"),
    );
    const report = await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) });
    expect(report.stoppedIdle).toBe(1);
    const after = await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`, on(account)), 200);
    expect(after.status).toBe("stopped");
    expect(await holdsOf(t.tenantId)).toEqual([
      {
        resource_id: s.id,
        amount_micros: 0,
        state: "settled",
        settled_micros: toMicros(String(idle.totalCostUsd)),
      },
    ]);
  });

  it("stops a session kept alive after its task once the policy forbids keepAlive, and leaves one waiting for its first task", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const s = await expectJson<View>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("kept", { steps: 1 }), keepAlive: true },
        ...on(account),
      }),
      200,
    );
    const waiting = await expectJson<View>(
      await asTenant(t.key, "/api/v3/sessions", { body: {}, ...on(account) }),
      200,
    );
    await eventually(async () => {
      const sessions = (await account.truth()).sessions;
      return sessions.length === 2 && sessions.every((u) => u.status === "idle") ? true : undefined;
    });
    // Kept alive under the earlier policy, it would sit idle (billing outside any hold) until
    // upstream times it out; no maxIdleMinutes is set to stop it sooner.
    await putPolicy("orgs", t.orgId, { allowKeepAlive: false });
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.stoppedIdle).toBe(1);
    const truth = (await account.truth()).sessions;
    expect(truth.find((u) => u.id === s.id)?.status).toBe("stopped");
    expect(truth.find((u) => u.id === waiting.id)?.status).toBe("idle");
  });

  it("does not stop, for keepAlive, a session whose follow-up holds its task this very moment", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const s = await keptAliveIdle(t, account);
    await putPolicy("orgs", t.orgId, { allowKeepAlive: false });
    // Its first task's hold settles as the idle view is read.
    const idle = await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`, on(account)), 200);
    // A follow-up has taken its hold and is on its way upstream (sent keepAlive: false, it ends the
    // session when its task does): a stop now would cut the paid task short.
    await holdFollowUp(t, String(s.id), idle, effectivePolicy({ allowKeepAlive: false }, null));
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.stoppedIdle).toBe(0);
    expect((await account.truth()).sessions[0]?.status).toBe("idle");
  });

  it("does not stop, for maxIdleMinutes, a session idle too long whose follow-up holds its task this very moment", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxIdleMinutes: 1 });
    const s = await keptAliveIdle(t, account);
    const idle = await expectJson<View>(await asTenant(t.key, `/api/v3/sessions/${s.id}`, on(account)), 200);
    // Idle past its limit, it was just given a follow-up, which has taken its hold and is on its
    // way upstream: the tenant is paying for that task, and a stop now would cut it short.
    await holdFollowUp(t, String(s.id), idle, effectivePolicy(null, { maxIdleMinutes: 1 }));
    const report = await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) });
    expect(report.stoppedIdle).toBe(0);
    expect((await account.truth()).sessions[0]?.status).toBe("idle");
  });

  it("leaves a kept-alive session alone while it is within maxIdleMinutes", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxIdleMinutes: 10 });
    await keptAliveIdle(t, account);
    const report = await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) });
    expect(report).toMatchObject({ refreshed: 1, stoppedIdle: 0 });
    expect((await account.truth()).sessions[0]?.status).toBe("idle");
  });

  it("stops a running session of a scope whose cap an overshoot has used up", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.1",
    });
    await asTenant(t.key, "/api/v3/sessions", { body: hangTask("runaway"), ...on(account) });
    // An earlier task's overshoot: what the tenant has spent now reaches its cap.
    await env.DB.prepare(
      "UPDATE budget_counters SET spent_micros = 1000000 WHERE scope = 'tenant' AND scope_id = ? AND period_key = 'none'",
    )
      .bind(t.tenantId)
      .run();
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.stoppedOverBudget).toBe(1);
    expect((await account.truth()).sessions[0]?.status).toBe("stopped");
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["settled"]);
  });

  it("books an upstream session the gateway never saw as unattributed spend of the account's org", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const stray = await madeOutside(
      account,
      emuTask("behind the gateway's back", { steps: 1, cost: "0.01" }),
    );
    const done = await eventually(async () =>
      (await account.truth()).sessions.find((u) => u.status === "stopped"),
    );
    const report = await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) });
    expect(report.unattributed).toBe(1);
    const row = await env.DB.prepare(
      "SELECT org_id, tenant_id, total_cost_micros FROM usage WHERE kind = 'session' AND id = ?",
    )
      .bind(stray.id.toLowerCase())
      .first();
    // The pass was for the org's account: what it shows is the org's, with no tenant to charge.
    expect(row).toEqual({
      org_id: t.orgId,
      tenant_id: "",
      total_cost_micros: toMicros(String(done.totalCostUsd)),
    });
  });

  it("books a session recorded but never booked, however final it is by then", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const made = await madeOutside(account, emuTask("recorded, not booked", { steps: 1, cost: "0.01" }));
    const done = await eventually(async () =>
      (await account.truth()).sessions.find((u) => u.id === made.id && u.status === "stopped"),
    );
    // As a pass leaves it when the store fails between an object's record and its booking.
    await recordCreatedStatement(
      env.DB,
      "session",
      made.id,
      { orgId: t.orgId, tenantId: "" },
      done,
      "stopped",
    ).run();
    expect(await getUsage(env.DB, "session", made.id)).toBeNull();
    await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) });
    expect(await getUsage(env.DB, "session", made.id)).toMatchObject({
      totalCostMicros: toMicros(String(done.totalCostUsd)),
    });
  });

  it("leaves an unknown upstream session alone inside the grace period", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const fresh = await madeOutside(account, emuTask("just created", { steps: 1 }));
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.unattributed).toBe(0);
    expect(await getUsage(env.DB, "session", fresh.id)).toBeNull();
  });

  it("never stops a session made on the org's account outside the gateway, whatever the org's policy", async () => {
    const account = await newUpstreamAccount({ idleTimeoutMs: 24 * 60 * 60_000 });
    const t = await newTenant();
    // Either rule stops a tenant's session idle after its task; neither is the outside one's.
    await putPolicy("orgs", t.orgId, { maxIdleMinutes: 1, allowKeepAlive: false });
    const stray = await expectJson<View>(
      await fetch(`${env.UPSTREAM_URL}/sessions`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task: emuTask("kept outside", { steps: 1, cost: "0.01" }), keepAlive: true }),
      }),
      200,
    );
    await eventually(async () =>
      (await account.truth()).sessions.find((u) => u.id === stray.id)?.status === "idle" ? true : undefined,
    );
    const found = await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) });
    expect(found.unattributed).toBe(1);
    // The next pass reads it as it watches every live object, and must leave it running.
    const watched = await reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(5) });
    expect(watched).toMatchObject({ refreshed: 1, stoppedIdle: 0, stoppedOverBudget: 0 });
    expect((await account.truth()).sessions.find((u) => u.id === stray.id)?.status).toBe("idle");
  });

  it("books one settlement when two passes run at once", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" }, maxTaskCostUsd: "1" });
    const s = await expectJson<View>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("twice", { steps: 2, cost: "0.01" }) },
        ...on(account),
      }),
      200,
    );
    const stray = await madeOutside(account, emuTask("stray", { steps: 2, cost: "0.01" }));
    await eventually(async () =>
      (await account.truth()).sessions.every((u) => u.status === "stopped") ? true : undefined,
    );

    await Promise.all([
      reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) }),
      reconcile(account.env, log, { orgId: t.orgId, now: inMinutes(3) }),
    ]);

    const truth = new Map(
      (await account.truth()).sessions.map((u) => [u.id, toMicros(String(u.totalCostUsd))]),
    );
    const billed = truth.get(s.id);
    expect(billed).toBe(20_000);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
    expect(await holdsOf(t.tenantId)).toEqual([
      expect.objectContaining({
        resource_id: s.id,
        amount_micros: 1_000_000,
        state: "settled",
        settled_micros: billed,
      }),
    ]);
    for (const id of [s.id, stray.id]) {
      const figures = await figuresOf("session", id);
      expect(figures.totalCostMicros, id).toBe(truth.get(id));
      expect(await sumCostEvents(env.DB, "session", id), id).toEqual(figures);
    }
  });
});
