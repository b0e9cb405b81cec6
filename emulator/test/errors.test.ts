import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ErrorDetail, HTTPValidationError, SessionResponse } from "../../src/v3/schemas";
import { API_KEY, type Harness, expectShape, expectStatus, startHarness } from "./helpers";

// Error statuses and bodies, FastAPI-shaped, with raw HTTP so nothing smooths them over.
let h: Harness;
const unknownId = "0b9a3c1e-5d7f-4e2a-9c8b-1a2b3c4d5e6f";

beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.control("POST", "/reset"));
afterAll(() => h.close());

function expectDetail(res: { status: number; body: unknown; text: string }, status: number, detail: string) {
  expectStatus(res as Parameters<typeof expectStatus>[0], status);
  expect(expectShape(ErrorDetail, res.body).detail).toBe(detail);
}

function expect422(res: { status: number; body: unknown; text: string }) {
  expectStatus(res as Parameters<typeof expectStatus>[0], 422);
  return expectShape(HTTPValidationError, res.body).detail;
}

describe("authentication and routing", () => {
  it("answers 401 without a key and with a wrong one, never echoing the key", async () => {
    expectDetail(await h.api("GET", "/sessions", { key: null }), 401, "Not authenticated");
    const wrong = await h.api("GET", "/billing/account", { key: "bu_wrong_secret_value" });
    expectDetail(wrong, 401, "Invalid API key");
    expect(wrong.text).not.toContain("bu_wrong_secret_value");
    expect(wrong.text).not.toContain(API_KEY);
  });

  it("answers 404 Not Found for unknown routes, with or without a key", async () => {
    expectDetail(await h.api("GET", "/nope"), 404, "Not Found");
    expectDetail(await h.api("GET", "/tasks", { key: null }), 404, "Not Found");
    const outside = await fetch(`${h.running.url}/api/v2/tasks`);
    expect(outside.status).toBe(404);
    expect(await outside.json()).toEqual({ detail: "Not Found" });
  });

  it("answers 405 for a wrong method on a known path", async () => {
    const res = await h.api("PUT", `/sessions/${unknownId}`);
    expectDetail(res, 405, "Method Not Allowed");
    expect(res.headers.get("allow")).toContain("GET");
  });
});

