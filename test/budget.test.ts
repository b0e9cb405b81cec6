import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { periodKey } from "../src/budget/period";
import { observeViews } from "../src/ledger/observe";
import { createLogger } from "../src/lib/log";
import { fromMicros, toMicros } from "../src/lib/money";
import { openHold, settleIfEnded } from "../src/budget/holds";
import { effectivePolicy } from "../src/policy/effective";
import { closeHold, getCounter } from "../src/store/budgets";
import { reconcile } from "../src/reconciler/run";
import { SESSIONS } from "../src/upstream/kinds";
import {
  asTenant,
  emuTask,
  emulatorTruth,
  eventually,
  expectJson,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  waitForStatus,
  startSession,
  type SessionView as Session,
} from "./helpers";

const log = createLogger({ test: "budget" });

async function holds(tenantId: string) {
  const { results } = await env.DB.prepare(
    "SELECT id, resource_id, amount_micros, state, settled_micros, ceiling_tag FROM holds WHERE tenant_id = ? ORDER BY created_at",
  )
    .bind(tenantId)
    .all<{
      id: string;
      resource_id: string | null;
      amount_micros: number;
      state: string;
      settled_micros: number | null;
      ceiling_tag: number;
    }>();
  return results;
}

describe("admission", () => {
  it("holds what the task may cost and forwards that ceiling upstream", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxTaskCostUsd: "0.50", defaultTaskCostUsd: "0.20" });
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("x", { steps: 1, cost: "0.01" }) },
    });
    const s = await expectJson<Session>(res, 200);
    const asked = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("y", { steps: 1 }), maxCostUsd: 9 },
    });
    const [first, second] = await holds(t.tenantId);
    expect([first?.amount_micros, second?.amount_micros]).toEqual([200_000, 500_000]);
    // Forwarded as the hold less its tag: a few micro-USD that tell same-sized creates apart.
    const tags = [first?.ceiling_tag ?? 0, second?.ceiling_tag ?? 0];
    expect(tags.every((tag) => tag >= 1 && tag < 1000)).toBe(true);
    expect(tags[0]).not.toBe(tags[1]);
    const ceiling = fromMicros(200_000 - (tags[0] ?? 0));
    expect(res.headers.get("X-Gateway-Applied")).toBe(`skills=false, maxCostUsd=${ceiling}`);
    expect(s.maxCostUsd).toBe(ceiling);
    expect((await expectJson<Session>(asked, 200)).maxCostUsd).toBe(fromMicros(500_000 - (tags[1] ?? 0)));
  });

  it("never holds more than a maxCostUsd with digits past the sixth decimal asks for", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { maxTaskCostUsd: "5" });
    for (const maxCostUsd of ["0.1234569", 0.2000005]) {
      await expectJson(
        await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("x"), maxCostUsd } }),
        200,
      );
    }
    expect((await holds(t.tenantId)).map((h) => h.amount_micros)).toEqual([123_456, 200_000]);
  });
  it("never lets concurrent admissions together hold more than the cap, and books what upstream billed", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { budget: { capUsd: "0.10", period: "month" }, minHoldUsd: "0.01" });
    await putPolicy("tenants", t.tenantId, { maxTaskCostUsd: "0.03" });
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        asTenant(t.key, "/api/v3/sessions", {
          body: { task: emuTask(`race ${i}`, { steps: 1, cost: "0.02" }) },
        }),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    const admitted = results.filter((r) => r.status === 200);
    expect(
      statuses.filter((s) => s !== 200 && s !== 402),
      String(statuses),
    ).toEqual([]);
    const held = (await holds(t.tenantId)).reduce((sum, h) => sum + h.amount_micros, 0);
    expect(held).toBeLessThanOrEqual(100_000);
    // 0.03 + 0.03 + 0.03 + the 0.01 left: four tasks fit, then the remainder is under the minimum.
    expect(admitted.length).toBe(4);
    const refused = await expectJson(results.find((r) => r.status === 402) as Response, 402);
    expect(refused).toMatchObject({ code: "budget_exceeded", scope: "org" });

    const ids = await Promise.all(admitted.map(async (r) => ((await r.json()) as Session).id));
    for (const id of ids) await waitForStatus(t, id);
    const truth = (await emulatorTruth()).filter((s) => ids.includes(String(s.id)));
    const billed = truth.reduce((sum, s) => sum + toMicros(String(s.totalCostUsd)), 0);
    const month = periodKey("month", "UTC", new Date());
    expect(await getCounter(env.DB, "org", t.orgId, month)).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
    expect((await holds(t.tenantId)).every((h) => h.state === "settled")).toBe(true);
  });

  it("refuses below the minimum hold with 402 naming the scope and what remains, forwarding nothing", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.005", period: "day" } });
    // Other test files share the emulator, so count this test's own upstream calls.
    const upstream = vi.spyOn(globalThis, "fetch");
    try {
      const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: "too poor" } });
      expect(await expectJson(res, 402)).toMatchObject({
        code: "budget_exceeded",
        scope: "tenant",
        remainingUsd: "0.005",
      });
      expect(upstream).not.toHaveBeenCalled();
    } finally {
      upstream.mockRestore();
    }
    expect(await holds(t.tenantId)).toEqual([]);
  });

  it("books upstream's overshoot past a hold, and reports it in the budget view", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.015",
    });
    const s = await startSession(t, { task: emuTask("greedy", { steps: 5, cost: "0.01" }) });
    // Upstream stops the task once its total reaches the $0.015 ceiling: after the second $0.01 step.
    const done = await waitForStatus(t, s.id, ["stopped"]);
    expect(done.totalCostUsd).toBe("0.02");
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toEqual({
      heldMicros: 0,
      spentMicros: 20_000,
      overshootMicros: 5_000,
    });
    const view = await expectJson<{ scopes: Record<string, unknown>[] }>(
      await asTenant(t.key, "/gateway/v1/budget"),
      200,
    );
    expect(view.scopes[1]).toMatchObject({
      scope: "tenant",
      spentUsd: "0.02",
      overshootUsd: "0.005",
      remainingUsd: "0.98",
    });
  });

  it("holds a browser's whole timeout at upstream's price and settles its refund", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "none" } });
    const b = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 30, proxyCountryCode: null } }),
      201,
    );
    expect((await holds(t.tenantId))[0]?.amount_micros).toBe(10_000);
    await expectJson(
      await asTenant(t.key, `/api/v3/browsers/${b.id}`, { method: "PATCH", body: { action: "stop" } }),
      200,
    );
    const [hold] = await holds(t.tenantId);
    expect(hold?.state).toBe("settled");
    const counter = await getCounter(env.DB, "tenant", t.tenantId, "none");
    expect(counter.heldMicros).toBe(0);
    expect(counter.spentMicros).toBe(hold?.settled_micros);
    expect(counter.spentMicros).toBeLessThan(10_000);
  });
});

