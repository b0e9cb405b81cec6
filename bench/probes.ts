/** Shared by the benchmark's gateway entry and its runner: how the runtime probes are made. */

/** How many `SELECT 1` round trips `GET /__bench/d1-round-trips` makes one after another. */
export const D1_ROUND_TRIPS_PER_PROBE = 10;
