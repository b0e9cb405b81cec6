import { BrowserUseError, type MessageResponse as SdkMessage } from "browser-use-sdk/v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { MessageListResponse, SessionListResponse, SessionResponse } from "../../src/v3/schemas";
import { type Harness, STEP_MS, expectShape, micros, startHarness, waitFor } from "./helpers";

// The official SDK driving agent sessions, as a user's program would.
let h: Harness;
const interval = STEP_MS;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe("sessions", () => {
  it("creates a task-less session that becomes idle after boot", async () => {
    const created = expectShape(SessionResponse, await h.client.sessions.create());
    expect(created.status).toBe("created");
    const idle = await waitFor(
      () => h.client.sessions.get(created.id),
      (s) => s.status === "idle",
    );
    expectShape(SessionResponse, idle);
    expect(idle.stepCount).toBe(0);
    const list = expectShape(SessionListResponse, await h.client.sessions.list({ page_size: 100 }));
    expect(list.sessions.map((s) => s.id)).toContain(created.id);
  });

  it("runs a task to completion with client.run()", async () => {
    const result = await h.client.run("Find the title of example.com [emu steps=2]", {
      model: "bu-mini",
      interval,
    });
    expect(result).toMatchObject({
      status: "stopped",
      isTaskSuccessful: true,
      stepCount: 2,
      model: "bu-mini",
    });
    expect(result.output).toBe("Completed: Find the title of example.com");
    expect(result.title).toBe("Find the title of example.com");
    expectShape(SessionResponse, await h.client.sessions.get(result.id));
  });

  it("writes an outputJson output into every view exactly as given", async () => {
    const json = '{"id":12345678901234567890,"ratio":0.1000000000000000055511,"price":10.0,"tiny":1e-7}';
    const created = expectShape(
      SessionResponse,
      (
        await h.api("POST", "/sessions", {
          body: { task: `Quote [emu steps=1 outputJson=${encodeURIComponent(json)}]` },
        })
      ).body,
    );
    const done = await waitFor(
      () => h.api("GET", `/sessions/${created.id}`),
      (r) => (r.body as { status?: string }).status === "stopped",
    );
    expect(done.text).toContain(`"output":${json},`);
    const list = await h.api("GET", "/sessions?page_size=100");
    expect(list.text).toContain(`"output":${json},`);
    const truth = await h.control("GET", "/sessions");
    expect(truth.text).toContain(`"output":${json},`);
    const messages = (await h.api("GET", `/sessions/${created.id}/messages`)).body as {
      messages: { type: string; data: string }[];
    };
    expect(messages.messages.find((m) => m.type === "completion")?.data).toBe(json);
  });

  it("returns structured output matching a zod schema", async () => {
    const Product = z.object({
      name: z.string(),
      price: z.number().min(1),
      tags: z.array(z.string()),
      kind: z.enum(["book", "toy"]),
      inStock: z.boolean().optional(),
    });
    // The SDK bundles its own zod copy (4.4), whose types differ from ours (4.6) though the
    // runtime objects are interchangeable; hence the cast.
    const result = await h.client.run("Find a product [emu steps=1]", { schema: Product as never, interval });
    expect(result.status).toBe("stopped");
    expect(result.output).toEqual({
      name: "example",
      price: 1,
      tags: ["example"],
      kind: "book",
      inStock: true,
    });
    expect(result.outputSchema).toMatchObject({
      type: "object",
      required: ["name", "price", "tags", "kind"],
    });
  });

  it("runs a follow-up on a keepAlive session with cumulative usage and a refreshed budget", async () => {
    const first = await h.client.run("First task [emu steps=2]", { keepAlive: true, interval });
    expect(first).toMatchObject({ status: "idle", isTaskSuccessful: true, maxCostUsd: "10" });

    const second = await h.client.run("Second task [emu steps=2]", { sessionId: first.id, interval });
    expect(second).toMatchObject({
      id: first.id,
      status: "idle",
      stepCount: 4,
      output: "Completed: Second task",
    });
    expect(micros(second.totalCostUsd)).toBe(2 * micros(first.totalCostUsd));
    expect(second.totalInputTokens).toBe(2 * first.totalInputTokens);
    // Without maxCostUsd the budget is current spend + the default of 10 USD.
    expect(micros(second.maxCostUsd)).toBe(micros(first.totalCostUsd) + 10_000_000);

    const messages = await h.client.sessions.messages(first.id, { limit: 100 });
    expect(messages.messages.filter((m) => m.role === "human").map((m) => m.data)).toEqual([
      "First task [emu steps=2]",
      "Second task [emu steps=2]",
    ]);
  });

  it("stops a running task with strategy task, then the session with strategy session", async () => {
    const s = await h.client.sessions.create({ task: "Wait forever [emu outcome=hang]" });
    await waitFor(
      () => h.client.sessions.get(s.id),
      (v) => v.status === "running",
    );
    const afterTask = expectShape(SessionResponse, await h.client.sessions.stop(s.id, { strategy: "task" }));
    expect(afterTask).toMatchObject({ status: "idle", isTaskSuccessful: false });

    const again = await h.client.sessions.create({ sessionId: s.id, task: "Hang again [emu outcome=hang]" });
    expect(again.status).toBe("running");
    const afterSession = await h.client.sessions.stop(s.id);
    expect(afterSession.status).toBe("stopped");

    const refused = await h.client.sessions
      .create({ sessionId: s.id, task: "too late" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BrowserUseError);
    expect((refused as BrowserUseError).statusCode).toBe(400);
    expect((refused as BrowserUseError).message).toBe(
      "Browser session is stopped. Please start a new session and try again.",
    );
  });

  it("refuses a dispatch to a session whose task is still running", async () => {
    const s = await h.client.sessions.create({ task: "Busy [emu outcome=hang]", keepAlive: true });
    const refused = await h.client.sessions
      .create({ sessionId: s.id, task: "next" })
      .catch((e: unknown) => e);
    expect((refused as BrowserUseError).statusCode).toBe(400);
    expect((refused as BrowserUseError).message).toMatch(/already has a running task/);
    await h.client.sessions.stop(s.id);
  });

  it("pages messages with limit, before, after and hasMore", async () => {
    const done = await h.client.run("Long task [emu steps=12]", { interval });
    const id = done.id;
    const all = (await h.client.sessions.messages(id, { limit: 100 })).messages;
    expect(all).toHaveLength(14); // the task, 12 steps, the completion
    expect(all[0]?.role).toBe("human");
    expect(all.slice(1).every((m) => m.role === "ai")).toBe(true);
    const ids = all.map((m) => m.id);

    const latest = expectShape(MessageListResponse, await h.client.sessions.messages(id, { limit: 5 }));
    expect(latest.messages.map((m) => m.id)).toEqual(ids.slice(9));
    expect(latest.hasMore).toBe(true);

    const before = await h.client.sessions.messages(id, { before: ids[9], limit: 5 });
    expect(before.messages.map((m) => m.id)).toEqual(ids.slice(4, 9));
    expect(before.hasMore).toBe(true);
    const oldest = await h.client.sessions.messages(id, { before: ids[4], limit: 5 });
    expect(oldest.messages.map((m) => m.id)).toEqual(ids.slice(0, 4));
    expect(oldest.hasMore).toBe(false);

    const after = await h.client.sessions.messages(id, { after: ids[0], limit: 5 });
    expect(after.messages.map((m) => m.id)).toEqual(ids.slice(1, 6));
    expect(after.hasMore).toBe(true);
    const tail = await h.client.sessions.messages(id, { after: ids[10], limit: 5 });
    expect(tail.messages.map((m) => m.id)).toEqual(ids.slice(11));
    expect(tail.hasMore).toBe(false);
    expect((await h.client.sessions.messages(id, { limit: 1 })).messages[0]?.id).toBe(ids[13]);
  });

  it("streams messages with for await over client.run()", async () => {
    const run = h.client.run("Stream me [emu steps=4]", { interval });
    const seen: SdkMessage[] = [];
    for await (const msg of run) seen.push(msg);
    expect(seen.map((m) => m.type)).toEqual([
      "user_message",
      "browser_action",
      "browser_action",
      "browser_action",
      "browser_action",
      "completion",
    ]);
    expect(run.result).toMatchObject({ status: "stopped", stepCount: 4, isTaskSuccessful: true });
  });

  it("serves screenshot and recording URLs on GET only, not in lists", async () => {
    const s = await h.client.run("Record me [emu steps=1]", { enableRecording: true, interval });
    const [recording] = await h.client.sessions.waitForRecording(s.id, { timeout: 1_000, interval });
    expect((await fetch(recording ?? "")).status).toBe(200);
    const detail = await h.client.sessions.get(s.id);
    const shot = await fetch(detail.screenshotUrl ?? "");
    expect(shot.headers.get("content-type")).toBe("image/png");
    const listed = (await h.client.sessions.list({ page_size: 100 })).sessions.find((x) => x.id === s.id);
    expect(listed).toMatchObject({ screenshotUrl: null, recordingUrls: [] });
  });

  it("deletes a session, after which it is not found", async () => {
    const s = await h.client.sessions.create({ task: "Delete me [emu outcome=hang]" });
    await h.client.sessions.delete(s.id);
    const gone = await h.client.sessions.get(s.id).catch((e: unknown) => e);
    expect((gone as BrowserUseError).statusCode).toBe(404);
    expect((gone as BrowserUseError).message).toBe("Session not found");
  });
});
