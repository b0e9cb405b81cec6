import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { deliverEvent } from "../src/events/deliver";
import { observeViews } from "../src/ledger/observe";
import { createLogger } from "../src/lib/log";
import { reconcile } from "../src/reconciler/run";
import { claimAttempt, recordAttempt } from "../src/store/events";
import { SESSIONS } from "../src/upstream/kinds";
import {
  deliverToHook,
  asTenant,
  emulatorTruth,
  emuTask,
  eventInbox,
  eventually,
  expectJson,
  newTenant,
  type SessionView,
  type TestTenant,
} from "./helpers";
import { admin } from "./hook-helpers";

const log = createLogger({ test: "callbacks" });

async function hookWithCallback(t: TestTenant, callbackUrl: string) {
  return expectJson<{ id: string; secret: string }>(
    await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
      name: "cb",
      task: emuTask("Look up {{ref}}", { steps: 2, cost: "0.01" }),
      callbackUrl,
    }),
    201,
  );
}

function deliver(hook: { id: string; secret: string }, payload: unknown, id?: string) {
  return deliverToHook(hook, JSON.stringify(payload), { id });
}

/**
 * Polls a hook's session until it has stopped, with the queue refusing every message: its
 * `session.finished` event is made when the end is booked, and its message never sent.
 */
