/**
 * The gateway as `npm run chaos` runs it under `wrangler dev`: the real worker, plus two routes the
 * run needs and no deployment has. `POST /__chaos/reconcile {"now"}` runs the cron's reconciler
 * pass as if the time were `now` (so a 15-minute orphan rule need not take 15 minutes);
 * `POST /__chaos/sql {"query", "binds"}` reads the local database for the audit. Loopback only.
 */
import { withGuardedStore } from "../src/env";
import type { Bindings } from "../src/env";
import gateway from "../src/index";
import { createLogger } from "../src/lib/log";
import { reconcileEveryAccount } from "../src/reconciler/accounts";

export { RateCounter } from "../src/index";

async function chaosRoute(request: Request, env: Bindings, path: string): Promise<Response> {
  const body = (await request.json()) as { now?: string; query?: string; binds?: (string | number)[] };
  if (path === "/__chaos/reconcile") {
    const log = createLogger({ job: "reconciler", run: "chaos" }, "error");
    const now = body.now ? new Date(body.now) : new Date();
    return Response.json(await reconcileEveryAccount(withGuardedStore(env), log, { now }));
  }
  const { results } = await env.DB.prepare(String(body.query))
    .bind(...(body.binds ?? []))
    .all();
  return Response.json(results);
}

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext) {
    const path = new URL(request.url).pathname;
    if (path === "/__chaos/reconcile" || path === "/__chaos/sql") return chaosRoute(request, env, path);
    return gateway.fetch(request, env, ctx);
  },
  scheduled: gateway.scheduled,
  queue: gateway.queue,
} satisfies ExportedHandler<Bindings>;
