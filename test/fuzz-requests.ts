/**
 * What the fuzz tests send (test/fuzz.test.ts): every route of /api/v3, /gateway/v1, /hooks, the
 * webhook receivers, /admin/v1 and the public ones (health, /openapi.json, /docs, the dashboard's
 * files), read from the app's route table (src/app.ts), and fast-check arbitraries for a request
 * to one of them. Field names and
 * enum values come from the route schemas (every exported zod object of the v3 schemas, the admin
 * routes and the policy document); the values mix what those schemas accept with hostile ones:
 * malformed and deeply nested JSON, huge strings and numbers, negative, NaN and exponent money,
 * unicode and NUL, `__proto__` and `constructor` keys, duplicate keys and headers, path traversal
 * in ids and file paths, odd content types and methods.
 */
import fc from "fast-check";
import { Webhook } from "standardwebhooks";
import { app } from "../src/app";
import { PolicyDocument } from "../src/policy/document";
import { UsageQuery } from "../src/reports/usage";
import { AlertBody } from "../src/routes/admin-alerts";
import { AuditQuery } from "../src/routes/admin-audit";
import { HookPatch, NewHook } from "../src/routes/admin-hooks";
import { NewKey, Rotation } from "../src/routes/admin-keys";
import { ListQuery, NameBody, SuspendBody } from "../src/routes/admin-orgs";
import { UpstreamBody } from "../src/routes/admin-upstreams";
import { StatusUpdate } from "../src/routes/upstream-webhooks";
import * as v3Schemas from "../src/v3/schemas";
import { hmacHex } from "./helpers";
import {
  CreateBrowserSessionRequest,
  FileUploadRequest,
  ListBrowsersQuery,
  ListFilesQuery,
  ListSessionsQuery,
  PageQuery,
  ProfileCreateRequest,
  RunTaskRequest,
  StopSessionRequest,
  UpdateBrowserSessionRequest,
  WorkspaceCreateRequest,
} from "../src/v3/schemas";

export type Family = "tenant" | "admin" | "hook" | "upstream-webhook" | "public";

export interface Route {
  method: string;
  /** With its `:param`s, e.g. `/api/v3/sessions/:session_id`. */
  path: string;
  family: Family;
}

/** The prefixes fuzzed, and how a request there is authorised. */
const FAMILIES: [string, Family][] = [
  ["/api/v3/", "tenant"],
  ["/gateway/v1/", "tenant"],
  ["/hooks/", "hook"],
  ["/webhooks/", "upstream-webhook"],
  ["/admin/v1/", "admin"],
  // What is left: health, the OpenAPI document and its page, the dashboard's files. No auth.
  ["/", "public"],
];

/**
 * Every route of the gateway's app (src/app.ts) under those prefixes, read from its route table; a
 * trailing wildcard (the dashboard's files) is the parameter `:path`, the rest of the path.
 */
export const ROUTES: Route[] = app.routes
  .filter((r) => r.method !== "ALL" && !r.path.slice(0, -1).includes("*"))
  .map((r) => ({ method: r.method, path: r.path.replace(/(.)\/$/, "$1").replace(/\/\*$/, "/:path") }))
  .flatMap(({ method, path }) => {
    const family = FAMILIES.find(([prefix]) => `${path}/`.startsWith(prefix))?.[1];
    return family ? [{ method, path, family }] : [];
  })
  .filter((r, i, all) => all.findIndex((o) => o.method === r.method && o.path === r.path) === i);

// ---- names and values from the schemas ----

interface ZodLike {
  shape?: Record<string, unknown>;
  options?: unknown[];
  def?: Record<string, unknown>;
  unwrap?: () => unknown;
}

