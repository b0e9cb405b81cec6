import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../src/index";
import {
  type Credentials,
  type Family,
  type RealIds,
  ROUTES,
  requestArbitrary,
  type Route,
  routeWeight,
  toRequest,
} from "./fuzz-requests";
import {
  ADMIN_TOKEN,
  emuTask,
  expectJson,
  gateway,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  type UpstreamAccount,
} from "./helpers";

// Property-based fuzzing of every route (fuzz-requests.ts): whatever arrives, the answer is a
// success or a 4xx in the documented shape, never a 5xx; a request the gateway refuses changes no
// row, opens no hold, moves no counter and calls nothing upstream. FUZZ_RUNS sets the runs per
// family (npm run fuzz); FUZZ_SEED replays a failure fast-check reported.

const RUNS = Number(env.FUZZ_RUNS) || 0;
const SEED = env.FUZZ_SEED ? Number(env.FUZZ_SEED) : undefined;
/** Refusals the gateway counts in the audit log after answering (middleware/record-refusals.ts). */
const RECORDED_REFUSALS = new Set([402, 403, 429]);

let account: UpstreamAccount;
let creds: Credentials;
/** Ids the tenant routes may name (the tenant's own), and those the admin routes may (a victim's). */
let tenantIds: RealIds;
let adminIds: RealIds;
let tables: string[];

