import { Hono } from "hono";
import type { AppEnv, Bindings } from "./env";
import { withGuardedStore } from "./env";
import { deliverBatch, type EventMessage } from "./events/deliver";
import { createLogger, describeError, logLevel } from "./lib/log";
import { reconcileEveryAccount } from "./reconciler/accounts";
import { onError, onNotFound } from "./middleware/errors";
import { recordRefusals } from "./middleware/record-refusals";
import { requestId } from "./middleware/request-id";
import { admin } from "./routes/admin";
import { dashboard } from "./routes/dashboard";
import { gatewayApi } from "./routes/gateway";
import { health } from "./routes/health";
import { hookDeliveries } from "./routes/hooks";
import { upstreamWebhooks } from "./routes/upstream-webhooks";
import { v3 } from "./routes/v3";

/** The gateway: what is mounted where. Everything else lives in routes/, middleware/ and store/. */
const app = new Hono<AppEnv>()
  .use(requestId())
  .use(recordRefusals())
  .route("/", health)
  .route("/api/v3", v3)
  .route("/gateway/v1", gatewayApi)
  .route("/hooks", hookDeliveries)
  .route("/webhooks", upstreamWebhooks)
  .route("/admin/v1", admin)
  .route("/", dashboard);

app.onError(onError);
app.notFound(onNotFound(app.routes));

/** Durable Objects: the `requestsPerMinute` count of each key. */
export { RateCounter } from "./limits/rate-counter";

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
