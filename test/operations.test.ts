import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/lib/log";
import { reconcile } from "../src/reconciler/run";
import {
  deliverToHook,
  ADMIN_TOKEN,
  admin,
  adminPost,
  asTenant,
  emuTask,
  expectJson,
  gateway,
  newTenant,
  newUpstreamAccount,
  type SessionView,
} from "./helpers";

const log = createLogger({ test: "operations" });

interface KeyView {
  id: string;
  key?: string;
  prefix: string;
  name: string;
  scope: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

describe("orgs and tenants", () => {
  it("lists orgs and tenants by page and name, reads and renames them", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const orgs = [];
    for (const name of [`alpha ${tag}`, `beta ${tag}`, `Alphabet ${tag}`])
      orgs.push(await adminPost("/admin/v1/orgs", { name }));
    const found = await expectJson<{ items: { name: string }[]; totalItems: number }>(
      await admin(`/orgs?name=ALPHA&pageSize=100`),
      200,
    );
    expect(found.items.map((o) => o.name).filter((n) => n.includes(tag))).toEqual([
      `alpha ${tag}`,
      `Alphabet ${tag}`,
    ]);
    const page = await expectJson<{ items: unknown[]; pageSize: number }>(
      await admin(`/orgs?name=${tag}&pageSize=2`),
      200,
    );
    expect(page.items).toHaveLength(2);
    const org = orgs[0] as { id: string };
    expect(await expectJson(await admin(`/orgs/${org.id}`), 200)).toMatchObject({
      name: `alpha ${tag}`,
      suspended: false,
      upstream: "deployment",
    });
    expect(await expectJson(await admin(`/orgs/${org.id}`, "PATCH", { name: "renamed" }), 200)).toMatchObject(
      { name: "renamed" },
    );
    for (const name of ["ops", "dev", "devops"])
      await adminPost(`/admin/v1/orgs/${org.id}/tenants`, { name });
    const tenants = await expectJson<{ items: { id: string; name: string }[]; totalItems: number }>(
      await admin(`/orgs/${org.id}/tenants?name=dev`),
      200,
    );
    expect(tenants.items.map((t) => t.name)).toEqual(["dev", "devops"]);
    const tenant = tenants.items[0] as { id: string };
    expect(
      await expectJson(await admin(`/tenants/${tenant.id}`, "PATCH", { name: "development" }), 200),
    ).toMatchObject({
      name: "development",
      orgId: org.id,
    });
    expect((await admin(`/orgs/${crypto.randomUUID()}`)).status).toBe(404);
  });

  it("suspends a tenant: 403 suspended on every kind of call, until resumed", async () => {
    const t = await newTenant();
    const hook = await expectJson<{ id: string; secret: string }>(
      await admin(`/tenants/${t.tenantId}/hooks`, "POST", { name: "h", task: "t" }),
      201,
    );
    await expectJson(await admin(`/tenants/${t.tenantId}/suspend`, "POST"), 200);
    for (const path of ["/api/v3/sessions", "/api/v3/billing/account", "/gateway/v1/budget"]) {
      expect(await expectJson(await asTenant(t.key, path), 403), path).toMatchObject({ code: "suspended" });
    }
    const delivered = await deliverToHook(hook, "{}", { id: "msg_suspended" });
    expect(await expectJson(delivered, 403)).toMatchObject({ code: "suspended" });
    await expectJson(await admin(`/tenants/${t.tenantId}/resume`, "POST"), 200);
    expect((await asTenant(t.key, "/api/v3/sessions")).status).toBe(200);
    // An org's suspension reaches its tenants.
    await expectJson(await admin(`/orgs/${t.orgId}/suspend`, "POST"), 200);
    expect((await asTenant(t.key, "/api/v3/sessions")).status).toBe(403);
  });

  it("stops what runs when asked (a kill switch), and lets it run on when not", async () => {
    const account = await newUpstreamAccount();
    const hang = { task: emuTask("long", { steps: 1, outcome: "hang" }) };
    const start = async (t: { key: string }) =>
      (
        await expectJson<SessionView>(
          await asTenant(t.key, "/api/v3/sessions", { body: hang, env: account.env }),
          200,
        )
      ).id;
    const killed = await newTenant();
    const paused = await newTenant();
    const [k, p] = [await start(killed), await start(paused)];
    const browser = await expectJson<{ id: string }>(
      await asTenant(killed.key, "/api/v3/browsers", { body: { timeout: 5 }, env: account.env }),
      201,
    );
    const stopNow = await gateway(
      `/admin/v1/tenants/${killed.tenantId}/suspend`,
      {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ stopSessions: true }),
      },
      account.env,
    );
    expect(await expectJson(stopNow, 200)).toMatchObject({ suspended: true, stopped: 2 });
    await expectJson(await admin(`/tenants/${paused.tenantId}/suspend`, "POST"), 200);
    const truth = await account.truth();
    expect(truth.sessions.find((s) => s.id === k)?.status).toBe("stopped");
    expect(truth.browsers.find((b) => b.id === browser.id)?.status).toBe("stopped");
    expect(truth.sessions.find((s) => s.id === p)?.status).toBe("running");
    // The reconciler leaves the merely suspended one running too.
    await reconcile(account.env, log, { orgId: paused.orgId });
    expect((await account.truth()).sessions.find((s) => s.id === p)?.status).toBe("running");
    await asTenant(killed.key, `/api/v3/sessions/${p}/stop`, { body: {}, env: account.env });
    await fetch(`${account.env.UPSTREAM_URL}/sessions/${p}/stop`, {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": account.key },
    });
  });

  it("refuses to delete a tenant while anything of it is live, then deletes it and its keys stop working", async () => {
    const t = await newTenant();
    const s = await expectJson<SessionView>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("busy", { steps: 1, outcome: "hang" }) },
      }),
      200,
    );
    expect(await expectJson(await admin(`/tenants/${t.tenantId}`, "DELETE"), 409)).toMatchObject({
      code: "conflict",
    });
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
    expect((await admin(`/tenants/${t.tenantId}`, "DELETE")).status).toBe(204);
    expect(await expectJson(await asTenant(t.key, "/api/v3/sessions"), 401)).toMatchObject({
      code: "invalid_api_key",
    });
    expect((await admin(`/tenants/${t.tenantId}`)).status).toBe(404);
    // Its ledger stays, for reports.
    const usage = await env.DB.prepare("SELECT count(*) AS n FROM usage WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<number>("n");
    expect(usage).toBe(1);
    expect((await admin(`/orgs/${t.orgId}`, "DELETE")).status).toBe(204);
    expect((await admin(`/orgs/${t.orgId}`)).status).toBe(404);
  });
});

