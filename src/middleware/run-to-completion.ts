import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

/**
 * Keeps a request that changes something running to its end when the client hangs up. Cloudflare
 * cancels whatever a request is still awaiting once its client disconnects; only work handed to
 * `waitUntil` survives (up to 30 s). A create that upstream may already have acted on must still
 * be recorded and its hold tied to what it made, so from here on the request is that work, and
 * the response is its result. Reads are left alone: a read nobody waits for is no loss.
 */
export function runToCompletion() {
  return createMiddleware<AppEnv>(async function runToCompletionMiddleware(c, next) {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    const done = next();
    // onError renders failures as responses, so `done` settles with the response; a rejection
    // here would be a bug, and is still the response's to report.
    c.executionCtx.waitUntil(done.catch(() => undefined));
    await done;
  });
}
