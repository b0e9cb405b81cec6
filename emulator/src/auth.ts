import { createHash, timingSafeEqual } from "node:crypto";
import { createMiddleware } from "hono/factory";
import { ApiError } from "./errors";
import type { EmuEnv } from "./http";

const HEADER = "X-Browser-Use-API-Key";

/**
 * Requires the one API key on every API route. Paths that match no route are let through so
 * they answer 404/405 as FastAPI does, whose auth runs only once a route matched. The key is
 * compared in constant time and never echoed.
 */
export function apiKeyAuth(apiKey: string, isRoute: (method: string, path: string) => boolean) {
  const expected = digest(apiKey);
  return createMiddleware<EmuEnv>(async function apiKeyAuthMiddleware(c, next) {
    if (!isRoute(c.req.method, c.req.path)) return next();
    const given = c.req.header(HEADER);
    if (!given) throw new ApiError(401, "Not authenticated");
    if (!timingSafeEqual(digest(given), expected)) throw new ApiError(401, "Invalid API key");
    return next();
  });
}

// Hashing first gives equal-length inputs, which timingSafeEqual requires.
function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