/** Field names and string enum values found in a schema, a few levels down. */
function harvest(schema: unknown, keys: Set<string>, values: Set<string>, depth = 0): void {
  if (depth > 4 || !schema || typeof schema !== "object") return;
  const s = schema as ZodLike;
  if (s.shape && typeof s.shape === "object") {
    for (const [k, v] of Object.entries(s.shape)) {
      keys.add(k);
      harvest(v, keys, values, depth + 1);
    }
  }
  if (Array.isArray(s.options)) {
    for (const o of s.options) {
      if (typeof o === "string") values.add(o);
      else harvest(o, keys, values, depth + 1);
    }
  }
  for (const inner of ["innerType", "in", "out", "element", "valueType"])
    harvest(s.def?.[inner], keys, values, depth + 1);
}

const FIELD_NAMES = new Set<string>();
const ENUM_VALUES = new Set<string>();
for (const schema of [
  ...Object.values(v3Schemas),
  PolicyDocument,
  UsageQuery,
  AlertBody,
  AuditQuery,
  NewHook,
  HookPatch,
  NewKey,
  Rotation,
  NameBody,
  ListQuery,
  SuspendBody,
  UpstreamBody,
  StatusUpdate,
]) {
  harvest(schema, FIELD_NAMES, ENUM_VALUES);
}

export const SCHEMA_FIELDS = [...FIELD_NAMES];

/**
 * Per route: a valid body to start from (so a fuzzed field is checked past the required ones), and
 * the schemas its body and query are validated with, whose fields it mostly fuzzes.
 */
interface RouteShape {
  seed?: Record<string, unknown>;
  body?: unknown;
  query?: unknown;
}
const SHAPES: Record<string, RouteShape> = {
  "POST /api/v3/sessions": {
    seed: { task: "fuzz [emu steps=1 cost=0.001 stepMs=20]" },
    body: RunTaskRequest,
  },
  "GET /api/v3/sessions": { query: ListSessionsQuery },
  "POST /api/v3/sessions/:session_id/stop": { seed: { strategy: "task" }, body: StopSessionRequest },
  "POST /api/v3/browsers": { seed: { timeout: 1 }, body: CreateBrowserSessionRequest },
  "GET /api/v3/browsers": { query: ListBrowsersQuery },
  "PATCH /api/v3/browsers/:session_id": { seed: { action: "stop" }, body: UpdateBrowserSessionRequest },
  "POST /api/v3/profiles": { seed: { name: "p" }, body: ProfileCreateRequest },
  "PATCH /api/v3/profiles/:profile_id": { seed: { name: "p2" }, body: ProfileCreateRequest },
  "POST /api/v3/workspaces": { seed: { name: "w" }, body: WorkspaceCreateRequest },
  "PATCH /api/v3/workspaces/:workspace_id": { seed: { name: "w2" }, body: WorkspaceCreateRequest },
  "GET /api/v3/workspaces/:workspace_id/files": { query: ListFilesQuery },
  "DELETE /api/v3/workspaces/:workspace_id/files": { query: ListFilesQuery },
  "POST /api/v3/workspaces/:workspace_id/files/upload": {
    seed: { files: [{ name: "a.txt", contentType: "text/plain", size: 1 }] },
    body: FileUploadRequest,
    query: ListFilesQuery,
  },
  "GET /gateway/v1/usage": { query: UsageQuery },
  "GET /admin/v1/usage": { query: UsageQuery },
  "GET /admin/v1/audit": { query: AuditQuery },
  "GET /admin/v1/orgs": { query: ListQuery },
  "GET /admin/v1/orgs/:orgId/tenants": { query: ListQuery },
  "GET /admin/v1/orgs/:orgId/budgets": { query: ListQuery },
  "GET /admin/v1/orgs/:orgId/keys": { query: ListQuery },
  "GET /admin/v1/orgs/:orgId/hooks": { query: ListQuery },
  "POST /admin/v1/orgs": { seed: { name: "o" }, body: NameBody },
  "PATCH /admin/v1/orgs/:orgId": { seed: { name: "o2" }, body: NameBody },
  "POST /admin/v1/orgs/:orgId/tenants": { seed: { name: "t" }, body: NameBody },
  "PATCH /admin/v1/tenants/:tenantId": { seed: { name: "t2" }, body: NameBody },
  "POST /admin/v1/orgs/:orgId/suspend": { seed: { stopSessions: false }, body: SuspendBody },
  "POST /admin/v1/tenants/:tenantId/suspend": { seed: { stopSessions: false }, body: SuspendBody },
  "POST /admin/v1/tenants/:tenantId/keys": { seed: { name: "k" }, body: NewKey },
  "POST /admin/v1/keys/:keyId/rotate": { seed: { graceSeconds: 0 }, body: Rotation },
  "POST /admin/v1/tenants/:tenantId/hooks": { seed: { name: "h", task: "t {{a}}" }, body: NewHook },
  "PATCH /admin/v1/hooks/:hookId": { seed: { name: "h2" }, body: HookPatch },
  "PUT /admin/v1/orgs/:orgId/policy": {
    seed: { budget: { capUsd: "1", period: "month" } },
    body: PolicyDocument,
  },
  "PUT /admin/v1/tenants/:tenantId/policy": { seed: { maxTaskCostUsd: "0.5" }, body: PolicyDocument },
  "PUT /admin/v1/orgs/:orgId/alerts": { seed: { url: "https://example.com/alerts" }, body: AlertBody },
  "PUT /admin/v1/orgs/:orgId/upstream": { seed: { apiKey: "bu_fuzz_key" }, body: UpstreamBody },
  "POST /hooks/:hookId": { seed: { order: { id: "A-1" } } },
  "POST /webhooks/browser-use": {
    seed: { type: "agent.task.status_update", payload: { status: "stopped" } },
    body: StatusUpdate,
  },
  "POST /webhooks/browser-use/:orgId": {
    seed: { type: "agent.task.status_update", payload: { status: "stopped" } },
    body: StatusUpdate,
  },
};

