import * as z from "zod/mini";
import { Uuid } from "./common";

export const PlanInfo = z.object({
  planName: z.string(),
  subscriptionStatus: z.nullable(z.string()),
  subscriptionId: z.nullable(z.string()),
  subscriptionCurrentPeriodEnd: z.nullable(z.string()),
  subscriptionCanceledAt: z.nullable(z.string()),
});
export type PlanInfo = z.infer<typeof PlanInfo>;

/** `GET /billing/account`. Unlike everywhere else, balances here are JSON numbers. */
export const AccountView = z.object({
  name: z.nullish(z.string()),
  /** monthly + additional. */
  totalCreditsBalanceUsd: z.number(),
  monthlyCreditsBalanceUsd: z.number(),
  additionalCreditsBalanceUsd: z.number(),
  /** Legacy alias of the concurrency limit. */
  rateLimit: z.int(),
  planInfo: PlanInfo,
  isFreeTier: z.boolean(),
  projectId: Uuid,
  /** The next three are newer than the published spec (SDK types, newer spec copy). */
  tracingDisabled: z.optional(z.boolean()),
  concurrentSessionLimit: z.optional(z.int()),
  activeSessionCount: z.optional(z.int()),
});
export type AccountView = z.infer<typeof AccountView>;
