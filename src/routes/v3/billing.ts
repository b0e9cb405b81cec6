import { Hono } from "hono";
import type { AppEnv } from "../../env";
import { getTenant } from "../../store/orgs";
import { countActive } from "../../store/resources";
import { guardStore } from "./proxy";

/**
 * GET /api/v3/billing/account, answered by the gateway itself: the org's upstream balance is
 * not the tenant's business. Same AccountView shape, describing the tenant. Until budgets
 * exist (the governance work) there is no figure for what remains, so balances read 0 and
 * the plan name says so.
 */
export const billing = new Hono<AppEnv>().get("/account", async (c) => {
  const caller = c.get("caller");
  const [tenant, active] = await guardStore(c, () =>
    Promise.all([getTenant(c.env.DB, caller.tenantId), countActive(c.env.DB, caller.tenantId)]),
  );
  return c.json({
    name: tenant?.name ?? null,
    totalCreditsBalanceUsd: 0,
    monthlyCreditsBalanceUsd: 0,
    additionalCreditsBalanceUsd: 0,
    rateLimit: 0,
    concurrentSessionLimit: 0,
    activeSessionCount: active,
    planInfo: {
      planName: "Browser Use Gateway (no budget set)",
      subscriptionStatus: null,
      subscriptionId: null,
      subscriptionCurrentPeriodEnd: null,
      subscriptionCanceledAt: null,
    },
    isFreeTier: false,
    projectId: caller.tenantId,
    tracingDisabled: false,
  });
});
