import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { toMicros } from "../src/lib/money";
import { getUsage, sumCostEvents } from "../src/store/usage";
import { SessionListResponse, SessionResponse } from "../src/v3/schemas";
import {
  asTenant,
  emuTask,
  eventually,
  emulatorTruth,
  expectJson,
  countRoundTrips,
  figuresOf,
  newTenant,
  newUpstreamAccount,
  waitForStatus,
  startSession,
  type SessionView as Session,
  type UpstreamAccount,
} from "./helpers";

describe("sessions through the gateway", () => {
  it("creates a session with a task, runs it to the end and books what upstream billed", async () => {
    const t = await newTenant();
    const created = await startSession(t, { task: emuTask("look around", { steps: 3, cost: "0.0125" }) });
    expect(SessionResponse.safeParse(created).success).toBe(true);
    expect(created.status).toBe("running");

    const done = await waitForStatus(t, created.id, ["stopped"]);
    expect(done.totalCostUsd).toBe("0.0375");
    expect(done.isTaskSuccessful).toBe(true);

    const truth = (await emulatorTruth()).find((s) => s.id === created.id);
    const usage = await getUsage(env.DB, "session", created.id);
    expect(usage?.totalCostMicros).toBe(toMicros(String(truth?.totalCostUsd)));
    expect(usage?.llmCostMicros).toBe(toMicros(String(truth?.llmCostUsd)));
    const { status: _, ...figures } = usage ?? { status: null };
    expect(await sumCostEvents(env.DB, "session", created.id)).toEqual(figures);
  });

  it("lists only the caller's sessions, newest first, with correct totals and paging", async () => {
    const t = await newTenant();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startSession(t, {});
      ids.push(s.id);
    }
    const page1 = await expectJson(await asTenant(t.key, "/api/v3/sessions?page=1&page_size=2"), 200);
    expect(SessionListResponse.safeParse(page1).success, JSON.stringify(page1)).toBe(true);
    expect(page1).toMatchObject({ total: 3, page: 1, pageSize: 2 });
    const page2 = await expectJson<{ sessions: Session[] }>(
      await asTenant(t.key, "/api/v3/sessions?page=2&page_size=2"),
      200,
    );
    const listed = [...(page1.sessions as Session[]), ...page2.sessions].map((s) => s.id);
    expect(listed).toEqual([...ids].reverse());
  });

  it("dispatches a follow-up task to a kept-alive session and books both tasks", async () => {
    const t = await newTenant();
    const first = await startSession(t, {
      task: emuTask("first", { steps: 1, cost: "0.01" }),
      keepAlive: true,
    });
    await waitForStatus(t, first.id, ["idle"]);
    const second = await startSession(t, {
      task: emuTask("second", { steps: 2, cost: "0.01" }),
      sessionId: first.id,
      keepAlive: true,
    });
    expect(second.id).toBe(first.id);
    const done = await waitForStatus(t, first.id, ["idle"]);
    expect(done.totalCostUsd).toBe("0.03");
    const usage = await getUsage(env.DB, "session", first.id);
    expect(usage?.totalCostMicros).toBe(30_000);
  });

  it("settles a new session's task that ended idle without a step, so a follow-up can run", async () => {
    const t = await newTenant();
    const first = await startSession(t, { task: emuTask("nothing to do", { steps: 0 }), keepAlive: true });
    const idle = await waitForStatus(t, first.id, ["idle"]);
    expect(idle.stepCount).toBe(0);
    const { results } = await env.DB.prepare("SELECT state FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .all();
    expect(results).toEqual([{ state: "settled" }]);
    // Its hold closed, the session takes its next task.
    const second = await startSession(t, {
      task: emuTask("second", { steps: 1, cost: "0.01" }),
      sessionId: first.id,
      keepAlive: true,
    });
    expect(second.id).toBe(first.id);
    expect((await waitForStatus(t, first.id, ["idle"])).totalCostUsd).toBe("0.01");
  });

  it("stops a task (session stays idle) and then the session", async () => {
    const t = await newTenant();
    const s = await startSession(t, { task: emuTask("hang", { outcome: "hang" }), keepAlive: true });
    const afterTask = await expectJson<Session>(
      await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "task" } }),
      200,
    );
    expect(afterTask.status).toBe("idle");
    const noBody = await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { method: "POST" });
    expect((await expectJson<Session>(noBody, 200)).status).toBe("stopped");
    const usage = await getUsage(env.DB, "session", s.id);
    expect(usage?.status).toBe("stopped");
  });

  it("passes upstream refusals through with their status and body", async () => {
    const t = await newTenant();
    const s = await startSession(t, { task: emuTask("x", { steps: 1 }) });
    // Upstream refuses a cursor it never issued; the gateway has no opinion on cursors.
    const res = await asTenant(t.key, `/api/v3/sessions/${s.id}/messages?after=${crypto.randomUUID()}`);
    // Upstream's own body, exactly: no gateway code or request id in it.
    expect(await expectJson(res, 404)).toEqual({ detail: "Message not found" });
  });

  it("refuses a task for a session that has ended, in upstream's words", async () => {
    const t = await newTenant();
    const s = await startSession(t, { task: emuTask("x", { steps: 1 }) });
    await waitForStatus(t, s.id, ["stopped"]);
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: "again", sessionId: s.id } });
    expect(await expectJson(res, 400)).toMatchObject({
      code: "session_not_idle",
      detail: expect.stringContaining("stopped"),
    });
  });

  it("pages messages with the upstream cursors", async () => {
    const t = await newTenant();
    const s = await startSession(t, { task: emuTask("m", { steps: 3 }) });
    await waitForStatus(t, s.id, ["stopped"]);
    const all = await expectJson<{ messages: { id: string }[]; hasMore: boolean }>(
      await asTenant(t.key, `/api/v3/sessions/${s.id}/messages?limit=100`),
      200,
    );
    expect(all.messages.length).toBeGreaterThanOrEqual(4);
    const first = all.messages[0]?.id;
    const after = await expectJson<{ messages: { id: string }[] }>(
      await asTenant(t.key, `/api/v3/sessions/${s.id}/messages?after=${first}&limit=2`),
      200,
    );
    expect(after.messages.map((m) => m.id)).toEqual(all.messages.slice(1, 3).map((m) => m.id));
  });

  it("deletes a session, after which it is gone from get and list", async () => {
    const t = await newTenant();
    const s = await startSession(t, {});
    expect((await asTenant(t.key, `/api/v3/sessions/${s.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await expectJson(await asTenant(t.key, `/api/v3/sessions/${s.id}`), 404)).toMatchObject({
      detail: "Session not found",
    });
    expect(await expectJson(await asTenant(t.key, "/api/v3/sessions"), 200)).toMatchObject({
      total: 0,
      sessions: [],
    });
  });
});

describe("the account read", () => {
  it("reads the tenant, what it has live and its budget in one round trip", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key };
    await startSession(t, {}); // the key's lookup and the policy, out of the way
    const { res, onPath, after } = await countRoundTrips("/api/v3/billing/account", { headers });
    expect(await expectJson(res, 200)).toMatchObject({ activeSessionCount: 1, projectId: t.tenantId });
    expect(onPath).toHaveLength(1);
    expect(onPath[0]).toHaveLength(3);
    expect(after).toEqual([]);
  });
});

describe("a page of the caller's sessions", () => {
  it("counts every page's total in the statement that reads it, and a page past the end alone", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key };
    for (let i = 0; i < 3; i++) await startSession(t, {});
    const page = async (n: number) => {
      const { res, onPath, after } = await countRoundTrips(`/api/v3/sessions?page_size=2&page=${n}`, {
        headers,
      });
      const body = await expectJson<{ sessions: Session[]; total: number }>(res, 200);
      const reads = [...onPath, ...after].flat().filter((sql) => sql.includes("FROM resources"));
      return { count: body.sessions.length, total: body.total, reads: reads.length };
    };
    expect(await page(1)).toEqual({ count: 2, total: 3, reads: 1 });
    expect(await page(2)).toEqual({ count: 1, total: 3, reads: 1 });
    expect(await page(3)).toEqual({ count: 0, total: 3, reads: 2 });
  });

  it("reads a page's rows and counts the total on the index: not every row of the tenant's", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key };
    const made = await startSession(t, {});
    // Many ended sessions of the tenant's, as D1 keeps them (a copy of a real one's row each).
    const count = 200;
    await env.DB.batch(
      Array.from({ length: count }, (_, i) =>
        env.DB.prepare(
          `INSERT INTO resources (kind, id, org_id, tenant_id, created_at, status, view, view_at)
           SELECT kind, ?1, org_id, tenant_id, ?2, 'stopped', json_set(view, '$.id', ?1, '$.status', 'stopped'), view_at
           FROM resources WHERE kind = 'session' AND id = ?3`,
        ).bind(crypto.randomUUID(), `2026-01-01T00:00:00.${String(i).padStart(3, "0")}Z`, made.id),
      ),
    );
    const { res, rowsRead } = await countRoundTrips("/api/v3/sessions?page_size=10", { headers });
    expect(await expectJson(res, 200)).toMatchObject({ total: count + 1 });
    // The count reads the index once (a row each); a window over the page would read every row
    // again, view and all, and sort them, before LIMIT.
    expect(rowsRead).toBeLessThan(count + 20);
  });
});

describe("a list of live sessions", () => {
  const upstreamCalls = async (account: UpstreamAccount) =>
    (await account.control<{ requests: Record<string, number> }>("GET", "/stats")).requests;

  it("books and settles the sessions it can read, though another in the same list has a figure it cannot", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const as = (path: string, body?: unknown) => asTenant(t.key, path, { body, env: account.env });
    const [broken, whole] = [
      await expectJson<Session>(
        await as("/api/v3/sessions", { task: emuTask("a", { steps: 1, cost: "0.01" }) }),
        200,
      ),
      await expectJson<Session>(
        await as("/api/v3/sessions", { task: emuTask("b", { steps: 1, cost: "0.01" }) }),
        200,
      ),
    ];
    // Both end upstream, unseen by the gateway, and are due a refresh.
    await eventually(async () => {
      const truth = (await account.truth()) as { sessions: { id: string; status: string }[] };
      const ended = truth.sessions.filter(
        (s) => [broken.id, whole.id].includes(s.id) && s.status === "stopped",
      );
      return ended.length === 2 ? true : undefined;
    });
    await env.DB.prepare("UPDATE resources SET view_at = '2026-01-01T00:00:00.000Z' WHERE tenant_id = ?")
      .bind(t.tenantId)
      .run();
    await new Promise((r) => setTimeout(r, 450));
    // A fault the emulator does not make: upstream's list gives one session a total no cost can be.
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const res = await real(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!url.pathname.endsWith("/sessions") || res.status !== 200) return res;
      const body = (await res.json()) as { sessions: Session[] };
      const sessions = body.sessions.map((v) => (v.id === broken.id ? { ...v, totalCostUsd: "-0.01" } : v));
      return Response.json({ ...body, sessions });
    });
    try {
      await expectJson(await as("/api/v3/sessions"), 200);
    } finally {
      vi.restoreAllMocks();
    }
    const { results } = await env.DB.prepare("SELECT resource_id, state FROM holds WHERE tenant_id = ?")
      .bind(t.tenantId)
      .all<{ resource_id: string; state: string }>();
    const stateOf = Object.fromEntries(results.map((h) => [h.resource_id, h.state]));
    expect(stateOf).toEqual({ [broken.id]: "open", [whole.id]: "settled" });
    expect(await figuresOf("session", whole.id)).toMatchObject({ totalCostMicros: 10_000 });
  });

  it("is refreshed with one upstream list, not a read per session, books what it shows and is not asked again at once", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const as = (path: string, body?: unknown) => asTenant(t.key, path, { body, env: account.env });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const s = await expectJson<Session>(
        await as("/api/v3/sessions", {
          task: emuTask(`live ${i}`, { steps: 2, stepMs: 60_000, cost: "0.001" }),
        }),
        200,
      );
      ids.push(s.id);
    }
    // As if last seen a while ago: every item is due a refresh.
    await env.DB.prepare("UPDATE resources SET view_at = '2026-01-01T00:00:00.000Z' WHERE tenant_id = ?")
      .bind(t.tenantId)
      .run();
    await new Promise((r) => setTimeout(r, 450));
    const before = await upstreamCalls(account);
    const list = await expectJson<{ sessions: Session[] }>(await as("/api/v3/sessions"), 200);
    const after = await upstreamCalls(account);
    expect(list.sessions.map((s) => s.id).sort()).toEqual([...ids].sort());
    expect((after["GET /sessions"] ?? 0) - (before["GET /sessions"] ?? 0)).toBe(1);
    expect(after["GET /sessions/{id}"] ?? 0).toBe(before["GET /sessions/{id}"] ?? 0);
    // What the list showed is booked, as a read of each would have been.
    for (const s of list.sessions) {
      expect((await figuresOf("session", s.id)).totalCostMicros).toBe(toMicros(String(s.totalCostUsd)));
    }

    // Listed again at once: what was just refreshed is not asked for again.
    await expectJson(await as("/api/v3/sessions"), 200);
    expect(await upstreamCalls(account)).toEqual(after);

    // What changed through the gateway since shows as it is now, not as the list last saw it.
    await expectJson(await as(`/api/v3/sessions/${ids[0]}/stop`, { strategy: "session" }), 200);
    const afterStop = await expectJson<{ sessions: Session[] }>(await as("/api/v3/sessions"), 200);
    expect(afterStop.sessions.find((s) => s.id === ids[0])?.status).toBe("stopped");

    // One item due (a new one, last seen long ago): one read of it, no list.
    const late = await expectJson<Session>(
      await as("/api/v3/sessions", { task: emuTask("late", { steps: 2, stepMs: 60_000, cost: "0.001" }) }),
      200,
    );
    // The other four as just seen, however long this took: only the new one is due.
    await env.DB.prepare(
      "UPDATE resources SET view_at = CASE WHEN id = ?1 THEN '2026-01-01T00:00:00.000Z' ELSE ?2 END WHERE tenant_id = ?3",
    )
      .bind(late.id, new Date().toISOString(), t.tenantId)
      .run();
    const beforeLate = await upstreamCalls(account);
    await expectJson(await as("/api/v3/sessions"), 200);
    const last = await upstreamCalls(account);
    expect(last["GET /sessions"]).toBe(beforeLate["GET /sessions"]);
    expect(last["GET /sessions/{id}"] ?? 0).toBe((beforeLate["GET /sessions/{id}"] ?? 0) + 1);
  });
});

describe("D1 round trips on a task's path", () => {
  it("admits a task in two: the hold, then its record, attachment and first booking in one batch", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" };
    await startSession(t, {}); // the key's once-a-minute touch and the policy cache, out of the way
    const task = emuTask("slow", { steps: 2, stepMs: 60_000, cost: "0.01" });
    const { res, onPath, after } = await countRoundTrips("/api/v3/sessions", {
      method: "POST",
      headers,
      body: JSON.stringify({ task }),
    });
    const created = await expectJson<Session>(res, 200);
    expect(onPath).toHaveLength(2);
    expect(after).toEqual([]);
    const [hold, record] = onPath as [string[], string[]];
    expect(hold.some((sql) => sql.includes("INSERT INTO holds"))).toBe(true);
    for (const part of ["INSERT INTO resources", "UPDATE holds SET resource_id", "INSERT INTO cost_events"]) {
      expect(record.some((sql) => sql.includes(part))).toBe(true);
    }
    // Nothing that could change nothing: the view was just stored with the record, and under the
    // hold just attached no spend is charged (so no budget counter is touched).
    expect(
      record.filter((sql) => sql.includes("UPDATE resources") || sql.includes("budget_counters")),
    ).toEqual([]);
    // Booked as it was answered: the ledger has the create's figures without another request.
    expect(await figuresOf("session", created.id)).toMatchObject({ totalCostMicros: 0 });

    // Its first poll needs no ownership read (this isolate recorded it), and a poll that finds
    // nothing changed touches D1 not at all.
    const first = await countRoundTrips(`/api/v3/sessions/${created.id}`, { headers });
    expect((await expectJson<Session>(first.res, 200)).status).toBe("running");
    expect([...first.onPath, ...first.after].flat().filter((sql) => sql.startsWith("SELECT"))).toEqual([]);
    const unchanged = await countRoundTrips(`/api/v3/sessions/${created.id}`, { headers });
    await expectJson(unchanged.res, 200);
    expect([...unchanged.onPath, ...unchanged.after]).toEqual([]);
  });

  it("reads as many rows for an admission with many sessions live as with one: live counts only for a refusal", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" };
    const admit = async () => {
      const body = JSON.stringify({ task: emuTask("live", { outcome: "hang" }) });
      const { res, rowsRead } = await countRoundTrips("/api/v3/sessions", { method: "POST", headers, body });
      await expectJson(res, 200);
      return rowsRead;
    };
    await admit(); // the key's once-a-minute touch and the policy cache, out of the way
    const withOneLive = await admit();
    for (let i = 0; i < 20; i++) await admit();
    // D1 bills the rows it reads; an admitted task has no use for how many sessions are live.
    expect(await admit()).toBe(withOneLive);
  });
});