const admin = (path: string, method: string, body?: unknown) =>
  gateway(`/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

beforeAll(async () => {
  account = await newUpstreamAccount();
  const t = await newTenant();
  await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" }, maxTaskCostUsd: "0.05" });
  const readOnly = await expectJson<{ key: string }>(
    await admin(`/tenants/${t.tenantId}/keys`, "POST", { name: "read", scope: "read-only" }),
    201,
  );
  const hook = await expectJson<{ id: string; secret: string }>(
    await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
      name: "fuzz",
      task: "Order {{order.id}} [emu steps=1]",
    }),
    201,
  );
  const as = async (path: string, body: unknown, status: number) =>
    (
      await expectJson<{ id: string }>(
        await gateway(
          path,
          {
            method: "POST",
            headers: { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" },
            body: JSON.stringify(body),
          },
          account.env,
        ),
        status,
      )
    ).id;
  const session = await as(
    "/api/v3/sessions",
    { task: emuTask("fuzz", { steps: 1, cost: "0.001" }), keepAlive: true },
    200,
  );
  const browser = await as("/api/v3/browsers", { timeout: 1 }, 201);
  const profile = await as("/api/v3/profiles", {}, 201);
  const workspace = await as("/api/v3/workspaces", {}, 201);
  tenantIds = {
    session_id: session,
    browser_id: browser,
    profile_id: profile,
    workspace_id: workspace,
    hookId: hook.id,
    orgId: t.orgId,
  };

  const victim = await newTenant();
  const victimHook = await expectJson<{ id: string }>(
    await admin(`/tenants/${victim.tenantId}/hooks`, "POST", { name: "victim", task: "x" }),
    201,
  );
  adminIds = { orgId: victim.orgId, tenantId: victim.tenantId, keyId: victim.keyId, hookId: victimHook.id };
  creds = {
    tenantKey: t.key,
    readOnlyKey: readOnly.key,
    adminToken: ADMIN_TOKEN,
    hookSecret: hook.secret,
    upstreamWebhookSecret: env.BROWSER_USE_WEBHOOK_SECRET,
  };
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'",
  ).all<{ name: string }>();
  tables = results.map((r) => r.name);
});

/** Every row of every table (a key's last use aside: reading it is not a write the caller asked for). */
async function snapshot(): Promise<Record<string, string>> {
  const results = await env.DB.batch(tables.map((t) => env.DB.prepare(`SELECT * FROM "${t}"`)));
  return Object.fromEntries(
    tables.map((t, i) => [
      t,
      JSON.stringify(
        (results[i]?.results ?? []).map((row) =>
          t === "api_keys" ? { ...(row as object), last_used_at: null } : row,
        ),
      ),
    ]),
  );
}

const upstreamCalls = async () =>
  Object.values(
    (await account.control<{ requests: Record<string, number> }>("GET", "/stats")).requests,
  ).reduce((a, b) => a + b, 0);

const idsFor = (route: Route): RealIds => {
  if (route.family === "admin") return adminIds;
  // Browsers name their id `session_id` in the v3 paths.
  return route.path.includes("/browsers/")
    ? { ...tenantIds, session_id: tenantIds.browser_id ?? "" }
    : tenantIds;
};

/** What one fuzzed request must satisfy; throws (with the request in the message) when it does not. */
async function check(request: Request): Promise<number> {
  const before = await snapshot();
  const calls = await upstreamCalls();
  const ctx = createExecutionContext();
  const res = await worker.fetch(request.clone(), account.env, ctx);
  await waitOnExecutionContext(ctx);
  const text = await res.text();
  const where = `${request.method} ${request.url.slice(0, 300)} [${[...request.headers].map(([k, v]) => `${k}: ${v.slice(0, 60)}`).join("; ")}] → ${res.status} ${text.slice(0, 400)}`;
  expect(res.status, where).toBeLessThan(500);
  expect((Object.prototype as Record<string, unknown>).polluted, where).toBeUndefined();
  if (res.status < 400 || request.method === "HEAD") return res.status;

  let body: { detail?: unknown; code?: unknown; requestId?: unknown };
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`a ${res.status} that is not JSON: ${where}`);
  }
  const detailOk =
    typeof body.detail === "string" ||
    (Array.isArray(body.detail) &&
      body.detail.every(
        (i: { loc?: unknown; msg?: unknown; type?: unknown }) =>
          Array.isArray(i.loc) && typeof i.msg === "string" && typeof i.type === "string",
      ));
  expect(detailOk, `detail: ${where}`).toBe(true);
  const after = await snapshot();
  if (typeof body.code === "string") {
    // Refused by the gateway itself: nothing changed, nothing went upstream.
    expect(typeof body.requestId, where).toBe("string");
    if (RECORDED_REFUSALS.has(res.status)) after.audit_log = before.audit_log ?? "";
    for (const table of tables) expect(after[table], `${table} changed: ${where}`).toBe(before[table]);
    expect(await upstreamCalls(), `upstream called: ${where}`).toBe(calls);
  } else {
    // Upstream's own refusal, passed through: no money moved or stayed held.
    expect(after.budget_counters, `counters moved: ${where}`).toBe(before.budget_counters);
    const open = await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE state = 'open'").first<number>(
      "n",
    );
    const openBefore = JSON.parse(before.holds ?? "[]").filter(
      (h: { state: string }) => h.state === "open",
    ).length;
    expect(open, `a hold left open: ${where}`).toBe(openBefore);
  }
  return res.status;
}

/**
 * How deep a family's requests must reach for the run to count: tenant and admin requests that
 * succeed, and deliveries past the signature check (anything but 401).
 */
const REACHED: Record<Family, (status: number) => boolean> = {
  tenant: (s) => s < 300,
  admin: (s) => s < 300,
  hook: (s) => s !== 401,
  "upstream-webhook": (s) => s !== 401,
  public: (s) => s < 400,
};

function fuzzFamily(family: Family, runs: number) {
  const routes = ROUTES.filter((r) => r.family === family);
  it(`${family} routes (${routes.length}): a 4xx in the documented shape or a success, never a 5xx; a refusal changes nothing`, async () => {
    expect(routes.length).toBeGreaterThan(0);
    const statuses: number[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc
          .oneof(...routes.map((route) => ({ weight: routeWeight(route), arbitrary: fc.constant(route) })))
          .chain((route) => requestArbitrary(route, idsFor(route), creds).map((r) => ({ route, r }))),
        async ({ route, r }) => {
          const request = await toRequest(r, route, creds);
          if (request) statuses.push(await check(request));
        },
      ),
      { numRuns: RUNS || runs, seed: SEED, endOnFailure: RUNS === 0 },
    );
    // A fuzz whose requests all bounce off the first check would prove little.
    expect(statuses.filter(REACHED[family]).length, statuses.join(" ")).toBeGreaterThan(0);
  }, 600_000);
}

describe("fuzzing every route", () => {
  it("covers every route: the gateway knows each one's path (an unknown method there is 405)", async () => {
    expect(ROUTES.length).toBeGreaterThan(60);
    for (const family of ["tenant", "admin", "hook", "upstream-webhook", "public"]) {
      expect(
        ROUTES.some((r) => r.family === family),
        family,
      ).toBe(true);
    }
    for (const route of ROUTES) {
      const path = route.path.replace(/:\w+/g, () => crypto.randomUUID());
      const auth: Record<string, string> =
        route.family === "admin"
          ? { Authorization: `Bearer ${ADMIN_TOKEN}` }
          : route.family === "tenant"
            ? { "X-Browser-Use-API-Key": creds.tenantKey }
            : {};
      const res = await gateway(path, { method: "PROPFIND", headers: auth }, account.env);
      expect(res.status, `${route.method} ${path}: ${await res.text()}`).toBe(405);
      expect(res.headers.get("Allow")?.split(", "), path).toContain(route.method);
    }
  });

  fuzzFamily("tenant", 160);
  fuzzFamily("admin", 160);
  fuzzFamily("hook", 50);
  fuzzFamily("upstream-webhook", 50);
  fuzzFamily("public", 40);
});
