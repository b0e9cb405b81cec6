import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod";
import { renderTask } from "../hooks/template";
import { GatewayError, invalidInput } from "../lib/errors";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../lib/json-depth";
import type { AppEnv } from "../env";
import { hookAuth } from "../middleware/hook-auth";
import { loadPolicy } from "../middleware/policy";
import { rateLimit } from "../middleware/rate-limit";
import { runToCompletion } from "../middleware/run-to-completion";
import { validate } from "../middleware/validate";
import { afterUpstreamActed } from "../store/guard";
import {
  claimDelivery,
  completeDelivery,
  type DeliveryClaim,
  type HookWithSecrets,
  markDeliveryUnknown,
  releaseDelivery,
} from "../store/hooks";
import { jsonInvalidIssue, jsonTooDeepIssue, parseInput } from "../v3/validation";
import { createOrDispatch } from "./v3/dispatch";
import { GatewayRunTaskRequest } from "./v3/sessions";

type Ctx = Context<AppEnv>;

const HookParam = z.object({ hookId: z.uuid() });

/** How long a repeat of a delivery still being admitted waits for the first one's answer. */
const REPEAT_WAIT_MS = 10_000;

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
  runToCompletion(),
  validate("param", HookParam),
  hookAuth(),
  loadPolicy(),
  rateLimit(),
  async (c) => {
    const hook = c.get("hook") as HookWithSecrets;
    // Signed, so it is the sender's; it names the delivery for 24 hours, so it is kept short.
    const deliveryId = c.req.header("webhook-id") as string;
    if (!/^[\x21-\x7e]{1,255}$/.test(deliveryId)) {
      throw invalidInput([
        {
          type: "string_pattern_mismatch",
          loc: ["header", "webhook-id"],
          msg: "1 to 255 printable ASCII characters",
        },
      ]);
    }
    const task = taskOf(c);
    const body = { task, ...hook.options };
    const parsed = parseInput(GatewayRunTaskRequest, "body", body);
    if (!parsed.ok) throw invalidInput(parsed.issues);

    const db = c.env.DB;
    const claim = await claimOrWait(db, hook, deliveryId);
    if (!claim.claimed) {
      if (claim.state === "done") return c.body(claim.body, 200, { "Content-Type": "application/json" });
      throw new GatewayError(
        "idempotency_conflict",
        claim.state === "pending"
          ? "A delivery with this webhook-id is still being admitted"
          : "The outcome of the first delivery with this webhook-id is unknown; it will be settled, not repeated",
      );
    }
    const log = c.get("log");
    let res: Response;
    try {
      res = await createOrDispatch(c, parsed.data, body);
    } catch (err) {
      const code = err instanceof GatewayError ? err.code : "";
      const certain = err instanceof GatewayError && (err.status < 500 || NOTHING_SENT.has(code));
      await afterUpstreamActed(log, "hook_delivery_store_failed", { hookId: hook.id }, () =>
        certain ? releaseDelivery(db, hook.id, deliveryId) : markDeliveryUnknown(db, hook.id, deliveryId),
      );
      throw err;
    }
    if (res.status !== 200) {
      // Upstream's own refusal, relayed as it came: it started nothing.
      await afterUpstreamActed(log, "hook_delivery_store_failed", { hookId: hook.id }, () =>
        releaseDelivery(db, hook.id, deliveryId),
      );
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

/** The hook's task filled from the delivery: 422 for a body that is not JSON or lacks a value. */
function taskOf(c: Ctx): string {
  const raw = c.get("rawBody") ?? "";
  if (nestsDeeperThan(raw)) throw invalidInput([jsonTooDeepIssue(MAX_JSON_DEPTH)]);
  let payload: unknown;
  try {
    payload = JSON.parse(raw);
  } catch {
    throw invalidInput([jsonInvalidIssue()]);
  }
  const rendered = renderTask((c.get("hook") as HookWithSecrets).task, payload);
  if ("task" in rendered) return rendered.task;
  throw new GatewayError(
    "template_value_missing",
    `The delivery has no scalar value for ${rendered.missing.map((p) => `{{${p}}}`).join(", ")}`,
    {},
    { missing: rendered.missing },
  );
}

/**
 * Claims the delivery; a repeat of one still being admitted waits (briefly) for its answer, so
 * two copies arriving at once get the same answer and start one session.
 */
async function claimOrWait(
  db: D1Database,
  hook: { id: string; tenantId: string },
  deliveryId: string,
): Promise<DeliveryClaim> {
  const deadline = Date.now() + REPEAT_WAIT_MS;
  for (;;) {
    const claim = await claimDelivery(db, hook, deliveryId);
    if (claim.claimed || claim.state !== "pending" || Date.now() > deadline) return claim;
    await new Promise((r) => setTimeout(r, 100));
  }
}
