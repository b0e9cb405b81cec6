import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/lib/log";
import { toMicros } from "../src/lib/money";
import { reconcile } from "../src/reconciler/run";
import { getCounter } from "../src/store/budgets";
import {
  asTenant,
  emuTask,
  eventually,
  expectJson,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  type SessionView,
  type TestTenant,
  type UpstreamAccount,
} from "./helpers";

// Spend no task's hold covers is charged and bounded too: what a session costs while no task runs
// (created without one, idle between tasks, after its last task), whether or not upstream bills
// it, and a browser's proxy traffic, billed on top of its time.
const log = createLogger({ test: "unheld-spend" });

async function tenantWithBudget(): Promise<TestTenant> {
  const t = await newTenant();
  await putPolicy("orgs", t.orgId, { budget: { capUsd: "20", period: "month" } });
  await putPolicy("tenants", t.tenantId, {
    budget: { capUsd: "10", period: "none" },
    defaultTaskCostUsd: "0.20",
  });
  return t;
}

function call(t: TestTenant, account: UpstreamAccount, path: string, body?: unknown) {
  return asTenant(t.key, path, { body, env: account.env });
}

async function spentOf(t: TestTenant) {
  const { scopes } = await expectJson<{
    scopes: { scope: string; spentUsd: string; heldUsd: string; overshootUsd: string }[];
  }>(await asTenant(t.key, "/gateway/v1/budget"), 200);
  return scopes;
}

/** A kept-alive session's whole life: no task for half an hour, a task, an hour idle, then stop. */
async function aSessionsLife(t: TestTenant, account: UpstreamAccount): Promise<SessionView> {
  const created = await expectJson<SessionView>(
    await call(t, account, "/api/v3/sessions", { keepAlive: true }),
    200,
  );
  await account.control("POST", "/clock", { advanceMs: 30 * 60_000 });
  await expectJson(await call(t, account, `/api/v3/sessions/${created.id}`), 200);
  const dispatched = await call(t, account, "/api/v3/sessions", {
    sessionId: created.id,
    task: emuTask("a task", { steps: 2, cost: "0.01" }),
  });
  await expectJson(dispatched, 200);
  await eventually(async () => {
    const s = await expectJson<SessionView>(await call(t, account, `/api/v3/sessions/${created.id}`), 200);
    return s.status === "idle" && Number(s.stepCount) === 2 ? s : undefined;
  });
  await account.control("POST", "/clock", { advanceMs: 60 * 60_000 });
  return expectJson<SessionView>(
    await call(t, account, `/api/v3/sessions/${created.id}/stop`, { strategy: "session" }),
    200,
  );
}

describe("time around tasks", () => {
  for (const idleBrowserBilling of [true, false]) {
    it(`charges a session's whole bill to both budgets when upstream ${idleBrowserBilling ? "bills" : "does not bill"} idle time`, async () => {
      const account = await newUpstreamAccount({ idleBrowserBilling, idleTimeoutMs: 24 * 60 * 60_000 });
      const t = await tenantWithBudget();
      const stopped = await aSessionsLife(t, account);
      const [truth] = (await account.truth()).sessions;
      expect(truth?.totalCostUsd).toBe(stopped.totalCostUsd);
      const bill = toMicros(String(truth?.totalCostUsd));
      // The task cost 0.02; idle billing adds an hour and a half at $0.06 an hour.
      if (idleBrowserBilling) expect(bill).toBeGreaterThan(20_000 + 89_000);
      else expect(bill).toBe(20_000);

      const scopes = await spentOf(t);
      expect(scopes.map((s) => [s.scope, toMicros(s.spentUsd), toMicros(s.heldUsd)])).toEqual([
        ["org", bill, 0],
        ["tenant", bill, 0],
      ]);
      // Spend outside the task's hold went past what was held: it shows as overshoot.
      const task = await env.DB.prepare(
        "SELECT settled_micros FROM holds WHERE tenant_id = ? AND state = 'settled' AND amount_micros > 0",
      )
        .bind(t.tenantId)
        .first<number>("settled_micros");
      expect(task).toBeGreaterThanOrEqual(20_000);
      expect(toMicros(scopes[1]?.overshootUsd ?? "x")).toBe(bill - (task ?? 0));
      // Seeing the same figures again charges nothing more.
      await reconcile(account.env, log, { orgId: t.orgId });
      await expectJson(await call(t, account, `/api/v3/sessions/${stopped.id}`), 200);
      expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({ spentMicros: bill });
    });
  }

  it("charges a session's time after its last task when the reconciler sees it end", async () => {
    const account = await newUpstreamAccount({ idleBrowserBilling: true, idleTimeoutMs: 60 * 60_000 });
    const t = await tenantWithBudget();
    const s = await expectJson<SessionView>(
      await call(t, account, "/api/v3/sessions", {
        task: emuTask("once", { steps: 1, cost: "0.01" }),
        keepAlive: true,
      }),
      200,
    );
    await eventually(async () => {
      const v = await expectJson<SessionView>(await call(t, account, `/api/v3/sessions/${s.id}`), 200);
      return v.status === "idle" ? v : undefined;
    });
    // Nobody reads it again; upstream times it out after an hour idle.
    await account.control("POST", "/clock", { advanceMs: 61 * 60_000 });
    await reconcile(account.env, log, { orgId: t.orgId });
    const [truth] = (await account.truth()).sessions;
    expect(truth?.status).toBe("timed_out");
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: toMicros(String(truth?.totalCostUsd)),
    });
  });

  it("admits a session without a task only while the budget could still pay for one", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.005", period: "none" } });
    const refused = await asTenant(t.key, "/api/v3/sessions", { body: {} });
    expect(await expectJson(refused, 402)).toMatchObject({
      code: "budget_exceeded",
      scope: "tenant",
      remainingUsd: "0.005",
      minHoldUsd: "0.01",
    });
    const holds = await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<number>("n");
    expect(holds).toBe(0);
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.01", period: "none" } });
    await expectJson(await asTenant(t.key, "/api/v3/sessions", { body: {} }), 200);
  });
});

