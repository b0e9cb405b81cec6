/**
 * Delivering the events the gateway posts out, at least once: each event is a Queue message
 * (`{id}`); its consumer claims the event's next attempt in D1, POSTs the event's fixed body to its
 * URL signed the Standard Webhooks way with the same `webhook-id` every time, records the attempt,
 * and on anything but a 2xx retries on RETRY_SCHEDULE_S. The reconciler sends again the message
 * of any event whose attempt is long overdue (a message that was lost).
 */
import type { Bindings } from "../env";
import { callbackUrlProblem } from "../hooks/callback-url";
import { signedHeaders } from "../hooks/signatures";
import { describeError, type Logger } from "../lib/log";
import { claimAttempt, type EventRow, recordAttempt } from "../store/events";
import { alertSecrets } from "../store/alerts";
import { hookSigningSecrets } from "../store/hooks";

/**
 * Seconds to wait before each retry after a failed attempt: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h,
 * 4 h, then 8 h three times: eleven attempts over 31 hours and 42 minutes. `EVENT_RETRY_SCHEDULE_S`
 * (comma-separated seconds) replaces it, e.g. for tests.
 */
export const RETRY_SCHEDULE_S = [30, 120, 600, 1_800, 3_600, 7_200, 14_400, 28_800, 28_800, 28_800];

/** How long a receiver has to answer an attempt. */
export const ATTEMPT_TIMEOUT_MS = 10_000;

/** How long a claimed attempt is the claimant's: longer than an attempt can take. */
const LEASE_MS = 60_000;

export interface EventMessage {
  id: string;
}

export function retrySchedule(env: Pick<Bindings, "EVENT_RETRY_SCHEDULE_S">): number[] {
  const custom = env.EVENT_RETRY_SCHEDULE_S?.split(",").map((s) => Number(s.trim()));
  return custom?.length && custom.every((n) => Number.isInteger(n) && n >= 0) ? custom : RETRY_SCHEDULE_S;
}

/** Hands new events to the queue; one that does not make it is sent again by the reconciler. */
export async function enqueueEvents(
  env: Pick<Bindings, "EVENTS">,
  log: Logger,
  ids: string[],
): Promise<void> {
  if (ids.length === 0 || !env.EVENTS) return;
  try {
    await env.EVENTS.sendBatch(ids.map((id) => ({ body: { id } satisfies EventMessage })));
  } catch (err) {
    log.warn("event_enqueue_failed", { events: ids.length, ...describeError(err) });
  }
}

/** What became of one message: done with it, or to be retried after some seconds. */
export type Outcome = { done: true } | { retryInS: number };

/** One attempt of one event, if it is due; see the module comment. */
export async function deliverEvent(
  env: Bindings,
  log: Logger,
  id: string,
  now = new Date(),
): Promise<Outcome> {
  const db = env.DB;
  const event = await claimAttempt(db, id, now, LEASE_MS);
  if (!event) return { done: true }; // delivered, failed, or not due: another message carries it
  const at = now.toISOString();
  const secrets = await signingSecrets(env, event);
  const problem =
    secrets.length > 0
      ? callbackUrlProblem(event.url, env.ALLOW_PRIVATE_CALLBACKS === "true")
      : "nothing signs it any more";
  if (problem) {
    if (await recordAttempt(db, event, { at, status: null, error: problem }, { state: "failed" }))
      return REDELIVERED;
    log.warn("event_undeliverable", { id, type: event.type, reason: problem });
    return { done: true };
  }
  const result = await post(event, secrets, now);
  if (result.status !== null && result.status >= 200 && result.status < 300) {
    await recordAttempt(db, event, { at, ...result }, { state: "delivered" });
    return { done: true };
  }
  const schedule = retrySchedule(env);
  const wait = schedule[event.made];
  if (wait === undefined) {
    if (await recordAttempt(db, event, { at, ...result }, { state: "failed" })) return REDELIVERED;
    log.warn("event_failed", { id, type: event.type, attempts: event.attempts });
    return { done: true };
  }
  const retryAt = new Date(now.getTime() + wait * 1000).toISOString();
  if (await recordAttempt(db, event, { at, ...result }, { state: "pending", retryAt })) return REDELIVERED;
  return { retryInS: wait };
}

/** An attempt that failed while a redelivery was asked for: the redelivery's run starts now. */
const REDELIVERED: Outcome = { retryInS: 0 };

/** The queue's consumer: every message is one attempt; a failure of ours retries the message soon. */
export async function deliverBatch(
  batch: MessageBatch<EventMessage>,
  env: Bindings,
  log: Logger,
): Promise<void> {
  for (const message of batch.messages) {
    try {
      const outcome = await deliverEvent(env, log, message.body.id);
      if ("retryInS" in outcome) message.retry({ delaySeconds: outcome.retryInS });
      else message.ack();
    } catch (err) {
      log.error("event_delivery_failed", { id: message.body.id, ...describeError(err) });
      // After the lease of the attempt it may have claimed, or the retry finds nothing to do.
      message.retry({ delaySeconds: LEASE_MS / 1000 + 5 });
    }
  }
}

/** The secrets an event is signed with: its hook's (deleted or not), or its org's alert secrets. */
async function signingSecrets(env: Bindings, event: EventRow): Promise<string[]> {
  if (event.hook_id) return hookSigningSecrets(env.DB, event.hook_id);
  if (event.type === "budget.threshold_crossed") return alertSecrets(env.DB, event.org_id);
  return [];
}

/** One POST of the event: its status, or why there was none. Redirects are not followed. */
async function post(
  event: EventRow,
  secrets: string[],
  now: Date,
): Promise<{ status: number | null; error: string | null }> {
  try {
    const res = await fetch(event.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...signedHeaders(secrets, event.id, now, event.body) },
      body: event.body,
      redirect: "manual",
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return {
      status: res.status,
      error: res.status >= 300 && res.status < 400 ? "redirect not followed" : null,
    };
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
    return {
      status: null,
      error: timedOut ? `no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s` : "connection failed",
    };
  }
}
