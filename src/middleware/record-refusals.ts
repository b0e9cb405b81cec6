import { createMiddleware } from "hono/factory";
import type { AppEnv, Caller } from "../env";
import { afterResponse } from "../lib/after-response";
import { type ErrorCode, GatewayError } from "../lib/errors";
import { countRefusal } from "../store/audit";

/**
 * The refusals by policy and budget (402, and the 403s and 429s a policy makes) the audit log
 * counts. A suspension, a read-only key or a bad request is not a policy's refusal.
 */
export const POLICY_REFUSALS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "budget_exceeded",
  "country_not_allowed",
  "model_not_allowed",
  "keep_alive_not_allowed",
  "timeout_not_allowed",
  "scheduled_tasks_not_allowed",
  "own_key_not_allowed",
  "concurrency_limit",
  "rate_limited",
]);

/**
 * Counts a tenant's refusal by policy or budget in the audit log, after the response: one row per
 * tenant, code and minute (countRefusal), so a flood of refusals is a row a minute. A refusal
 * writes nothing else, and should this write fail, the failure is logged (`after_response_failed`)
 * and the client's 4xx stands. Mounted once for the whole gateway: only a request that was
 * authenticated as a tenant (a key or a hook) has a `caller` to count against.
 */
export function recordRefusals() {
  return createMiddleware<AppEnv>(async function recordRefusalsMiddleware(c, next) {
    await next();
    const err = c.error;
    const caller = c.get("caller") as Caller | undefined;
    if (!caller || !(err instanceof GatewayError) || !POLICY_REFUSALS.has(err.code)) return;
    const refusal = {
      orgId: caller.orgId,
      tenantId: caller.tenantId,
      code: err.code,
      requestId: c.get("requestId"),
    };
    afterResponse(c, "audit_refusal", () => countRefusal(c.env.DB, refusal));
  });
}
