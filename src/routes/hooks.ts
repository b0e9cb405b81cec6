import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import { createMiddleware } from "hono/factory";
import { renderTask } from "../hooks/template";
import { GatewayError, invalidInput } from "../lib/errors";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../lib/json-depth";
import type { AppEnv } from "../env";
import { hookAuth } from "../middleware/hook-auth";
import { orgUpstream } from "../middleware/org-upstream";
import { loadPolicy } from "../middleware/policy";
import { rateLimit } from "../middleware/rate-limit";
import { runToCompletion } from "../middleware/run-to-completion";
import { describeRoute } from "../openapi/describe";
import { HookAccepted } from "../schemas/gateway";
import { afterUpstreamActed, isStoreFailure } from "../store/guard";
import {
  claimDelivery,
  completeDelivery,
  findDelivery,
  type DeliveryClaim,
  type HookWithSecrets,
  markDeliveryUnknown,
  releaseDelivery,
} from "../store/hooks";
import { jsonInvalidIssue, jsonTooDeepIssue, parseInput } from "../v3/validation";
import { createOrDispatch } from "./v3/dispatch";
import { GatewayRunTaskRequest } from "./v3/sessions";

type Ctx = Context<AppEnv>;

/** How long a repeat of a delivery still being admitted waits for the first one's answer: longer than upstream may take. */
const REPEAT_WAIT_MS = 30_000;

/** Gateway refusals after which upstream certainly started nothing: the delivery may be retried. */
const NOTHING_SENT: ReadonlySet<string> = new Set([
  "upstream_unauthorized",
  "budget_unavailable",
  "store_unavailable",
]);

/**
 * POST /hooks/{hookId}: a signed delivery from another system starts the hook's task, admitted
 * exactly as the hook's tenant calling `POST /api/v3/sessions` would be (same policy, budget hold,
 * concurrency and rate limits, same refusals). The task is the hook's template filled from the
 * delivery's JSON body, with the hook's fixed options. 202 `{sessionId, deliveryId}`; the same
 * `webhook-id` again within 24 hours answers 200 with the first answer and starts nothing.
 */
export const hookDeliveries = new Hono<AppEnv>().post(
  "/:hookId",
  describeRoute({
    operationId: "deliverHook",
    callsUpstream: true,
    summary: "Start a hook's task",
    description:
      "A signed delivery (Standard Webhooks) starts the hook's task, its template filled from the body, under the same policy, budget and limits as `POST /api/v3/sessions` by the hook's tenant. The same `webhook-id` again within 24 hours answers 200 with the first answer and starts nothing.",
    body: {
      required: true,
      schema: z.unknown(),
      description: "Any JSON; the template's placeholders name paths in it",
    },
    responses: {
      200: {
        description: "A repeat of a delivery that was answered: the first answer",
        schema: HookAccepted,
      },
      202: {
        description: "The task was started",
        schema: HookAccepted,
        headers: { "X-Gateway-Applied": "Each change the gateway made to the task's body" },
      },
      402: "`budget_exceeded`",
      403: "A policy refusal, as for the tenant's own `POST /api/v3/sessions`",
      429: "`concurrency_limit`: too many live sessions and browsers for the tenant or org",
      409: "`idempotency_conflict`: a delivery with this `webhook-id` is being admitted, or its outcome was lost",
      422: "A body that is not JSON, a `webhook-id` that is not 1 to 255 printable characters, or `template_value_missing`",
    },
  }),
  runToCompletion(),
  hookAuth(),
  repeatAnswer(),
  loadPolicy(),
  rateLimit(),
  orgUpstream(),
  async (c) => {
    const hook = c.get("hook") as HookWithSecrets;
    const deliveryId = deliveryIdOf(c);
    const task = taskOf(c);
    const body = { task, ...hook.options };
    const parsed = parseInput(GatewayRunTaskRequest, "body", body);
    if (!parsed.ok) throw invalidInput(parsed.issues);

    const db = c.env.DB;
    const claim = await claimOrWait(db, hook, deliveryId);
    if (!claim.claimed) return answerRepeat(c, claim);
    c.set("deliveryHoldId", claim.token);
    const log = c.get("log");
    const settle = (how: "release" | "unknown") =>
      afterUpstreamActed(log, "hook_delivery_store_failed", { hookId: hook.id }, () =>
        how === "release"
          ? releaseDelivery(db, hook.id, deliveryId)
          : markDeliveryUnknown(db, hook.id, deliveryId),
      );
    let res: Response;
    try {
      res = await createOrDispatch(c, parsed.data, body);
    } catch (err) {
      // Refused before anything was sent (the gateway's own refusals, a store that failed
      // before the request left), or upstream's outcome unknown.
      const code = err instanceof GatewayError ? err.code : "";
      const certain =
        isStoreFailure(err) || (err instanceof GatewayError && (err.status < 500 || NOTHING_SENT.has(code)));
      await settle(certain ? "release" : "unknown");
      throw err;
    }
    if (res.status !== 200) {
      // Upstream's own answer, relayed as it came: a 4xx started nothing; a 5xx may have.
      await settle(res.status < 500 ? "release" : "unknown");
      return res;
    }
    const sessionId = String(((await res.clone().json()) as { id: string }).id);
    const answer = JSON.stringify({ sessionId, deliveryId });
    await afterUpstreamActed(log, "hook_delivery_store_failed", { hookId: hook.id }, () =>
      completeDelivery(db, hook.id, deliveryId, { status: 200, body: answer, sessionId }),
    );
    const applied = res.headers.get("X-Gateway-Applied");
    return c.body(answer, 202, {
      "Content-Type": "application/json",
      ...(applied ? { "X-Gateway-Applied": applied } : {}),
    });
  },
);

