/**
 * The gateway with a counter around its D1 binding, for the benchmark only: every statement run
 * alone is one round trip, a batch is one round trip of several statements. `GET /__bench/d1`
 * answers the counts so far and D1's own execution time (ms) of those answered; the benchmark
 * reads it before and after each scenario.
 */
import gateway from "../src/index";
import type { Bindings } from "../src/env";
import { countedD1, type RoundTripListener } from "./counted-d1";
import { D1_ROUND_TRIPS_PER_PROBE } from "./probes";

export { RateCounter } from "../src/index";

const counts = { statements: 0, roundTrips: 0, d1Ms: 0, webhooks: 0 };
const counting: RoundTripListener = {
  sent(sql) {
    counts.statements += sql.length;
    counts.roundTrips++;
  },
  answered(_sql, durationMs) {
    counts.d1Ms += durationMs;
  },
};

export default {
  async fetch(request: Request, env: Bindings, ctx: ExecutionContext) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__bench/d1") return Response.json(counts);
    if (pathname === "/__bench/nothing") return new Response(null, { status: 204 });
    if (pathname === "/__bench/d1-round-trips") {
      for (let i = 0; i < D1_ROUND_TRIPS_PER_PROBE; i++) await env.DB.prepare("SELECT 1").first();
      return new Response(null, { status: 204 });
    }
    if (pathname.startsWith("/webhooks/")) counts.webhooks++;
    return gateway.fetch(request, { ...env, DB: countedD1(env.DB, counting) }, ctx);
  },
  scheduled: gateway.scheduled,
  queue: gateway.queue,
} satisfies ExportedHandler<Bindings>;
