import { app } from "./app";
import type { Bindings } from "./env";
import { withGuardedStore } from "./env";
import { deliverBatch, type EventMessage } from "./events/deliver";
import { createLogger, describeError, logLevel } from "./lib/log";
import { reconcileEveryAccount } from "./reconciler/accounts";

/** Durable Objects: the `requestsPerMinute` count of each key. */
export { RateCounter } from "./limits/rate-counter";

/** The worker: the HTTP app (app.ts: what is mounted where), the reconciler's cron, the event queue. */
export default {
  fetch: (request: Request, env: Bindings, ctx: ExecutionContext) =>
    app.fetch(request, withGuardedStore(env), ctx),
  /**
   * Every minute, on the deployment's account and orgs' own: settle what ended, stop what idles
   * too long, find what a lost answer hid.
   */
  async scheduled(_controller, env, ctx) {
    const log = createLogger({ job: "reconciler", run: crypto.randomUUID() }, logLevel(env.LOG_LEVEL));
    ctx.waitUntil(
      reconcileEveryAccount(withGuardedStore(env), log).catch((err: unknown) =>
        log.error("reconcile_failed", describeError(err)),
      ),
    );
  },
  /** Hook callbacks and budget alerts: one attempt per message, retried on a schedule. */
  async queue(batch, env) {
    const log = createLogger({ job: "events" }, logLevel(env.LOG_LEVEL));
    await deliverBatch(batch as MessageBatch<EventMessage>, withGuardedStore(env), log);
  },
} satisfies ExportedHandler<Bindings>;
