import * as z from "zod";
import { Uuid } from "./common";

export const PlanInfo = z.object({
  planName: z.string(),
  subscriptionStatus: z.string().nullable(),
  subscriptionId: z.string().nullable(),
  subscriptionCurrentPeriodEnd: z.string().nullable(),
  subscriptionCanceledAt: z.string().nullable(),
});
export type PlanInfo = z.infer<typeof PlanInfo>;

/** `GET /billing/account`. Unlike everywhere else, balances here are JSON numbers. */
export const AccountView = z.object({
  name: z.string().nullish(),
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
  tracingDisabled: z.boolean().optional(),
  concurrentSessionLimit: z.int().optional(),
  activeSessionCount: z.int().optional(),
});
export type AccountView = z.infer<typeof AccountView>;
