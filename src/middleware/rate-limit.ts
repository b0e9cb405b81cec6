import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { GatewayError } from "../lib/errors";

const WINDOW_S = 60;

/**
 * The `requestsPerMinute` policy, per key, over fixed one-minute windows counted in D1 (so every
 * isolate shares the count) and checked and counted in one statement: 429 `rate_limited` with
 * `Retry-After` until the window ends. Costs one D1 write per request, and only for tenants whose
 * policy sets a rate.
 */
export function rateLimit() {
  return createMiddleware<AppEnv>(async function rateLimitMiddleware(c, next) {
    const limit = c.get("policy").requestsPerMinute;
    if (limit === null) return next();
    const nowS = Math.floor(Date.now() / 1000);
    const windowStart = nowS - (nowS % WINDOW_S);
    const count = await c.env.DB.prepare(
      `INSERT INTO rate_windows (key_id, window_start, count) VALUES (?, ?, 1)
       ON CONFLICT (key_id, window_start) DO UPDATE SET count = count + 1 WHERE count < ?
       RETURNING count`,
    )
      .bind(c.get("caller").keyId, windowStart, limit)
      .first<number>("count");
    // No row back: the window was already full, and a refused request counts for nothing.
    if (count === null) {
      const retryAfter = windowStart + WINDOW_S - nowS;
      throw new GatewayError(
        "rate_limited",
        `Rate limit of ${limit} requests per minute reached; retry in ${retryAfter} s`,
        { "Retry-After": String(retryAfter) },
        { limit },
      );
    }
    await next();
  });
}