/** How often a route is drawn: those that take a body or query of their own more often, where input bugs live. */
export const routeWeight = (route: Route) => {
  const shape = SHAPES[`${route.method} ${route.path}`];
  return shape?.body || shape?.seed ? 5 : shape?.query ? 3 : 1;
};

/** A route's own field names (its body's or query's schema), or every schema's when it has none. */
function fieldsOf(schema: unknown): string[] {
  const keys = new Set<string>();
  harvest(schema, keys, new Set());
  return keys.size > 0 ? [...keys] : SCHEMA_FIELDS;
}

const HOSTILE_STRINGS = [
  "",
  " ",
  "\u0000",
  "a\u0000b",
  "../../etc/passwd",
  "..\\..\\windows",
  "/absolute/path",
  "a/../../b",
  "%2e%2e%2f",
  "__proto__",
  "constructor",
  "prototype",
  "\r\nX-Injected: 1",
  "😀🏳️‍🌈",
  "\u202eevil",
  "\ud800",
  "NaN",
  "Infinity",
  "-1",
  "1e309",
  "0x10",
  "1.0000001",
  "-0",
  "1e-7",
  " 1 ",
  "1,5",
  "null",
  "{}",
  "'; DROP TABLE orgs;--",
  "$.a",
  "a=b",
  "=",
  "a:b",
  "k:v,k2:v2",
  "x".repeat(5_000),
];
const MONEY = [
  "-0.01",
  "NaN",
  "1e3",
  "1E-2",
  "0.0000001",
  "999999999999",
  "1.",
  ".5",
  "+1",
  "0x1",
  "١٢٣",
  "1_000",
  "0.01",
  "5",
];
const NUMBERS = [
  1e308,
  -1e308,
  2 ** 53 + 2,
  -0,
  1e-7,
  0.30000000000000004,
  -1,
  0,
  1,
  1.5,
  60,
  100_000,
  2_147_483_648,
];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ maxLength: 12, unit: "grapheme" }),
  fc.string({ maxLength: 8, unit: "binary" }),
);
const scalar = fc.oneof(
  hostileString,
  fc.constantFrom(...ENUM_VALUES),
  fc.constantFrom(...MONEY),
  fc.constantFrom(...NUMBERS),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.uuid(),
);
const keyOf = (fields: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...fields) },
    { weight: 1, arbitrary: fc.constantFrom(...SCHEMA_FIELDS) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "__proto__",
        "constructor",
        "prototype",
        "",
        "\u0000",
        "a.b",
        "$where",
        "toString",
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  );
const key = keyOf(SCHEMA_FIELDS);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    scalar,
    fc.array(tie("value"), { maxLength: 3 }),
    fc.dictionary(key, tie("value"), { maxKeys: 4 }),
  ),
}));