async function endWithQueueDown(t: TestTenant, sessionId: string): Promise<void> {
  const queueDown = {
    ...env,
    EVENTS: { sendBatch: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue,
  };
  await eventually(async () => {
    const s = await expectJson<SessionView>(
      await asTenant(t.key, `/api/v3/sessions/${sessionId}`, { env: queueDown }),
      200,
    );
    return s.status === "stopped" ? s : undefined;
  });
}

/** Runs a delivery to its end: the tenant reads its session until it has ended (which books it). */
async function runToEnd(t: TestTenant, hook: { id: string; secret: string }, deliveryId: string) {
  const { sessionId } = await expectJson<{ sessionId: string }>(
    await deliver(hook, { ref: "R-7" }, deliveryId),
    202,
  );
  return eventually(async () => {
    const s = await expectJson<SessionView>(await asTenant(t.key, `/api/v3/sessions/${sessionId}`), 200);
    return s.status === "stopped" ? s : undefined;
  });
}

describe("result callbacks", () => {
  it("posts session.finished with output null when the output is too large to keep, and books the session", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await expectJson<{ id: string; secret: string }>(
      await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
        name: "long answer",
        task: emuTask("Transcribe {{ref}}", { steps: 1, cost: "0.01" }),
        // Two and a half megabytes of output: more than the event's D1 row may hold.
        options: { outputSchema: { type: "string", minLength: 2_500_000 } },
        callbackUrl: box.url,
      }),
      201,
    );
    const done = await runToEnd(t, hook, "msg_cb_long");
    expect(String(done.output).length).toBe(2_500_000);
    const [got] = await eventually(async () => {
      const r = await box.received();
      return r.length > 0 ? r : undefined;
    });
    const event = JSON.parse(got?.body as string) as { data: Record<string, unknown> };
    expect(event.data).toMatchObject({
      sessionId: done.id,
      status: "stopped",
      output: null,
      totalCostUsd: done.totalCostUsd,
    });
  });

  it("books a hook's session whose final output nests deeper than SQLite reads JSON, and posts output null", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await expectJson<{ id: string; secret: string }>(
      await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
        name: "deep answer",
        task: emuTask("Map {{ref}}", { steps: 1, outcome: "hang" }),
        callbackUrl: box.url,
      }),
      201,
    );
    const { sessionId } = await expectJson<{ sessionId: string }>(
      await deliver(hook, { ref: "R-9" }, "msg_cb_deep"),
      202,
    );
    const running = await expectJson<SessionView>(
      await asTenant(t.key, `/api/v3/sessions/${sessionId}`),
      200,
    );
    // Its final view as upstream could give it (a code-mode task's output, say) and the emulator
    // cannot: an output nested 1,001 deep, one level past what SQLite's json() reads.
    let deep: unknown = "leaf";
    for (let i = 0; i < 1001; i++) deep = [deep];
    const final = { ...running, status: "stopped", output: deep, updatedAt: new Date().toISOString() };
    try {
      await observeViews(env, log, SESSIONS, t, [final], new Date().toISOString());
      const { results } = await env.DB.prepare("SELECT state FROM holds WHERE tenant_id = ?")
        .bind(t.tenantId)
        .all();
      expect(results).toEqual([{ state: "settled" }]);
      const [got] = await eventually(async () => {
        const r = await box.received();
        return r.length > 0 ? r : undefined;
      });
      const event = JSON.parse(got?.body as string) as { data: Record<string, unknown> };
      expect(event.data).toMatchObject({ sessionId, status: "stopped", output: null });
    } finally {
      await asTenant(t.key, `/api/v3/sessions/${sessionId}/stop`, { body: { strategy: "session" } });
    }
  });

  it("posts session.finished, signed with the hook's secret, with the final figures", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    const done = await runToEnd(t, hook, "msg_cb_one");
    const [got] = await eventually(async () => {
      const r = await box.received();
      return r.length > 0 ? r : undefined;
    });
    // A receiver verifies it with the published library.
    const event = new Webhook(hook.secret).verify(
      got?.body as string,
      got?.headers as Record<string, string>,
    ) as {
      type: string;
      timestamp: string;
      data: Record<string, unknown>;
    };
    const truth = (await emulatorTruth()).find((s) => s.id === done.id) as SessionView;
    expect(event).toEqual({
      type: "session.finished",
      timestamp: expect.any(String),
      data: {
        hookId: hook.id,
        deliveryId: "msg_cb_one",
        sessionId: done.id,
        status: "stopped",
        reason: "ended",
        isTaskSuccessful: true,
        output: truth.output,
        totalCostUsd: truth.totalCostUsd,
        llmCostUsd: truth.llmCostUsd,
        proxyCostUsd: truth.proxyCostUsd,
        browserCostUsd: truth.browserCostUsd,
        totalInputTokens: truth.totalInputTokens,
        totalOutputTokens: truth.totalOutputTokens,
        proxyUsedMb: truth.proxyUsedMb,
      },
    });
    expect(got?.headers["webhook-id"]).toMatch(/^evt_[0-9a-f]{32}$/);
    // Counts are JSON integers, as upstream writes them, not floats.
    expect(got?.body).toMatch(/"totalInputTokens":\d+,/);
  });

  it("retries a receiver that fails twice, with the same webhook-id, and records all three attempts", async () => {
    const t = await newTenant();
    const box = eventInbox();
    await box.configure({ failFirst: 2, status: 503 });
    const hook = await hookWithCallback(t, box.url);
    await runToEnd(t, hook, "msg_cb_retry");
    const received = await eventually(async () => {
      const r = await box.received();
      return r.some((x) => x.status === 200) ? r : undefined;
    }, 15_000);
    expect(received.map((r) => r.status)).toEqual([503, 503, 200]);
    expect(new Set(received.map((r) => r.headers["webhook-id"])).size).toBe(1);
    // The receiver's 200 is seen before the consumer records the attempt: wait for the record.
    type Page = {
      deliveries: { deliveryId: string; callback: { state: string; attempts: { status: number }[] } }[];
    };
    const page = await eventually(async () => {
      const p = await expectJson<Page>(await admin(`/hooks/${hook.id}/deliveries`), 200);
      return p.deliveries[0]?.callback.state === "pending" ? undefined : p;
    });
    expect(page.deliveries).toHaveLength(1);
    expect(page.deliveries[0]).toMatchObject({
      deliveryId: "msg_cb_retry",
      callback: { state: "delivered", attempts: [{ status: 503 }, { status: 503 }, { status: 200 }] },
    });
  });

  it("redelivers a callback on request, with the same webhook-id", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    await runToEnd(t, hook, "msg_cb_again");
    await eventually(async () => ((await box.received()).length === 1 ? true : undefined));
    expect(await expectJson(await admin("/deliveries/msg_cb_again/redeliver", "POST"), 202)).toMatchObject({
      state: "pending",
    });
    const received = await eventually(async () => {
      const r = await box.received();
      return r.length === 2 ? r : undefined;
    });
    expect(received[1]?.headers["webhook-id"]).toBe(received[0]?.headers["webhook-id"]);
    expect((await admin("/deliveries/no-such-delivery/redeliver", "POST")).status).toBe(404);
  });

  it("gives up on a callback URL that stopped being allowed, and records why", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    // The URL was allowed when saved; on the attempt it no longer is.
    await env.DB.prepare("UPDATE hooks SET callback_url = 'ftp://127.0.0.1/x' WHERE id = ?")
      .bind(hook.id)
      .run();
    await runToEnd(t, hook, "msg_cb_private");
    const page = await eventually(async () => {
      const p = await expectJson<{
        deliveries: { callback: { state: string; attempts: { error: string }[] } | null }[];
      }>(await admin(`/hooks/${hook.id}/deliveries`), 200);
      return p.deliveries[0]?.callback?.state === "failed" ? p : undefined;
    });
    expect(page.deliveries[0]?.callback?.attempts[0]?.error).toMatch(/must be https/);
    expect(await box.received()).toEqual([]);
  });
});

