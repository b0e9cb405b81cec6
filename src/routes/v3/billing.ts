import { Hono } from "hono";
import type { AppEnv } from "../../env";
import { getTenantStatement, readTenant } from "../../store/orgs";
import { countActiveStatement } from "../../store/resources";
import { countersStatement, readCounters } from "../../store/budgets";
import { budgetScopes, budgetViewOf } from "../../budget/view";
import { fromMicros } from "../../lib/money";
import { describeRoute } from "../../openapi/describe";
import { AccountView } from "../../v3/schemas";

/**
 * GET /api/v3/billing/account, answered by the gateway itself: the org's upstream balance is
 * not the tenant's business. Same AccountView shape, describing the tenant: the balance is what
 * remains for it (the smallest remainder of its org's and its own budget this period), from the
 * same figures as /gateway/v1/budget. With no budget at all it reads 0 and the plan name says so.
 * AccountView declares balances as JSON numbers; that is the only place money leaves as one.
 */
export const billing = new Hono<AppEnv>().get(
  "/account",
  describeRoute({
    operationId: "get_account_billing_billing_account_get",
    summary: "Get Account Billing",
    description:
      "The tenant's own figures, never the org's upstream balance: `totalCreditsBalanceUsd` is what remains in its budgets this period (0 with no budget set), `projectId` the tenant id.",
    responses: { 200: AccountView },
  }),
  async (c) => {
    const caller = c.get("caller");
    const policy = c.get("policy");
    const db = c.env.DB;
    const scopes = budgetScopes(caller, policy);
    // One round trip, and one snapshot: the name, what is live and the counters read together.
    const [tenantRead, activeRead, countersRead] = await db.batch([
      getTenantStatement(db, caller.tenantId),
      countActiveStatement(db, caller.tenantId),
      countersStatement(db, scopes),
    ]);
    const tenant = readTenant(tenantRead);
    const active = (activeRead?.results[0] as { n: number } | undefined)?.n ?? 0;
    const budget = budgetViewOf(scopes, readCounters(scopes, countersRead?.results ?? []));
    const balance = budget.remainingMicros === null ? 0 : Number(fromMicros(budget.remainingMicros));
    const limit = policy.maxConcurrentSessions ?? 0;
    const account: AccountView = {
      name: tenant?.name ?? null,
      totalCreditsBalanceUsd: balance,
      monthlyCreditsBalanceUsd: balance,
      additionalCreditsBalanceUsd: 0,
      rateLimit: limit,
      concurrentSessionLimit: limit,
      activeSessionCount: active,
      planInfo: {
        planName:
          budget.remainingMicros === null ? "Browser Use Gateway (no budget set)" : "Browser Use Gateway",
        subscriptionStatus: null,
        subscriptionId: null,
        subscriptionCurrentPeriodEnd: null,
        subscriptionCanceledAt: null,
      },
      isFreeTier: false,
      projectId: caller.tenantId,
      tracingDisabled: false,
    };
    return c.json(account);
  },
);
