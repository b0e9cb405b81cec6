import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createLogger, logLevel } from "../src/lib/log";
import { ADMIN_TOKEN, adminPost, asTenant, expectJson, gateway, newTenant } from "./helpers";

const admin = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  gateway(path, {
    method: init.method ?? "POST",
    headers: {
      Authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`,
      ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });

describe("health", () => {
  it("answers 200 with a request id once D1 is migrated", async () => {
    const res = await gateway("/healthz");
    expect(await expectJson(res, 200)).toEqual({ status: "ok" });
    expect(res.headers.get("X-Request-Id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("keeps a well-formed incoming X-Request-Id", async () => {
    const res = await gateway("/healthz", { headers: { "X-Request-Id": "trace-abc-12345" } });
    expect(res.headers.get("X-Request-Id")).toBe("trace-abc-12345");
  });

  it("answers a known path with a wrong method 405 with Allow, as FastAPI does", async () => {
    const res = await gateway("/healthz", { method: "POST" });
    expect(await expectJson(res, 405)).toMatchObject({
      detail: "Method Not Allowed",
      code: "method_not_allowed",
    });
    expect(res.headers.get("Allow")).toBe("GET");
    const t = await newTenant();
    const put = await asTenant(t.key, "/api/v3/sessions", { method: "PUT" });
    expect(put.status).toBe(405);
    expect(put.headers.get("Allow")?.split(", ").sort()).toEqual(["GET", "POST"]);
    const stop = await asTenant(t.key, `/api/v3/sessions/${crypto.randomUUID()}/stop`, { method: "GET" });
    expect(stop.headers.get("Allow")).toBe("POST");
    expect((await asTenant(t.key, "/api/v3/sessions/")).status).toBe(404);
  });

  it("answers unknown routes 404 in the error shape", async () => {
    const body = await expectJson(await gateway("/nope"), 404);
    expect(body).toMatchObject({ detail: "Not Found", code: "not_found" });
    expect(body.requestId).toEqual(expect.any(String));
  });
});

describe("admin API", () => {
  it("refuses a missing or wrong admin token with 401", async () => {
    const missing = await gateway("/admin/v1/orgs", { method: "POST", body: "{}" });
    expect(await expectJson(missing, 401)).toMatchObject({ code: "admin_unauthorized" });
    const wrong = await admin("/admin/v1/orgs", { body: { name: "x" }, token: "not-the-token" });
    expect(await expectJson(wrong, 401)).toMatchObject({ code: "admin_unauthorized" });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM orgs WHERE name = 'x'").first("n")).toBe(0);
  });

  it("creates an org, a tenant and a key shown once and stored only as a hash", async () => {
    const org = await adminPost("/admin/v1/orgs", { name: "Acme" });
    expect(org).toMatchObject({ id: expect.any(String), name: "Acme" });
    const tenant = await adminPost(`/admin/v1/orgs/${org.id}/tenants`, { name: "Team A" });
    expect(tenant).toMatchObject({ id: expect.any(String), orgId: org.id, name: "Team A" });
    const key = await adminPost(`/admin/v1/tenants/${tenant.id}/keys`, { name: "ci" });
    expect(key.key as string).toMatch(/^bugw_[0-9A-Za-z]{40}$/);
    expect(String(key.key).startsWith(String(key.prefix))).toBe(true);

    const row = await env.DB.prepare("SELECT * FROM api_keys WHERE id = ?")
      .bind(key.id)
      .first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(String(key.key));
    expect(row?.key_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("answers 404 for a tenant under an unknown org and a key for an unknown tenant", async () => {
    const unknown = crypto.randomUUID();
    expect((await admin(`/admin/v1/orgs/${unknown}/tenants`, { body: { name: "t" } })).status).toBe(404);
    expect((await admin(`/admin/v1/tenants/${unknown}/keys`, { body: { name: "k" } })).status).toBe(404);
  });

  it("validates admin bodies with 422", async () => {
    const res = await admin("/admin/v1/orgs", { body: { name: "" } });
    const body = await expectJson<{ detail: { loc: string[] }[] }>(res, 422);
    expect(body.detail[0]?.loc).toEqual(["body", "name"]);
    const extra = await admin("/admin/v1/orgs", { body: { name: "ok", admin: true } });
    expect((await expectJson<{ detail: { type: string }[] }>(extra, 422)).detail[0]?.type).toBe(
      "extra_forbidden",
    );
  });
});

describe("tenant keys", () => {
  it("accepts the key in X-Browser-Use-API-Key and in Authorization: Bearer", async () => {
    const t = await newTenant();
    expect((await asTenant(t.key, "/api/v3/billing/account")).status).toBe(200);
    const bearer = await gateway("/api/v3/billing/account", {
      headers: { Authorization: `Bearer ${t.key}` },
    });
    expect(bearer.status).toBe(200);
  });

  it("refuses a missing key with 401 missing_api_key and a wrong one with 401 invalid_api_key", async () => {
    expect(await expectJson(await gateway("/api/v3/sessions"), 401)).toMatchObject({
      code: "missing_api_key",
    });
    const malformed = await asTenant("bu_not_a_gateway_key", "/api/v3/sessions");
    expect(await expectJson(malformed, 401)).toMatchObject({ code: "invalid_api_key" });
    const unknown = await asTenant(`bugw_${"A".repeat(40)}`, "/api/v3/sessions");
    expect(await expectJson(unknown, 401)).toMatchObject({ code: "invalid_api_key" });
  });

  it("stops accepting a key once it is revoked", async () => {
    const t = await newTenant();
    expect((await asTenant(t.key, "/api/v3/sessions")).status).toBe(200);
    expect((await admin(`/admin/v1/keys/${t.keyId}`, { method: "DELETE" })).status).toBe(204);
    expect(await expectJson(await asTenant(t.key, "/api/v3/sessions"), 401)).toMatchObject({
      code: "invalid_api_key",
    });
    expect((await admin(`/admin/v1/keys/${t.keyId}`, { method: "DELETE" })).status).toBe(404);
  });
});

describe("logging", () => {
  it("writes JSON lines with the base fields, and drops lines below LOG_LEVEL", () => {
    const lines: string[] = [];
    const spies = (["log", "error"] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((line: unknown) => {
        lines.push(String(line));
      }),
    );
    try {
      createLogger({ requestId: "r1" }, logLevel("warn")).info("request", { status: 200 });
      createLogger({ requestId: "r2" }, logLevel("warn")).warn("slow", { ms: 9 });
      createLogger({ requestId: "r3" }, logLevel(undefined)).info("request");
      createLogger({ requestId: "r4" }, logLevel("nonsense")).error("broken");
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({ level: "warn", event: "slow", requestId: "r2", ms: 9 }),
      expect.objectContaining({ level: "info", event: "request", requestId: "r3" }),
      expect.objectContaining({ level: "error", event: "broken", requestId: "r4" }),
    ]);
  });
});
