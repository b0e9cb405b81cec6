/**
 * The events the gateway posts out, as the document's `webhooks` (OpenAPI 3.1): what a receiver
 * of hook callbacks or budget alerts is sent, signed the Standard Webhooks way, and what it should
 * answer. Their bodies are the zod schemas of schemas/events.ts.
 */
import type * as z from "zod/mini";
import { ATTEMPT_TIMEOUT_MS } from "../events/deliver";
import { BudgetAlertEvent, SessionFinishedEvent } from "../schemas/events";
import type { JsonSchema, SchemaConverter } from "./json-schema";

interface OutgoingEvent {
  operationId: string;
  summary: string;
  description: string;
  /** Whose secret signs it. */
  signedWith: string;
  body: z.core.$ZodType;
}

/** Every event type the gateway posts, by its `type`. */
const OUTGOING_EVENTS: Record<string, OutgoingEvent> = {
  "session.finished": {
    operationId: "sessionFinished",
    summary: "A hook's session has ended",
    description:
      "Posted to a hook's `callbackUrl` once for each delivery: when the session it started is seen `stopped`, `timed_out` or `error`, with its final figures exactly as upstream wrote them (`reason` `ended`); or, where no final status is ever seen, when upstream answers 404 for the session (`gone`: the figures the gateway booked, `status` null) or the reconciler charges a lost create's hold in full (`lost`: `sessionId` and `status` null, `totalCostUsd` the charge).",
    signedWith: "the hook's secret",
    body: SessionFinishedEvent,
  },
  "budget.threshold_crossed": {
    operationId: "budgetThresholdCrossed",
    summary: "A budget scope's spend has reached a threshold of its cap",
    description:
      "Posted to the org's alert target (`PUT /admin/v1/orgs/{orgId}/alerts`) once per scope, period and threshold; `tenantId` is null for the org's own scope.",
    signedWith: "the org's alert secret",
    body: BudgetAlertEvent,
  },
};

/** The document's `webhooks`: one `post` per event type, its body a component. */
export function outgoingEvents(schemas: SchemaConverter): Record<string, { post: JsonSchema }> {
  return Object.fromEntries(
    Object.entries(OUTGOING_EVENTS).map(([type, event]) => [
      type,
      {
        post: {
          tags: ["Events"],
          operationId: event.operationId,
          summary: event.summary,
          description: event.description,
          parameters: signatureHeaders(event.signedWith),
          requestBody: {
            required: true,
            content: { "application/json": { schema: schemas.convert(event.body) } },
          },
          responses: {
            "2XX": {
              description: `Received: the event is delivered. Anything else, no answer within ${ATTEMPT_TIMEOUT_MS / 1000} s, a refused connection or a redirect (not followed) is retried on the schedule, with the same \`webhook-id\`.`,
            },
          },
        },
      },
    ]),
  );
}

function signatureHeaders(signedWith: string): JsonSchema[] {
  const header = (name: string, description: string) => ({
    name,
    in: "header",
    required: true,
    description,
    schema: { type: "string" },
  });
  return [
    header("webhook-id", "The event's id (`evt_…`), the same on every attempt: deduplicate by it."),
    header("webhook-timestamp", "Unix seconds of this attempt."),
    header(
      "webhook-signature",
      `\`v1,<base64>\`: HMAC-SHA256 of \`{webhook-id}.{webhook-timestamp}.{body}\` under ${signedWith}, as Standard Webhooks signs; several, space-separated, while a rotated secret is in its grace period.`,
    ),
  ];
}
