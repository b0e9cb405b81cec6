import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { createLogger, logLevel } from "../lib/log";

const INCOMING = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * Gives every request an id (the caller's `X-Request-Id` when it is well formed) and a logger
 * that stamps it on every line; echoes it in the response's `X-Request-Id`.
 */
export function requestId() {
  return createMiddleware<AppEnv>(async function requestIdMiddleware(c, next) {
    const incoming = c.req.header("X-Request-Id");
    const id = incoming && INCOMING.test(incoming) ? incoming : crypto.randomUUID();
    c.set("requestId", id);
    c.set("log", createLogger({ requestId: id }, logLevel(c.env.LOG_LEVEL)));
    c.header("X-Request-Id", id);
    const started = Date.now();
    await next();
    c.res.headers.set("X-Request-Id", id);
    c.get("log").info("request", {
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      status: c.res.status,
      ms: Date.now() - started,
      tenantId: c.get("caller")?.tenantId,
    });
  });
}
