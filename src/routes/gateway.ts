import { Hono } from "hono";
import { budgetView } from "../budget/view";
import type { AppEnv } from "../env";
import { loadPolicy } from "../middleware/policy";
import { tenantAuth } from "../middleware/tenant-auth";

/** /gateway/v1: a tenant's own view of the gateway, with the same key as /api/v3. */
export const gatewayApi = new Hono<AppEnv>()
  .use(tenantAuth())
  .use(loadPolicy())
  .get("/me", (c) => {
    const { orgId, tenantId, keyId } = c.get("caller");
    return c.json({ orgId, tenantId, keyId });
  })
  .get("/budget", async (c) => {
    const { scopes } = await budgetView(c.env.DB, c.get("caller"), c.get("policy"));
    return c.json({ scopes });
  });
