import { describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  asTenant,
  emuTask,
  expectJson,
  gateway,
  newTenant,
  putPolicy,
  startSession,
  waitForStatus,
} from "./helpers";

const asAdmin = (path: string, init: RequestInit = {}) =>
  gateway(path, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...init.headers } });

interface Scope {
  scope: string;
  spentUsd: string;
  alertThresholds: number[];
  thresholdsCrossed: number[];
}

describe("the dashboard's files", () => {
  it("serves the page and its scripts from the static assets under a strict Content-Security-Policy", async () => {
    for (const [path, type] of [
      ["/dashboard/", "text/html"],
      ["/dashboard/js/app.js", "javascript"],
      ["/dashboard/dashboard.css", "text/css"],
      ["/dashboard/vendor/uPlot.iife.min.js", "javascript"],
    ] as const) {
      const res = await gateway(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("Content-Type"), path).toContain(type);
      const csp = res.headers.get("Content-Security-Policy") ?? "";
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("script-src 'self'");
      expect(csp, path).not.toContain("unsafe");
      expect(res.headers.get("X-Content-Type-Options"), path).toBe("nosniff");
      expect(res.headers.get("Referrer-Policy"), path).toBe("no-referrer");
      await res.arrayBuffer();
    }
    const html = await (await gateway("/dashboard/")).text();
    expect(html).toContain('<script src="js/app.js" type="module"></script>');
    // Every script is a file of the gateway's: none inline, none from elsewhere.
    expect(html.match(/<script(?![^>]*\bsrc="(js|vendor)\/)[^>]*>/g)).toBeNull();
  });

  it("sends /dashboard to /dashboard/, and answers a file it does not have with the API's 404", async () => {
    const bare = await gateway("/dashboard", { redirect: "manual" });
    expect([301, 307, 308]).toContain(bare.status);
    expect(new URL(bare.headers.get("Location") ?? "", "https://gateway.test").pathname).toBe("/dashboard/");
    expect(await expectJson(await gateway("/dashboard/nothing-here.js"), 404)).toMatchObject({
      code: "not_found",
    });
  });
});

describe("GET /admin/v1/tenants/{tenantId}/budget", () => {
  it("answers exactly what the tenant's own GET /gateway/v1/budget does, thresholds crossed included", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { budget: { capUsd: "1", period: "month" } });
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.04", period: "month" } });
    const alerts = await asAdmin(`/admin/v1/orgs/${t.orgId}/alerts`, {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ url: "https://alerts.example.com/in", thresholds: [2, 50, 80] }),
    });
    await expectJson(alerts, 200);
    const s = await startSession(t, { task: emuTask("spend", { steps: 2, cost: "0.01" }) });
    await waitForStatus(t, s.id, ["stopped"]);

    const own = await expectJson<{ scopes: Scope[] }>(await asTenant(t.key, "/gateway/v1/budget"), 200);
    const seen = await expectJson<{ scopes: Scope[] }>(
      await asAdmin(`/admin/v1/tenants/${t.tenantId}/budget`),
      200,
    );
    expect(seen).toEqual(own);
    // $0.02 of the org's $1 is 2 %; of the tenant's $0.04, 50 %.
    expect(own.scopes.map((x) => [x.scope, x.spentUsd, x.alertThresholds, x.thresholdsCrossed])).toEqual([
      ["org", "0.02", [2, 50, 80], [2]],
      ["tenant", "0.02", [2, 50, 80], [2, 50]],
    ]);
  });

  it("shows no thresholds when the org has no alert target, and 404 for a tenant that is not there", async () => {
    const t = await newTenant();
    const view = await expectJson<{ scopes: Scope[] }>(
      await asAdmin(`/admin/v1/tenants/${t.tenantId}/budget`),
      200,
    );
    expect(view.scopes.map((x) => [x.alertThresholds, x.thresholdsCrossed])).toEqual([
      [[], []],
      [[], []],
    ]);
    const missing = await asAdmin(`/admin/v1/tenants/${crypto.randomUUID()}/budget`);
    expect(await expectJson(missing, 404)).toMatchObject({ code: "not_found", detail: "Tenant not found" });
  });
});

describe("GET /admin/v1/live and /gateway/v1/live", () => {
  interface Live {
    items: {
      kind: string;
      id: string;
      tenantId: string;
      status: string;
      liveUrl: string | null;
      costUsd: string;
    }[];
  }

  it("lists what runs, with its live view and cost so far, to its tenant and the admin only, until it ends", async () => {
    const t = await newTenant();
    const other = await newTenant();
    const s = await startSession(t, { task: emuTask("run on", { outcome: "hang" }) });
    const mine = await expectJson<Live>(await asTenant(t.key, "/gateway/v1/live"), 200);
    expect(mine.items).toEqual([
      expect.objectContaining({ kind: "session", id: s.id, tenantId: t.tenantId, status: "running" }),
    ]);
    expect(mine.items[0]?.liveUrl).toBe(s.liveUrl);
    expect(mine.items[0]?.costUsd).toMatch(/^\d+(\.\d+)?$/);
    expect((await expectJson<Live>(await asTenant(other.key, "/gateway/v1/live"), 200)).items).toEqual([]);
    // A tenant's query cannot widen what it sees.
    const widened = await asTenant(other.key, `/gateway/v1/live?tenantId=${t.tenantId}`);
    expect((await expectJson<Live>(widened, 200)).items).toEqual([]);
    const byAdmin = await expectJson<Live>(await asAdmin(`/admin/v1/live?tenantId=${t.tenantId}`), 200);
    expect(byAdmin.items.map((i) => i.id)).toEqual([s.id]);
    const everyone = await expectJson<Live>(await asAdmin("/admin/v1/live?limit=200"), 200);
    expect(everyone.items.map((i) => i.id)).toContain(s.id);

    await expectJson(
      await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } }),
      200,
    );
    expect((await expectJson<Live>(await asTenant(t.key, "/gateway/v1/live"), 200)).items).toEqual([]);
    const afterStop = await expectJson<Live>(await asAdmin(`/admin/v1/live?tenantId=${t.tenantId}`), 200);
    expect(afterStop.items).toEqual([]);
  });

  it("refuses a limit out of range with 422", async () => {
    const res = await asAdmin("/admin/v1/live?limit=0");
    expect(await expectJson(res, 422)).toMatchObject({ code: "validation_error" });
  });
});
