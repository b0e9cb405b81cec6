import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCeilingMicros, openHold } from "../src/budget/holds";
import worker from "../src/index";
import { createLogger } from "../src/lib/log";
import { fromMicros, toMicros } from "../src/lib/money";
import { effectivePolicy } from "../src/policy/effective";
import { reconcile } from "../src/reconciler/run";
import { getCounter } from "../src/store/budgets";
import {
  asTenant,
  emuTask,
  eventually,
  expectJson,
  GATEWAY,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  type SessionView,
  storeFailingOn,
  type TestTenant,
  type UpstreamAccount,
} from "./helpers";

const log = createLogger({ test: "lost-answers" });
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);

afterEach(() => {
  vi.restoreAllMocks();
});

interface HoldRow {
  id: string;
  resource_id: string | null;
  amount_micros: number;
  state: string;
  settled_micros: number | null;
}

async function holdsOf(tenantId: string): Promise<HoldRow[]> {
  const { results } = await env.DB.prepare(
    "SELECT id, resource_id, amount_micros, state, settled_micros FROM holds WHERE tenant_id = ? ORDER BY created_at",
  )
    .bind(tenantId)
    .all<HoldRow>();
  return results;
}

/** Everything the emulator account billed, by session id. */
async function billed(account: UpstreamAccount): Promise<Map<string, SessionView>> {
  const { sessions } = await account.truth();
  return new Map(sessions.map((s) => [s.id, s]));
}

/** Runs reconciler passes for the org until `done` holds. */
async function reconcileUntil(account: UpstreamAccount, orgId: string, done: () => Promise<boolean>) {
  await eventually(async () => {
    await reconcile(account.env, log, { orgId, now: later(3) });
    return (await done()) ? true : undefined;
  }, 15_000);
}

/** A tenant whose tasks are held at $0.30 unless they ask for less, under a $5 cap. */
async function cappedTenant(orgId?: string): Promise<TestTenant> {
  const t = await newTenant(orgId);
  await putPolicy("tenants", t.tenantId, {
    budget: { capUsd: "5", period: "none" },
    defaultTaskCostUsd: "0.30",
  });
  return t;
}

/**
 * Two tenants of one org who each lost the answer to a create of a session without a task, alike
 * (same fingerprint, a minute apart at most): upstream made both, 30 seconds apart by its clock,
 * and has billed their idle time for 20 minutes since. With `direct`, a session made upstream
 * outside the gateway in the same minute, but unlike the twins (another country).
 */
async function twinLostSessions(options: { direct?: boolean; alike?: boolean } = {}) {
  const account = await newUpstreamAccount({ idleBrowserBilling: true, idleTimeoutMs: 24 * 60 * 60_000 });
  const a = await cappedTenant();
  const b = await cappedTenant(a.orgId);
  await account.control("POST", "/faults", { next: ["drop-after", "drop-after"] });
  expect((await asTenant(a.key, "/api/v3/sessions", { body: {}, env: account.env })).status).toBe(502);
  await account.control("POST", "/clock", { advanceMs: 30_000 });
  expect((await asTenant(b.key, "/api/v3/sessions", { body: {}, env: account.env })).status).toBe(502);
  const direct =
    options.direct || options.alike ? await directSession(account, options.alike ? {} : undefined) : null;
  await account.control("POST", "/clock", { advanceMs: 20 * 60_000 });
  return { account, a, b, direct };
}

/**
 * A session created on the account straight, not through the gateway: by default in another
 * country than the gateway's default, unlike the twins; with `body`, as the body says.
 */
