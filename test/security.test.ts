import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { admin as adminApp } from "../src/routes/admin";
import {
  deliverToHook,
  ADMIN_TOKEN,
  adminPost,
  asTenant,
  eventually,
  expectJson,
  gateway,
  newTenant,
  type TestTenant,
} from "./helpers";

type Ids = { session: string; browser: string; profile: string; workspace: string };
type Route = { method: string; path: string; body?: (ids: Ids) => unknown };

/** Every /api/v3 route; `{kind}` stands for an id of that kind. */
const ROUTES: Route[] = [
  { method: "POST", path: "/sessions", body: () => ({ task: "[emu steps=1] hello" }) },
  { method: "GET", path: "/sessions" },
  { method: "GET", path: "/sessions/{session}" },
  { method: "DELETE", path: "/sessions/{session}" },
  { method: "POST", path: "/sessions/{session}/stop", body: () => ({ strategy: "session" }) },
  { method: "GET", path: "/sessions/{session}/messages" },
  { method: "POST", path: "/browsers", body: () => ({ timeout: 5 }) },
  { method: "GET", path: "/browsers" },
  { method: "GET", path: "/browsers/{browser}" },
  { method: "PATCH", path: "/browsers/{browser}", body: () => ({ action: "stop" }) },
  { method: "GET", path: "/browsers/{browser}/downloads" },
  { method: "POST", path: "/profiles", body: () => ({ name: "p" }) },
  { method: "GET", path: "/profiles" },
  { method: "GET", path: "/profiles/{profile}" },
  { method: "PATCH", path: "/profiles/{profile}", body: () => ({ name: "renamed" }) },
  { method: "DELETE", path: "/profiles/{profile}" },
  { method: "POST", path: "/workspaces", body: () => ({ name: "w" }) },
  { method: "GET", path: "/workspaces" },
  { method: "GET", path: "/workspaces/{workspace}" },
  { method: "PATCH", path: "/workspaces/{workspace}", body: () => ({ name: "renamed" }) },
  { method: "DELETE", path: "/workspaces/{workspace}" },
  { method: "GET", path: "/workspaces/{workspace}/files" },
  { method: "DELETE", path: "/workspaces/{workspace}/files?path=a.txt" },
  { method: "GET", path: "/workspaces/{workspace}/size" },
  {
    method: "POST",
    path: "/workspaces/{workspace}/files/upload",
    body: () => ({ files: [{ name: "a.txt", size: 1 }] }),
  },
  { method: "GET", path: "/billing/account" },
];

/** Every /gateway/v1 route: a tenant's own view, with the same key. */
const GATEWAY_ROUTES = ["/gateway/v1/me", "/gateway/v1/budget", "/gateway/v1/usage", "/gateway/v1/live"];

/** Routes that name another object inside the body rather than the path. */
const BODY_ID_ROUTES: (Route & { kind: keyof Ids })[] = [
  {
    kind: "session",
    method: "POST",
    path: "/sessions",
    body: (ids) => ({ task: "follow up", sessionId: ids.session }),
  },
  {
    kind: "profile",
    method: "POST",
    path: "/sessions",
    body: (ids) => ({ task: "t", profileId: ids.profile }),
  },
  {
    kind: "workspace",
    method: "POST",
    path: "/sessions",
    body: (ids) => ({ task: "t", workspaceId: ids.workspace }),
  },
  { kind: "profile", method: "POST", path: "/browsers", body: (ids) => ({ profileId: ids.profile }) },
];

const fill = (path: string, ids: Ids) => path.replace(/\{(\w+)\}/g, (_, kind: keyof Ids) => ids[kind]);
const kindOf = (path: string) => /\{(\w+)\}/.exec(path)?.[1] as keyof Ids | undefined;