describe("settlement", () => {
  it("settles at the latest figures booked, even when the view that ended it is older", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.2",
    });
    const s = await startSession(t, { task: emuTask("racing", { steps: 1, cost: "0.01", outcome: "hang" }) });
    const running = await eventually(async () => {
      const truth = (await emulatorTruth()).find((x) => x.id === s.id);
      return Number(truth?.stepCount) === 1 ? (truth as Session) : undefined;
    });
    // Two observers: one books a later view (a cent more, still running) while the other, holding
    // an older view that shows the session stopped, settles.
    const more = {
      ...running,
      llmCostUsd: "0.017",
      totalCostUsd: "0.02",
      updatedAt: new Date().toISOString(),
    };
    await observeViews(env, log, SESSIONS, t, [more], new Date().toISOString());
    await settleIfEnded(
      env.DB,
      log,
      SESSIONS.observe({ ...running, status: "stopped" }, t),
      new Date().toISOString(),
    );
    expect((await holds(t.tenantId)).map((h) => [h.state, h.settled_micros])).toEqual([["settled", 20_000]]);
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
  });

  it("does not settle a new session's task on an idle that tells nothing of it: the sandbox ready before it runs", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.2",
    });
    const s = await startSession(t, { task: emuTask("about to run", { outcome: "hang" }) });
    // Browser Use may report a session created with a task `idle` for a moment before it runs.
    const ready = { ...s, status: "idle", stepCount: 0, isTaskSuccessful: null, output: null };
    await observeViews(env, log, SESSIONS, t, [ready], new Date().toISOString());
    expect((await holds(t.tenantId)).map((h) => h.state)).toEqual(["open"]);
    // Idle with how its task went, steps or none: over.
    await observeViews(
      env,
      log,
      SESSIONS,
      t,
      [{ ...ready, isTaskSuccessful: false }],
      new Date().toISOString(),
    );
    expect((await holds(t.tenantId)).map((h) => h.state)).toEqual(["settled"]);
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
  });

  it("does not settle a follow-up on a stale idle read sent after its dispatch", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.2",
    });
    const s = await startSession(t, { task: emuTask("first", { steps: 1, cost: "0.01" }), keepAlive: true });
    const before = await waitForStatus(t, s.id, ["idle"]);
    await startSession(t, { task: emuTask("second", { steps: 1, outcome: "hang" }), sessionId: s.id });
    // A replica that has not seen the dispatch yet answers a read sent now with the old idle view.
    await observeViews(env, log, SESSIONS, t, [before], new Date().toISOString());
    expect((await holds(t.tenantId)).map((h) => h.state)).toEqual(["settled", "open"]);
    const stopped = await expectJson<Session>(
      await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } }),
      200,
    );
    expect((await holds(t.tenantId)).map((h) => h.state)).toEqual(["settled", "settled"]);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: toMicros(String(stopped.totalCostUsd)),
    });
  });

  it.each([
    ["stopped", { keepAlive: false, outcome: "success" as const }],
    ["idle", { keepAlive: true, outcome: "success" as const }],
    ["error", { keepAlive: false, outcome: "error" as const }],
  ])("settles a task that ends %s, exactly once", async (end, how) => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" }, maxTaskCostUsd: "1" });
    const s = await startSession(t, {
      task: emuTask("end", { steps: 2, cost: "0.01", outcome: how.outcome }),
      keepAlive: how.keepAlive,
    });
    const done = await waitForStatus(t, s.id, [end]);
    const counter = await getCounter(env.DB, "tenant", t.tenantId, "none");
    expect(counter).toEqual({
      heldMicros: 0,
      spentMicros: toMicros(String(done.totalCostUsd)),
      overshootMicros: 0,
    });
    // Observed again, in any order, by anyone: nothing more is booked.
    await observeViews(
      env,
      log,
      SESSIONS,
      t,
      [done, { ...done, status: "running" }, done],
      new Date().toISOString(),
    );
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject(counter);
  });

  it("settles a task whose session timed out", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
    const s = await expectJson<Session>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("t", { steps: 1, cost: "0.01" }), keepAlive: true },
        env: account.env,
      }),
      200,
    );
    // Read upstream itself, so nothing settles the task at its idle; then let it time out there.
    await eventually(async () => ((await account.truth()).sessions[0]?.status === "idle" ? true : undefined));
    await account.control("POST", "/clock", { advanceMs: 16 * 60_000 });
    const done = await expectJson<Session>(
      await asTenant(t.key, `/api/v3/sessions/${s.id}`, { env: account.env }),
      200,
    );
    expect(done.status).toBe("timed_out");
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: toMicros(String(done.totalCostUsd)),
    });
  });

  it("books a follow-up task as what it added to the session's total", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    const s = await startSession(t, { task: emuTask("a", { steps: 1, cost: "0.02" }), keepAlive: true });
    await waitForStatus(t, s.id, ["idle"]);
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("b", { steps: 2, cost: "0.03" }), sessionId: s.id },
    });
    expect(res.headers.get("X-Gateway-Applied")).toBe("skills=false, maxCostUsd=0.52");
    await expectJson(res, 200);
    const done = await waitForStatus(t, s.id, ["idle"]);
    expect(done.totalCostUsd).toBe("0.08");
    const hs = await holds(t.tenantId);
    expect(hs.map((h) => [h.state, h.settled_micros])).toEqual([
      ["settled", 20_000],
      ["settled", 60_000],
    ]);
    expect((await getCounter(env.DB, "tenant", t.tenantId, "none")).spentMicros).toBe(80_000);
  });

  // Upstream reads a follow-up's maxCostUsd as the session's whole budget ("overrides the
  // session's budget for the upcoming dispatch"), not as what the new task may add.
  it("never raises a follow-up's own maxCostUsd: it bounds the session's total, and holds only what it leaves", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
    const s = await startSession(t, { task: emuTask("a", { steps: 2, cost: "0.05" }), keepAlive: true });
    expect((await waitForStatus(t, s.id, ["idle"])).totalCostUsd).toBe("0.1");
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("b", { steps: 10, cost: "0.05" }), sessionId: s.id, maxCostUsd: "0.12" },
    });
    expect(res.headers.get("X-Gateway-Applied")).toBe("skills=false, maxCostUsd=0.12");
    await expectJson(res, 200);
    const done = await waitForStatus(t, s.id, ["idle"]);
    // Upstream stops it once the session's total reaches $0.12: one step past, as ever.
    expect(done.totalCostUsd).toBe("0.15");
    const followUp = (await holds(t.tenantId))[1];
    expect([followUp?.amount_micros, followUp?.settled_micros]).toEqual([20_000, 50_000]);
    // A session that has spent its own ceiling already takes no task under it.
    const spent = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("c", { steps: 1 }), sessionId: s.id, maxCostUsd: "0.15" },
    });
    expect(await expectJson(spent, 402)).toMatchObject({ code: "budget_exceeded" });
    expect(await holds(t.tenantId)).toHaveLength(2);
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: {} });
  });

  it("settles the hold of a session deleted while its task runs at everything it cost up to the delete", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    const s = await startSession(t, { task: emuTask("doomed", { steps: 40, cost: "0.01" }) });
    await eventually(async () =>
      Number((await emulatorTruth()).find((x) => x.id === s.id)?.stepCount) >= 2 ? true : undefined,
    );
    // The delete takes a while to reach upstream; the task keeps running meanwhile, as it would.
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      if (init?.method === "DELETE") await new Promise((r) => setTimeout(r, 100));
      return real(input, init);
    });
    expect((await asTenant(t.key, `/api/v3/sessions/${s.id}`, { method: "DELETE" })).status).toBe(204);
    vi.restoreAllMocks();
    const billed = toMicros(String((await emulatorTruth()).find((x) => x.id === s.id)?.totalCostUsd));
    expect(billed).toBeGreaterThanOrEqual(20_000);
    expect(await holds(t.tenantId)).toEqual([
      expect.objectContaining({ state: "settled", settled_micros: billed }),
    ]);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
  });

  it("takes a follow-up to an upper-case session id like any other, one hold at a time", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    const s = await startSession(t, { task: emuTask("a", { steps: 1, cost: "0.01" }), keepAlive: true });
    await waitForStatus(t, s.id, ["idle"]);
    const upper = s.id.toUpperCase();
    const hang = { task: emuTask("b", { outcome: "hang" }), sessionId: upper };
    await expectJson(await asTenant(t.key, "/api/v3/sessions", { body: hang }), 200);
    const again = await asTenant(t.key, "/api/v3/sessions", { body: hang });
    expect(await expectJson(again, 400)).toMatchObject({ code: "session_not_idle" });
    expect((await holds(t.tenantId)).map((h) => [h.resource_id, h.state])).toEqual([
      [s.id, "settled"],
      [s.id, "open"],
    ]);
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
  });

  it("releases the hold at once when upstream certainly refused the create", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "none" } });
    const detail =
      "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan.";
    const spy = vi
      .spyOn(globalThis, "fetch")
      .mockImplementation(async () => Response.json({ detail }, { status: 429 }));
    try {
      const res = await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 30 } });
      expect(await expectJson(res, 429)).toEqual({ detail });
    } finally {
      spy.mockRestore();
    }
    expect((await holds(t.tenantId)).map((h) => h.state)).toEqual(["released"]);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: 0,
    });
  });

  it("keeps the hold of a create whose answer was lost, and the reconciler finds the session and settles it", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.25",
    });
    const realFetch = globalThis.fetch;
    const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      await realFetch(input, init); // upstream does the work...
      throw new TypeError("Network connection lost."); // ...but its answer never arrives
    });
    try {
      const res = await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("lost", { steps: 1, cost: "0.02" }) },
        env: account.env,
      });
      expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_unreachable" });
    } finally {
      spy.mockRestore();
    }
    const [orphan] = await holds(t.tenantId);
    expect(orphan).toMatchObject({ state: "open", resource_id: null, amount_micros: 250_000 });

    await eventually(async () => {
      const report = await reconcile(account.env, log, {
        orgId: t.orgId,
        orphanAfterMs: 0,
        now: new Date(Date.now() + 1000),
      });
      return report.adopted + (await holds(t.tenantId)).filter((h) => h.resource_id).length > 0
        ? report
        : undefined;
    });
    const [adopted] = await holds(t.tenantId);
    expect(adopted?.resource_id).toEqual(expect.any(String));
    const list = await expectJson<{ sessions: Session[]; total: number }>(
      await asTenant(t.key, "/api/v3/sessions", { env: account.env }),
      200,
    );
    expect(list.total).toBe(1);
    const done = await waitForStatus(t, list.sessions[0]?.id as string, ["stopped"], account.env);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: toMicros(String(done.totalCostUsd)),
    });
  });
});