async function directSession(
  account: UpstreamAccount,
  body: unknown = { proxyCountryCode: "de" },
): Promise<string> {
  const res = await fetch(`${account.env.UPSTREAM_URL}/sessions`, {
    method: "POST",
    headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await expectJson<SessionView>(res, 200)).id;
}

describe("a client that hangs up", () => {
  it("still has its create recorded and its hold tied to the session: the rest runs in waitUntil", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const real = globalThis.fetch;
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reachedUpstream = () => {};
    const reached = new Promise<void>((resolve) => {
      reachedUpstream = resolve;
    });
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const res = await real(input, init);
      if (init?.method === "POST" && String(input).endsWith("/sessions")) {
        reachedUpstream();
        await gate; // upstream has made the session; its answer is still on the way
      }
      return res;
    });
    const ctx = createExecutionContext();
    const abandoned = worker.fetch(
      new Request(`${GATEWAY}/api/v3/sessions`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task: emuTask("hang up", { steps: 1, cost: "0.01" }) }),
      }),
      account.env,
      ctx,
    );
    void Promise.resolve(abandoned).catch(() => undefined);
    await reached;
    // The client is gone: from here only work handed to waitUntil runs on. Let upstream's answer
    // arrive a moment after the platform starts waiting on that work.
    setTimeout(release, 20);
    await waitOnExecutionContext(ctx);

    const [hold] = await holdsOf(t.tenantId);
    const [made] = (await account.truth()).sessions;
    expect(hold).toMatchObject({ resource_id: made?.id, state: "open", amount_micros: 300_000 });
    const owner = await env.DB.prepare("SELECT tenant_id FROM resources WHERE kind = 'session' AND id = ?")
      .bind(made?.id)
      .first<string>("tenant_id");
    expect(owner).toBe(t.tenantId);
  });
});

