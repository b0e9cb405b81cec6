import { Hono } from "hono";
import type * as z from "zod/mini";
import { budgetReport } from "../budget/view";
import type { AppEnv } from "../env";
import { loadPolicy } from "../middleware/policy";
import { rateLimit } from "../middleware/rate-limit";
import { tenantAuth } from "../middleware/tenant-auth";
import { validate } from "../middleware/validate";
import { GatewayError } from "../lib/errors";
import { describeRoute } from "../openapi/describe";
import { UsageQuery } from "../reports/usage";
import { Budget, LiveItems, Me } from "../schemas/gateway";
import { answerUsage, USAGE_ANSWER } from "./admin-usage";
import { answerLive, TenantLiveQuery } from "./live";

/**
 * /gateway/v1: a tenant's own view of the gateway, with the same key as /api/v3, and counted
 * against the same `requestsPerMinute` (a usage report is among the dearest reads there are).
 */
export const gatewayApi = new Hono<AppEnv>()
  .use(tenantAuth())
  .use(loadPolicy())
  .use(rateLimit())
  .get(
    "/me",
    describeRoute({ operationId: "getMe", summary: "Whose key this is", responses: { 200: Me } }),
    (c) => {
      const { orgId, tenantId, keyId } = c.get("caller");
      return c.json({ orgId, tenantId, keyId } satisfies z.infer<typeof Me>);
    },
  )
  .get(
    "/budget",
    describeRoute({
      operationId: "getBudget",
      summary: "The caller's budgets",
      description:
        "The org's and the tenant's scope this period: cap, spent, held and remaining, and the org's alert thresholds with those this period's spend has reached.",
      responses: { 200: Budget },
    }),
    async (c) => {
      return c.json(await budgetReport(c.env.DB, c.get("caller"), c.get("policy")));
    },
  )
  .get(
    "/usage",
    describeRoute({
      operationId: "getOwnUsage",
      summary: "The caller's usage report",
      description:
        "As `GET /admin/v1/usage`, for the caller's own tenant: naming another org or tenant is 403.",
      responses: { 200: USAGE_ANSWER, 403: "`forbidden`: `orgId` or `tenantId` names another org or tenant" },
    }),
    validate("query", UsageQuery),
    (c) => {
      // The caller's own tenant, and nothing else: naming another org or tenant is refused.
      const { orgId, tenantId } = c.get("caller");
      const query = c.req.valid("query");
      if ((query.orgId && query.orgId !== orgId) || (query.tenantId && query.tenantId !== tenantId)) {
        throw new GatewayError("forbidden", "A tenant's key reports on its own tenant only");
      }
      return answerUsage(c, { ...query, orgId, tenantId });
    },
  )
  .get(
    "/live",
    describeRoute({
      operationId: "listOwnLive",
      summary: "The caller's live sessions and browsers",
      description: "Newest first, each with what the ledger has booked for it so far.",
      responses: { 200: LiveItems },
    }),
    validate("query", TenantLiveQuery),
    (c) => answerLive(c, { tenantId: c.get("caller").tenantId }, c.req.valid("query").limit),
  );
