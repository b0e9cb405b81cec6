import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { GatewayError } from "../lib/errors";
import type { RateDecision } from "../limits/rate-counter";
import { withDoc } from "../openapi/describe";
import { StoreUnavailable } from "../store/guard";

/**
 * The `requestsPerMinute` policy, per key: 429 `rate_limited` with `Retry-After` until the
 * minute's window ends. Counted by the key's RateCounter (a Durable Object), so every isolate
 * shares the count and no request writes D1 for it; only tenants whose policy sets a rate pay the
 * call to it. A counter that cannot answer refuses the request as a failing D1 does (503
 * `store_unavailable`, nothing forwarded): the limit never fails open, and it is no bug of ours.
 */
export function rateLimit() {
  const middleware = createMiddleware<AppEnv>(async function rateLimitMiddleware(c, next) {
    const limit = c.get("policy").requestsPerMinute;
    if (limit === null) return next();
    const counters = c.env.RATE_COUNTERS;
    let decision: RateDecision;
    try {
      decision = await counters.get(counters.idFromName(c.get("caller").keyId)).take(limit);
    } catch (err) {
      throw new StoreUnavailable(err);
    }
    if (!decision.allowed) {
      throw new GatewayError(
        "rate_limited",
        `Rate limit of ${limit} requests per minute reached; retry in ${decision.retryAfterS} s`,
        { "Retry-After": String(decision.retryAfterS) },
        { limit },
      );
    }
    await next();
  });
  return withDoc(middleware, {
    responses: {
      429: {
        description: "`rate_limited` by the policy's `requestsPerMinute`",
        headers: { "Retry-After": "Seconds until a retry may succeed" },
      },
    },
  });
}
