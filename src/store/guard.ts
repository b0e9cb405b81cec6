import type { Context } from "hono";
import type { AppEnv } from "../env";
import { GatewayError } from "../lib/errors";
import { describeError } from "../lib/log";

/** Runs a D1 call; a failure is a 503 for the client and a named line in the log, never a 500. */
export async function guardStore<T>(c: Context<AppEnv>, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    c.get("log").error("store_failed", describeError(err));
    throw new GatewayError("store_unavailable", "Gateway store unavailable, try again");
  }
}
