/**
 * The gateway with a counter around its D1 binding, for the benchmark only: every statement run
 * alone is one round trip, a batch is one round trip of several statements. `GET /__bench/d1`
 * answers the counts so far; the benchmark reads it before and after each scenario.
 */
import gateway from "../src/index";
import type { Bindings } from "../src/env";
import { countedD1 } from "./counted-d1";

export { RateCounter } from "../src/index";

const counts = { statements: 0, roundTrips: 0 };
const count = (sql: string[]) => {
  counts.statements += sql.length;
  counts.roundTrips++;
};

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext) {
    if (new URL(request.url).pathname === "/__bench/d1") return Response.json(counts);
    return gateway.fetch(request, { ...env, DB: countedD1(env.DB, count) }, ctx);
  },
  scheduled: gateway.scheduled,
  queue: gateway.queue,
} satisfies ExportedHandler<Bindings>;
