/**
 * A hook's session whose end the gateway never sees in a final status: deleted on Browser Use's
 * side (upstream answers 404 for it), or a lost create the reconciler charges in full. Its
 * delivery still gets exactly one `session.finished` callback, made with the settlement.
 */
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { createCeilingMicros, openHold } from "../src/budget/holds";
import { observeViews } from "../src/ledger/observe";
import { createLogger } from "../src/lib/log";
import { fromMicros } from "../src/lib/money";
import { effectivePolicy } from "../src/policy/effective";
import { reconcile } from "../src/reconciler/run";
import { SESSIONS } from "../src/upstream/kinds";
import {
  asTenant,
  emuTask,
  eventInbox,
  eventually,
  expectJson,
  figuresOf,
  newTenant,
  putPolicy,
  type Received,
  type SessionView,
  storeFailingOn,
  type UpstreamAccount,
  waitForStatus,
} from "./helpers";
import { admin, cappedHookOnAccount, deliverTo, receivedAtLeast } from "./hook-helpers";

const log = createLogger({ test: "callbacks-unseen-end" });
const later = (minutes: number) => new Date(Date.now() + minutes * 60_000);

/** A task that runs one step ($0.01), then keeps running until it is stopped or deleted. */
const HANGS = emuTask("Watch order {{order.id}}", { steps: 1, cost: "0.01", outcome: "hang" });

type EventData = Record<string, unknown>;

/** The event a receiver got, verified with the hook's secret as a receiver would. */
function verified(got: Received | undefined, secret: string): { type: string; data: EventData } {
  return new Webhook(secret).verify(got?.body as string, got?.headers as Record<string, string>) as {
    type: string;
    data: EventData;
  };
}

/** The `session.finished` events made for a hook, as its outbox holds them. */
async function eventsOf(hookId: string): Promise<EventData[]> {
  const { results } = await env.DB.prepare(
    "SELECT body FROM events WHERE hook_id = ? AND type = 'session.finished'",
  )
    .bind(hookId)
    .all<{ body: string }>();
  return results.map((r) => (JSON.parse(r.body) as { data: EventData }).data);
}

/** The event's figures for what the ledger booked of a session: every field as the gateway writes money. */
async function bookedFigures(sessionId: string): Promise<EventData> {
  const f = await figuresOf("session", sessionId);
  return {
    totalCostUsd: fromMicros(f.totalCostMicros),
    llmCostUsd: fromMicros(f.llmCostMicros),
    proxyCostUsd: fromMicros(f.proxyCostMicros),
    browserCostUsd: fromMicros(f.browserCostMicros),
    totalInputTokens: f.inputTokens,
    totalOutputTokens: f.outputTokens,
    proxyUsedMb: fromMicros(f.proxyUsedMicroMb),
  };
}

/** Deletes a session on the account itself, past the gateway (as Browser Use's dashboard does). */
async function deleteUpstream(account: UpstreamAccount, sessionId: string): Promise<void> {
  const res = await fetch(`${account.env.UPSTREAM_URL}/sessions/${sessionId}`, {
    method: "DELETE",
    headers: { "X-Browser-Use-API-Key": account.key },
  });
  expect(res.status).toBe(204);
}