describe("periods", () => {
  it("rolls a month over at midnight in the budget's time zone, not UTC's", () => {
    const lastUtcHourOfNovember = new Date("2026-11-30T23:30:00Z");
    expect(periodKey("month", "UTC", lastUtcHourOfNovember)).toBe("month:2026-11");
    expect(periodKey("month", "Europe/Berlin", lastUtcHourOfNovember)).toBe("month:2026-12");
    expect(periodKey("month", "America/New_York", new Date("2026-12-01T03:00:00Z"))).toBe("month:2026-11");
    expect(periodKey("day", "Asia/Tokyo", new Date("2026-11-28T15:00:00Z"))).toBe("day:2026-11-29");
    expect(periodKey("week", "UTC", new Date("2026-11-29T12:00:00Z"))).toBe("week:2026-11-23");
    expect(periodKey("week", "UTC", new Date("2026-11-30T00:00:00Z"))).toBe("week:2026-11-30");
    expect(periodKey("none", "UTC", new Date())).toBe("none");
  });

  it("gives the local day of any instant, in any order, zones with half- and three-quarter-hour offsets included", () => {
    // periodKey remembers the last date per zone for the minute it holds in: asked in any order,
    // around local midnights, it must answer as a fresh formatter does.
    const zones = [
      "UTC",
      "Asia/Kathmandu",
      "Australia/Eucla",
      "America/St_Johns",
      "Pacific/Chatham",
      "Asia/Kolkata",
    ];
    const reference = (zone: string, at: Date) =>
      `day:${new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at)}`;
    // Pairs of asks a little apart, the second just after the first: a remembered date must not
    // outlive the minute it was worked out for.
    const pairs = fc
      .tuple(
        fc.constantFrom(...zones),
        fc.integer({ min: 0, max: 400 }),
        fc.integer({ min: 0, max: 95 }),
        fc.integer({ min: 0, max: 900_000 }),
        fc.integer({ min: 0, max: 3_600_000 }),
      )
      .map(([zone, day, quarter, ms, later]) => {
        const at = Date.UTC(2026, 0, 1) + day * 86_400_000 + quarter * 900_000 + ms;
        return [zone, new Date(at), new Date(at + later)] as const;
      });
    fc.assert(
      fc.property(fc.array(pairs, { minLength: 1, maxLength: 40 }), (asks) => {
        for (const [zone, first, then] of asks) {
          expect(periodKey("day", zone, first)).toBe(reference(zone, first));
          expect(periodKey("day", zone, then)).toBe(reference(zone, then));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("period roll-over", () => {
  it("books a task held in November into November's counter, and December starts from zero (Berlin)", async () => {
    const t = await newTenant();
    const budget = { capMicros: 100_000, period: "month" as const, timeZone: "Europe/Berlin" };
    const policy = { ...effectivePolicy(null, null), tenantBudget: budget, maxTaskCostMicros: 80_000 };
    const caller = { orgId: t.orgId, tenantId: t.tenantId, keyId: t.keyId };
    const task = {
      kind: "session" as const,
      resourceId: null,
      requestedMicros: null,
      exact: false,
      addsLive: false,
    };

    // 23:30 UTC on 30 November is already 00:30 on 1 December in Berlin.
    const lateNovember = new Date("2026-11-30T22:30:00Z");
    const firstOfDecember = new Date("2026-11-30T23:30:00Z");
    const november = await openHold(env.DB, caller, policy, task, lateNovember);
    expect(november.amountMicros).toBe(80_000);
    // What is left of November (20_000, above the 10_000 floor) is held; then nothing is.
    const rest = await openHold(env.DB, caller, policy, task, lateNovember);
    expect(rest.amountMicros).toBe(20_000);
    await expect(openHold(env.DB, caller, policy, task, lateNovember)).rejects.toMatchObject({
      code: "budget_exceeded",
    });

    // The November hold settles after midnight in Berlin; it still books into November.
    expect(await closeHold(env.DB, november.id, { amountMicros: 70_000 }, "settled")).toBe(70_000);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "month:2026-11")).toMatchObject({
      heldMicros: 20_000,
      spentMicros: 70_000,
    });
    const december = await openHold(env.DB, caller, policy, task, firstOfDecember);
    expect(december.amountMicros).toBe(80_000);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "month:2026-12")).toMatchObject({
      heldMicros: 80_000,
      spentMicros: 0,
    });
  });
});

describe("the tenant's view", () => {
  it("shows caps, spent, held and remaining per scope, and billing/account answers from the same figures", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, {
      budget: { capUsd: "10", period: "month", timeZone: "Europe/Berlin" },
    });
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "2", period: "none" },
      maxTaskCostUsd: "0.5",
    });
    await expectJson(
      await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask("h", { outcome: "hang" }) } }),
      200,
    );
    const view = await expectJson<{ scopes: Record<string, unknown>[] }>(
      await asTenant(t.key, "/gateway/v1/budget"),
      200,
    );
    expect(view.scopes).toEqual([
      expect.objectContaining({
        scope: "org",
        capUsd: "10",
        period: "month",
        timeZone: "Europe/Berlin",
        heldUsd: "0.5",
        remainingUsd: "9.5",
      }),
      expect.objectContaining({
        scope: "tenant",
        capUsd: "2",
        period: "none",
        heldUsd: "0.5",
        spentUsd: "0",
        remainingUsd: "1.5",
      }),
    ]);
    const account = await expectJson(await asTenant(t.key, "/api/v3/billing/account"), 200);
    expect(account.totalCreditsBalanceUsd).toBe(1.5);
  });
});