function call(route: Route, ids: Ids, headers: Record<string, string>) {
  const body = route.body?.(ids);
  return gateway(`/api/v3${fill(route.path, ids)}`, {
    method: route.method,
    headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function rowCount(): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT (SELECT count(*) FROM resources) + (SELECT count(*) FROM usage) AS n",
  ).first<{ n: number }>();
  return row?.n ?? -1;
}

const logLines: string[] = [];
let owner: TestTenant;
let intruder: TestTenant;
let revoked: TestTenant;
let readOnlyKey: string;
let expiredKey: string;
let ids: Ids;
const unknownIds: Ids = {
  session: crypto.randomUUID(),
  browser: crypto.randomUUID(),
  profile: crypto.randomUUID(),
  workspace: crypto.randomUUID(),
};

beforeAll(async () => {
  for (const method of ["log", "info", "warn", "error"] as const) {
    vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      logLines.push(args.map(String).join(" "));
    });
  }
  owner = await newTenant();
  intruder = await newTenant();
  revoked = await newTenant(owner.orgId);
  const created = async (path: string, body: unknown, status: number) =>
    (await expectJson<{ id: string }>(await asTenant(owner.key, `/api/v3${path}`, { body }), status)).id;
  ids = {
    session: await created("/sessions", { task: "[emu steps=1] owner's task", keepAlive: true }, 200),
    browser: await created("/browsers", { timeout: 5 }, 201),
    profile: await created("/profiles", { name: "owner's" }, 201),
    workspace: await created("/workspaces", { name: "owner's" }, 201),
  };
  await gateway(`/admin/v1/keys/${revoked.keyId}`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  readOnlyKey = (await adminPost(`/admin/v1/tenants/${owner.tenantId}/keys`, { scope: "read-only" }))
    .key as string;
  const expired = await adminPost(`/admin/v1/tenants/${owner.tenantId}/keys`, {
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
  });
  // Its minute passes (moved in the store: it has never been used, so nothing remembers it).
  await env.DB.prepare("UPDATE api_keys SET expires_at = ? WHERE id = ?")
    .bind(new Date(Date.now() - 1000).toISOString(), expired.id)
    .run();
  expiredKey = expired.key as string;
});

afterAll(() => vi.restoreAllMocks());

describe.each(ROUTES)("$method $path", (route) => {
  it("answers 401 with no key, a malformed key, an unknown key and a revoked key, writing nothing", async () => {
    const before = await rowCount();
    const cases: [Record<string, string>, string][] = [
      [{}, "missing_api_key"],
      [{ "X-Browser-Use-API-Key": "garbage" }, "invalid_api_key"],
      [{ Authorization: "Bearer bu_someone_elses_upstream_key" }, "invalid_api_key"],
      [{ "X-Browser-Use-API-Key": `bugw_${"z".repeat(40)}` }, "invalid_api_key"],
      [{ "X-Browser-Use-API-Key": revoked.key }, "invalid_api_key"],
      [{ "X-Browser-Use-API-Key": expiredKey }, "key_expired"],
    ];
    for (const [headers, code] of cases) {
      const res = await call(route, ids, headers);
      expect(await expectJson(res, 401), JSON.stringify(headers)).toMatchObject({ code });
    }
    expect(await rowCount()).toBe(before);
  });

  if (route.method === "GET") {
    it("answers a read-only key of the owner as it answers the owner's full key", async () => {
      const full = await call(route, ids, { "X-Browser-Use-API-Key": owner.key });
      const readOnly = await call(route, ids, { "X-Browser-Use-API-Key": readOnlyKey });
      expect(readOnly.status).toBe(full.status);
      expect(full.status).toBeLessThan(400);
    });
  } else {
    it("refuses a read-only key of the owner with 403 read_only_key, writing and holding nothing", async () => {
      const holds = () =>
        env.DB.prepare("SELECT count(*) AS n FROM holds WHERE tenant_id = ?")
          .bind(owner.tenantId)
          .first<number>("n");
      const [rows, held] = [await rowCount(), await holds()];
      const res = await call(route, ids, { "X-Browser-Use-API-Key": readOnlyKey });
      expect(await expectJson(res, 403)).toMatchObject({ code: "read_only_key" });
      expect([await rowCount(), await holds()]).toEqual([rows, held]);
    });
  }

  const kind = kindOf(route.path);
  if (kind) {
    it(`answers another tenant's ${kind} exactly like an unknown ${kind}`, async () => {
      const theirs = await call(route, ids, { "X-Browser-Use-API-Key": intruder.key });
      const unknown = await call(route, unknownIds, { "X-Browser-Use-API-Key": intruder.key });
      const a = await expectJson<Record<string, unknown>>(theirs, 404);
      const b = await expectJson<Record<string, unknown>>(unknown, 404);
      expect({ ...a, requestId: null }).toEqual({ ...b, requestId: null });
    });
  }
});

describe.each(BODY_ID_ROUTES)("$method $path with another tenant's $kind in the body", (route) => {
  it("answers like an unknown id and writes nothing", async () => {
    const before = await rowCount();
    const theirs = await expectJson(await call(route, ids, { "X-Browser-Use-API-Key": intruder.key }), 404);
    const unknown = await expectJson(
      await call(route, unknownIds, { "X-Browser-Use-API-Key": intruder.key }),
      404,
    );
    expect({ ...theirs, requestId: null }).toEqual({ ...unknown, requestId: null });
    expect(await rowCount()).toBe(before);
  });
});

