import { Hono } from "hono";
import type { AppEnv } from "../env";
import { GatewayError } from "../lib/errors";
import { describeRoute } from "../openapi/describe";
import { Health } from "../schemas/gateway";

/** GET /healthz: 200 once the gateway can serve (its D1 answers), 503 otherwise. */
export const health = new Hono<AppEnv>().get(
  "/healthz",
  describeRoute({
    operationId: "getHealth",
    summary: "Health",
    responses: { 200: Health, 503: "`store_unavailable`: the database does not answer" },
  }),
  async (c) => {
    try {
      await c.env.DB.prepare("SELECT 1 FROM orgs LIMIT 1").first();
    } catch {
      throw new GatewayError("store_unavailable", "Database not ready");
    }
    return c.json({ status: "ok" } as const);
  },
);