describe("Idempotency-Key", () => {
  it("replays the first answer for a retry with the same key and takes no second hold", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "1", period: "none" },
      maxTaskCostUsd: "0.1",
    });
    const send = (body: unknown, key: string) =>
      asTenant(t.key, "/api/v3/sessions", { body, headers: { "Idempotency-Key": key } });
    const body = { task: emuTask("once", { steps: 1, cost: "0.01" }) };
    const first = await send(body, "retry-me");
    const firstBody = await expectJson<Session>(first, 200);
    const again = await send(body, "retry-me");
    expect(await expectJson<Session>(again, 200)).toEqual(firstBody);
    expect(again.headers.get("Idempotent-Replayed")).toBe("true");
    expect(again.headers.get("X-Gateway-Applied")).toBe(first.headers.get("X-Gateway-Applied"));
    expect(await holds(t.tenantId)).toHaveLength(1);

    const changed = await send({ task: "something else" }, "retry-me");
    expect(await expectJson(changed, 409)).toMatchObject({ code: "idempotency_conflict" });
    const otherTenant = await newTenant(t.orgId);
    const theirs = await asTenant(otherTenant.key, "/api/v3/sessions", {
      body,
      headers: { "Idempotency-Key": "retry-me" },
    });
    expect((await expectJson<Session>(theirs, 200)).id).not.toBe(firstBody.id);
  });

  it("does not replay the gateway's own refusal: a retry after the budget is raised goes through", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.001", period: "none" } });
    const body = { task: emuTask("later", { steps: 1 }) };
    const send = () =>
      asTenant(t.key, "/api/v3/sessions", { body, headers: { "Idempotency-Key": "after-topup" } });
    expect(await expectJson(await send(), 402)).toMatchObject({ code: "budget_exceeded" });
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "none" } });
    const ok = await send();
    expect(ok.headers.get("Idempotent-Replayed")).toBeNull();
    await expectJson(ok, 200);
  });

  it("frees the key when a follow-up fails before anything was held: the retry runs, not 409", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const created = await expectJson<Session>(
      await asTenant(t.key, "/api/v3/sessions", { body: { keepAlive: true }, env: account.env }),
      200,
    );
    // A session made without a task is `created` for a step before it is idle and can take one.
    await waitForStatus(t, created.id, ["idle"], account.env);
    const body = { sessionId: created.id, task: emuTask("after a failed read", { steps: 1 }) };
    const send = () =>
      asTenant(t.key, "/api/v3/sessions", {
        body,
        env: account.env,
        headers: { "Idempotency-Key": "read-failed" },
      });
    const before = await holds(t.tenantId);
    // The read of the session before the admission fails (and its one retry): nothing is held or sent.
    await account.control("POST", "/faults", { next: ["500", "500"] });
    const failed = await send();
    expect(failed.status, await failed.text()).toBeGreaterThanOrEqual(500);
    expect(await holds(t.tenantId)).toEqual(before);
    const retried = await send();
    expect(retried.headers.get("Idempotent-Replayed")).toBeNull();
    await expectJson(retried, 200);
    expect(await holds(t.tenantId)).toHaveLength(before.length + 1);
  });

  it("frees a key whose create's answer was lost once the reconciler finds upstream made nothing, and only then", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      maxTaskCostUsd: "0.2",
    });
    const send = (body: unknown, key: string) =>
      asTenant(t.key, "/api/v3/sessions", { body, env: account.env, headers: { "Idempotency-Key": key } });
    const task = { task: emuTask("lost, then retried", { steps: 1 }) };
    // A task whose create upstream answered 500 without acting; and a session without a task whose
    // create upstream carried out, its answer lost: the first made nothing, the second a session.
    await account.control("POST", "/faults", { next: ["500"] });
    expect(await expectJson(await send(task, "refused-500"), 502)).toMatchObject({
      code: "upstream_bad_response",
    });
    await account.control("POST", "/faults", { next: ["drop-after"] });
    expect((await send({}, "answer-lost")).status).toBeGreaterThanOrEqual(500);
    for (const key of ["refused-500", "answer-lost"]) {
      const retry = await send(key === "answer-lost" ? {} : task, key);
      expect(await expectJson(retry, 409)).toMatchObject({ code: "idempotency_conflict" });
    }
    // The reconciler's listings, long enough after: nothing of the first, the second's session adopted.
    await reconcile(account.env, log, { orgId: t.orgId, now: new Date(Date.now() + 20 * 60_000) });
    const [made] = (await account.truth()).sessions;
    expect((await account.truth()).sessions).toHaveLength(1);
    const retried = await expectJson<Session>(await send(task, "refused-500"), 200);
    expect(await expectJson(await send({}, "answer-lost"), 409)).toMatchObject({
      code: "idempotency_conflict",
    });
    expect(new Set((await account.truth()).sessions.map((s) => s.id))).toEqual(
      new Set([made?.id, retried.id]),
    );
  });

  it("lets concurrent retries with one key create one session", async () => {
    const t = await newTenant();
    const body = { task: emuTask("dup", { steps: 1 }) };
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        asTenant(t.key, "/api/v3/sessions", { body, headers: { "Idempotency-Key": "burst" } }),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(results.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const ids = new Set(await Promise.all(ok.map(async (r) => ((await r.json()) as Session).id)));
    expect(ids.size).toBe(1);
    expect(await expectJson(await asTenant(t.key, "/api/v3/sessions"), 200)).toMatchObject({ total: 1 });
  });
});

describe("housekeeping", () => {
  it("the reconciler forgets old idempotency keys, and keeps current ones", async () => {
    const key = crypto.randomUUID();
    const old = new Date(Date.now() - 25 * 60 * 60 * 1000).toISOString();
    await env.DB.prepare(
      `INSERT INTO idempotency_keys (tenant_id, key, request_hash, claim_token, state, created_at)
       VALUES (?, 'old', 'h', 't1', 'done', ?), (?, 'new', 'h', 't2', 'done', ?)`,
    )
      .bind(key, old, key, new Date().toISOString())
      .run();
    await reconcile(env, log);
    const keys = await env.DB.prepare("SELECT key FROM idempotency_keys WHERE tenant_id = ?").bind(key).all();
    expect(keys.results).toEqual([{ key: "new" }]);
  });
});