describe("a browser's proxy traffic", () => {
  async function browserHold(tenantId: string) {
    return env.DB.prepare("SELECT amount_micros, state, settled_micros FROM holds WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ amount_micros: number; state: string; settled_micros: number | null }>();
  }

  it("holds the proxy allowance with the browser's time, and stops the browser once its spend passes the hold", async () => {
    const account = await newUpstreamAccount();
    const t = await tenantWithBudget();
    await putPolicy("orgs", t.orgId, {
      budget: { capUsd: "20", period: "month" },
      browserProxyAllowanceUsd: "0.05",
    });
    const b = await expectJson<SessionView>(
      await call(t, account, "/api/v3/browsers", { timeout: 10, proxyCountryCode: "de" }),
      201,
    );
    // Ten minutes at $0.02 an hour, plus $0.05 of proxy traffic.
    expect(await browserHold(t.tenantId)).toMatchObject({ amount_micros: 3_334 + 50_000, state: "open" });

    await account.control("POST", `/browsers/${b.id}/traffic`, { proxyMb: "3" });
    let report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.stoppedOverHold).toBe(0);
    expect((await account.truth()).browsers[0]?.status).toBe("active");

    await account.control("POST", `/browsers/${b.id}/traffic`, { proxyMb: "3" });
    report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.stoppedOverHold).toBe(1);
    const [stopped] = (await account.truth()).browsers;
    expect(stopped).toMatchObject({ status: "stopped", proxyCost: "0.06" });
    const final = toMicros(String(stopped?.browserCost)) + toMicros(String(stopped?.proxyCost));
    expect(await browserHold(t.tenantId)).toMatchObject({ state: "settled", settled_micros: final });
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: final,
    });
  });

  it("holds no proxy allowance for a browser on no proxy, and $0.10 by default for one on a proxy", async () => {
    const account = await newUpstreamAccount();
    const t = await tenantWithBudget();
    const direct = await expectJson<SessionView>(
      await call(t, account, "/api/v3/browsers", { timeout: 6, proxyCountryCode: null }),
      201,
    );
    expect(await browserHold(t.tenantId)).toMatchObject({ amount_micros: 2_000 });
    await call(t, account, `/api/v3/browsers/${direct.id}`, { action: "stop" });
    const proxied = await call(t, account, "/api/v3/browsers", { timeout: 6 });
    expect(proxied.status).toBe(201);
    const { results } = await env.DB.prepare(
      "SELECT amount_micros FROM holds WHERE tenant_id = ? ORDER BY created_at",
    )
      .bind(t.tenantId)
      .all<{ amount_micros: number }>();
    expect(results.map((r) => r.amount_micros)).toEqual([2_000, 2_000 + 100_000]);
  });

  it("stops a running browser in a scope whose cap is used up", async () => {
    const account = await newUpstreamAccount();
    const t = await tenantWithBudget();
    const b = await expectJson<SessionView>(await call(t, account, "/api/v3/browsers", { timeout: 30 }), 201);
    await env.DB.prepare(
      "UPDATE budget_counters SET spent_micros = 10000000 WHERE scope = 'tenant' AND scope_id = ? AND period_key = 'none'",
    )
      .bind(t.tenantId)
      .run();
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.stoppedOverBudget).toBe(1);
    expect((await account.truth()).browsers.find((x) => x.id === b.id)?.status).toBe("stopped");
  });
});