describe("validation (422)", () => {
  it("rejects a bad body field with its location", async () => {
    const detail = expect422(await h.api("POST", "/sessions", { body: { task: "x", model: "gpt-2" } }));
    expect(detail).toHaveLength(1);
    expect(detail[0]).toMatchObject({ type: "enum", loc: ["body", "model"], input: "gpt-2" });
  });

  it("rejects out-of-range and unparsable query parameters", async () => {
    const big = expect422(await h.api("GET", "/sessions?page_size=1000"));
    expect(big[0]).toMatchObject({ type: "less_than_equal", loc: ["query", "page_size"], input: 1000 });
    const word = expect422(await h.api("GET", "/profiles?pageNumber=abc"));
    expect(word[0]).toMatchObject({ type: "int_parsing", loc: ["query", "pageNumber"], input: "abc" });
    const bool = expect422(await h.api("GET", `/browsers/${unknownId}/downloads?includeUrls=maybe`));
    expect(bool[0]).toMatchObject({ type: "bool_parsing", loc: ["query", "includeUrls"] });
  });

  it("rejects a non-UUID path id before looking anything up", async () => {
    for (const path of ["/sessions/abc", "/profiles/abc", "/workspaces/abc", "/browsers/abc"]) {
      const detail = expect422(await h.api("GET", path));
      expect(detail[0]).toMatchObject({ type: "uuid_parsing", input: "abc" });
      expect(detail[0]?.loc[0]).toBe("path");
    }
  });

  it("rejects malformed JSON and a missing required body", async () => {
    const bad = expect422(await h.api("POST", "/sessions", { body: '{"task": ' }));
    expect(bad[0]).toMatchObject({ type: "json_invalid", loc: ["body", 0] });
    const missing = expect422(await h.api("POST", "/sessions"));
    expect(missing[0]).toMatchObject({ type: "missing", loc: ["body"] });
  });

  it("rejects sessionId without a task", async () => {
    const detail = expect422(await h.api("POST", "/sessions", { body: { sessionId: unknownId } }));
    expect(detail[0]).toMatchObject({ type: "value_error", loc: ["body"] });
    expect(detail[0]?.msg).toMatch(/task is required/);
  });

  it("rejects a malformed directive on the task field", async () => {
    const detail = expect422(await h.api("POST", "/sessions", { body: { task: "x [emu steps=many]" } }));
    expect(detail[0]).toMatchObject({ type: "value_error", loc: ["body", "task"] });
  });

  it("rejects too many upload files and a screen width without a height", async () => {
    const ws = await h.api("POST", "/workspaces", { body: {} });
    const files = Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt` }));
    const many = expect422(
      await h.api("POST", `/workspaces/${(ws.body as { id: string }).id}/files/upload`, { body: { files } }),
    );
    expect(many[0]).toMatchObject({ type: "too_long", loc: ["body", "files"] });
    const screen = expect422(await h.api("POST", "/sessions", { body: { browserScreenWidth: 1024 } }));
    expect(screen[0]?.msg).toMatch(/set together/);
  });
});

describe("not found (404)", () => {
  it("answers the documented detail for each kind of unknown id", async () => {
    expectDetail(await h.api("GET", `/sessions/${unknownId}`), 404, "Session not found");
    expectDetail(await h.api("POST", `/sessions/${unknownId}/stop`), 404, "Session not found");
    expectDetail(await h.api("GET", `/sessions/${unknownId}/messages`), 404, "Session not found");
    expectDetail(await h.api("DELETE", `/sessions/${unknownId}`), 404, "Session not found");
    expectDetail(await h.api("GET", `/browsers/${unknownId}`), 404, "Session not found");
    expectDetail(
      await h.api("PATCH", `/browsers/${unknownId}`, { body: { action: "stop" } }),
      404,
      "Session not found",
    );
    expectDetail(await h.api("GET", `/profiles/${unknownId}`), 404, "Profile not found");
    expectDetail(await h.api("GET", `/workspaces/${unknownId}`), 404, "Workspace not found");
    expectDetail(await h.api("GET", `/workspaces/${unknownId}/files`), 404, "Workspace not found");
  });

  it("answers 404 for unknown ids referenced in a body", async () => {
    const session = { sessionId: unknownId, task: "x" };
    expectDetail(await h.api("POST", "/sessions", { body: session }), 404, "Session not found");
    expectDetail(
      await h.api("POST", "/sessions", { body: { profileId: unknownId } }),
      404,
      "Profile not found",
    );
    expectDetail(
      await h.api("POST", "/sessions", { body: { workspaceId: unknownId } }),
      404,
      "Workspace not found",
    );
    expectDetail(
      await h.api("POST", "/browsers", { body: { profileId: unknownId } }),
      404,
      "Profile not found",
    );
  });
});

describe("status codes", () => {
  it("uses 200 for session create, 201 for other creates and 204 with no body for deletes", async () => {
    expectStatus(await h.api("POST", "/sessions", { body: {} }), 200);
    const profile = await h.api("POST", "/profiles");
    expectStatus(profile, 201);
    const ws = await h.api("POST", "/workspaces", { body: null });
    expectStatus(ws, 201);
    expectStatus(await h.api("POST", "/browsers", { body: {} }), 201);
    const del = await h.api("DELETE", `/profiles/${(profile.body as { id: string }).id}`);
    expectStatus(del, 204);
    expect(del.text).toBe("");
    expectStatus(await h.api("DELETE", `/workspaces/${(ws.body as { id: string }).id}`), 204);
  });

  it("accepts a stop with no body, null, {} or a strategy", async () => {
    for (const body of [undefined, null, {}, { strategy: "task" }, { strategy: "session" }]) {
      const s = await h.api("POST", "/sessions", { body: { task: "x [emu outcome=hang]" } });
      const res = await h.api("POST", `/sessions/${(s.body as { id: string }).id}/stop`, { body });
      expectStatus(res, 200);
      const want = body && "strategy" in body && body.strategy === "task" ? "idle" : "stopped";
      expect(expectShape(SessionResponse, res.body).status).toBe(want);
    }
    const bad = expect422(await h.api("POST", `/sessions/${unknownId}/stop`, { body: { strategy: "all" } }));
    expect(bad[0]).toMatchObject({ type: "enum", loc: ["body", "strategy"] });
  });

  it("answers 403 for a browser timeout over 240 minutes", async () => {
    const res = await h.api("POST", "/browsers", { body: { timeout: 241 } });
    expectDetail(res, 403, "Maximum session timeout is 4 hours (240 minutes).");
  });

  it("answers 429 past the concurrency limit and 402 once credits run out", async () => {
    await h.control("POST", "/config", { concurrencyLimit: 1 });
    expectStatus(await h.api("POST", "/browsers", { body: {} }), 201);
    const busy = await h.api("POST", "/sessions", { body: {} });
    expectDetail(
      busy,
      429,
      "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan.",
    );

    await h.control("POST", "/config", { concurrencyLimit: 25, creditsUsd: "0.01" });
    // The browser above was charged $0.02 up front, which spends the whole balance.
    expectDetail(await h.api("POST", "/sessions", { body: { task: "x" } }), 402, "Insufficient credits");
  });
});
