import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../src/index";
import { createLogger } from "../src/lib/log";
import { toMicros } from "../src/lib/money";
import { reconcile } from "../src/reconciler/run";
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
  type TestTenant,
} from "./helpers";

// The money path's invariant, over a mixed day: every dollar upstream bills for what a tenant's
// requests started is charged to that tenant's and its org's budgets, and no hold stays open.
const log = createLogger({ test: "invariant" });

describe("the money path's invariant", () => {
  it("charges each tenant exactly what upstream billed for its objects, and leaves no hold open", async () => {
    const account = await newUpstreamAccount({ idleBrowserBilling: true, idleTimeoutMs: 24 * 60 * 60_000 });
    const a = await newTenant();
    const b = await newTenant(a.orgId);
    const c = await newTenant(a.orgId);
    await putPolicy("orgs", a.orgId, {
      budget: { capUsd: "50", period: "month" },
      defaultTaskCostUsd: "0.25",
      browserProxyAllowanceUsd: "0.05",
    });
    await putPolicy("tenants", c.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    const call = (t: TestTenant, path: string, body?: unknown, method?: string) =>
      asTenant(t.key, path, { body, method, env: account.env });
    const session = async (t: TestTenant, body: unknown) =>
      expectJson<SessionView>(await call(t, "/api/v3/sessions", body), 200);
    const waitUpstream = (id: string, statuses: string[]) =>
      eventually(async () => {
        const s = (await account.truth()).sessions.find((x) => x.id === id);
        return s && statuses.includes(s.status) ? s : undefined;
      });

    // C: a task and a browser whose answers are lost; a client that hangs up; a browser run past its
    // hold. First, while upstream's clock still agrees with ours (the others move it ahead).
    await account.control("POST", "/faults", { next: ["drop-after", "drop-after"] });
    expect(
      (await call(c, "/api/v3/sessions", { task: emuTask("lost", { steps: 1, cost: "0.04" }) })).status,
    ).toBe(502);
    expect((await call(c, "/api/v3/browsers", { timeout: 3, metadata: { lost: "yes" } })).status).toBe(502);
    const ctx = createExecutionContext();
    const abandoned = worker.fetch(
      new Request(`${GATEWAY}/api/v3/sessions`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": c.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task: emuTask("hung up", { steps: 1, cost: "0.02" }) }),
      }),
      account.env,
      ctx,
    );
    void Promise.resolve(abandoned).catch(() => undefined);
    await waitOnExecutionContext(ctx);
    const greedy = await expectJson<SessionView>(await call(c, "/api/v3/browsers", { timeout: 10 }), 201);
    await account.control("POST", `/browsers/${greedy.id}/traffic`, { proxyMb: "9" });

    // A: a task; a kept-alive session with a follow-up; a task deleted while it runs.
    await session(a, { task: emuTask("one", { steps: 2, cost: "0.01" }) });
    const kept = await session(a, { task: emuTask("kept", { steps: 1, cost: "0.02" }), keepAlive: true });
    await waitUpstream(kept.id, ["idle"]);
    await account.control("POST", "/clock", { advanceMs: 10 * 60_000 });
    await session(a, { task: emuTask("again", { steps: 2, cost: "0.01" }), sessionId: kept.id });
    const running = await session(a, { task: emuTask("runs", { steps: 1, cost: "0.01", outcome: "hang" }) });
    await waitUpstream(running.id, ["running"]);
    expect((await call(a, `/api/v3/sessions/${running.id}`, undefined, "DELETE")).status).toBe(204);

    // B: a session without a task, given one later, then deleted; a browser on a proxy.
    const empty = await session(b, { keepAlive: true });
    await account.control("POST", "/clock", { advanceMs: 20 * 60_000 });
    await session(b, { task: emuTask("late", { steps: 1, cost: "0.03" }), sessionId: empty.id });
    await waitUpstream(empty.id, ["idle"]);
    expect((await call(b, `/api/v3/sessions/${empty.id}`, undefined, "DELETE")).status).toBe(204);
    const browser = await expectJson<SessionView>(await call(b, "/api/v3/browsers", { timeout: 20 }), 201);
    await account.control("POST", `/browsers/${browser.id}/traffic`, { proxyMb: "2" });
    await call(b, `/api/v3/browsers/${browser.id}`, { action: "stop" }, "PATCH");

    // Everything ends: kept-alive sessions are stopped, the rest by themselves or the reconciler.
    await call(a, `/api/v3/sessions/${kept.id}/stop`, { strategy: "session" });
    await eventually(async () => {
      const truth = await account.truth();
      return truth.sessions.every((s) => ["stopped", "timed_out", "error"].includes(s.status))
        ? true
        : undefined;
    });
    await eventually(async () => {
      await reconcile(account.env, log, { orgId: a.orgId, now: new Date(Date.now() + 3 * 60_000) });
      const truth = await account.truth();
      const open = await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE org_id = ? AND state = 'open'")
        .bind(a.orgId)
        .first<number>("n");
      return open === 0 && truth.browsers.every((x) => x.status === "stopped") ? true : undefined;
    }, 20_000);

    // The audit: each tenant's charges equal upstream's bill for the objects the tenant owns.
    const truth = await account.truth();
    const bill = new Map<string, number>([
      ...truth.sessions.map((s) => [s.id, toMicros(String(s.totalCostUsd))] as const),
      ...truth.browsers.map(
        (x) => [x.id, toMicros(String(x.browserCost)) + toMicros(String(x.proxyCost))] as const,
      ),
    ]);
    expect(bill.size).toBe(9);
    const { results: owned } = await env.DB.prepare(
      "SELECT id, tenant_id FROM resources WHERE org_id = ? AND kind IN ('session', 'browser')",
    )
      .bind(a.orgId)
      .all<{ id: string; tenant_id: string }>();
    expect(owned.map((r) => r.id).sort()).toEqual([...bill.keys()].sort());
    let orgTotal = 0;
    for (const t of [a, b, c]) {
      const billed = owned
        .filter((r) => r.tenant_id === t.tenantId)
        .reduce((sum, r) => sum + (bill.get(r.id) ?? 0), 0);
      const spent = await env.DB.prepare(
        "SELECT coalesce(sum(spent_micros), 0) AS spent, coalesce(sum(held_micros), 0) AS held FROM budget_counters WHERE scope = 'tenant' AND scope_id = ?",
      )
        .bind(t.tenantId)
        .first<{ spent: number; held: number }>();
      expect({ spent: spent?.spent, held: spent?.held }, t.tenantId).toEqual({ spent: billed, held: 0 });
      orgTotal += billed;
    }
    const org = await env.DB.prepare(
      "SELECT coalesce(sum(spent_micros), 0) AS spent, coalesce(sum(held_micros), 0) AS held FROM budget_counters WHERE scope = 'org' AND scope_id = ?",
    )
      .bind(a.orgId)
      .first<{ spent: number; held: number }>();
    expect(org).toEqual({ spent: orgTotal, held: 0 });
    // And the ledger holds every object's latest figures, to the micro-dollar.
    for (const [id, total] of bill) {
      const usage = await env.DB.prepare("SELECT total_cost_micros FROM usage WHERE id = ?")
        .bind(id)
        .first<number>("total_cost_micros");
      expect(usage, id).toBe(total);
    }
  });
});
