import { Hono } from "hono";
import type { AppEnv } from "../env";
import { GatewayError } from "../lib/errors";

/** GET /healthz: 200 once the gateway can serve (its D1 answers), 503 otherwise. */
export const health = new Hono<AppEnv>().get("/healthz", async (c) => {
  try {
    await c.env.DB.prepare("SELECT 1 FROM orgs LIMIT 1").first();
  } catch {
    throw new GatewayError("store_unavailable", "Database not ready");
  }
  return c.json({ status: "ok" });
});