describe("creates whose answer was lost", () => {
  it("charges two same-size lost creates to their own tenants, who can then reach their sessions", async () => {
    const account = await newUpstreamAccount();
    const a = await cappedTenant();
    const b = await cappedTenant(a.orgId);
    await account.control("POST", "/faults", { next: ["drop-after", "drop-after"] });
    for (const t of [a, b]) {
      const res = await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("lost", { steps: 2, cost: "0.01" }) },
        env: account.env,
      });
      expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_unreachable" });
    }
    expect((await holdsOf(a.tenantId)).map((h) => [h.resource_id, h.amount_micros])).toEqual([
      [null, 300_000],
    ]);

    await reconcileUntil(
      account,
      a.orgId,
      async () =>
        (await holdsOf(a.tenantId)).every((h) => h.state === "settled") &&
        (await holdsOf(b.tenantId)).every((h) => h.state === "settled"),
    );
    const truth = await billed(account);
    expect(truth.size).toBe(2);
    for (const [t, other] of [
      [a, b],
      [b, a],
    ] as const) {
      const [hold] = await holdsOf(t.tenantId);
      const session = truth.get(hold?.resource_id ?? "");
      expect(session, "each hold is tied to a session upstream made").toBeDefined();
      const mine = await asTenant(t.key, `/api/v3/sessions/${session?.id}`, { env: account.env });
      expect((await expectJson<SessionView>(mine, 200)).id).toBe(session?.id);
      const theirs = await asTenant(other.key, `/api/v3/sessions/${session?.id}`, { env: account.env });
      expect(theirs.status).toBe(404);
      expect(hold?.settled_micros).toBe(toMicros(String(session?.totalCostUsd)));
      expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
        heldMicros: 0,
        spentMicros: toMicros(String(session?.totalCostUsd)),
      });
    }
    const unattributed = await env.DB.prepare(
      "SELECT count(*) AS n FROM resources WHERE tenant_id = ''",
    ).first<number>("n");
    expect(unattributed).toBe(0);
  });

  it("finds a lost browser and a lost session without a task by what upstream echoes", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    await account.control("POST", "/faults", { next: ["drop-after", "drop-after"] });
    const browser = await asTenant(t.key, "/api/v3/browsers", {
      body: { timeout: 7, metadata: { job: "lost" } },
      env: account.env,
    });
    expect(browser.status).toBe(502);
    const empty = await asTenant(t.key, "/api/v3/sessions", { body: {}, env: account.env });
    expect(empty.status).toBe(502);

    await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
    const truth = await account.truth();
    const holds = await holdsOf(t.tenantId);
    const [browserHold, slotHold] = holds;
    expect(browserHold).toMatchObject({ resource_id: truth.browsers[0]?.id, state: "open" });
    // A session without a task held only a slot: once found, its session counts as live itself.
    expect(slotHold).toMatchObject({ state: "released", amount_micros: 0 });
    const session = await asTenant(t.key, `/api/v3/sessions/${truth.sessions[0]?.id}`, { env: account.env });
    expect(session.status).toBe(200);
    await asTenant(t.key, `/api/v3/browsers/${truth.browsers[0]?.id}`, {
      method: "PATCH",
      body: { action: "stop" },
      env: account.env,
    });
    expect((await holdsOf(t.tenantId))[0]?.state).toBe("settled");
  });

  it("never hands a lost browser create the browser of another tenant's agent session, nor books that one", async () => {
    // Upstream lists an agent session's own browser among its browsers ("None for standalone BaaS
    // sessions"): alike a browser created without metadata, made in the same minute, unrecorded.
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const other = await cappedTenant();
    const t = await cappedTenant(other.orgId);
    const theirs = await expectJson<SessionView>(
      await asTenant(other.key, "/api/v3/sessions", {
        body: { task: emuTask("busy", { outcome: "hang" }) },
        env: account.env,
      }),
      200,
    );
    const listed = await fetch(`${account.env.UPSTREAM_URL}/browsers?agentSessionId=${theirs.id}`, {
      headers: { "X-Browser-Use-API-Key": account.key },
    });
    const agentBrowserId = (await expectJson<{ items: { id: string }[] }>(listed, 200)).items[0]?.id;
    expect(agentBrowserId).toBeDefined();
    await account.control("POST", "/faults", { next: ["drop-after"] });
    const lost = await asTenant(t.key, "/api/v3/browsers", { body: {}, env: account.env });
    expect(lost.status).toBe(502);

    await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
    const [mine] = (await account.truth()).browsers;
    expect(await holdsOf(t.tenantId)).toEqual([
      expect.objectContaining({ resource_id: mine?.id, state: "open" }),
    ]);
    const agentRecords = await env.DB.prepare("SELECT count(*) AS n FROM resources WHERE id = ?")
      .bind(agentBrowserId)
      .first<number>("n");
    expect(agentRecords).toBe(0);
    await asTenant(other.key, `/api/v3/sessions/${theirs.id}/stop`, { body: {}, env: account.env });
  });

  it("charges every hold in full when lost creates of several tenants cannot be told apart", async () => {
    const account = await newUpstreamAccount();
    const a = await cappedTenant();
    const b = await cappedTenant(a.orgId);
    const policy = effectivePolicy(null, {
      budget: { capUsd: "5", period: "none" },
      defaultTaskCostUsd: "0.3",
    });
    const request = {
      kind: "session" as const,
      resourceId: null,
      requestedMicros: null,
      exact: false,
      addsLive: true,
    };
    const fingerprint = JSON.stringify({ model: "bu-mini" });
    const holds = [
      await openHold(env.DB, a, policy, { ...request, fingerprint }),
      await openHold(env.DB, b, policy, { ...request, fingerprint }),
    ];
    // Two creates whose tags happen to be the same (the tags go round every 999 holds).
    await env.DB.prepare("UPDATE holds SET ceiling_tag = 7, fingerprint = NULL WHERE id IN (?, ?)")
      .bind(holds[0]?.id, holds[1]?.id)
      .run();
    const ceiling = fromMicros(createCeilingMicros(300_000, 7) as number);
    for (let i = 0; i < 2; i++) {
      await fetch(`${account.env.UPSTREAM_URL}/sessions`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task: emuTask("twin", { steps: 1, cost: "0.01" }), maxCostUsd: ceiling }),
      });
    }
    const report = await reconcile(account.env, log, { orgId: a.orgId, now: later(3) });
    expect(report.chargedInFull).toBe(2);
    for (const t of [a, b]) {
      expect(await holdsOf(t.tenantId)).toEqual([
        expect.objectContaining({ resource_id: null, state: "settled", settled_micros: 300_000 }),
      ]);
      expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
        heldMicros: 0,
        spentMicros: 300_000,
      });
    }
  });

  it.each([
    ["an org's own account", true],
    ["the deployment's account", false],
  ])(
    "stops the sessions without a task several tenants lost on %s, each hold charged the costliest",
    async (_, own) => {
      // The direct session is plain unattributed spend: nothing says it is no one's to use.
      const { account, a, b, ...made } = await twinLostSessions({ direct: true });
      const direct = String(made.direct);
      const pass = own ? { orgId: a.orgId } : {};
      const report = await reconcile(account.env, log, { ...pass, now: later(3) });
      expect(report).toMatchObject({ adopted: 0, chargedInFull: 2, stoppedUnclaimed: 2, unattributed: 3 });

      const truth = await billed(account);
      const twins = [...truth.values()].filter((s) => s.id !== direct);
      expect(twins.map((s) => s.status)).toEqual(["stopped", "stopped"]);
      expect(truth.get(direct)?.status).toBe("idle");
      const totals = twins.map((s) => toMicros(String(s.totalCostUsd)));
      const costliest = Math.max(...totals);
      // Made 30 seconds apart, billed their idle time: the earlier one cost more.
      expect(Math.min(...totals)).toBeLessThan(costliest);
      for (const t of [a, b]) {
        expect(await holdsOf(t.tenantId)).toEqual([
          expect.objectContaining({ resource_id: null, state: "settled", settled_micros: costliest }),
        ]);
        expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
          heldMicros: 0,
          spentMicros: costliest,
        });
        for (const twin of twins) {
          const res = await asTenant(t.key, `/api/v3/sessions/${twin.id}`, { env: account.env });
          expect(res.status, "no tenant can reach an unclaimed session").toBe(404);
        }
      }
      expect(await getCounter(env.DB, "org", a.orgId, "none")).toMatchObject({ spentMicros: 2 * costliest });
      const { results } = await env.DB.prepare(
        "SELECT id, tenant_id, status, unclaimed FROM resources WHERE kind = 'session' AND id IN (?, ?, ?) ORDER BY unclaimed, id",
      )
        .bind(direct, twins[0]?.id, twins[1]?.id)
        .all<{ id: string; tenant_id: string; status: string; unclaimed: number }>();
      expect(results.map((r) => [r.id === direct, r.tenant_id, r.status, r.unclaimed])).toEqual([
        [true, "", "idle", 0],
        [false, "", "stopped", 1],
        [false, "", "stopped", 1],
      ]);
      // Nothing left to stop: the next pass leaves the direct session running.
      const next = await reconcile(account.env, log, { ...pass, now: later(4) });
      expect(next).toMatchObject({ stoppedUnclaimed: 0, chargedInFull: 0 });
      expect((await billed(account)).get(direct)?.status).toBe("idle");
    },
  );

  it("stops an unclaimed session on a later pass when upstream refused the first stop", async () => {
    const { account, a, b } = await twinLostSessions();
    // The pass's listing goes through; the first of the two stops answers 500.
    await account.control("POST", "/faults", { next: ["ok", "500"] });
    const first = await reconcile(account.env, log, { orgId: a.orgId, now: later(3) });
    expect(first).toMatchObject({ chargedInFull: 2, stoppedUnclaimed: 1 });
    const statuses = async () => [...(await billed(account)).values()].map((s) => s.status).sort();
    expect(await statuses()).toEqual(["idle", "stopped"]);
    for (const t of [a, b]) expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["settled"]);

    const second = await reconcile(account.env, log, { orgId: a.orgId, now: later(4) });
    expect(second).toMatchObject({ chargedInFull: 0, stoppedUnclaimed: 1, failures: 0 });
    expect(await statuses()).toEqual(["stopped", "stopped"]);
    const live = await env.DB.prepare(
      "SELECT count(*) AS n FROM resources WHERE org_id = ? AND unclaimed = 1 AND status <> 'stopped'",
    )
      .bind(a.orgId)
      .first<number>("n");
    expect(live).toBe(0);
  });

  it("stops nothing when the alike objects outnumber the lost creates: some are someone else's", async () => {
    // Made on the account straight, with the twins' very body, in the same minute.
    const { account, a, b, ...made } = await twinLostSessions({ alike: true });
    const report = await reconcile(account.env, log, { orgId: a.orgId, now: later(3) });
    expect(report).toMatchObject({ adopted: 0, chargedInFull: 2, stoppedUnclaimed: 0, unattributed: 3 });
    const truth = await billed(account);
    expect([...truth.values()].map((s) => s.status)).toEqual(["idle", "idle", "idle"]);
    expect(truth.has(String(made.direct))).toBe(true);
    // Each tenant pays for the costliest its create could have made, as the pass saw (and booked)
    // them: they run on, so upstream's bill has moved since. No one can reach any of them.
    const costliest = await env.DB.prepare(
      "SELECT max(total_cost_micros) AS m FROM usage WHERE kind = 'session' AND org_id = ?",
    )
      .bind(a.orgId)
      .first<number>("m");
    expect(costliest).toBeGreaterThan(0);
    for (const t of [a, b]) {
      expect(await holdsOf(t.tenantId)).toEqual([
        expect.objectContaining({ state: "settled", settled_micros: costliest }),
      ]);
      for (const id of truth.keys())
        expect((await asTenant(t.key, `/api/v3/sessions/${id}`, { env: account.env })).status).toBe(404);
    }
    // Marked as no one's or someone else's: never stopped.
    const { results: marks } = await env.DB.prepare(
      "SELECT unclaimed FROM resources WHERE org_id = ? AND kind = 'session'",
    )
      .bind(a.orgId)
      .all<{ unclaimed: number }>();
    expect(marks.map((m) => m.unclaimed)).toEqual([2, 2, 2]);
    // Nor does a later pass stop them.
    expect(await reconcile(account.env, log, { orgId: a.orgId, now: later(4) })).toMatchObject({
      stoppedUnclaimed: 0,
    });
  });

  it("hands one tenant none of its alike objects when they outnumber its lost creates: one is someone else's", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const body = { timeout: 7, metadata: { job: "lookalike" } };
    // Made on the account straight, alike and just before: a browser no create here made.
    const outside = await fetch(`${account.env.UPSTREAM_URL}/browsers`, {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const outsideId = (await expectJson<{ id: string }>(outside, 201)).id;
    await account.control("POST", "/faults", { next: ["drop-after"] });
    expect((await asTenant(t.key, "/api/v3/browsers", { body, env: account.env })).status).toBe(502);

    const report = await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
    expect(report).toMatchObject({ adopted: 0, chargedInFull: 1, stoppedUnclaimed: 0, unattributed: 2 });
    const { browsers } = await account.truth();
    expect(browsers.map((b) => b.status)).toEqual(["active", "active"]);
    // The tenant can reach neither, the outside one above all, and pays its hold in full.
    for (const b of browsers)
      expect((await asTenant(t.key, `/api/v3/browsers/${b.id}`, { env: account.env })).status).toBe(404);
    const [hold] = await holdsOf(t.tenantId);
    expect(hold).toMatchObject({ state: "settled", resource_id: null });
    expect(hold?.settled_micros).toBe(hold?.amount_micros);
    const marks = await env.DB.prepare(
      "SELECT id, unclaimed FROM resources WHERE org_id = ? AND kind = 'browser'",
    )
      .bind(t.orgId)
      .all<{ id: string; unclaimed: number }>();
    expect(marks.results.map((m) => m.unclaimed)).toEqual([2, 2]);
    expect(marks.results.map((m) => m.id)).toContain(outsideId);
  });

  it("charges the holds of alike lost creates and records their objects in one transaction", async () => {
    const { account, a, b } = await twinLostSessions();
    // The store fails as the pass records the objects: no hold may be charged without them, or
    // the open one would fit both objects alone and its tenant be handed the other's.
    const failing = { ...account.env, DB: storeFailingOn(/INSERT INTO resources/, account.env).DB };
    const first = await reconcile(failing, log, { orgId: a.orgId, now: later(3) });
    expect(first.failures).toBeGreaterThan(0);
    for (const t of [a, b]) expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);

    const second = await reconcile(account.env, log, { orgId: a.orgId, now: later(4) });
    expect(second).toMatchObject({ adopted: 0, chargedInFull: 2 });
    const truth = await billed(account);
    const costliest = Math.max(...[...truth.values()].map((s) => toMicros(String(s.totalCostUsd))));
    for (const t of [a, b]) {
      expect(await holdsOf(t.tenantId)).toEqual([
        expect.objectContaining({ resource_id: null, state: "settled", settled_micros: costliest }),
      ]);
      for (const id of truth.keys())
        expect((await asTenant(t.key, `/api/v3/sessions/${id}`, { env: account.env })).status).toBe(404);
    }
    const { results } = await env.DB.prepare(
      "SELECT status, unclaimed FROM resources WHERE org_id = ? AND kind = 'session'",
    )
      .bind(a.orgId)
      .all<{ status: string; unclaimed: number }>();
    expect(results).toEqual([
      { status: "stopped", unclaimed: 1 },
      { status: "stopped", unclaimed: 1 },
    ]);
  });

  it("releases no orphaned hold after a listing that failed, or one that did not reach back to it", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const policy = effectivePolicy(null, {
      budget: { capUsd: "5", period: "none" },
      defaultTaskCostUsd: "0.3",
    });
    await openHold(env.DB, t, policy, {
      kind: "session",
      resourceId: null,
      requestedMicros: null,
      exact: false,
      addsLive: true,
    });
    // The list call and its one retry fail.
    await account.control("POST", "/faults", { next: ["500", "500"] });
    await reconcile(account.env, log, { orgId: t.orgId, now: later(20) });
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);

    // 301 newer sessions push it past the three pages this pass may read.
    await Promise.all(
      Array.from({ length: 301 }, () =>
        fetch(`${account.env.UPSTREAM_URL}/sessions`, {
          method: "POST",
          headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
          body: "{}",
        }),
      ),
    );
    await reconcile(account.env, log, { orgId: t.orgId, now: later(20), maxListPages: 3 });
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);
  });

  it("releases an orphaned hold once a complete listing shows nothing of it for long enough", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const policy = effectivePolicy(null, {
      budget: { capUsd: "5", period: "none" },
      defaultTaskCostUsd: "0.3",
    });
    await openHold(env.DB, t, policy, {
      kind: "session",
      resourceId: null,
      requestedMicros: null,
      exact: false,
      addsLive: true,
    });
    await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);
    await reconcile(account.env, log, { orgId: t.orgId, now: later(20) });
    expect((await holdsOf(t.tenantId)).map((h) => [h.state, h.settled_micros])).toEqual([["released", 0]]);
  });
});

