import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type Truth, audit } from "../chaos/audit";
import { chaosTable, runChaos } from "../chaos/run";
import type { ChaosTarget } from "../chaos/target";
import worker from "../src/index";
import { createLogger } from "../src/lib/log";
import { reconcileEveryAccount } from "../src/reconciler/accounts";
import { ADMIN_TOKEN, EMULATOR, GATEWAY, newUpstreamAccount } from "./helpers";

// The chaos run of `npm run chaos`, short and with a fixed seed: the same load, faults, wind-down
// and audit (chaos/), driving the gateway's fetch handler in this isolate against an emulator
// account of its own over HTTP.
const log = createLogger({ test: "chaos" }, "error");

describe("a short chaos run", () => {
  it("answers no 500, passes no cap beyond its bound, holds nothing, and books upstream's bill to the micro-dollar", async () => {
    const account = await newUpstreamAccount({ idleBrowserBilling: true, stepMs: 100 });
    const pending = new Set<Promise<unknown>>();
    const target: ChaosTarget = {
      adminToken: ADMIN_TOKEN,
      async gateway(path, init, hangUpAfterMs) {
        const ctx = createExecutionContext();
        const answered = Promise.resolve(worker.fetch(new Request(GATEWAY + path, init), account.env, ctx));
        const done = answered.then(() => waitOnExecutionContext(ctx));
        if (hangUpAfterMs === undefined) {
          const res = await answered;
          await done;
          return res;
        }
        // The client goes away: nobody reads the answer, the request's work goes on.
        const work = done.catch(() => undefined).finally(() => pending.delete(work));
        pending.add(work);
        await new Promise((r) => setTimeout(r, hangUpAfterMs));
        return "hung-up";
      },
      emulator: (method, path, body) => account.control(method, path, body),
      upstream: (method, path, body) =>
        fetch(`${EMULATOR}/api/v3${path}`, {
          method,
          headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      reconcile: (now) => reconcileEveryAccount(account.env, log, { now }),
      async sql<T>(query: string, ...binds: (string | number)[]) {
        return (
          await env.DB.prepare(query)
            .bind(...binds)
            .all<T>()
        ).results;
      },
      async drain() {
        await Promise.all([...pending]);
      },
    };
    const result = await runChaos(target, {
      seed: 20261201,
      durationMs: 3_000,
      clients: 3,
      reconcileEveryMs: 1_000,
    });
    const table = chaosTable(result);
    for (const check of result.checks)
      expect(check.ok, `${check.name}: ${check.detail}\n${table}`).toBe(true);
    // The run did meet faults and did move money: a run that did nothing would pass too.
    expect(
      Object.values(result.faults).reduce((a, b) => a + b, 0),
      table,
    ).toBeGreaterThan(0);
    expect(result.ledger.billedMicros, table).toBeGreaterThan(0);
    expect(result.ledger.holds.opened, table).toBeGreaterThan(0);

    // And the audit can fail: a micro-dollar off in one object's figures and in one tenant's
    // counter is caught by both money checks.
    const one = await env.DB.prepare("SELECT id FROM usage WHERE tenant_id <> '' LIMIT 1").first<string>(
      "id",
    );
    await env.DB.prepare("UPDATE usage SET total_cost_micros = total_cost_micros + 1 WHERE id = ?")
      .bind(one)
      .run();
    const bumped = await env.DB.prepare(
      `UPDATE budget_counters SET spent_micros = spent_micros + 1 WHERE rowid =
         (SELECT rowid FROM budget_counters WHERE scope = 'tenant' ORDER BY spent_micros DESC LIMIT 1)`,
    ).run();
    expect(bumped.meta.changes).toBe(1);
    const truth = await account.control<Truth>("GET", "/sessions");
    const again = await audit(target, result.orgs, result.load, result.rogue, truth);
    expect(again.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([
      "ledger = upstream, per object",
      "booked = billed, per tenant and org",
    ]);
  }, 60_000);
});
