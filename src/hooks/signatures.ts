/**
 * Standard Webhooks (standardwebhooks.com) in both directions, through its published library,
 * so senders and receivers can use theirs: headers `webhook-id`, `webhook-timestamp` (Unix
 * seconds) and `webhook-signature` (space-separated `v1,<base64 HMAC-SHA256 of
 * "{id}.{timestamp}.{body}">` keyed with the base64-decoded part of a `whsec_…` secret), five
 * minutes of tolerance, constant-time comparison.
 */
import { Webhook } from "standardwebhooks";

const SECRET_BYTES = 32;

/** A new signing secret, `whsec_` and 32 random bytes in base64. */
export function newSigningSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** Whether `raw` carries a valid, fresh signature by any of `secrets` (a rotated one in its grace). */
export function verifiedBy(secrets: string[], raw: string, headers: Headers): boolean {
  // The library reads the timestamp with parseInt: a changed header such as `01700000000` or
  // `1700000000x` would still verify. Only plain digits are a timestamp here.
  if (!/^[1-9]\d{0,11}$/.test(headers.get("webhook-timestamp") ?? "")) return false;
  const given = {
    "webhook-id": headers.get("webhook-id") ?? "",
    "webhook-timestamp": headers.get("webhook-timestamp") ?? "",
    "webhook-signature": headers.get("webhook-signature") ?? "",
  };
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(raw, given, { jsonParse: false });
      return true;
    } catch {
      // Not this secret, or not a valid signature at all: try the next, then refuse.
    }
  }
  return false;
}

/**
 * The three headers that sign `body` as message `id` at `at`, one signature per secret (a rotated
 * one in its grace too, so a receiver that has not switched yet still verifies).
 */
export function signedHeaders(secrets: string[], id: string, at: Date, body: string): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(id, at, body)).join(" "),
  };
}