describe("a store that fails after upstream answered", () => {
  it("answers the profile or workspace upstream made, and the reconciler records it as the tenant's", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const broken = storeFailingOn(/INSERT INTO resources/, account.env);
    for (const [path, body] of [
      ["/api/v3/profiles", { name: "made but not recorded" }],
      ["/api/v3/workspaces", { name: "made but not recorded" }],
    ] as const) {
      const made = await expectJson<{ id: string }>(await asTenant(t.key, path, { body, env: broken }), 201);
      expect((await asTenant(t.key, `${path}/${made.id}`, { env: account.env })).status).toBe(404);
      await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
      const mine = await asTenant(t.key, `${path}/${made.id}`, { env: account.env });
      expect((await expectJson<{ id: string }>(mine, 200)).id).toBe(made.id);
    }
    const intents = await env.DB.prepare("SELECT count(*) AS n FROM create_intents WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<number>("n");
    expect(intents).toBe(0);
  });

  it("answers upstream's refusal, not 503, when its hold cannot be released; the reconciler releases it", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    await account.control("POST", "/faults", { next: ["429"] });
    const res = await asTenant(t.key, "/api/v3/browsers", {
      body: { timeout: 5 },
      env: storeFailingOn(/UPDATE holds SET state/, account.env),
    });
    expect(await expectJson(res, 429)).toEqual({
      detail:
        "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan.",
    });
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);
    await reconcile(account.env, log, { orgId: t.orgId, now: later(20) });
    expect((await holdsOf(t.tenantId)).map((h) => [h.state, h.settled_micros])).toEqual([["released", 0]]);
  });

  it("answers a delete upstream did with 204, whatever the store does", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const ws = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/workspaces", { body: { name: "gone" }, env: account.env }),
      201,
    );
    const res = await asTenant(t.key, `/api/v3/workspaces/${ws.id}`, {
      method: "DELETE",
      env: storeFailingOn(/UPDATE resources SET deleted_at/, account.env),
    });
    expect(res.status).toBe(204);
    // The next read finds it gone upstream and forgets it then.
    expect((await asTenant(t.key, `/api/v3/workspaces/${ws.id}`, { env: account.env })).status).toBe(404);
  });
});