describe("lists", () => {
  it("never show another tenant's objects, not even in a count", async () => {
    for (const [path, items, total] of [
      ["/sessions", "sessions", "total"],
      ["/browsers", "items", "totalItems"],
      ["/profiles", "items", "totalItems"],
      ["/workspaces", "items", "totalItems"],
    ] as const) {
      const body = await expectJson<Record<string, unknown>>(
        await asTenant(intruder.key, `/api/v3${path}`),
        200,
      );
      expect(body[items], path).toEqual([]);
      expect(body[total], path).toBe(0);
    }
  });
});

describe.each(GATEWAY_ROUTES)("GET %s", (path) => {
  it("answers 401 to no key, an unknown, a revoked and an expired key; a read-only key reads", async () => {
    for (const [key, code] of [
      [undefined, "missing_api_key"],
      [`bugw_${"z".repeat(40)}`, "invalid_api_key"],
      [revoked.key, "invalid_api_key"],
      [expiredKey, "key_expired"],
    ] as const) {
      const headers: Record<string, string> = key ? { "X-Browser-Use-API-Key": key } : {};
      expect(await expectJson(await gateway(path, { headers }), 401), String(key)).toMatchObject({ code });
    }
    expect((await asTenant(readOnlyKey, path)).status).toBe(200);
  });
});

describe("a tenant's usage and hooks", () => {
  it("never show one tenant another's: a hook's session is its tenant's alone, and so is its usage", async () => {
    const hook = await adminPost<{ id: string; secret: string }>(
      `/admin/v1/tenants/${owner.tenantId}/hooks`,
      {
        name: "isolation",
        task: "[emu steps=1 cost=0.01] check {{order}}",
      },
    );
    const delivered = await deliverToHook(hook, JSON.stringify({ order: "A-1" }));
    const { sessionId } = await expectJson<{ sessionId: string }>(delivered, 202);
    await eventually(async () => {
      const s = await expectJson<{ status: string }>(
        await asTenant(owner.key, `/api/v3/sessions/${sessionId}`),
        200,
      );
      return s.status === "running" ? undefined : s;
    });
    const theirs = await expectJson(await asTenant(intruder.key, `/api/v3/sessions/${sessionId}`), 404);
    const unknown = await expectJson(
      await asTenant(intruder.key, `/api/v3/sessions/${crypto.randomUUID()}`),
      404,
    );
    expect({ ...theirs, requestId: null }).toEqual({ ...unknown, requestId: null });

    const usage = async (key: string) =>
      expectJson<{ totals: { sessions: number; totalCostUsd: string } }>(
        await asTenant(key, "/gateway/v1/usage?groupBy="),
        200,
      );
    expect((await usage(owner.key)).totals.sessions).toBeGreaterThan(0);
    expect((await usage(intruder.key)).totals).toMatchObject({ sessions: 0, totalCostUsd: "0" });
    for (const query of [`tenantId=${owner.tenantId}`, `orgId=${owner.orgId}`]) {
      const res = await asTenant(intruder.key, `/gateway/v1/usage?${query}`);
      expect(await expectJson(res, 403), query).toMatchObject({ code: "forbidden" });
    }
  });
});

describe("the admin API", () => {
  // Every route the admin app serves, read from the app itself, so a new one is covered too.
  const routes = adminApp.routes
    .filter((r) => r.method !== "ALL")
    .map((r) => ({ method: r.method, path: r.path.replace(/:(\w+)/g, () => crypto.randomUUID()) }));

  it("refuses a tenant's key on every route, however it is sent, with 401 and writing nothing", async () => {
    expect(routes.length).toBeGreaterThan(30);
    const before = await rowCount();
    for (const { method, path } of routes) {
      const attempts: Record<string, string>[] = [
        { "X-Browser-Use-API-Key": owner.key },
        { Authorization: `Bearer ${owner.key}` },
        { Authorization: `Bearer ${readOnlyKey}` },
      ];
      for (const headers of attempts) {
        const res = await gateway(`/admin/v1${path}`, {
          method,
          headers: { ...headers, "Content-Type": "application/json" },
          body: method === "GET" || method === "DELETE" ? undefined : "{}",
        });
        expect(await expectJson(res, 401), `${method} ${path}`).toMatchObject({ code: "admin_unauthorized" });
      }
    }
    expect(await rowCount()).toBe(before);
  });
});

describe("secrets", () => {
  it("never puts the upstream key or a tenant key in a response or a log line", async () => {
    const secrets = [env.BROWSER_USE_API_KEY, owner.key, intruder.key, revoked.key];
    const seen: string[] = [...logLines];
    for (const route of ROUTES) {
      for (const key of [owner.key, intruder.key]) {
        const res = await call(route, ids, { "X-Browser-Use-API-Key": key });
        seen.push(JSON.stringify([...res.headers]), await res.text());
      }
    }
    seen.push(...logLines);
    expect(logLines.length).toBeGreaterThan(ROUTES.length);
    for (const text of seen) for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