const nested = (depth: number, open: string, close: string, inner = "1") =>
  open.repeat(depth) + inner + close.repeat(depth);

/**
 * A request body as text, or none: mostly the route's valid seed with some of its fields (and
 * others) set to fuzzed values, else anything from hostile JSON to no body at all.
 */
function bodyText(shape: RouteShape): fc.Arbitrary<string | undefined> {
  const fields = keyOf(fieldsOf(shape.body));
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .tuple(fc.boolean(), fc.dictionary(fields, value, { maxKeys: 3 }))
        .map(([seeded, o]) => JSON.stringify(seeded && shape.seed ? { ...shape.seed, ...o } : o)),
    },
    { weight: 3, arbitrary: fc.dictionary(key, value, { maxKeys: 6 }).map((o) => JSON.stringify(o)) },
    { weight: 1, arbitrary: value.map((v) => JSON.stringify(v) ?? "null") },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        "{",
        '{"task":',
        "[1,2",
        "\u0000",
        "nul",
        "",
        "null",
        "[]",
        "1",
        '"a string"',
        "{'single': 'quotes'}",
        '{"task":"a","task":"b"}',
        '{"maxCostUsd":"0.01","maxCostUsd":"-1"}',
        '{"__proto__":{"polluted":true},"task":"x"}',
        '{"constructor":{"prototype":{"polluted":true}}}',
        '{"name":"x","__proto__":{"polluted":true}}',
        '{"maxCostUsd":1e999,"task":"x"}',
        '{"maxCostUsd":-0,"task":"x"}',
        '{"timeout":1e308}',
        '{"maxCostUsd":NaN}',
        '{"budget":{"capUsd":"1e3","period":"month"}}',
        '{"budget":{"capUsd":"-5","period":"none"}}',
        '{"task":"\\ud800"}',
        '{"task":"x"}\u0000',
        "\ufeff{}",
      ),
    },
    {
      weight: 2,
      arbitrary: fc
        .integer({ min: 60, max: 30_000 })
        .chain((depth) =>
          fc.constantFrom(
            nested(depth, "[", "]"),
            nested(depth, '{"a":', "}"),
            `{"task":"x","outputSchema":${nested(depth, '{"a":', "}")}}`,
            `{"name":"x","options":${nested(depth, '{"a":', "}")}}`,
            `{"payload":${nested(depth, "[", "]")}}`,
            `{"metadata":${nested(depth, '{"a":', "}", "{}")}}`,
          ),
        ),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(200_000, 300_000)
        .map((n) => JSON.stringify({ task: "x".repeat(n), name: "x" })),
    },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );
}

const CONTENT_TYPES = [
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/jsonx",
  "application/merge-patch+json",
  "",
];

/** The ids a fuzzed path may name: real ones (by param name), a random uuid, or hostile text. */
export type RealIds = Record<string, string>;

const hostileSegment = fc.constantFrom(
  "..",
  "%2e%2e",
  "..%2f..%2fadmin%2fv1%2forgs",
  "a/../../admin/v1/orgs",
  "%00",
  "%u0000",
  encodeURIComponent("é😀"),
  "x".repeat(3_000),
  "__proto__",
  "constructor",
  "00000000-0000-0000-0000-000000000000",
  "%27%20OR%201%3D1",
  "%",
  "%zz",
  "*",
);

/** The rest of a path after a wildcard (`:path`): one of the dashboard's files, none, or hostile. */
const restOfPath = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      "",
      "index.html",
      "js/app.js",
      "dashboard.css",
      "favicon.svg",
      "vendor/uPlot.min.css",
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "js/nope.js",
      "../wrangler.toml",
      "..%2f..%2fwrangler.toml",
      "%2e%2e/%2e%2e/package.json",
      "js/../../../src/index.ts",
      "js//app.js",
      "INDEX.HTML",
      "index.html%00.js",
    ),
  },
  { weight: 2, arbitrary: hostileSegment },
);

