import { Hono } from "hono";
import type { AccountView } from "../../../src/v3/schemas";
import { PROJECT_ID } from "../config";
import type { Emulator } from "../emulator";
import type { EmuEnv } from "../http";
import { MICROS_PER_USD } from "../money";

/** /api/v3/billing: the account behind the API key. */
export function billingRoutes(emu: Emulator) {
  return new Hono<EmuEnv>().get("/account", (c) => {
    // Spend comes off the monthly credits; the API reports balances as JSON numbers, so the
    // conversion from integer micro-USD happens only here, at the edge.
    const monthlyMicros = emu.settings.creditsMicros - emu.spentMicros();
    const limit = emu.settings.concurrencyLimit;
    const account: AccountView = {
      name: "Browser Use Emulator",
      totalCreditsBalanceUsd: monthlyMicros / MICROS_PER_USD,
      monthlyCreditsBalanceUsd: monthlyMicros / MICROS_PER_USD,
      additionalCreditsBalanceUsd: 0,
      rateLimit: limit,
      planInfo: {
        planName: "Emulator",
        subscriptionStatus: "active",
        subscriptionId: null,
        subscriptionCurrentPeriodEnd: null,
        subscriptionCanceledAt: null,
      },
      isFreeTier: false,
      projectId: emu.options.projectId ?? PROJECT_ID,
      tracingDisabled: false,
      concurrentSessionLimit: limit,
      activeSessionCount: emu.activeCount(),
    };
    return c.json(account);
  });
}
