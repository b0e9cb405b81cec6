/**
 * What the gateway answers outside /admin/v1 and /api/v3, as zod schemas: a tenant's own view
 * (/gateway/v1, whose budgets and live items /admin/v1 shows too), a hook delivery's receipt, an upstream webhook's acknowledgement, health. The
 * routes build their answers as these types; the OpenAPI document describes them from here.
 */
import * as z from "zod/mini";
import { BudgetPeriod } from "../policy/document";
import { MoneyString } from "../v3/schemas/common";

/** `GET /gateway/v1/me`: whose key this is. */
export const Me = z.strictObject({ orgId: z.uuid(), tenantId: z.uuid(), keyId: z.uuid() });

/** One budget scope as its tenant sees it; null where there is no cap. */
export const BudgetScope = z.strictObject({
  scope: z.enum(["org", "tenant"]),
  capUsd: z.nullable(MoneyString),
  period: BudgetPeriod,
  timeZone: z.string(),
  /** The period the figures are for, e.g. `2026-11` for a month; `none` without a period. */
  periodKey: z.string(),
  spentUsd: MoneyString,
  heldUsd: MoneyString,
  /** The part of spentUsd that went past the holds it was booked under. */
  overshootUsd: MoneyString,
  remainingUsd: z.nullable(MoneyString),
});
export type BudgetScope = z.infer<typeof BudgetScope>;

/** A scope as the budget endpoints show it: with the org's alert thresholds, and those reached. */
export const BudgetScopeReport = z.extend(BudgetScope, {
  /** The org's alert thresholds (percent of cap), ascending; empty when the org has no alert target. */
  alertThresholds: z.array(z.int()),
  /** Those that this period's booked spend has reached (as alerts count them); empty without a cap. */
  thresholdsCrossed: z.array(z.int()),
});
export type BudgetScopeReport = z.infer<typeof BudgetScopeReport>;

/**
 * `GET /gateway/v1/budget` and `GET /admin/v1/tenants/{tenantId}/budget`: the org's and the
 * tenant's scope, in that order.
 */
export const Budget = z.strictObject({ scopes: z.array(BudgetScopeReport) });

/** `GET /gateway/v1/live` and `GET /admin/v1/live`: live sessions and browsers, newest first. */
export const LiveItems = z.strictObject({
  items: z.array(
    z.strictObject({
      kind: z.enum(["session", "browser"]),
      id: z.string(),
      orgId: z.uuid(),
      tenantId: z.uuid(),
      status: z.string(),
      createdAt: z.string(),
      /** When the gateway last saw it from upstream (a response, a webhook or the reconciler). */
      viewAt: z.string(),
      liveUrl: z.nullable(z.string()),
      /** What the ledger has booked for it so far. */
      costUsd: MoneyString,
    }),
  ),
});

/** `POST /hooks/{hookId}`: the session the delivery started, and the delivery's `webhook-id`. */
export const HookAccepted = z.strictObject({ sessionId: z.uuid(), deliveryId: z.string() });

/** `POST /webhooks/browser-use`: the event was read (acted on or not). */
export const WebhookReceived = z.strictObject({ received: z.literal(true) });

export const Health = z.strictObject({ status: z.literal("ok") });