describe("findings of a review of the above", () => {
  it("hands one tenant none of the alike profiles or workspaces when they outnumber its lost creates: one is someone else's", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    for (const path of ["/profiles", "/workspaces"]) {
      const body = { name: `lookalike ${path}` };
      // Made on the account straight, alike and just before: an object no create here made (a
      // profile carries someone's logins).
      const outside = await fetch(`${account.env.UPSTREAM_URL}${path}`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      const outsideId = (await expectJson<{ id: string }>(outside, 201)).id;
      await account.control("POST", "/faults", { next: ["drop-after"] });
      expect((await asTenant(t.key, `/api/v3${path}`, { body, env: account.env })).status).toBe(502);

      await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
      expect((await asTenant(t.key, `/api/v3${path}/${outsideId}`, { env: account.env })).status).toBe(404);
      const owned = await env.DB.prepare(
        "SELECT count(*) AS n FROM resources WHERE tenant_id = ? AND kind = ?",
      )
        .bind(t.tenantId, path === "/profiles" ? "profile" : "workspace")
        .first<number>("n");
      expect(owned).toBe(0);
    }
  });

  it("charges a browser once when its record failed and the reconciler adopted it later", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    const made = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/browsers", {
        body: { timeout: 240, proxyCountryCode: null },
        env: storeFailingOn(/INSERT INTO resources/, account.env),
      }),
      201,
    );
    await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
    await asTenant(t.key, `/api/v3/browsers/${made.id}`, {
      method: "PATCH",
      body: { action: "stop" },
      env: account.env,
    });
    const [stopped] = (await account.truth()).browsers;
    // Charged the minute it ran, not also the four hours it showed while running.
    expect(stopped?.browserCost).toBe("0.000334");
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: 334,
    });
  });

  it("adopts a tagged create and a create without a task lost at the same moment, each by its own tenant", async () => {
    const account = await newUpstreamAccount();
    const a = await cappedTenant();
    const b = await cappedTenant(a.orgId);
    await account.control("POST", "/faults", { next: ["drop-after", "drop-after"] });
    expect((await asTenant(a.key, "/api/v3/sessions", { body: {}, env: account.env })).status).toBe(502);
    const task = { task: emuTask("tagged", { steps: 1, cost: "0.01" }) };
    expect((await asTenant(b.key, "/api/v3/sessions", { body: task, env: account.env })).status).toBe(502);
    const report = await reconcile(account.env, log, { orgId: a.orgId, now: later(3) });
    expect(report).toMatchObject({ adopted: 2, chargedInFull: 0, unattributed: 0 });
    const truth = await account.truth();
    const owner = async (id: string) =>
      env.DB.prepare("SELECT tenant_id FROM resources WHERE id = ?").bind(id).first<string>("tenant_id");
    // The tagged create carries its hold's ceiling; the one without a task, upstream's default.
    const withTask = truth.sessions.find((s) => s.maxCostUsd !== "10");
    const without = truth.sessions.find((s) => s.maxCostUsd === "10");
    expect(await owner(String(withTask?.id))).toBe(b.tenantId);
    expect(await owner(String(without?.id))).toBe(a.tenantId);
  });
});

