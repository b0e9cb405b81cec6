import { createHmac } from "node:crypto";
import { type IncomingHttpHeaders, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SessionResponse } from "../../src/v3/schemas";
import type { FaultStats } from "../src/faults";
import { type Harness, expectShape, expectStatus, startHarness, waitFor } from "./helpers";

// The /_emulator controls: faults, reset, inspection, webhooks, clock and settings.
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
beforeEach(() => h.control("POST", "/reset"));
afterAll(() => h.close());

describe("faults", () => {
  it("applies queued faults to the next requests in order, then answers normally", async () => {
    expectStatus(
      await h.control("POST", "/faults", { next: ["500", "429", "400", "malformed", "drop", "slow:30"] }),
      200,
    );

    const e500 = await h.api("GET", "/billing/account");
    expect(e500).toMatchObject({ status: 500, text: "Internal Server Error" });
    const e429 = await h.api("GET", "/billing/account");
    expect(e429.status).toBe(429);
    expect(e429.body).toMatchObject({ detail: expect.stringMatching(/Too many concurrent/) });
    const e400 = await h.api("GET", "/billing/account");
    expect(e400).toMatchObject({ status: 400, body: { detail: expect.stringMatching(/is stopped/) } });
    const malformed = await h.api("GET", "/billing/account");
    expect(malformed.status).toBe(200);
    expect(malformed.headers.get("content-type")).toMatch(/json/);
    expect(malformed.body).toBeUndefined(); // not parseable
    await expect(h.api("GET", "/billing/account")).rejects.toThrow(/fetch failed/);
    const started = Date.now();
    expectStatus(await h.api("GET", "/billing/account"), 200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expectStatus(await h.api("GET", "/billing/account"), 200);
  });

  it("drops the connection after the request took effect with drop-after", async () => {
    await h.control("POST", "/faults", { next: ["drop-after"] });
    await expect(h.api("POST", "/profiles", { body: { name: "ghost" } })).rejects.toThrow(/fetch failed/);
    const list = await h.client.profiles.list({ query: "ghost" });
    expect(list.totalItems).toBe(1);
  });

  it("answers late with late:<ms>, the request having taken effect before the answer", async () => {
    await h.control("POST", "/faults", { next: ["late:300"] });
    const answered = h.api("POST", "/profiles", { body: { name: "late" } });
    // Made while its answer waits: a client that lists meanwhile already sees it.
    await waitFor(
      () => h.client.profiles.list({ query: "late" }),
      (list) => list.totalItems === 1,
    );
    let settled = false;
    void answered.then(() => {
      settled = true;
    });
    expect(settled).toBe(false);
    expectStatus(await answered, 201);
    expect(((await h.control("GET", "/stats")).body as FaultStats).faults.late).toBe(1);
  });

  it("fails every request at rate 1 until the faults are cleared", async () => {
    await h.control("POST", "/faults", { error500Rate: 1 });
    expect((await h.api("GET", "/sessions")).status).toBe(500);
    expect((await h.api("GET", "/sessions")).status).toBe(500);
    await h.control("DELETE", "/faults");
    expectStatus(await h.api("GET", "/sessions"), 200);
  });

  it("draws the same faults for the same seed, and counts requests and faults", async () => {
    const draw = async () => {
      await h.control("POST", "/faults", { error500Rate: 0.3, dropAfterRate: 0.3, seed: 7 });
      const statuses: string[] = [];
      for (let i = 0; i < 20; i++) {
        statuses.push(
          await h.api("GET", "/billing/account").then(
            (r) => String(r.status),
            () => "dropped",
          ),
        );
      }
      return statuses;
    };
    const first = await draw();
    expect(await draw()).toEqual(first);
    expect(new Set(first)).toEqual(new Set(["200", "500", "dropped"]));
    const stats = (await h.control("GET", "/stats")).body as FaultStats;
    expect(stats.requests["GET /billing/account"]).toBe(40);
    expect((stats.faults["500"] ?? 0) + (stats.faults["drop-after"] ?? 0)).toBe(
      2 * first.filter((s) => s !== "200").length,
    );
    await h.control("POST", "/reset");
    expect((await h.control("GET", "/stats")).body).toEqual({ requests: {}, faults: {} });
  });

  it("refuses an unknown fault or rates summing past 1", async () => {
    expectStatus(await h.control("POST", "/faults", { next: ["boom"] }), 422);
    expectStatus(await h.control("POST", "/faults", { error500Rate: 0.6, dropRate: 0.6 }), 422);
    expectStatus(await h.control("POST", "/faults", { dropAfterRate: 0.6, malformedRate: 0.6 }), 422);
    expectStatus(await h.control("POST", "/faults", { errorRate: 0.1 }), 422);
  });
});

describe("state", () => {
  it("reset clears sessions, profiles and faults", async () => {
    const s = await h.client.sessions.create();
    const p = await h.client.profiles.create({ name: "gone" });
    await h.control("POST", "/faults", { next: ["500"] });
    expectStatus(await h.control("POST", "/reset"), 200);
    expectStatus(await h.api("GET", `/sessions/${s.id}`), 404);
    expectStatus(await h.api("GET", `/profiles/${p.id}`), 404);
  });

  it("lists every session, deleted ones included, with costs brought up to now", async () => {
    const done = await h.client.run("count me [emu steps=2 cost=0.01]", { interval: 10 });
    const deleted = await h.client.sessions.create();
    await h.client.sessions.delete(deleted.id);
    const browser = await h.client.browsers.create({ timeout: 5 });

    const res = await h.control("GET", "/sessions");
    const body = res.body as { sessions: unknown[]; deletedSessionIds: string[]; browsers: { id: string }[] };
    // A session's truth is its API view plus the tasks it was sent.
    const sessions = body.sessions.map((s) => {
      const { tasks: _, ...view } = s as { tasks: string[] };
      return expectShape(SessionResponse, view);
    });
    expect(sessions.map((s) => s.id).sort()).toEqual([done.id, deleted.id].sort());
    expect(sessions.find((s) => s.id === done.id)?.totalCostUsd).toBe("0.02");
    expect(body.sessions.find((s) => (s as { id: string }).id === done.id)).toMatchObject({
      tasks: ["count me [emu steps=2 cost=0.01]"],
    });
    expect(body.deletedSessionIds).toEqual([deleted.id]);
    expect(body.browsers.map((b) => b.id)).toEqual([browser.id]);
  });

  it("times out an idle session after the inactivity limit, by moving the clock", async () => {
    const s = await h.client.run("keep me [emu steps=1]", { keepAlive: true, interval: 10 });
    expect(s.status).toBe("idle");
    await h.control("POST", "/clock", { advanceMs: 15 * 60_000 });
    expect((await h.client.sessions.get(s.id)).status).toBe("timed_out");
  });

  it("shows created while a new session boots, then running, never idle before the task", async () => {
    await h.control("POST", "/config", { bootMs: 40 });
    const s = await h.client.sessions.create({ task: "boot [emu steps=1]" });
    expect(s.status).toBe("created");
    const seen = new Set<string>();
    await waitFor(
      async () => (await h.client.sessions.get(s.id)).status,
      (status) => {
        seen.add(status);
        return status === "stopped";
      },
    );
    expect(seen.has("idle")).toBe(false);
    expect(seen.has("running") || seen.has("created")).toBe(true);
  });

  it("changes settings at runtime and restores them on reset", async () => {
    const changed = await h.control("POST", "/config", { idleTimeoutMs: 50, defaultMaxCostUsd: "2.5" });
    expect(changed.body).toMatchObject({ idleTimeoutMs: 50, defaultMaxCostUsd: "2.5" });
    const s = await h.client.sessions.create();
    expect(s.maxCostUsd).toBe("2.5");
    await waitFor(
      () => h.client.sessions.get(s.id),
      (v) => v.status === "timed_out",
    );
    await h.control("POST", "/reset");
    expect((await h.control("GET", "/config")).body).toMatchObject({
      idleTimeoutMs: 900_000,
      defaultMaxCostUsd: "10",
    });
  });
});

describe("webhooks", () => {
  it("posts signed status updates that verify against the secret", async () => {
    const received: { headers: IncomingHttpHeaders; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        received.push({ headers: req.headers, body });
        res.end("ok");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    try {
      await h.control("POST", "/webhook", { url, secret: "whsec_test" });
      const s = await h.client.run("notify me [emu steps=1]", { interval: 10 });
      const events = await waitFor(
        async () => received.map((r) => JSON.parse(r.body)),
        (list) => list.length >= 2,
      );
      // Deliveries are independent requests, so order them by event time, not arrival.
      events.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
      expect(events.map((e) => e.payload.status)).toEqual(["running", "stopped"]);
      expect(events[0]).toMatchObject({
        type: "agent.task.status_update",
        payload: { session_id: s.id, status: "running", metadata: {} },
      });
      expect(events[0].payload.task_id).toMatch(/^[0-9a-f-]{36}$/);

      for (const r of received) {
        const timestamp = String(r.headers["x-browser-use-timestamp"]);
        expect(Math.abs(Date.now() / 1000 - Number(timestamp))).toBeLessThan(300);
        const expected = createHmac("sha256", "whsec_test")
          .update(`${timestamp}.${sortedJson(JSON.parse(r.body))}`)
          .digest("hex");
        expect(r.headers["x-browser-use-signature"]).toBe(expected);
      }
    } finally {
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});

/** An independent canonical JSON: keys sorted recursively, no whitespace. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}
