import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { MAX_BODY_BYTES } from "../src/middleware/json-body";
import { ADMIN_TOKEN, expectJson, gateway, newTenant, putPolicy, type TestTenant } from "./helpers";

type Issue = { type: string; loc: (string | number)[]; msg: string };

let t: TestTenant;
beforeAll(async () => {
  t = await newTenant();
});

function send(path: string, init: { method?: string; body?: string; contentType?: string | null } = {}) {
  const headers: Record<string, string> = { "X-Browser-Use-API-Key": t.key };
  if (init.contentType !== null) headers["Content-Type"] = init.contentType ?? "application/json";
  return gateway(`/api/v3${path}`, { method: init.method ?? "POST", headers, body: init.body });
}

async function issues(res: Response): Promise<Issue[]> {
  const body = await expectJson<{ detail: Issue[]; code: string }>(res, 422);
  expect(body.code).toBe("validation_error");
  return body.detail;
}

async function written(): Promise<number> {
  return (
    (await env.DB.prepare("SELECT count(*) AS n FROM resources WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<number>("n")) ?? -1
  );
}

describe("bad input is a clear 4xx in the upstream's shape and writes nothing", () => {
  it("malformed JSON is 422 json_invalid", async () => {
    expect((await issues(await send("/sessions", { body: "{task:" })))[0]).toMatchObject({
      type: "json_invalid",
      loc: ["body", 0],
    });
  });

  it("a body that is not declared JSON is 415", async () => {
    const res = await send("/sessions", {
      body: "task=hello",
      contentType: "application/x-www-form-urlencoded",
    });
    expect(await expectJson(res, 415)).toMatchObject({ code: "unsupported_media_type" });
    const none = await send("/sessions", { body: '{"task":"x"}', contentType: null });
    expect(none.status).toBe(415);
  });

  it("a missing required body is 422 missing", async () => {
    expect((await issues(await send("/sessions", { body: "" })))[0]).toMatchObject({
      type: "missing",
      loc: ["body"],
    });
  });

  it("wrong types name the field", async () => {
    const found = await issues(
      await send("/sessions", { body: JSON.stringify({ task: 5, keepAlive: "sometimes" }) }),
    );
    expect(found.map((i) => i.loc)).toEqual(
      expect.arrayContaining([
        ["body", "task"],
        ["body", "keepAlive"],
      ]),
    );
  });

  it("unknown fields are refused: the gateway cannot check what it does not know", async () => {
    const found = await issues(
      await send("/sessions", { body: JSON.stringify({ task: "x", surprise: true }) }),
    );
    expect(found).toEqual([expect.objectContaining({ type: "extra_forbidden", loc: ["body", "surprise"] })]);
  });

  it("enums and ranges are checked at the edge", async () => {
    const model = await issues(
      await send("/sessions", { body: JSON.stringify({ task: "x", model: "gpt-0" }) }),
    );
    expect(model[0]).toMatchObject({ type: "enum", loc: ["body", "model"] });
    const country = await issues(
      await send("/browsers", { body: JSON.stringify({ proxyCountryCode: "zz" }) }),
    );
    expect(country[0]?.loc).toEqual(["body", "proxyCountryCode"]);
    const timeout = await issues(await send("/browsers", { body: JSON.stringify({ timeout: 0 }) }));
    expect(timeout[0]).toMatchObject({ type: "greater_than_equal", loc: ["body", "timeout"] });
    const page = await issues(await send("/sessions?page_size=500", { method: "GET", contentType: null }));
    expect(page[0]).toMatchObject({ type: "less_than_equal", loc: ["query", "page_size"] });
    const notInt = await issues(await send("/profiles?pageNumber=abc", { method: "GET", contentType: null }));
    expect(notInt[0]).toEqual({
      type: "int_parsing",
      loc: ["query", "pageNumber"],
      msg: "Input should be a valid integer, unable to parse string as an integer",
      input: "abc",
    });
    const notBool = await issues(
      await send(`/browsers/${crypto.randomUUID()}/downloads?includeUrls=maybe`, {
        method: "GET",
        contentType: null,
      }),
    );
    expect(notBool[0]).toEqual({
      type: "bool_parsing",
      loc: ["query", "includeUrls"],
      msg: "Input should be a valid boolean, unable to interpret input",
      input: "maybe",
    });
    // A repeated scalar is read as its last value, as Starlette does: the bad one first is not it.
    const lastWins = await send("/sessions?page_size=abc&page_size=5", { method: "GET", contentType: null });
    expect((await expectJson<{ pageSize: number }>(lastWins, 200)).pageSize).toBe(5);
  });

  it("a maxCostUsd the ledger cannot hold is 422, never a 500", async () => {
    for (const maxCostUsd of [1e300, "99999999999999999999", -5, "-0.5", 1000001]) {
      const found = await issues(
        await send("/sessions", { body: JSON.stringify({ task: "x", maxCostUsd }) }),
      );
      expect(
        found.map((i) => i.loc),
        String(maxCostUsd),
      ).toContainEqual(["body", "maxCostUsd"]);
    }
  });

  it("a sessionId without a task is 422, as upstream answers", async () => {
    const found = await issues(
      await send("/sessions", { body: JSON.stringify({ sessionId: crypto.randomUUID() }) }),
    );
    expect(found[0]?.type).toBe("value_error");
  });

  it("non-UUID ids in the path are 422 uuid_parsing", async () => {
    for (const path of [
      "/sessions/abc",
      "/browsers/123",
      "/profiles/x-y",
      "/workspaces/..%2F..",
      "/sessions/abc/messages",
    ]) {
      const res = await send(path, { method: "GET", contentType: null });
      expect((await issues(res))[0], path).toMatchObject({
        type: "uuid_parsing",
        loc: ["path", expect.any(String)],
      });
    }
  });

  it(`a body over ${MAX_BODY_BYTES} bytes is 413`, async () => {
    const big = JSON.stringify({ task: "x".repeat(MAX_BODY_BYTES) });
    expect(await expectJson(await send("/sessions", { body: big }), 413)).toMatchObject({
      code: "body_too_large",
    });
  });

  it("stops reading a body sent without a length once it passes the limit, on every route that reads one", async () => {
    const hook = await expectJson<{ id: string }>(
      await gateway(`/admin/v1/tenants/${t.tenantId}/hooks`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ name: "big", task: "t" }),
      }),
      201,
    );
    const routes: [string, Record<string, string>][] = [
      ["/api/v3/sessions", { "X-Browser-Use-API-Key": t.key }],
      [`/hooks/${hook.id}`, {}],
      ["/webhooks/browser-use", {}],
    ];
    for (const [path, headers] of routes) {
      // A chunked body of 16 MiB (as a sender may stream it, with no Content-Length), counted as read.
      const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (pulled >= 16 * 1024 * 1024) return controller.close();
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const res = await gateway(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body,
      });
      expect(await expectJson(res, 413), path).toMatchObject({ code: "body_too_large" });
      // What a stream has in flight beyond the limit aside, no more of it was taken in.
      expect(pulled, path).toBeLessThanOrEqual(MAX_BODY_BYTES + 4 * chunk.byteLength);
    }
  });

  it("none of the refused requests wrote anything", async () => {
    expect(await written()).toBe(0);
  });
});

