import { describe, expect, it } from "vitest";
import { periodKey, periodKeysCurrentAnywhere } from "../src/budget/period";
import {
  ADMIN_TOKEN,
  adminPost,
  countRoundTrips,
  emuTask,
  eventInbox,
  expectJson,
  gateway,
  putPolicy,
  startSession,
  type TestTenant,
  waitForStatus,
} from "./helpers";

const asAdmin = (path: string, init: RequestInit = {}) =>
  gateway(path, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });

interface Scope {
  scope: "org" | "tenant";
  capUsd: string | null;
  period: string;
  timeZone: string;
  periodKey: string;
  spentUsd: string;
  heldUsd: string;
  alertThresholds: number[];
  thresholdsCrossed: number[];
}
interface BudgetPage {
  items: { tenantId: string; name: string; scopes: Scope[] }[];
  totalItems: number;
  pageNumber: number;
  pageSize: number;
}

const newOrg = async (name = `org-${crypto.randomUUID()}`) =>
  (await adminPost<{ id: string }>("/admin/v1/orgs", { name })).id;

/** A tenant of `orgId` named `name`, with a key of its own. */
async function tenantOf(orgId: string, name: string): Promise<TestTenant & { name: string }> {
  const tenant = await adminPost<{ id: string }>(`/admin/v1/orgs/${orgId}/tenants`, { name });
  const key = await adminPost<{ id: string; key: string }>(`/admin/v1/tenants/${tenant.id}/keys`, {
    name: "test",
  });
  return { orgId, tenantId: tenant.id, keyId: key.id, key: key.key, name };
}

const budgetPage = async (orgId: string, query = "") =>
  expectJson<BudgetPage>(await asAdmin(`/admin/v1/orgs/${orgId}/budgets${query}`), 200);

const tenantBudget = async (tenantId: string) =>
  (await expectJson<{ scopes: Scope[] }>(await asAdmin(`/admin/v1/tenants/${tenantId}/budget`), 200)).scopes;

const spend = async (t: TestTenant, cost: string) => {
  const s = await startSession(t, { task: emuTask("spend", { steps: 2, cost }) });
  await waitForStatus(t, s.id, ["stopped"]);
};

