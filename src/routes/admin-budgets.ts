import { Hono } from "hono";
import * as z from "zod";
import { budgetReport } from "../budget/view";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { loadEffectivePolicy } from "../policy/load";
import { Budget } from "../schemas/gateway";
import { getTenant } from "../store/orgs";

const TenantParam = z.object({ tenantId: z.uuid() });

/**
 * GET /admin/v1/tenants/{tenantId}/budget: a tenant's budgets exactly as its own
 * `GET /gateway/v1/budget` shows them (the same function answers both).
 */
export const adminBudgets = new Hono<AppEnv>().get(
  "/tenants/:tenantId/budget",
  describeRoute({
    operationId: "getTenantBudget",
    summary: "A tenant's budgets",
    description: "Exactly what the tenant's own `GET /gateway/v1/budget` answers.",
    responses: { 200: Budget, 404: "`Tenant not found`" },
  }),
  validate("param", TenantParam),
  async (c) => {
    const tenant = await getTenant(c.env.DB, c.req.valid("param").tenantId);
    if (!tenant) throw notFound("Tenant not found");
    const ids = { orgId: tenant.orgId, tenantId: tenant.id };
    return c.json(await budgetReport(c.env.DB, ids, await loadEffectivePolicy(c.env.DB, ids)));
  },
);
