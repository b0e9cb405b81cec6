import { Hono } from "hono";
import * as z from "zod/mini";
import { budgetReport, orgBudgetPage } from "../budget/view";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { loadEffectivePolicy } from "../policy/load";
import { TenantBudgetPage } from "../schemas/admin";
import { Budget } from "../schemas/gateway";
import { getTenant } from "../store/orgs";
import { ListQuery } from "./admin-orgs";

const TenantParam = z.object({ tenantId: z.uuid() });
const OrgParam = z.object({ orgId: z.uuid() });

/**
 * GET /admin/v1/tenants/{tenantId}/budget: a tenant's budgets exactly as its own
 * `GET /gateway/v1/budget` shows them (the same function answers both); and
 * GET /admin/v1/orgs/{orgId}/budgets: a page of an org's tenants with the same figures each, read
 * for the whole page in one D1 round trip (the dashboard's Budgets view).
 */
export const adminBudgets = new Hono<AppEnv>()
  .get(
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
  )
  .get(
    "/orgs/:orgId/budgets",
    describeRoute({
      operationId: "listOrgBudgets",
      summary: "An org's tenants' budgets, a page at a time",
      description:
        "The org's tenants as `GET /admin/v1/orgs/{orgId}/tenants` pages them (`name` matches any part of the name, in any case), each with `scopes` exactly as `GET /admin/v1/tenants/{tenantId}/budget` answers for it. One D1 round trip per page, whatever its size.",
      responses: { 200: TenantBudgetPage, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    validate("query", ListQuery),
    async (c) => {
      const { pageNumber, pageSize, name } = c.req.valid("query");
      const page = await orgBudgetPage(c.env.DB, c.req.valid("param").orgId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        name,
      });
      if (!page) throw notFound("Org not found");
      return c.json({ items: page.items, totalItems: page.total, pageNumber, pageSize });
    },
  );