describe("GET /admin/v1/orgs/{orgId}/budgets", () => {
  it("answers for each tenant exactly what GET /admin/v1/tenants/{id}/budget does, across periods, zones, spend and holds", async () => {
    const orgId = await newOrg();
    await putPolicy("orgs", orgId, {
      budget: { capUsd: "1", period: "month", timeZone: "Europe/Berlin" },
    });
    await expectJson(
      await asAdmin(`/admin/v1/orgs/${orgId}/alerts`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ url: eventInbox().url, thresholds: [2, 50, 80] }),
      }),
      200,
    );
    // One of UTC+14 and UTC-11 is on another calendar day than UTC at any hour, so a page that
    // read every tenant's counters under UTC's keys would miss the spend of one of them.
    const inherits = await tenantOf(orgId, "a inherits the org's policy");
    const east = await tenantOf(orgId, "b day in Kiritimati");
    await putPolicy("tenants", east.tenantId, {
      budget: { capUsd: "0.04", period: "day", timeZone: "Pacific/Kiritimati" },
    });
    const west = await tenantOf(orgId, "c week in Pago Pago");
    await putPolicy("tenants", west.tenantId, {
      budget: { capUsd: "0.5", period: "week", timeZone: "Pacific/Pago_Pago" },
      maxTaskCostUsd: "0.3",
    });
    const forever = await tenantOf(orgId, "d no period");
    await putPolicy("tenants", forever.tenantId, { budget: { capUsd: "0.05", period: "none" } });
    const idle = await tenantOf(orgId, "e nothing spent");

    await spend(inherits, "0.005");
    await spend(east, "0.01");
    await spend(west, "0.0125");
    await spend(forever, "0.02");
    // A task still running: its hold is booked as held in the tenant's week and the org's month.
    await startSession(west, { task: emuTask("run on", { outcome: "hang" }), maxCostUsd: "0.25" });

    const page = await budgetPage(orgId, "?pageSize=100");
    expect(page).toMatchObject({ totalItems: 5, pageNumber: 1, pageSize: 100 });
    const tenants = [inherits, east, west, forever, idle];
    expect(page.items.map((i) => [i.tenantId, i.name])).toEqual(tenants.map((t) => [t.tenantId, t.name]));
    for (const [i, t] of tenants.entries()) {
      expect(page.items[i]?.scopes, t.name).toEqual(await tenantBudget(t.tenantId));
    }

    // What was compared is not all zeros: the figures, keys and thresholds differ per tenant.
    const tenantScope = (i: number) => page.items[i]?.scopes.find((s) => s.scope === "tenant");
    expect(page.items[0]?.scopes[0]).toMatchObject({
      scope: "org",
      periodKey: periodKey("month", "Europe/Berlin", new Date()),
      spentUsd: "0.095",
      heldUsd: "0.25",
      thresholdsCrossed: [2],
    });
    expect(tenantScope(0)).toMatchObject({ capUsd: null, spentUsd: "0.01", thresholdsCrossed: [] });
    expect(tenantScope(1)).toMatchObject({
      periodKey: periodKey("day", "Pacific/Kiritimati", new Date()),
      spentUsd: "0.02",
      thresholdsCrossed: [2, 50],
    });
    expect(tenantScope(2)).toMatchObject({
      periodKey: periodKey("week", "Pacific/Pago_Pago", new Date()),
      spentUsd: "0.025",
      heldUsd: "0.25",
      thresholdsCrossed: [2],
    });
    expect(tenantScope(3)).toMatchObject({
      periodKey: "none",
      spentUsd: "0.04",
      thresholdsCrossed: [2, 50, 80],
    });
    expect(tenantScope(4)).toMatchObject({ capUsd: null, spentUsd: "0", heldUsd: "0" });
  });

  it("answers for an org with no policy and no alert target as the per-tenant endpoint does", async () => {
    const orgId = await newOrg();
    const t = await tenantOf(orgId, "plain");
    await spend(t, "0.003");
    const page = await budgetPage(orgId);
    expect(page.items).toEqual([
      { tenantId: t.tenantId, name: "plain", scopes: await tenantBudget(t.tenantId) },
    ]);
    expect(page.items[0]?.scopes.map((s) => [s.capUsd, s.spentUsd, s.alertThresholds])).toEqual([
      [null, "0.006", []],
      [null, "0.006", []],
    ]);
  });

  it("pages as the tenant list does: by name, totalItems, a second page, the name filter and the page size bounds", async () => {
    const orgId = await newOrg();
    const c = await tenantOf(orgId, "Charlie");
    const a = await tenantOf(orgId, "alpha");
    const b = await tenantOf(orgId, "Bravo");
    await putPolicy("tenants", b.tenantId, { budget: { capUsd: "3", period: "day" } });

    const first = await budgetPage(orgId, "?pageSize=2");
    expect(first).toMatchObject({ totalItems: 3, pageNumber: 1, pageSize: 2 });
    expect(first.items.map((i) => i.tenantId)).toEqual([a.tenantId, b.tenantId]);
    const second = await budgetPage(orgId, "?pageSize=2&pageNumber=2");
    expect(second).toMatchObject({ totalItems: 3, pageNumber: 2, pageSize: 2 });
    expect(second.items.map((i) => i.tenantId)).toEqual([c.tenantId]);
    expect(second.items[0]?.scopes).toEqual(await tenantBudget(c.tenantId));
    expect((await budgetPage(orgId, "?pageSize=2&pageNumber=3")).items).toEqual([]);

    const list = await expectJson<{ items: { id: string }[] }>(
      await asAdmin(`/admin/v1/orgs/${orgId}/tenants`),
      200,
    );
    const all = await budgetPage(orgId);
    expect(all.pageSize).toBe(10);
    expect(all.items.map((i) => i.tenantId)).toEqual(list.items.map((t) => t.id));
    expect(all.items[1]?.scopes[1]?.capUsd).toBe("3");

    const named = await budgetPage(orgId, "?name=RAV");
    expect(named).toMatchObject({ totalItems: 1 });
    expect(named.items.map((i) => i.tenantId)).toEqual([b.tenantId]);

    for (const query of ["?pageSize=101", "?pageSize=0", "?pageNumber=0"]) {
      const res = await asAdmin(`/admin/v1/orgs/${orgId}/budgets${query}`);
      expect(await expectJson(res, 422), query).toMatchObject({ code: "validation_error" });
    }
  });

  it("answers 404 for an org that is not there or was deleted", async () => {
    const missing = await asAdmin(`/admin/v1/orgs/${crypto.randomUUID()}/budgets`);
    expect(await expectJson(missing, 404)).toMatchObject({ code: "not_found", detail: "Org not found" });
    const orgId = await newOrg();
    await expectJson(await asAdmin(`/admin/v1/orgs/${orgId}`, { method: "DELETE" }), 204);
    const deleted = await asAdmin(`/admin/v1/orgs/${orgId}/budgets`);
    expect(await expectJson(deleted, 404)).toMatchObject({ code: "not_found", detail: "Org not found" });
  });

  it("refuses a missing or wrong admin token, and a tenant's key, with 401", async () => {
    const orgId = await newOrg();
    const t = await tenantOf(orgId, "asks for all");
    const attempts: Record<string, string>[] = [
      {},
      { Authorization: "Bearer not-the-admin-token" },
      { Authorization: `Bearer ${t.key}` },
      { "X-Browser-Use-API-Key": t.key },
    ];
    for (const headers of attempts) {
      const res = await gateway(`/admin/v1/orgs/${orgId}/budgets`, { headers });
      expect(await expectJson(res, 401), JSON.stringify(headers)).toMatchObject({
        code: "admin_unauthorized",
      });
    }
  });

  it("reads a page in one D1 round trip of the same statements, for 2 tenants as for 12", async () => {
    const trips = async (tenants: number) => {
      const orgId = await newOrg();
      await putPolicy("orgs", orgId, { budget: { capUsd: "10", period: "month" } });
      for (let i = 0; i < tenants; i++) {
        const t = await adminPost<{ id: string }>(`/admin/v1/orgs/${orgId}/tenants`, { name: `t${i}` });
        // Every other tenant with a budget of its own, in a zone of its own.
        if (i % 2) {
          await putPolicy("tenants", t.id, {
            budget: { capUsd: "1", period: "day", timeZone: i % 4 === 1 ? "Asia/Tokyo" : "America/Denver" },
          });
        }
      }
      const { res, onPath, after } = await countRoundTrips(`/admin/v1/orgs/${orgId}/budgets?pageSize=100`, {
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect((await expectJson<BudgetPage>(res, 200)).items).toHaveLength(tenants);
      expect(after).toEqual([]);
      return onPath;
    };
    const two = await trips(2);
    const twelve = await trips(12);
    expect(two).toHaveLength(1);
    expect(twelve).toEqual(two);
  });
});

describe("periodKeysCurrentAnywhere", () => {
  it("holds the current key of every period in every time zone, at any hour", () => {
    const zones = [...Intl.supportedValuesOf("timeZone"), "UTC", "Etc/GMT+12", "Etc/GMT-14"];
    expect(zones.length).toBeGreaterThan(300);
    // Around a new year (day, week, month and year change at once) and every hour of a day.
    const instants = Array.from({ length: 48 }, (_, h) => new Date(Date.UTC(2026, 11, 31, h, 30)));
    for (const at of instants) {
      const keys = periodKeysCurrentAnywhere(at);
      for (const zone of zones) {
        for (const period of ["day", "week", "month", "none"] as const) {
          const key = periodKey(period, zone, at);
          if (!keys.includes(key)) throw new Error(`${key} (${zone}, ${at.toISOString()}) not in ${keys}`);
        }
      }
    }
  });
});