async function holdOf(tenantId: string) {
  return env.DB.prepare("SELECT state, settled_micros, resource_id FROM holds WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ state: string; settled_micros: number | null; resource_id: string | null }>();
}

/**
 * A hook's session that has run its one step, booked by the tenant's read of it (so the ledger
 * has its figures), and is still running.
 */
async function runningHookSession(deliveryId: string) {
  const box = eventInbox();
  const { account, t, hook } = await cappedHookOnAccount({ task: HANGS, callbackUrl: box.url });
  const { sessionId } = await expectJson<{ sessionId: string }>(
    await deliverTo(account.env, hook, deliveryId),
    202,
  );
  await eventually(async () => {
    const s = await expectJson<SessionView>(
      await asTenant(t.key, `/api/v3/sessions/${sessionId}`, { env: account.env }),
      200,
    );
    return Number(s.stepCount) >= 1 ? s : undefined;
  });
  return { box, account, t, hook, sessionId };
}

describe("a hook's session deleted outside the gateway", () => {
  it("posts one session.finished when the reconciler finds it gone, with the figures it booked and settled", async () => {
    const { box, account, t, hook, sessionId } = await runningHookSession("msg_gone_reconciled");
    await deleteUpstream(account, sessionId);
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.gone).toBe(1);

    const booked = await bookedFigures(sessionId);
    expect(booked.totalCostUsd).toBe("0.01");
    const [got] = await receivedAtLeast(box);
    const event = verified(got, hook.secret);
    expect(event).toMatchObject({ type: "session.finished" });
    expect(event.data).toEqual({
      hookId: hook.id,
      deliveryId: "msg_gone_reconciled",
      sessionId,
      // No final status was seen: none is made up.
      status: null,
      reason: "gone",
      isTaskSuccessful: null,
      output: null,
      ...booked,
    });
    // What the event says the session cost is what its hold charged.
    expect(await holdOf(t.tenantId)).toEqual({
      state: "settled",
      settled_micros: 10_000,
      resource_id: sessionId,
    });
    // Another pass finds nothing more to do, and makes no second event.
    await reconcile(account.env, log, { orgId: t.orgId });
    expect(await eventsOf(hook.id)).toHaveLength(1);
  });

  it("makes the event in the settlement's own transaction: a pass that cannot write it settles nothing, and the next does both", async () => {
    const { box, account, t, hook, sessionId } = await runningHookSession("msg_gone_atomic");
    await deleteUpstream(account, sessionId);
    // D1 refuses the callback's write: were the settlement a write of its own, the hold would
    // close here and no later pass would make the callback.
    const eventsDown = storeFailingOn(/'session\.finished'/, account.env);
    await reconcile(eventsDown, log, { orgId: t.orgId });
    expect(await holdOf(t.tenantId)).toMatchObject({ state: "open" });
    expect(await eventsOf(hook.id)).toEqual([]);

    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect(report.gone).toBe(1);
    expect(await holdOf(t.tenantId)).toMatchObject({ state: "settled", settled_micros: 10_000 });
    const [got] = await receivedAtLeast(box);
    expect(verified(got, hook.secret).data).toMatchObject({ sessionId, reason: "gone", status: null });
  });

  it("posts it when the tenant's own read finds the session gone, and not again when its final view turns up later", async () => {
    const { box, account, t, hook, sessionId } = await runningHookSession("msg_gone_read");
    await deleteUpstream(account, sessionId);
    const read = await asTenant(t.key, `/api/v3/sessions/${sessionId}`, { env: account.env });
    expect(read.status).toBe(404);
    const [got] = await receivedAtLeast(box);
    expect(verified(got, hook.secret).data).toMatchObject({
      sessionId,
      status: null,
      reason: "gone",
      totalCostUsd: "0.01",
    });
    expect(await holdOf(t.tenantId)).toMatchObject({ state: "settled", settled_micros: 10_000 });

    // A view of its end read before the delete and booked only now (a late answer, a slow
    // status webhook's read): it ended normally after all, and its delivery has had its event.
    const { sessions } = await account.truth();
    const { tasks: _, ...final } = sessions.find((s) => s.id === sessionId) as SessionView;
    expect(final.status).toBe("stopped");
    await observeViews(account.env, log, SESSIONS, t, [final], new Date().toISOString());
    const events = await eventsOf(hook.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: "gone" });
  });

  it("posts only the event of its final view when it was seen ended before it was deleted", async () => {
    const box = eventInbox();
    const { account, t, hook } = await cappedHookOnAccount({
      task: emuTask("Check {{order.id}}", { steps: 1, cost: "0.01" }),
      callbackUrl: box.url,
    });
    const { sessionId } = await expectJson<{ sessionId: string }>(
      await deliverTo(account.env, hook, "msg_ended_then_gone"),
      202,
    );
    const done = await waitForStatus(t, sessionId, ["stopped"], account.env);
    await deleteUpstream(account, sessionId);
    expect((await asTenant(t.key, `/api/v3/sessions/${sessionId}`, { env: account.env })).status).toBe(404);
    await reconcile(account.env, log, { orgId: t.orgId });
    const events = await eventsOf(hook.id);
    expect(events).toEqual([
      expect.objectContaining({
        sessionId,
        status: "stopped",
        reason: "ended",
        isTaskSuccessful: true,
        totalCostUsd: done.totalCostUsd,
      }),
    ]);
    const [got] = await receivedAtLeast(box);
    expect(verified(got, hook.secret).data).toEqual(events[0]);
  });

  it("posts nothing for a session that ended before its hook had a callback URL, when it is deleted later", async () => {
    const box = eventInbox();
    const { account, t, hook } = await cappedHookOnAccount({
      task: emuTask("Check {{order.id}}", { steps: 1, cost: "0.01" }),
    });
    const { sessionId } = await expectJson<{ sessionId: string }>(
      await deliverTo(account.env, hook, "msg_before_url"),
      202,
    );
    await waitForStatus(t, sessionId, ["stopped"], account.env);
    await expectJson(await admin(`/hooks/${hook.id}`, "PATCH", { callbackUrl: box.url }), 200);
    await deleteUpstream(account, sessionId);
    const report = await reconcile(account.env, log, { orgId: t.orgId });
    expect((await asTenant(t.key, `/api/v3/sessions/${sessionId}`, { env: account.env })).status).toBe(404);
    expect(report.failures).toBe(0);
    expect(await eventsOf(hook.id)).toEqual([]);
    // As redelivery says: that delivery has no callback.
    expect((await admin("/deliveries/msg_before_url/redeliver", "POST")).status).toBe(404);
  });
});

