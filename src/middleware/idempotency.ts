import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { sha256Hex } from "../lib/crypto";
import { GatewayError, invalidInput } from "../lib/errors";
import { describeError } from "../lib/log";
import { withDoc } from "../openapi/describe";
import { claimKey, completeKey, markUnknown, releaseKey } from "../store/idempotency";

const KEY = /^[\x21-\x7e]{1,255}$/;
// Gateway errors for which upstream certainly did nothing: a retry with the same key may run.
const NOTHING_SENT = new Set(["budget_unavailable", "store_unavailable", "upstream_unauthorized"]);

/**
 * `Idempotency-Key` on creates (`POST /sessions`, `POST /browsers`): per tenant, for 24 hours, a
 * retry with the same key and body gets the first answer again (`Idempotent-Replayed: true`) and
 * takes no second hold, when that answer was upstream's (a success or its certain refusal); a
 * refusal of the gateway's own (budget, policy, limits) frees the key for a later retry, and so does
 * any failure before a hold was opened (a follow-up's read of its session, say: nothing that costs
 * was sent); the same key with another body is 409 `idempotency_conflict`, and so is a
 * retry while the first is under way or when the first one's outcome upstream was lost (the
 * reconciler settles that one; a new key starts a new task) until the reconciler has found that
 * upstream made nothing of it and released its hold. Runs after body validation.
 */
export function idempotency() {
  const middleware = createMiddleware<AppEnv>(async function idempotencyMiddleware(c, next) {
    const key = c.req.header("Idempotency-Key");
    if (key === undefined) return next();
    if (!KEY.test(key)) {
      throw invalidInput([
        {
          type: "string_pattern_mismatch",
          loc: ["header", "Idempotency-Key"],
          msg: "1 to 255 printable ASCII characters",
        },
      ]);
    }
    const { tenantId } = c.get("caller");
    const hash = await sha256Hex(`${c.req.method} ${new URL(c.req.url).pathname}\n${await c.req.text()}`);
    const db = c.env.DB;
    const claim = await claimKey(db, tenantId, key, hash);

    if (!claim.claimed) {
      if (claim.requestHash !== hash) {
        throw new GatewayError(
          "idempotency_conflict",
          "This Idempotency-Key was used with a different request",
        );
      }
      if (claim.state !== "done") {
        throw new GatewayError(
          "idempotency_conflict",
          claim.state === "pending"
            ? "A request with this Idempotency-Key is still in progress"
            : "The outcome of the first request with this Idempotency-Key is unknown; it will be settled, not repeated",
        );
      }
      const headers: Record<string, string> = {
        "Content-Type": "application/json",
        "Idempotent-Replayed": "true",
      };
      if (claim.applied) headers["X-Gateway-Applied"] = claim.applied;
      return c.body(claim.body, claim.status as 200, headers);
    }

    await next();
    // The request has run: its answer goes to the client whatever happens to the key's record.
    // Should storing it fail, the key stays pending and a retry is refused, never run twice.
    const res = c.res;
    try {
      const body = await res.clone().text();
      if (isFinalAnswer(res.status, c.get("upstreamAnswered") === true)) {
        const applied = res.headers.get("X-Gateway-Applied");
        await completeKey(db, tenantId, key, { status: res.status, body, applied });
      } else {
        // Every create and dispatch is sent under a hold (forwardHeld): without one, nothing was.
        const holdId = c.get("holdId");
        if (res.status < 500 || NOTHING_SENT.has(errorCode(body)) || holdId === undefined) {
          await releaseKey(db, tenantId, key);
        } else {
          await markUnknown(db, tenantId, key, holdId);
        }
      }
    } catch (err) {
      c.get("log").error("idempotency_store_failed", describeError(err));
    }
  });
  return withDoc(middleware, {
    headers: [
      {
        name: "Idempotency-Key",
        description:
          "1 to 255 printable ASCII characters. A retry with the same key and body within 24 hours gets the first answer again, with `Idempotent-Replayed: true`",
      },
    ],
    responses: {
      409: "`idempotency_conflict`: the key was used with another body, or its first request is running or was lost",
    },
  });
}

/**
 * Whether an answer is what a retry must get again: a success, or upstream's own certain refusal.
 * The gateway's refusals (budget, policy, limits) and upstream's 429 may change with time, so a
 * retry with the same key is judged afresh.
 */
function isFinalAnswer(status: number, upstreamAnswered: boolean): boolean {
  if (status < 300) return true;
  return upstreamAnswered && status >= 400 && status < 500 && status !== 429;
}

function errorCode(body: string): string {
  try {
    return String((JSON.parse(body) as { code?: unknown }).code ?? "");
  } catch {
    return "";
  }
}
