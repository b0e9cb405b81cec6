/** Shared by the benchmark's gateway entry and its runner: the routes that measure the runtime. */

/** How many calls a probe makes one after another, so a tenth of its cost over `nothing` is one. */
export const CALLS_PER_PROBE = 10;

export const PROBES = {
  /** Answers at once: what a request costs the runtime at all. */
  nothing: "/__bench/nothing",
  /** `SELECT 1`, CALLS_PER_PROBE times: local D1 round trips. */
  d1RoundTrips: "/__bench/d1-round-trips",
  /** A rate counter's `take`, CALLS_PER_PROBE times: local Durable Object calls. */
  rateCounterCalls: "/__bench/rate-counter-calls",
  /** The gateway's line per request, CALLS_PER_PROBE times, at the run's LOG_LEVEL: local logging. */
  logLines: "/__bench/log-lines",
  /**
   * Followed by a path below the v3 base: the bare worker's relay of it (bench/bare), run in the
   * gateway's own worker. What the gateway's workerd, bundle and bindings cost a request that does
   * no more than the bare worker does; the rest of a poll's CPU is the gateway's own code.
   */
  relay: "/__bench/relay",
} as const;
