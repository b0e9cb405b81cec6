import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_BODY_BYTES } from "../src/middleware/json-body";
import { expectJson, gateway, newTenant, type TestTenant } from "./helpers";

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
    expect(notInt[0]?.loc).toEqual(["query", "pageNumber"]);
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

  it("none of the refused requests wrote anything", async () => {
    expect(await written()).toBe(0);
  });
});