describe("a listing the account changes under", () => {
  it("releases no hold while a delete between two pages may have hidden its session, and adopts it a pass later", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    await account.control("POST", "/faults", { next: ["drop-after"] });
    const task = { task: emuTask("lost under a moving list", { steps: 1, outcome: "hang" }) };
    expect((await asTenant(t.key, "/api/v3/sessions", { body: task, env: account.env })).status).toBe(502);
    // A hundred sessions made on the account since, outside the gateway: the lost one is now the
    // first of the listing's second page.
    const newer: string[] = [];
    for (let i = 0; i < 100; i++) newer.push(await directSession(account));
    const lost = (await account.truth()).sessions.find((s) => !newer.includes(s.id));
    const real = globalThis.fetch;
    let deleted = false;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!deleted && url.pathname.endsWith("/sessions") && url.searchParams.get("page") === "2") {
        deleted = true;
        // One of the first page's is deleted between the two pages' reads: the lost session moves
        // up onto the first page, already read, and the second comes back empty.
        const gone = await real(`${account.env.UPSTREAM_URL}/sessions/${newer[50]}`, {
          method: "DELETE",
          headers: { "X-Browser-Use-API-Key": account.key },
        });
        expect(gone.status).toBe(204);
      }
      return real(input, init);
    });
    await reconcile(account.env, log, { now: later(20) });
    expect(deleted).toBe(true);
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);
    vi.restoreAllMocks();
    await reconcile(account.env, log, { now: later(21) });
    expect(await holdsOf(t.tenantId)).toMatchObject([{ state: "open", resource_id: lost?.id }]);
    await asTenant(t.key, `/api/v3/sessions/${lost?.id}/stop`, { body: {}, env: account.env });
  }, 60_000);
});