describe("a delete whose stop upstream refuses", () => {
  // Found by the chaos run (seed 1629478071): the stop sent before a delete answered 429, the
  // delete went ahead, and upstream's delete stopped the session itself, billing its idle time
  // since the last read where the gateway could no longer read it.
  it("is not sent after a 429, so the idle time it would end is booked by the next delete", async () => {
    const account = await newUpstreamAccount({ idleBrowserBilling: true });
    const t = await tenantWithBudget();
    const s = await expectJson<SessionView>(
      await call(t, account, "/api/v3/sessions", { keepAlive: true }),
      200,
    );
    await eventually(async () => {
      const up = (await account.truth()).sessions.find((x) => x.id === s.id);
      return up?.status === "idle" ? true : undefined;
    });
    await expectJson(await call(t, account, `/api/v3/sessions/${s.id}`), 200);
    // Ten minutes idle that no read has shown yet.
    await account.control("POST", "/clock", { advanceMs: 10 * 60_000 });

    await account.control("POST", "/faults", { next: ["429"] });
    const refused = await asTenant(t.key, `/api/v3/sessions/${s.id}`, {
      method: "DELETE",
      env: account.env,
    });
    expect(refused.status, await refused.text()).toBe(429);
    const truth = await account.truth();
    expect(truth.sessions.find((x) => x.id === s.id)?.status).toBe("idle");
    expect((truth as { deletedSessionIds?: string[] }).deletedSessionIds ?? []).not.toContain(s.id);

    const deleted = await asTenant(t.key, `/api/v3/sessions/${s.id}`, {
      method: "DELETE",
      env: account.env,
    });
    expect(deleted.status, await deleted.text()).toBe(204);
    const billed = (await account.truth()).sessions.find((x) => x.id === s.id);
    const booked = await env.DB.prepare("SELECT total_cost_micros FROM usage WHERE id = ?")
      .bind(s.id)
      .first<number>("total_cost_micros");
    expect(booked).toBe(toMicros(String(billed?.totalCostUsd)));
    expect(booked).toBeGreaterThan(0);
  });

  it("reads a session that ended before the delete when upstream refuses its stop with a 4xx, and books its last figures", async () => {
    const account = await newUpstreamAccount();
    const t = await tenantWithBudget();
    const s = await expectJson<SessionView>(
      await call(t, account, "/api/v3/sessions", { task: emuTask("ends alone", { steps: 2, cost: "0.01" }) }),
      200,
    );
    // It ends by itself (no keepAlive) while no read of the gateway's shows it.
    const ended = await eventually(async () => {
      const up = (await account.truth()).sessions.find((x) => x.id === s.id);
      return up?.status === "stopped" ? up : undefined;
    });
    const billed = toMicros(String(ended.totalCostUsd));
    expect(billed).toBeGreaterThan(0);

    // Upstream refuses to stop what has already ended ("already stopped"); the delete still goes.
    await account.control("POST", "/faults", { next: ["400"] });
    const deleted = await asTenant(t.key, `/api/v3/sessions/${s.id}`, { method: "DELETE", env: account.env });
    expect(deleted.status, await deleted.text()).toBe(204);
    expect((await account.truth()) as { deletedSessionIds?: string[] }).toMatchObject({
      deletedSessionIds: expect.arrayContaining([s.id]),
    });
    const booked = await env.DB.prepare("SELECT total_cost_micros FROM usage WHERE id = ?")
      .bind(s.id)
      .first<number>("total_cost_micros");
    expect(booked).toBe(billed);
    const hold = await env.DB.prepare("SELECT state, settled_micros FROM holds WHERE resource_id = ?")
      .bind(s.id)
      .first<{ state: string; settled_micros: number }>();
    expect(hold).toEqual({ state: "settled", settled_micros: billed });
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
  });
});
