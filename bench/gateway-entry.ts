/**
 * The gateway with counters around its D1 binding and its rate counters, for the benchmark only:
 * every statement run alone is one round trip, a batch is one round trip of several statements,
 * and every call to a key's rate counter (a Durable Object) is one call. `GET /__bench/d1` answers
 * the counts so far, D1's own execution time (ms) and rows read of those answered, the status webhooks
 * received and the lines logged; the benchmark reads it before and after each scenario.
 *
 * Five more routes measure the runtime rather than the gateway (bench/probes.ts): one answers at
 * once, one after ten `SELECT 1` in a row, one after ten calls to a rate counter and one after ten
 * request log lines, so their CPU per request differs by what ten local D1 round trips, ten local
 * Durable Object calls or ten log lines cost workerd (ten, so that the request's own cost and its
 * noise weigh a tenth as much); and one relays a request upstream as the bare worker does.
 */
import gateway from "../src/index";
import type { Bindings } from "../src/env";
import { createLogger, logLevel } from "../src/lib/log";
import { passThrough } from "./bare/index";
import { countedD1, type RoundTripListener } from "./counted-d1";
import { CALLS_PER_PROBE, PROBES } from "./probes";

export { RateCounter } from "../src/index";

const counts = {
  statements: 0,
  roundTrips: 0,
  d1Ms: 0,
  rowsRead: 0,
  rateCounterCalls: 0,
  webhooks: 0,
  logLines: 0,
};
const counting: RoundTripListener = {
  sent(sql) {
    counts.statements += sql.length;
    counts.roundTrips++;
  },
  answered(_sql, durationMs, rowsRead) {
    counts.d1Ms += durationMs;
    counts.rowsRead += rowsRead;
  },
};

// Every line the gateway logs (src/lib/log.ts writes with console.log and console.error), counted.
for (const method of ["log", "error"] as const) {
  const write = console[method].bind(console);
  console[method] = (...args: unknown[]) => {
    counts.logLines++;
    write(...args);
  };
}

/** The rate counters' namespace, counting each call the gateway makes to a counter. */
function countedRateCounters(namespace: Bindings["RATE_COUNTERS"]): Bindings["RATE_COUNTERS"] {
  return new Proxy(namespace, {
    get(target, property) {
      if (property !== "get") {
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      }
      return (id: DurableObjectId) => {
        const counter = target.get(id);
        return {
          take: (limit: number) => {
            counts.rateCounterCalls++;
            return counter.take(limit);
          },
        };
      };
    },
  });
}

export default {
  async fetch(request: Request, env: Bindings, ctx: ExecutionContext) {
    const url = new URL(request.url);
    const { pathname } = url;
    if (pathname === "/__bench/d1") return Response.json(counts);
    if (pathname === PROBES.nothing) return new Response(null, { status: 204 });
    if (pathname === PROBES.d1RoundTrips) {
      for (let i = 0; i < CALLS_PER_PROBE; i++) await env.DB.prepare("SELECT 1").first();
      return new Response(null, { status: 204 });
    }
    if (pathname === PROBES.rateCounterCalls) {
      // A counter of its own, with a limit nothing reaches, reached as a rate-limited key's is.
      const counters = env.RATE_COUNTERS;
      for (let i = 0; i < CALLS_PER_PROBE; i++)
        await counters.get(counters.idFromName("bench-probe")).take(Number.MAX_SAFE_INTEGER);
      return new Response(null, { status: 204 });
    }
    if (pathname === PROBES.logLines) {
      // The line requestId() writes for a poll, with the same fields and sizes.
      const log = createLogger({ requestId: crypto.randomUUID() }, logLevel(env.LOG_LEVEL));
      for (let i = 0; i < CALLS_PER_PROBE; i++)
        log.info("request", {
          method: "GET",
          path: `/api/v3/sessions/${crypto.randomUUID()}`,
          status: 200,
          ms: 3,
          tenantId: "bench-probe-tenant",
        });
      return new Response(null, { status: 204 });
    }
    if (pathname.startsWith(`${PROBES.relay}/`))
      return passThrough(request, env, pathname.slice(PROBES.relay.length) + url.search);
    if (pathname.startsWith("/webhooks/")) counts.webhooks++;
    const counted = {
      ...env,
      DB: countedD1(env.DB, counting),
      RATE_COUNTERS: countedRateCounters(env.RATE_COUNTERS),
    };
    return gateway.fetch(request, counted, ctx);
  },
  scheduled: gateway.scheduled,
  queue: gateway.queue,
} satisfies ExportedHandler<Bindings>;