/** The delivery's webhook-id: signed, so the sender's; it names the delivery for 24 hours, so it is kept short. */
function deliveryIdOf(c: Ctx): string {
  const id = c.req.header("webhook-id") ?? "";
  if (!/^[\x21-\x7e]{1,255}$/.test(id)) {
    throw invalidInput([
      {
        type: "string_pattern_mismatch",
        loc: ["header", "webhook-id"],
        msg: "1 to 255 printable ASCII characters",
      },
    ]);
  }
  return id;
}

/**
 * A repeat of a delivery that was answered gets that answer again before anything else is judged:
 * a rate limit or a policy changed since must not refuse a sender's retry of what already ran.
 */
function repeatAnswer() {
  return createMiddleware<AppEnv>(async function repeatAnswerMiddleware(c, next) {
    const hook = c.get("hook") as HookWithSecrets;
    const found = await findDelivery(c.env.DB, hook.id, deliveryIdOf(c));
    if (found?.state === "done") return c.body(found.body, 200, { "Content-Type": "application/json" });
    await next();
  });
}

function answerRepeat(c: Ctx, claim: Exclude<DeliveryClaim, { claimed: true }>): Response {
  if (claim.state === "done") return c.body(claim.body, 200, { "Content-Type": "application/json" });
  throw new GatewayError(
    "idempotency_conflict",
    claim.state === "pending"
      ? "A delivery with this webhook-id is still being admitted"
      : "The outcome of the first delivery with this webhook-id is unknown; it will be settled, not repeated",
  );
}

/** The hook's task filled from the delivery: 422 for a body that is not JSON or lacks a value. */
function taskOf(c: Ctx): string {
  // RFC 8259 lets a parser ignore a byte order mark; the signature covered it (hookAuth).
  const raw = (c.get("rawBody") ?? "").replace(/^\uFEFF/, "");
  if (nestsDeeperThan(raw)) throw invalidInput([jsonTooDeepIssue(MAX_JSON_DEPTH)]);
  let payload: unknown;
  try {
    // Numbers as the delivery wrote them: the task takes them as text, and a double would round
    // an id past 2^53 (`1234567890123456789` would start a task about `…800`).
    payload = JSON.parse(raw, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === "number" && context?.source !== undefined ? context.source : value,
    );
  } catch {
    throw invalidInput([jsonInvalidIssue()]);
  }
  const rendered = renderTask((c.get("hook") as HookWithSecrets).task, payload);
  // A task that came out empty would start a session that runs nothing: as good as missing.
  if ("task" in rendered && rendered.task.trim() !== "") return rendered.task;
  throw new GatewayError(
    "template_value_missing",
    "missing" in rendered
      ? `The delivery has no scalar value for ${rendered.missing.map((p) => `{{${p}}}`).join(", ")}`
      : "The task came out empty from the delivery's values",
    {},
    { missing: "missing" in rendered ? rendered.missing : [] },
  );
}

/**
 * Claims the delivery; a repeat of one still being admitted waits (briefly) for its answer, so
 * two copies arriving at once get the same answer and start one session.
 */
async function claimOrWait(
  db: D1Database,
  hook: { id: string; orgId: string; tenantId: string },
  deliveryId: string,
): Promise<DeliveryClaim> {
  const deadline = Date.now() + REPEAT_WAIT_MS;
  for (;;) {
    const claim = await claimDelivery(db, hook, deliveryId);
    if (claim.claimed || claim.state !== "pending" || Date.now() > deadline) return claim;
    await new Promise((r) => setTimeout(r, 100));
  }
}