function pathArbitrary(route: Route, ids: RealIds): fc.Arbitrary<string> {
  const params = route.path.match(/:\w+/g) ?? [];
  if (params.length === 0) return fc.constant(route.path);
  return fc
    .tuple(
      ...params.map((p) =>
        p === ":path" && route.family === "public"
          ? restOfPath
          : fc.oneof(
              { weight: 5, arbitrary: fc.constant(ids[p.slice(1)] ?? crypto.randomUUID()) },
              { weight: 1, arbitrary: fc.constant((ids[p.slice(1)] ?? crypto.randomUUID()).toUpperCase()) },
              { weight: 2, arbitrary: fc.uuid() },
              { weight: 3, arbitrary: hostileSegment },
            ),
      ),
    )
    .map((values) => {
      let i = 0;
      return route.path.replace(/:\w+/g, () => values[i++] ?? "");
    });
}

const queryValue = fc.oneof(
  fc.constantFrom(...ENUM_VALUES),
  hostileString,
  fc.constantFrom(...MONEY),
  fc.integer().map(String),
  fc.uuid(),
  fc.constantFrom("2026-11-01", "2026-13-45", "2026-11-01T00:00:00Z", "Europe/Berlin", "Mars/Olympus"),
);
/** Percent-encodes, lone surrogates (which encodeURIComponent refuses) as U+FFFD. */
const encode = (s: string) =>
  encodeURIComponent(
    s.replace(/[\ud800-\udfff]/g, (c, i: number) => {
      const pair = /[\ud800-\udbff][\udc00-\udfff]/;
      return pair.test(s.slice(i, i + 2)) || pair.test(s.slice(i - 1, i + 1)) ? c : "\ufffd";
    }),
  );

