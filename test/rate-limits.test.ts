import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/env";
import { asTenant, expectJson, newTenant, newUpstreamAccount, putPolicy } from "./helpers";

/** The window is a fixed clock minute: start in a fresh one if this one is nearly over. */
async function freshMinute(): Promise<void> {
  const left = 60 - (Math.floor(Date.now() / 1000) % 60);
  if (left < 8) await new Promise((r) => setTimeout(r, left * 1000 + 100));
}

/** The gateway's env with rate counters that cannot answer, as a Durable Object that is overloaded or unreachable. */
function countersFailing(bindings: Bindings = env): Bindings {
  const real = bindings.RATE_COUNTERS;
  const namespace = {
    idFromName: (name: string) => real.idFromName(name),
    get: () => ({
      take: () => Promise.reject(new Error("Durable Object is overloaded. Requests queued for too long.")),
    }),
  };
  return { ...bindings, RATE_COUNTERS: namespace as unknown as Bindings["RATE_COUNTERS"] };
}

describe("requests per minute when the rate counter fails", () => {
  it("refuses with 503 store_unavailable, not 500, and sends nothing upstream", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { requestsPerMinute: 5 });
    const failing = countersFailing(account.env);
    for (const [path, body] of [
      ["/api/v3/billing/account", undefined],
      ["/api/v3/sessions", { task: "never sent" }],
    ] as const) {
      const res = await asTenant(t.key, path, { body, env: failing });
      expect(await expectJson(res, 503), path).toMatchObject({ code: "store_unavailable" });
    }
    const { requests } = await account.control<{ requests: Record<string, number> }>("GET", "/stats");
    expect(requests).toEqual({});
    const { holds } = (await env.DB.prepare("SELECT count(*) AS holds FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<{ holds: number }>()) ?? { holds: -1 };
    expect(holds).toBe(0);
  });

  it("asks no counter where the policy sets no rate, so a failing one changes nothing", async () => {
    const t = await newTenant();
    await expectJson(await asTenant(t.key, "/api/v3/billing/account", { env: countersFailing() }), 200);
  });
});

describe("requests per minute on the tenant's own view", () => {
  it("counts /gateway/v1 calls with the same key against the same limit", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { requestsPerMinute: 3 });
    await freshMinute();
    const statuses: number[] = [];
    for (const path of [
      "/gateway/v1/me",
      "/gateway/v1/usage",
      "/api/v3/billing/account",
      "/gateway/v1/budget",
    ]) {
      statuses.push((await asTenant(t.key, path)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await asTenant(t.key, "/gateway/v1/live");
    expect(refused.headers.get("Retry-After")).toMatch(/^\d+$/);
    expect(await expectJson(refused, 429)).toMatchObject({ code: "rate_limited", limit: 3 });
  });
});