describe("a callback whose message was lost", () => {
  it("is sent again by the reconciler, and arrives", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    const { sessionId } = await expectJson<{ sessionId: string }>(await deliver(hook, { ref: "lost" }), 202);
    // The queue refuses the message when the session's end is booked.
    await endWithQueueDown(t, sessionId);
    const pending = await env.DB.prepare("SELECT state, attempts FROM events WHERE hook_id = ?")
      .bind(hook.id)
      .first();
    expect(pending).toEqual({ state: "pending", attempts: 0 });
    await reconcile(env, createLogger({ test: "callbacks" }), {
      orgId: t.orgId,
      now: new Date(Date.now() + 120_000),
    });
    await eventually(async () => ((await box.received()).length === 1 ? true : undefined));
  });
});

describe("callbacks across a change", () => {
  it("signs with both secrets while a rotation's grace lasts, and still sends a deleted hook's callback", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    const { secret } = await expectJson<{ secret: string }>(
      await admin(`/hooks/${hook.id}/rotate-secret`, "POST"),
      200,
    );
    const { sessionId } = await expectJson<{ sessionId: string }>(
      await deliver({ ...hook, secret }, { ref: "R" }),
      202,
    );
    // Deleted after its delivery: what it owes is still delivered.
    expect((await admin(`/hooks/${hook.id}`, "DELETE")).status).toBe(204);
    await eventually(async () => {
      const s = await expectJson<SessionView>(await asTenant(t.key, `/api/v3/sessions/${sessionId}`), 200);
      return s.status === "stopped" ? s : undefined;
    });
    const [got] = await eventually(async () => {
      const r = await box.received();
      return r.length > 0 ? r : undefined;
    });
    for (const key of [secret, hook.secret]) {
      expect(
        new Webhook(key).verify(got?.body as string, got?.headers as Record<string, string>),
      ).toMatchObject({
        type: "session.finished",
      });
    }
  });

  it("gives a redelivered callback that had run out of retries a fresh run of them", async () => {
    const t = await newTenant();
    const box = eventInbox();
    await box.configure({ failFirst: 100, status: 500 });
    const hook = await hookWithCallback(t, box.url);
    await runToEnd(t, hook, "msg_cb_spent");
    // Three retries a second apart (the test schedule): four attempts, then it fails.
    const failed = await eventually(async () => {
      const row = await env.DB.prepare("SELECT state, attempts FROM events WHERE hook_id = ?")
        .bind(hook.id)
        .first();
      return row?.state === "failed" ? row : undefined;
    }, 15_000);
    expect(failed).toEqual({ state: "failed", attempts: 4 });
    await admin("/deliveries/msg_cb_spent/redeliver", "POST");
    // It fails again, and is retried again rather than given up at once.
    await eventually(async () => ((await box.received()).length >= 6 ? true : undefined), 15_000);
  });

  it("sends a redelivered callback now, not when the retry it was waiting for falls due", async () => {
    const t = await newTenant();
    const box = eventInbox();
    await box.configure({ failFirst: 1, status: 500 });
    const hook = await hookWithCallback(t, box.url);
    const { sessionId } = await expectJson<{ sessionId: string }>(await deliver(hook, { ref: "wait" }), 202);
    // The event is made with the queue away, then attempted once under an hour-long retry.
    await endWithQueueDown(t, sessionId);
    const event = await env.DB.prepare("SELECT id FROM events WHERE hook_id = ?")
      .bind(hook.id)
      .first<{ id: string }>();
    const hourly = { ...env, EVENT_RETRY_SCHEDULE_S: "3600" };
    expect(await deliverEvent(hourly, createLogger({ test: "callbacks" }), event?.id ?? "")).toEqual({
      retryInS: 3600,
    });
    expect((await box.received()).map((r) => r.status)).toEqual([500]);
    // The receiver is fixed; the operator asks for the callback again.
    await expectJson(await admin(`/deliveries/${event?.id}/redeliver`, "POST"), 202);
    const received = await eventually(
      async () => {
        const r = await box.received();
        return r.length === 2 ? r : undefined;
      },
      10_000,
      "the redelivered callback",
    );
    expect(received.map((r) => r.status)).toEqual([500, 200]);
  });

  it("keeps a redelivery asked for while the last attempt is under way, though that attempt fails", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    const { sessionId } = await expectJson<{ sessionId: string }>(await deliver(hook, { ref: "last" }), 202);
    await endWithQueueDown(t, sessionId);
    const { id } = (await env.DB.prepare("SELECT id FROM events WHERE hook_id = ?")
      .bind(hook.id)
      .first<{ id: string }>()) ?? { id: "" };
    // The consumer claims the attempt it will find to be the last; while it is under way, the
    // operator asks for the callback again; then the attempt fails, with no retry left in its run.
    const claimed = await claimAttempt(env.DB, id, new Date(), 60_000);
    expect(claimed?.attempts).toBe(1);
    await expectJson(await admin(`/deliveries/${id}/redeliver`, "POST"), 202);
    await recordAttempt(
      env.DB,
      claimed as NonNullable<typeof claimed>,
      { at: new Date().toISOString(), status: 500, error: null },
      { state: "failed" },
    );
    const row = await env.DB.prepare("SELECT state FROM events WHERE id = ?")
      .bind(id)
      .first<{ state: string }>();
    expect(row?.state).toBe("pending");
    // And it is sent: the reconciler finds it due.
    await reconcile(env, createLogger({ test: "callbacks" }), {
      orgId: t.orgId,
      now: new Date(Date.now() + 120_000),
    });
    await eventually(async () => ((await box.received()).length === 1 ? true : undefined));
  });

  it("makes a redelivery asked for while an attempt is under way due at once, though that attempt fails with retries left", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await hookWithCallback(t, box.url);
    const { sessionId } = await expectJson<{ sessionId: string }>(await deliver(hook, { ref: "mid" }), 202);
    await endWithQueueDown(t, sessionId);
    const { id } = (await env.DB.prepare("SELECT id FROM events WHERE hook_id = ?")
      .bind(hook.id)
      .first<{ id: string }>()) ?? { id: "" };
    // The consumer claims an attempt; while it is under way, the operator asks for the callback
    // again; then the attempt fails, and its old run would retry it in an hour.
    const claimed = await claimAttempt(env.DB, id, new Date(), 60_000);
    await expectJson(await admin(`/deliveries/${id}/redeliver`, "POST"), 202);
    const inAnHour = new Date(Date.now() + 3_600_000).toISOString();
    const redelivered = await recordAttempt(
      env.DB,
      claimed as NonNullable<typeof claimed>,
      { at: new Date().toISOString(), status: 500, error: null },
      { state: "pending", retryAt: inAnHour },
    );
    const row = await env.DB.prepare("SELECT state, next_attempt_at FROM events WHERE id = ?")
      .bind(id)
      .first<{ state: string; next_attempt_at: string }>();
    expect(row?.state).toBe("pending");
    expect(row?.next_attempt_at).not.toBe(inAnHour);
    expect(String(row?.next_attempt_at) <= new Date().toISOString()).toBe(true);
    // And the consumer is told to attempt it again now.
    expect(redelivered).toBe(true);
  });

  it("counts only attempts that were made against its retries, not claims a crash cut short", async () => {
    const t = await newTenant();
    const box = eventInbox();
    await box.configure({ failFirst: 100, status: 500 });
    const hook = await hookWithCallback(t, box.url);
    const { sessionId } = await expectJson<{ sessionId: string }>(await deliver(hook, { ref: "crash" }), 202);
    await endWithQueueDown(t, sessionId);
    const { id } = (await env.DB.prepare("SELECT id FROM events WHERE hook_id = ?")
      .bind(hook.id)
      .first<{ id: string }>()) ?? { id: "" };
    // Three consumers claim the attempt and die before making it (their leases run out).
    const minute = (n: number) => new Date(Date.now() + n * 61_000);
    for (const n of [0, 1, 2]) expect(await claimAttempt(env.DB, id, minute(n), 60_000)).not.toBeNull();
    // The first attempt made fails: the test schedule (three retries) is still ahead of it.
    const log = createLogger({ test: "callbacks" });
    expect(await deliverEvent(env, log, id, minute(3))).toEqual({ retryInS: 1 });
    expect((await box.received()).map((r) => r.status)).toEqual([500]);
  });
});