describe("input that would hold money or reach SQL or upstream as something else", () => {
  const deep = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

  /** Counts the gateway's calls upstream from here on; they still reach the emulator. */
  function upstreamCalls(): string[] {
    const calls: string[] = [];
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith(env.UPSTREAM_URL)) calls.push(`${init?.method ?? "GET"} ${url}`);
      return real(input, init);
    });
    return calls;
  }
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("refuses JSON nested past 64 levels on every body route with 422, holding and sending nothing", async () => {
    const capped = await newTenant();
    await putPolicy("tenants", capped.tenantId, { budget: { capUsd: "50", period: "none" } });
    const id = crypto.randomUUID();
    const routes: [string, string, string][] = [
      ["POST", "/api/v3/sessions", `{"task":"t","outputSchema":${deep(20_000)}}`],
      ["POST", `/api/v3/sessions/${id}/stop`, deep(100)],
      ["POST", "/api/v3/browsers", `{"metadata":${deep(70)}}`],
      ["PATCH", `/api/v3/browsers/${id}`, deep(65)],
      ["POST", "/api/v3/profiles", deep(65)],
      ["PATCH", `/api/v3/profiles/${id}`, deep(65)],
      ["POST", "/api/v3/workspaces", deep(65)],
      ["PATCH", `/api/v3/workspaces/${id}`, deep(65)],
      ["POST", `/api/v3/workspaces/${id}/files/upload`, deep(65)],
    ];
    const calls = upstreamCalls();
    for (const [method, path, body] of routes) {
      const res = await gateway(path, {
        method,
        headers: { "X-Browser-Use-API-Key": capped.key, "Content-Type": "application/json" },
        body,
      });
      const refused = await expectJson<{ detail: Issue[] }>(res, 422);
      expect(refused.detail[0], `${method} ${path}`).toMatchObject({ type: "json_invalid", loc: ["body"] });
    }
    const admin = { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" };
    for (const [method, path] of [
      ["POST", "/admin/v1/orgs"],
      ["PUT", `/admin/v1/orgs/${capped.orgId}/policy`],
      ["PUT", `/admin/v1/tenants/${capped.tenantId}/policy`],
    ] as const) {
      const res = await gateway(path, { method, headers: admin, body: deep(65) });
      expect(res.status, `${method} ${path}`).toBe(422);
    }
    expect(calls).toEqual([]);
    const holds = await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE tenant_id = ?")
      .bind(capped.tenantId)
      .first<number>("n");
    expect(holds).toBe(0);
    // 64 levels is still a body like any other.
    const fine = await send("/sessions", {
      body: `{"task":"t","sessionId":null,"outputSchema":${deep(63)}}`,
    });
    expect(fine.status).not.toBe(422);
  });

  it("refuses a metadata filter without a key, or more of them than a browser carries, with 422", async () => {
    for (const query of [
      "metadata==",
      "metadata=",
      "metadata==value",
      Array.from({ length: 60 }, (_, i) => `metadata=k${i}`).join("&"),
    ]) {
      const res = await send(`/browsers?${query}`, { method: "GET", contentType: null });
      expect((await issues(res))[0]?.loc.slice(0, 2), query).toEqual(["query", "metadata"]);
    }
  });

  it("matches metadata keys as text, whatever characters they hold", async () => {
    const metadata = { 'odd "key".$[0]': "v=1", plain: "x" };
    const created = await expectJson<{ id: string }>(
      await send("/browsers", { body: JSON.stringify({ timeout: 1, metadata }) }),
      201,
    );
    const list = async (...filters: string[]) => {
      const q = filters.map((f) => `metadata=${encodeURIComponent(f)}`).join("&");
      const res = await send(`/browsers?${q}`, { method: "GET", contentType: null });
      return (await expectJson<{ items: { id: string }[] }>(res, 200)).items.map((b) => b.id);
    };
    expect(await list('odd "key".$[0]=v=1')).toEqual([created.id]);
    expect(await list('odd "key".$[0]', "plain=x")).toEqual([created.id]);
    expect(await list("plain=y")).toEqual([]);
    expect(await list("$.metadata")).toEqual([]);
    await send(`/browsers/${created.id}`, { method: "PATCH", body: JSON.stringify({ action: "stop" }) });
  });

  it("refuses workspace paths that leave the workspace with 422, sending nothing", async () => {
    const ws = crypto.randomUUID();
    const calls = upstreamCalls();
    const refusals = [
      send(`/workspaces/${ws}/files?path=../other/secret.txt`, { method: "DELETE", contentType: null }),
      send(`/workspaces/${ws}/files?path=a/../../b`, { method: "DELETE", contentType: null }),
      send(`/workspaces/${ws}/files?path=/etc/passwd`, { method: "DELETE", contentType: null }),
      send(`/workspaces/${ws}/files?prefix=..`, { method: "GET", contentType: null }),
      send(`/workspaces/${ws}/files?prefix=${encodeURIComponent("a\\b")}`, {
        method: "GET",
        contentType: null,
      }),
      send(`/workspaces/${ws}/files/upload?prefix=/abs/`, {
        body: JSON.stringify({ files: [{ name: "a.txt", size: 1 }] }),
      }),
      send(`/workspaces/${ws}/files/upload`, {
        body: JSON.stringify({ files: [{ name: "../a.txt", size: 1 }] }),
      }),
      send(`/workspaces/${ws}/files/upload`, {
        body: JSON.stringify({ files: [{ name: "x\\..\\a", size: 1 }] }),
      }),
    ];
    for (const res of await Promise.all(refusals)) {
      const [issue] = await issues(res);
      expect(issue?.msg).toMatch(/relative path inside the workspace/);
    }
    expect(calls).toEqual([]);
    // A dot in a name, or a folder, is fine.
    const fine = await send(`/workspaces/${ws}/files?prefix=uploads/v1.2/&path=x`, {
      method: "GET",
      contentType: null,
    });
    expect(fine.status).toBe(404);
  });
});

describe("optional bodies", () => {
  it("reads an empty or null optional body as none, whatever its Content-Type says", async () => {
    const s = await expectJson<{ id: string }>(await send("/sessions", { body: "{}" }), 200);
    for (const body of ["", "null"]) {
      const res = await send(`/sessions/${s.id}/stop`, { body });
      expect(res.status, JSON.stringify(body)).toBe(200);
    }
  });
});
