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

/**
 * A hook's session has ended, to the hook's `callbackUrl`: with its final figures, exactly as
 * upstream wrote them (`reason` `ended`); or, where its end was never seen in a final status, with
 * what the gateway booked of it (`gone`, `lost`). Exactly one per delivery, whichever comes first.
 */
export const SessionFinishedEvent = z.strictObject({
  type: z.literal("session.finished"),
  timestamp: Timestamp,
  data: z.strictObject({
    hookId: z.uuid(),
    /** The `webhook-id` of the delivery that started the session. */
    deliveryId: z.string(),
    /** The delivery's session; null (reason `lost`) when no session could be told to be its. */
    sessionId: z.nullable(z.uuid()),
    /** The final status upstream reported; null when none was seen (reasons `gone` and `lost`): none is made up. */
    status: z.nullable(z.enum(["stopped", "timed_out", "error"])),
    /**
     * How its end was known. `ended`: upstream reported it in a final status, and every figure is
     * that final view's. `gone`: upstream answers 404 for it (deleted outside the gateway) before
     * a final status was seen; the figures are those the gateway booked of it (its last view's,
     * on which its hold was settled), `output` and `isTaskSuccessful` its last view's. `lost`: the
     * delivery's create lost its answer and the reconciler could not tell which session, if any,
     * it made; its hold was charged in full, `totalCostUsd` is that charge, and every other
     * figure is null.
     */
    reason: z.enum(["ended", "gone", "lost"]),
    isTaskSuccessful: z.nullable(z.boolean()),
    /** The session's `output` as upstream gave it, its numbers written as upstream wrote them: a string, an object, or null. */
    output: z.unknown(),
    totalCostUsd: z.nullable(MoneyString),
    llmCostUsd: z.nullable(MoneyString),
    proxyCostUsd: z.nullable(MoneyString),
    browserCostUsd: z.nullable(MoneyString),
    /** Null only for reason `lost`. */
    totalInputTokens: z.nullable(z.int().check(z.minimum(0))),
    /** Null only for reason `lost`. */
    totalOutputTokens: z.nullable(z.int().check(z.minimum(0))),
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