const queryString = (fields: string[]) =>
  fc
    .array(
      fc.tuple(
        fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom(...fields) },
          { weight: 1, arbitrary: hostileString },
        ),
        queryValue,
        fc.boolean(),
      ),
      { maxLength: 5 },
    )
    .map((pairs) =>
      pairs.length === 0
        ? ""
        : `?${pairs
            .map(([k, v, raw]) =>
              raw ? `${k.replace(/[#\s]/g, "")}=${v.replace(/[#\s]/g, "")}` : `${encode(k)}=${encode(v)}`,
            )
            .join("&")}`,
    );

export interface Credentials {
  tenantKey: string;
  readOnlyKey: string;
  adminToken: string;
  hookSecret: string;
  upstreamWebhookSecret: string;
}

export interface FuzzRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body?: string;
  /** Sign the body as the route's sender would (hooks, Browser Use's webhook). */
  sign: boolean;
}

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "PROPFIND", "get"];

/** A request to `route`: mostly its own method, with fuzzed path ids, query, headers and body. */
export function requestArbitrary(route: Route, ids: RealIds, creds: Credentials): fc.Arbitrary<FuzzRequest> {
  const shape = SHAPES[`${route.method} ${route.path}`] ?? {};
  const auth: fc.Arbitrary<[string, string][]> =
    route.family === "admin"
      ? fc.constantFrom<[string, string][]>(
          [["Authorization", `Bearer ${creds.adminToken}`]],
          [["Authorization", `Bearer ${creds.adminToken}`]],
          [["Authorization", `Bearer ${creds.adminToken}`]],
          [],
          [["Authorization", "Bearer wrong"]],
          [["Authorization", `Bearer ${creds.adminToken} extra`]],
          [
            ["Authorization", `Bearer ${creds.adminToken}`],
            ["Authorization", "Bearer second"],
          ],
          [["Authorization", `Bearer ${creds.tenantKey}`]],
        )
      : route.family === "tenant"
        ? fc.constantFrom<[string, string][]>(
            [["X-Browser-Use-API-Key", creds.tenantKey]],
            [["X-Browser-Use-API-Key", creds.tenantKey]],
            [["X-Browser-Use-API-Key", creds.tenantKey]],
            [["X-Browser-Use-API-Key", creds.tenantKey]],
            [["Authorization", `Bearer ${creds.tenantKey}`]],
            [["X-Browser-Use-API-Key", creds.readOnlyKey]],
            [],
            [["X-Browser-Use-API-Key", "bu_nope"]],
            [
              ["X-Browser-Use-API-Key", creds.tenantKey],
              ["X-Browser-Use-API-Key", creds.tenantKey],
            ],
          )
        : route.family === "public"
          ? fc.constantFrom<[string, string][]>(
              [],
              [],
              [["X-Browser-Use-API-Key", creds.tenantKey]],
              [["Authorization", `Bearer ${creds.adminToken}`]],
              [["Authorization", "Bearer wrong"]],
            )
          : fc.constant<[string, string][]>([]);
  const extra = fc.array(
    fc.oneof(
      fc.tuple(fc.constant("Idempotency-Key"), hostileString),
      fc.tuple(fc.constant("X-Actor"), hostileString),
      fc.tuple(fc.constant("X-Request-Id"), hostileString),
      fc.tuple(fc.constant("Content-Type"), fc.constantFrom(...CONTENT_TYPES)),
      fc.tuple(fc.constantFrom("webhook-id", "webhook-timestamp", "webhook-signature"), hostileString),
      fc.tuple(fc.constantFrom("X-Browser-Use-Timestamp", "X-Browser-Use-Signature"), hostileString),
      fc.tuple(fc.constant("Content-Length"), fc.constantFrom("0", "-1", "99999999999", "abc")),
    ),
    { maxLength: 3 },
  );
  return fc
    .record({
      method: fc.oneof(
        { weight: 9, arbitrary: fc.constant(route.method) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      path: pathArbitrary(route, ids),
      query: fc.oneof(
        { weight: shape.query ? 1 : 2, arbitrary: fc.constant("") },
        { weight: shape.query ? 3 : 1, arbitrary: queryString(fieldsOf(shape.query ?? PageQuery)) },
      ),
      contentType: fc.oneof(
        { weight: 8, arbitrary: fc.constant("application/json") },
        { weight: 1, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
      ),
      auth,
      extra,
      body: bodyText(shape),
      sign: fc.boolean(),
    })
    .map((r) => ({
      method: r.method,
      url: `https://gateway.test${r.path}${r.query}`,
      headers: [["Content-Type", r.contentType], ...r.auth, ...r.extra] as [string, string][],
      body: ["GET", "HEAD", "get"].includes(r.method) ? undefined : r.body,
      sign: r.sign,
    }));
}

/**
 * The Request to send, or null when no client could send it (a header value with CR/LF or NUL is
 * refused by the runtime's Headers before anything leaves). Signed requests carry a valid signature
 * of their body, so the fuzz also reaches what comes after the signature check.
 */
export async function toRequest(r: FuzzRequest, route: Route, creds: Credentials): Promise<Request | null> {
  const headers = new Headers();
  try {
    for (const [name, v] of r.headers) headers.append(name, v);
    if (r.sign && route.family === "hook") {
      const id = `msg_${crypto.randomUUID()}`;
      const at = new Date();
      headers.set("webhook-id", id);
      headers.set("webhook-timestamp", String(Math.floor(at.getTime() / 1000)));
      headers.set("webhook-signature", new Webhook(creds.hookSecret).sign(id, at, r.body ?? ""));
    }
    if (r.sign && route.family === "upstream-webhook") {
      const timestamp = String(Math.floor(Date.now() / 1000));
      headers.set("X-Browser-Use-Timestamp", timestamp);
      headers.set(
        "X-Browser-Use-Signature",
        await hmacHex(creds.upstreamWebhookSecret, `${timestamp}.${r.body ?? ""}`),
      );
    }
    return new Request(r.url, { method: r.method, headers, body: r.body });
  } catch {
    return null;
  }
}
