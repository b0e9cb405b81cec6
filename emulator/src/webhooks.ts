/**
 * Outbound webhooks as Browser Use documents them: `agent.task.status_update` events POSTed to
 * one URL, signed with `X-Browser-Use-Signature` = hex HMAC-SHA256(secret, "<ts>.<canonical>"),
 * where <ts> is the `X-Browser-Use-Timestamp` header (unix seconds) and <canonical> the body
 * re-serialized with keys sorted recursively and no whitespace (Python's
 * `json.dumps(obj, separators=(",", ":"), sort_keys=True)`, shared with the gateway's receiver).
 *
 * Delivery is fire-and-forget: no retries, failures swallowed (the first one logged), as the
 * real service documents no retry policy either.
 */
import { createHmac } from "node:crypto";
import { canonicalJson } from "../../src/lib/canonical-json";
import type { StatusEvent } from "./lifecycle";

export interface WebhookTarget {
  url: string;
  secret: string;
}

/** Secret used when a URL is configured without one. */
export const DEFAULT_WEBHOOK_SECRET = "emulator_webhook_secret";

const DELIVERY_TIMEOUT_MS = 5_000;

/** The hex signature of `body` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, timestamp: string, body: unknown): string {
  return createHmac("sha256", secret)
    .update(`${timestamp}.${canonicalJson(body)}`)
    .digest("hex");
}

/** The event body for a status change. */
export function statusUpdateBody(event: StatusEvent) {
  return {
    type: "agent.task.status_update",
    timestamp: new Date(event.at).toISOString(),
    payload: {
      task_id: event.taskId,
      session_id: event.sessionId,
      status: event.status,
      metadata: {},
    },
  };
}

/** Returns a function that delivers status events to the current target, if there is one. */
export function createWebhookSender(target: () => WebhookTarget | null, log: (line: string) => void) {
  let warned = false;
  return function sendStatusWebhook(event: StatusEvent): void {
    const to = target();
    if (!to) return;
    const body = statusUpdateBody(event);
    // Wall-clock time even when the emulator clock was moved ahead: receivers check freshness.
    const timestamp = String(Math.floor(Date.now() / 1000));
    fetch(to.url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Browser-Use-Timestamp": timestamp,
        "X-Browser-Use-Signature": signWebhook(to.secret, timestamp, body),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    })
      .then((res) => res.body?.cancel())
      .catch((error: unknown) => {
        if (warned) return;
        warned = true;
        log(
          `emulator: webhook delivery to ${to.url} failed (${String(error)}); further failures are not logged`,
        );
      });
  };
}
