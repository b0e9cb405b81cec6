/**
 * What the gateway posts out, as zod schemas: the bodies of hook callbacks and budget alerts, both
 * signed the Standard Webhooks way (src/hooks/signatures.ts). The bodies are written in SQL, where
 * the events are made (store/events.ts, store/alerts.ts); the OpenAPI document describes them
 * from here (its `webhooks`), and the suite checks every event a test receives against the
 * document, so the two cannot drift apart. Strict objects: a field nobody documented fails.
 */
import * as z from "zod/mini";
import { DecimalString, MoneyString } from "../v3/schemas/common";
import { Timestamp } from "./common";

/** A hook's session has ended: its final figures, exactly as upstream wrote them, to the hook's `callbackUrl`. */
export const SessionFinishedEvent = z.strictObject({
  type: z.literal("session.finished"),
  timestamp: Timestamp,
  data: z.strictObject({
    hookId: z.uuid(),
    /** The `webhook-id` of the delivery that started the session. */
    deliveryId: z.string(),
    sessionId: z.uuid(),
    status: z.enum(["stopped", "timed_out", "error"]),
    isTaskSuccessful: z.nullable(z.boolean()),
    /** The session's `output` as upstream gave it: a string, an object, or null. */
    output: z.unknown(),
    totalCostUsd: z.nullable(MoneyString),
    llmCostUsd: z.nullable(MoneyString),
    proxyCostUsd: z.nullable(MoneyString),
    browserCostUsd: z.nullable(MoneyString),
    totalInputTokens: z.int().check(z.minimum(0)),
    totalOutputTokens: z.int().check(z.minimum(0)),
    proxyUsedMb: z.nullable(DecimalString),
  }),
});

/** A budget scope's booked spend has reached a threshold of its cap: to the org's alert target. */
export const BudgetAlertEvent = z.strictObject({
  type: z.literal("budget.threshold_crossed"),
  timestamp: Timestamp,
  data: z.strictObject({
    orgId: z.uuid(),
    /** The tenant whose budget crossed; null for the org's own. */
    tenantId: z.nullable(z.uuid()),
    scope: z.enum(["org", "tenant"]),
    periodKey: z.string(),
    thresholdPercent: z.int(),
    capUsd: MoneyString,
    spentUsd: MoneyString,
    heldUsd: MoneyString,
    remainingUsd: MoneyString,
  }),
});
