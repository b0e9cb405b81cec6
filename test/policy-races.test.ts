import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/env";
import { asTenant, emuTask, expectJson, newTenant, putPolicy, type SessionView } from "./helpers";

/**
 * The gateway's env with a D1 that holds back the first batch with a statement matching `pattern`
 * until `resume()`; `reached` settles once that batch has arrived. Everything else goes straight
 * to the real database, and so does the held batch once resumed.
 */
function pausingOn(pattern: RegExp, bindings: Bindings = env) {
  const real = bindings.DB;
  let arrived: () => void = () => {};
  let release: () => void = () => {};
  const reached = new Promise<void>((r) => {
    arrived = r;
  });
  const resumed = new Promise<void>((r) => {
    release = r;
  });
  let paused = false;
  class Statement {
    constructor(
      readonly inner: D1PreparedStatement,
      readonly matches: boolean,
    ) {}
    bind(...values: unknown[]) {
      return new Statement(this.inner.bind(...values), this.matches);
    }
    first(column?: string) {
      return column ? this.inner.first(column) : this.inner.first();
    }
    run() {
      return this.inner.run();
    }
    all() {
      return this.inner.all();
    }
    raw() {
      return this.inner.raw();
    }
  }
  const db = {
    prepare: (sql: string) => new Statement(real.prepare(sql), pattern.test(sql)),
    batch: async (statements: Statement[]) => {
      if (!paused && statements.some((s) => s.matches)) {
        paused = true;
        arrived();
        await resumed;
      }
      return real.batch(statements.map((s) => s.inner));
    },
  };
  return { env: { ...bindings, DB: db as unknown as D1Database }, reached, resume: () => release() };
}

async function holdsOf(tenantId: string) {
  const { results } = await env.DB.prepare(
    "SELECT amount_micros, state FROM holds WHERE tenant_id = ? ORDER BY created_at",
  )
    .bind(tenantId)
    .all<{ amount_micros: number; state: string }>();
  return results;
}

// A request reads its tenant's policy when it arrives (cached for a few seconds per isolate);
// its hold is taken later. An admin who narrows the policy in between must not find a hold
// reserved under the policy they just replaced.
describe("a policy narrowed while an admission is on its way", () => {
  it("holds no more than the cap stored when the hold is taken", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "month" } });
    const gate = pausingOn(/INSERT INTO holds/);
    const pending = asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("narrowed", { steps: 1 }) },
      env: gate.env,
    });
    await gate.reached;
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.10", period: "month" } });
    gate.resume();
    const s = await expectJson<SessionView>(await pending, 200);
    expect((await holdsOf(t.tenantId)).map((h) => h.amount_micros)).toEqual([100_000]);
    expect(Number(s.maxCostUsd)).toBeLessThanOrEqual(0.1);
  });

  it("holds by the stored cap where this isolate still trusts an older policy (changed on another)", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "month" } });
    // This isolate reads, and caches, the $1 policy.
    await expectJson(await asTenant(t.key, "/api/v3/billing/account"), 200);
    // Another isolate's admin call: the stored document changes, this isolate's cache does not.
    await env.DB.prepare("UPDATE policies SET document = ? WHERE scope = 'tenant' AND scope_id = ?")
      .bind(JSON.stringify({ budget: { capUsd: "0.25", period: "month" } }), t.tenantId)
      .run();
    await expectJson(
      await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 15, proxyCountryCode: null } }),
      201,
    );
    const s = await expectJson<SessionView>(
      await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("rest", { steps: 1 }) } }),
      200,
    );
    // The browser's 15 minutes ($0.005), then all the $0.25 cap leaves.
    expect((await holdsOf(t.tenantId)).map((h) => h.amount_micros)).toEqual([5_000, 245_000]);
    expect(Number(s.maxCostUsd)).toBeLessThanOrEqual(0.245);
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: {} });
  });

  it("admits no create past a concurrency limit lowered meanwhile", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 5 });
    const first = await expectJson<SessionView>(
      await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("one", { outcome: "hang" }) } }),
      200,
    );
    const gate = pausingOn(/INSERT INTO holds/);
    const pending = asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("two", { outcome: "hang" }) },
      env: gate.env,
    });
    await gate.reached;
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 1 });
    gate.resume();
    const res = await pending;
    const body = await res.text();
    try {
      expect(res.status, body).toBe(429);
      expect(JSON.parse(body)).toMatchObject({ code: "concurrency_limit", limit: 1 });
      expect(await holdsOf(t.tenantId)).toHaveLength(1);
    } finally {
      await asTenant(t.key, `/api/v3/sessions/${first.id}/stop`, { body: {} });
      if (res.status === 200) {
        await asTenant(t.key, `/api/v3/sessions/${(JSON.parse(body) as SessionView).id}/stop`, { body: {} });
      }
    }
  });
});