describe("an upstream clock behind the gateway's", () => {
  it("books no lost create's session as no one's while its hold is too young to be looked for, and adopts it later", async () => {
    const account = await newUpstreamAccount();
    const t = await cappedTenant();
    await account.control("POST", "/faults", { next: ["drop-after"] });
    const body = { task: emuTask("made under a skewed clock", { steps: 1, outcome: "hang" }) };
    const send = () =>
      asTenant(t.key, "/api/v3/sessions", {
        body,
        env: account.env,
        headers: { "Idempotency-Key": "skewed" },
      });
    expect((await send()).status).toBe(502);
    const [made] = (await account.truth()).sessions;
    // The gateway's clock 30 s ahead of upstream's: the hold reads as made 30 s after its session.
    const [hold] = await holdsOf(t.tenantId);
    const heldAt = Date.parse(String(made?.createdAt)) + 30_000;
    await env.DB.prepare("UPDATE holds SET created_at = ? WHERE id = ?")
      .bind(new Date(heldAt).toISOString(), hold?.id)
      .run();
    // A pass whose cut-off for lost creates (two minutes back) falls between the two.
    await reconcile(account.env, log, { now: new Date(heldAt + 120_000 - 10_000) });
    const recorded = await env.DB.prepare("SELECT tenant_id FROM resources WHERE id = ?")
      .bind(made?.id)
      .first();
    expect(recorded).toBeNull();
    expect((await holdsOf(t.tenantId)).map((h) => h.state)).toEqual(["open"]);
    // Once it is looked for, the session is the tenant's; the key stays taken: the task ran.
    await reconcile(account.env, log, { now: later(20) });
    expect(await holdsOf(t.tenantId)).toMatchObject([{ state: "open", resource_id: made?.id }]);
    expect(await expectJson(await send(), 409)).toMatchObject({ code: "idempotency_conflict" });
    expect((await account.truth()).sessions).toHaveLength(1);
    await asTenant(t.key, `/api/v3/sessions/${made?.id}/stop`, { body: {}, env: account.env });
  });

  it("hands no tenant a profile another's create made while that one's intent was too young to be looked for", async () => {
    const account = await newUpstreamAccount();
    const [a, b] = [await newTenant(), await newTenant()];
    const body = { name: "alike" };
    const create = (key: string) => asTenant(key, "/api/v3/profiles", { body, env: account.env });
    // B's create is cut off before upstream acts (its intent stays, nothing was made); A's is
    // carried out upstream, and its answer lost.
    await account.control("POST", "/faults", { next: ["drop", "drop-after"] });
    expect((await create(b.key)).status).toBeGreaterThanOrEqual(500);
    expect((await create(a.key)).status).toBeGreaterThanOrEqual(500);
    const listed = await fetch(`${account.env.UPSTREAM_URL}/profiles`, {
      headers: { "X-Browser-Use-API-Key": account.key },
    });
    const [made] = (await expectJson<{ items: SessionView[] }>(listed, 200)).items;
    // The gateway's clock 30 s ahead of upstream's: A's intent reads as made after its profile.
    const intentAt = Date.parse(String(made?.createdAt)) + 30_000;
    await env.DB.prepare("UPDATE create_intents SET created_at = ? WHERE tenant_id = ?")
      .bind(new Date(intentAt).toISOString(), a.tenantId)
      .run();
    const owner = () => env.DB.prepare("SELECT tenant_id FROM resources WHERE id = ?").bind(made?.id).first();
    // A pass whose cut-off falls between the two: B's intent is looked for, A's not yet.
    await reconcile(account.env, log, { now: new Date(intentAt + 120_000 - 10_000) });
    expect(await owner()).toBeNull();
    // Once both are looked for, two tenants' intents fit it: it is no one's, and not B's.
    await reconcile(account.env, log, { now: later(20) });
    expect(await owner()).toBeNull();
  });
});
