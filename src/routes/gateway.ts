import { Hono } from "hono";
import { budgetReport } from "../budget/view";
import type { AppEnv } from "../env";
import { loadPolicy } from "../middleware/policy";
import { tenantAuth } from "../middleware/tenant-auth";
import { validate } from "../middleware/validate";
import { GatewayError } from "../lib/errors";
import { UsageQuery } from "../reports/usage";
import { answerUsage } from "./admin-usage";
import { answerLive, TenantLiveQuery } from "./live";

/** /gateway/v1: a tenant's own view of the gateway, with the same key as /api/v3. */
export const gatewayApi = new Hono<AppEnv>()
  .use(tenantAuth())
  .use(loadPolicy())
  .get("/me", (c) => {
    const { orgId, tenantId, keyId } = c.get("caller");
    return c.json({ orgId, tenantId, keyId });
  })
  .get("/budget", async (c) => {
    return c.json(await budgetReport(c.env.DB, c.get("caller"), c.get("policy")));
  })
  .get("/usage", validate("query", UsageQuery), (c) => {
    // The caller's own tenant, and nothing else: naming another org or tenant is refused.
    const { orgId, tenantId } = c.get("caller");
    const query = c.req.valid("query");
    if ((query.orgId && query.orgId !== orgId) || (query.tenantId && query.tenantId !== tenantId)) {
      throw new GatewayError("forbidden", "A tenant's key reports on its own tenant only");
    }
    return answerUsage(c, { ...query, orgId, tenantId });
  })
  .get("/live", validate("query", TenantLiveQuery), (c) =>
    answerLive(c, { tenantId: c.get("caller").tenantId }, c.req.valid("query").limit),
  );