describe("a hook delivery whose lost create is charged in full", () => {
  /** The callback a lost delivery gets: no session is its, and only the charge is known. */
  const lostEvent = (hookId: string, deliveryId: string, totalCostUsd: string) => ({
    hookId,
    deliveryId,
    sessionId: null,
    status: null,
    reason: "lost",
    isTaskSuccessful: null,
    output: null,
    totalCostUsd,
    llmCostUsd: null,
    proxyCostUsd: null,
    browserCostUsd: null,
    totalInputTokens: null,
    totalOutputTokens: null,
    proxyUsedMb: null,
  });

  it("posts one session.finished with what it was charged once a day passed with nothing found of it", async () => {
    const box = eventInbox();
    const { account, t, hook } = await cappedHookOnAccount({ callbackUrl: box.url });
    await account.control("POST", "/faults", { next: ["500"] });
    expect((await deliverTo(account.env, hook, "msg_lost_a_day")).status).toBe(502);
    const report = await reconcile(account.env, log, { orgId: t.orgId, now: later(25 * 60) });
    expect(report.chargedInFull).toBe(1);
    expect(await holdOf(t.tenantId)).toEqual({
      state: "settled",
      settled_micros: 200_000,
      resource_id: null,
    });
    const [got] = await receivedAtLeast(box);
    expect(verified(got, hook.secret).data).toEqual(lostEvent(hook.id, "msg_lost_a_day", "0.2"));
    await reconcile(account.env, log, { orgId: t.orgId, now: later(26 * 60) });
    expect(await eventsOf(hook.id)).toHaveLength(1);
  });

  it("posts one when its create cannot be told apart from another tenant's, each charged in full", async () => {
    const box = eventInbox();
    const { account, t, hook } = await cappedHookOnAccount({ callbackUrl: box.url });
    const other = await newTenant(t.orgId);
    const capped = { budget: { capUsd: "5", period: "none" as const }, defaultTaskCostUsd: "0.2" };
    await putPolicy("tenants", other.tenantId, capped);
    await account.control("POST", "/faults", { next: ["500"] });
    expect((await deliverTo(account.env, hook, "msg_lost_alike")).status).toBe(502);
    const otherHold = await openHold(env.DB, other, effectivePolicy(null, capped), {
      kind: "session",
      resourceId: null,
      requestedMicros: null,
      exact: false,
      addsLive: true,
    });
    // Two creates whose tags happen to be the same (they go round every 999 holds), and whose
    // sessions upstream made (the hook's 500 came after it acted, as a 5xx may).
    const hookHold = await env.DB.prepare("SELECT hold_id FROM hook_deliveries WHERE hook_id = ?")
      .bind(hook.id)
      .first<string>("hold_id");
    await env.DB.prepare("UPDATE holds SET ceiling_tag = 7, fingerprint = NULL WHERE id IN (?, ?)")
      .bind(hookHold, otherHold.id)
      .run();
    const ceiling = fromMicros(createCeilingMicros(200_000, 7) as number);
    for (let i = 0; i < 2; i++) {
      await fetch(`${account.env.UPSTREAM_URL}/sessions`, {
        method: "POST",
        headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
        body: JSON.stringify({ task: emuTask("twin", { steps: 1, cost: "0.01" }), maxCostUsd: ceiling }),
      });
    }
    const report = await reconcile(account.env, log, { orgId: t.orgId, now: later(3) });
    expect(report.chargedInFull).toBe(2);
    const [got] = await receivedAtLeast(box);
    expect(verified(got, hook.secret).data).toEqual(lostEvent(hook.id, "msg_lost_alike", "0.2"));
    await reconcile(account.env, log, { orgId: t.orgId, now: later(4) });
    expect(await eventsOf(hook.id)).toHaveLength(1);
  });
});