describe("keys", () => {
  it("lists a tenant's keys without the key or its hash, with when each was last used", async () => {
    const t = await newTenant();
    const second = await expectJson<KeyView>(
      await admin(`/tenants/${t.tenantId}/keys`, "POST", { name: "reporting", scope: "read-only" }),
      201,
    );
    expect(second).toMatchObject({
      name: "reporting",
      scope: "read-only",
      expiresAt: null,
      key: expect.stringMatching(/^bugw_/),
    });
    await asTenant(t.key, "/api/v3/sessions");
    const { keys } = await expectJson<{ keys: KeyView[] }>(await admin(`/tenants/${t.tenantId}/keys`), 200);
    expect(keys.map((k) => k.name)).toEqual(["reporting", "test"]);
    expect(JSON.stringify(keys)).not.toContain(t.key);
    expect(JSON.stringify(keys)).not.toContain(second.key as string);
    expect(keys.every((k) => !("key" in k) && !("keyHash" in k))).toBe(true);
    expect(keys.find((k) => k.id === t.keyId)?.lastUsedAt).toEqual(expect.any(String));
    expect(keys.find((k) => k.id === second.id)?.lastUsedAt).toBeNull();
  });

  it("lets a read-only key read everything and change nothing", async () => {
    const t = await newTenant();
    const { key } = await expectJson<KeyView>(
      await admin(`/tenants/${t.tenantId}/keys`, "POST", { scope: "read-only" }),
      201,
    );
    const id = crypto.randomUUID();
    for (const path of [
      "/api/v3/sessions",
      "/api/v3/browsers",
      "/api/v3/profiles",
      "/api/v3/workspaces",
      "/api/v3/billing/account",
      "/gateway/v1/budget",
      "/gateway/v1/me",
    ]) {
      expect((await asTenant(key as string, path)).status, path).toBe(200);
    }
    for (const [method, path, body] of [
      ["POST", "/api/v3/sessions", { task: "t" }],
      ["POST", `/api/v3/sessions/${id}/stop`, {}],
      ["DELETE", `/api/v3/sessions/${id}`, undefined],
      ["POST", "/api/v3/browsers", {}],
      ["PATCH", `/api/v3/browsers/${id}`, { action: "stop" }],
      ["POST", "/api/v3/profiles", {}],
      ["DELETE", `/api/v3/workspaces/${id}`, undefined],
    ] as const) {
      const res = await asTenant(key as string, path, { method, body });
      expect(await expectJson(res, 403), `${method} ${path}`).toMatchObject({ code: "read_only_key" });
    }
    const holds = await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<number>("n");
    expect(holds).toBe(0);
  });

  it("refuses an expired key with 401 key_expired", async () => {
    const t = await newTenant();
    const soon = new Date(Date.now() + 60_000).toISOString();
    const issued = await expectJson<KeyView>(
      await admin(`/tenants/${t.tenantId}/keys`, "POST", { expiresAt: soon }),
      201,
    );
    expect(issued.expiresAt).toBe(soon);
    expect(
      (await admin(`/tenants/${t.tenantId}/keys`, "POST", { expiresAt: "2020-01-01T00:00:00Z" })).status,
    ).toBe(422);
    // Its minute passes (moved in the store: it has not been used, so nothing remembers it).
    await env.DB.prepare("UPDATE api_keys SET expires_at = ? WHERE id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), issued.id)
      .run();
    expect(await expectJson(await asTenant(issued.key as string, "/api/v3/sessions"), 401)).toMatchObject({
      code: "key_expired",
    });
  });

  it("rotates a key: a new one with the same name and scope, the old one working until its grace ends", async () => {
    const t = await newTenant();
    const old = await expectJson<KeyView>(
      await admin(`/tenants/${t.tenantId}/keys`, "POST", { name: "ci", scope: "read-only" }),
      201,
    );
    const fresh = await expectJson<KeyView>(
      await admin(`/keys/${old.id}/rotate`, "POST", { graceSeconds: 3600 }),
      201,
    );
    expect(fresh).toMatchObject({ name: "ci", scope: "read-only", expiresAt: null });
    expect(fresh.key).not.toBe(old.key);
    expect((await asTenant(old.key as string, "/api/v3/sessions")).status).toBe(200);
    expect((await asTenant(fresh.key as string, "/api/v3/sessions")).status).toBe(200);
    const { keys } = await expectJson<{ keys: KeyView[] }>(await admin(`/tenants/${t.tenantId}/keys`), 200);
    const oldExpiry = Date.parse(keys.find((k) => k.id === old.id)?.expiresAt ?? "");
    expect(oldExpiry - Date.now()).toBeGreaterThan(3_500_000);
    // With no grace, the old key is refused at once.
    const newest = await expectJson<KeyView>(
      await admin(`/keys/${fresh.id}/rotate`, "POST", { graceSeconds: 0 }),
      201,
    );
    expect(await expectJson(await asTenant(fresh.key as string, "/api/v3/sessions"), 401)).toMatchObject({
      code: "key_expired",
    });
    expect((await asTenant(newest.key as string, "/api/v3/sessions")).status).toBe(200);
    expect((await admin(`/keys/${fresh.id}/rotate`, "POST", {})).status).toBe(404);
  });
});
