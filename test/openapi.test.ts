import { describe, expect, it } from "vitest";
import { app } from "../src/app";
import { pageContentSecurityPolicy } from "../src/openapi/page-style";
import { apiDocsFiles } from "../src/openapi/static-files";
import { GatewayRunTaskRequest } from "../src/routes/v3/sessions";
import { ADMIN_TOKEN, expectJson, gateway, newTenant } from "./helpers";
import { documentProblem } from "./response-conformance";

type Operation = {
  operationId?: string;
  summary?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required: boolean }[];
  requestBody?: { required: boolean; content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<string, { content?: Record<string, unknown> }>;
};
type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  /** The events the gateway posts out, by type. */
  webhooks: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>> };
};

async function document(): Promise<Doc> {
  const res = await gateway("/openapi.json");
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  return expectJson<Doc>(res, 200);
}

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op })),
  );

describe("GET /openapi.json", () => {
  it("lists exactly the routes the app serves, by method and path", async () => {
    const doc = await document();
    // `.use()` middleware is registered as method ALL on a wildcard path; anything else is a route.
    const middleware = app.routes.filter((r) => r.method === "ALL");
    expect(middleware.filter((r) => !r.path.endsWith("*")).map((r) => r.path)).toEqual([]);
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL")
        .map(
          (r) => `${r.method} ${r.path.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}").replace(/\/\*$/, "/{path}")}`,
        ),
    );
    const documented = new Set(operations(doc).map((o) => `${o.method.toUpperCase()} ${o.path}`));
    expect([...served].filter((r) => !documented.has(r)).sort(), "served, not documented").toEqual([]);
    expect([...documented].filter((r) => !served.has(r)).sort(), "documented, not served").toEqual([]);
    expect(served.size).toBeGreaterThan(60);
  });

  it("describes every surface the gateway serves, each route with its own words and a success (or redirect)", async () => {
    const doc = await document();
    expect(doc.openapi).toBe("3.1.0");
    const all = operations(doc);
    // A route without describeRoute() would be here without an operationId.
    const undescribed = all
      .filter(({ op }) => !op.operationId || !op.summary)
      .map((o) => `${o.method} ${o.path}`);
    expect(undescribed).toEqual([]);
    const ids = all.map(({ op }) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const withoutSuccess = all.filter(({ op }) => !Object.keys(op.responses).some((s) => /^[23]/.test(s)));
    expect(withoutSuccess.map((o) => `${o.method} ${o.path}`)).toEqual([]);
    for (const path of [
      "/healthz",
      "/openapi.json",
      "/docs",
      "/api/v3/sessions",
      "/api/v3/sessions/{session_id}/messages",
      "/api/v3/browsers/{session_id}/downloads",
      "/api/v3/workspaces/{workspace_id}/files/upload",
      "/api/v3/billing/account",
      "/gateway/v1/usage",
      "/hooks/{hookId}",
      "/webhooks/browser-use",
      "/webhooks/browser-use/{orgId}",
      "/admin/v1/orgs/{orgId}/upstream",
      "/admin/v1/audit",
      "/admin/v1/usage",
      "/admin/v1/live",
      "/admin/v1/tenants/{tenantId}/budget",
      "/admin/v1/orgs/{orgId}/budgets",
      "/admin/v1/orgs/{orgId}/keys",
      "/admin/v1/orgs/{orgId}/hooks",
      "/gateway/v1/live",
      "/dashboard/{path}",
      "/admin/v1/orgs/{orgId}/suspend",
      "/admin/v1/keys/{keyId}/rotate",
      "/admin/v1/deliveries/{deliveryId}/redeliver",
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
  });

  it("takes each input from the schema its route validates with", async () => {
    const doc = await document();
    const create = doc.paths["/api/v3/sessions"]?.post;
    const body = create?.requestBody?.content["application/json"]?.schema;
    // The gateway refuses unknown fields, and the document says so.
    expect(body).toMatchObject({ type: "object", additionalProperties: false });
    expect(Object.keys(body?.properties as object).sort()).toEqual(
      Object.keys(GatewayRunTaskRequest.shape).sort(),
    );
    expect(create?.parameters).toContainEqual(
      expect.objectContaining({ name: "Idempotency-Key", in: "header" }),
    );
    expect(create?.security).toEqual([{ tenantKey: [] }, { tenantBearer: [] }]);
    // Path ids, query defaults, and the admin token on admin routes.
    const list = doc.paths["/api/v3/sessions"]?.get;
    expect(list?.parameters).toEqual([
      expect.objectContaining({
        name: "page",
        in: "query",
        required: false,
        schema: expect.objectContaining({ default: 1 }),
      }),
      expect.objectContaining({
        name: "page_size",
        in: "query",
        schema: expect.objectContaining({ default: 20 }),
      }),
    ]);
    expect(doc.paths["/api/v3/sessions/{session_id}"]?.get?.parameters).toEqual([
      expect.objectContaining({ name: "session_id", in: "path", required: true }),
    ]);
    expect(doc.paths["/admin/v1/orgs"]?.post?.security).toEqual([{ adminToken: [] }]);
    expect(doc.paths["/healthz"]?.get?.security).toBeUndefined();
  });

  it("documents the gateway's errors, and upstream's where they pass through", async () => {
    const doc = await document();
    const error = doc.components.schemas.GatewayError as {
      required: string[];
      properties: { code: { enum: string[] } };
    };
    expect(error.required).toEqual(["detail", "code", "requestId"]);
    expect(error.properties.code.enum).toEqual(
      expect.arrayContaining(["budget_exceeded", "invalid_api_key"]),
    );
    const v3 = doc.paths["/api/v3/sessions"]?.post?.responses;
    expect(v3?.["402"]?.content?.["application/json"]).toEqual({
      schema: {
        anyOf: [
          { $ref: "#/components/schemas/GatewayError" },
          { $ref: "#/components/schemas/UpstreamError" },
        ],
      },
    });
    expect(Object.keys(v3 ?? {})).toEqual(
      expect.arrayContaining(["200", "401", "402", "413", "415", "422", "429"]),
    );
    const admin = doc.paths["/admin/v1/orgs/{orgId}"]?.get?.responses;
    expect(admin?.["404"]?.content?.["application/json"]).toEqual({
      schema: { $ref: "#/components/schemas/GatewayError" },
    });
  });
});

describe("the check of every answer against the document", () => {
  const request = (path: string, method = "GET") => new Request(`https://gateway.test${path}`, { method });
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

  it("refuses an unknown field, an undocumented status or media type, and an error without its code", async () => {
    const t = await newTenant();
    const org = await expectJson<Record<string, unknown>>(
      await gateway(`/admin/v1/orgs/${t.orgId}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } }),
      200,
    );
    const path = `/admin/v1/orgs/${t.orgId}`;
    expect(await documentProblem(request(path), json(200, org))).toBeNull();
    expect(await documentProblem(request(path), json(200, { ...org, keyHash: "leaked" }))).toMatch(
      /must NOT have additional properties/,
    );
    expect(await documentProblem(request(path), json(201, org))).toMatch(/status 201 is not documented/);
    expect(await documentProblem(request(path), json(404, { detail: "Org not found" }))).toMatch(
      /must have required property 'code'/,
    );
    expect(await documentProblem(request("/api/v3/nothing-here"), json(200, {}))).toMatch(/no operation/);
    const csvless = new Response("a,b", { headers: { "Content-Type": "text/plain" } });
    expect(await documentProblem(request("/admin/v1/usage"), csvless)).toMatch(/media type "text\/plain"/);
  });

  it("lets upstream's own errors through where the gateway relays them, and nowhere else", async () => {
    const path = `/api/v3/sessions/${crypto.randomUUID()}`;
    expect(await documentProblem(request(path), json(404, { detail: "Session not found" }))).toBeNull();
    expect(await documentProblem(request(path), json(418, { detail: "I'm a teapot" }))).toBeNull();
    const own = { detail: "x", code: "conflict", requestId: "r" };
    expect(await documentProblem(request(path), json(418, own))).toMatch(/status 418 is not documented/);
    expect(await documentProblem(request("/api/v3/sessions"), json(418, { detail: "x" }))).toMatch(
      /status 418 is not documented/,
    );
    expect(await documentProblem(request("/admin/v1/orgs"), json(401, { detail: "nope" }))).toMatch(
      /required property 'code'/,
    );
  });
});

describe("GET /docs", () => {
  it("renders every operation, event and schema of the document in a page that runs no script", async () => {
    const doc = await document();
    const res = await gateway("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    // Nothing loads or runs but the page's one style sheet, allowed by its hash.
    const styles = [...html.matchAll(/<style>([^<]*)<\/style>/g)].map((m) => m[1] ?? "");
    expect(styles).toHaveLength(1);
    expect(html).not.toMatch(/ style=/);
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(styles[0])));
    const hash = btoa(String.fromCharCode(...digest));
    expect(res.headers.get("Content-Security-Policy")).toBe(
      `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    );
    // Listed rather than asserted one by one, so a failure names what is missing, not the page.
    const missing = [
      ...operations(doc)
        .filter(({ op }) => !html.includes(`id="op-${op.operationId}"`))
        .map(({ method, path }) => `${method} ${path}`),
      ...Object.entries(doc.webhooks)
        .filter(([, { post }]) => !html.includes(`id="op-${post?.operationId}"`))
        .map(([type]) => `event ${type}`),
      ...Object.keys(doc.components.schemas).filter((name) => !html.includes(`id="schema-${name}"`)),
    ];
    expect(missing).toEqual([]);
    // Text from the routes arrives escaped.
    expect(html).toContain("X-Browser-Use-API-Key");
    expect(html).not.toContain("<Session");
  });
});

describe("the built document and page", () => {
  it("are served exactly as the app's current route table builds them, so a stale or missing build fails", async () => {
    // What scripts/build-api-docs.ts writes into public/ (test/build-api-docs.setup.ts runs it for the pool).
    const built = apiDocsFiles(app.routes);
    const res = await gateway("/openapi.json");
    expect(res.headers.get("Content-Type")).toBe("application/json");
    const served = await res.text();
    // The parsed comparison names what differs; the byte one holds the rest (order, spacing).
    expect(JSON.parse(served)).toEqual(JSON.parse(built["openapi.json"] ?? "null"));
    expect(served === built["openapi.json"], "served /openapi.json is not the built one").toBe(true);
    const page = await gateway("/docs");
    expect(page.headers.get("Content-Type")).toBe("text/html; charset=UTF-8");
    expect(page.headers.get("Content-Security-Policy")).toBe(await pageContentSecurityPolicy());
    expect((await page.text()) === built["docs.html"], "served /docs is not the built page").toBe(true);
  });

  it("answers a HEAD as its GET, without the body", async () => {
    const res = await gateway("/openapi.json", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/json");
    expect(await res.text()).toBe("");
  });
});
