import { Hono } from "hono";
import type { AppEnv } from "../../env";
import { getTenant } from "../../store/orgs";
import { countActive } from "../../store/resources";
import { budgetView } from "../../budget/view";
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
    const [tenant, active, budget] = await Promise.all([
      getTenant(c.env.DB, caller.tenantId),
      countActive(c.env.DB, caller.tenantId),
      budgetView(c.env.DB, caller, policy),
    ]);
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
