import type { Context } from "hono";
import type { AdmissionRequest } from "../../budget/admission";
import { type Hold, holdAcceptedStatement, openHold, releaseHold } from "../../budget/holds";
import { inFlight, observeViews } from "../../ledger/observe";
import { formatApplied } from "../../policy/apply";
import type { AppEnv } from "../../env";
import { GatewayError } from "../../lib/errors";
import { followAccountMove } from "../../middleware/org-upstream";
import { describeError } from "../../lib/log";
import { afterUpstreamActed, isStoreFailure } from "../../store/guard";
import { linkDeliveryStatement } from "../../store/hooks";
import { recordCreatedStatement } from "../../store/resources";
import { usageCountryStatement } from "../../store/usage";
import type { KindSpec } from "../../upstream/kinds";
import type { UpstreamResponse } from "../../upstream/client";
import { forward, rememberOwned } from "./proxy";

type Ctx = Context<AppEnv>;

/** Failures after which upstream may or may not have acted: the hold waits for the reconciler. */
const OUTCOME_UNKNOWN: ReadonlySet<string> = new Set([
  "upstream_timeout",
  "upstream_unreachable",
  "upstream_bad_response",
]);
type View = Record<string, unknown>;

export interface HeldCall {
  spec: KindSpec;
  admission: AdmissionRequest;
  /** The create's path upstream (`/sessions`, `/browsers`) and the body to send, after policy. */
  path: string;
  body: Record<string, unknown>;
  /** The `maxCostUsd` to send once the hold is known, if any. */
  ceiling?: (hold: Hold) => string | null;
  /** The status upstream answers a success with (200 for sessions, 201 for browsers). */
  success: number;
  /** The country a create asked for, when upstream's answer does not echo it (a browser's): for reports. */
  proxyCountry?: string | null;
}

/**
 * Sends a call that costs money under a hold. The hold is reserved before anything goes upstream;
 * then, by what upstream said:
 * - success: the hold is tied to the session or browser (and a new one recorded as the caller's)
 *   before the client hears of it, so whoever sees it end can settle it; a slot-only hold (a
 *   session without a task) is released instead, once the recorded session itself counts as live;
 * - a 4xx, upstream refusing the gateway's key, or any error before the request left: upstream
 *   certainly did nothing, so the hold is released at once;
 * - a 5xx, a timeout, a dropped connection or a garbled answer: the outcome is unknown, so the
 *   hold stays open until the reconciler finds out what upstream did.
 * After upstream answered, a failing store never replaces its answer (afterUpstreamActed).
 */
export function forwardHeld(c: Ctx, call: HeldCall): Promise<UpstreamResponse> {
  return inFlight(holdAndForward(c, call));
}

async function holdAndForward(c: Ctx, call: HeldCall): Promise<UpstreamResponse> {
  const db = c.env.DB;
  const log = c.get("log");
  // Serialised before anything is held: a body that could not be sent must hold nothing.
  JSON.stringify(call.body);
  const hold = await openHold(
    db,
    c.get("caller"),
    c.get("policy"),
    call.admission,
    new Date(),
    c.get("deliveryHoldId"),
  );
  c.set("holdId", hold.id);
  const release = (why: string) =>
    afterUpstreamActed(log, "hold_release_failed", { holdId: hold.id, why }, () => releaseHold(db, hold.id));
  let res: UpstreamResponse;
  try {
    // The hold read the org's account in its own transaction, and no org moves while one of its
    // holds is open and tied to nothing (admin-upstreams.ts): that is where the create must go.
    await followAccountMove(c, hold.accountSetAt, { holdId: hold.id });
    const ceiling = call.ceiling?.(hold) ?? null;
    const body = ceiling === null ? call.body : { ...call.body, maxCostUsd: ceiling };
    res = await forward(c, { method: "POST", path: call.path, body });
  } catch (err) {
    if (err instanceof GatewayError && OUTCOME_UNKNOWN.has(err.code)) {
      log.warn("hold_outcome_unknown", { holdId: hold.id, ...describeError(err) });
    } else {
      await release(err instanceof GatewayError ? err.code : "not_sent");
    }
    throw err;
  }
  c.set("upstreamAnswered", true);
  if (res.status === call.success) {
    const view = res.body as View | null;
    if (typeof view?.id !== "string") {
      log.error("hold_outcome_unknown", { holdId: hold.id, reason: "success without an id" });
      throw new GatewayError("upstream_bad_response", "Browser Use answered a create without an id");
    }
    await recordSuccess(c, call, hold, view as View & { id: string }, res.sentAt);
  } else if (res.status >= 400 && res.status < 500) {
    await release(`upstream_${res.status}`);
  } else {
    log.warn("hold_outcome_unknown", { holdId: hold.id, status: res.status });
  }
  return res;
}

/**
 * Ties the hold to what upstream made, records a new object as the caller's and books its first
 * view, in one batch: one round trip, and nothing booked for an object nobody owns. Upstream has
 * already accepted: should D1 fail now, the client still gets upstream's answer (a "try again"
 * would start a second paid task), and the open, unattached hold leads the reconciler to the
 * object, which it records as the caller's and books, charged through the hold.
 */
async function recordSuccess(
  c: Ctx,
  call: HeldCall,
  hold: Hold,
  view: View & { id: string },
  sentAt: string,
): Promise<void> {
  const db = c.env.DB;
  const isNew = call.admission.resourceId === null;
  const caller = c.get("caller");
  const record = isNew
    ? [
        recordCreatedStatement(
          db,
          call.spec.kind,
          view.id,
          caller,
          view,
          call.spec.status(view),
          call.admission.features,
        ),
        ...(call.proxyCountry && call.spec.kind === "browser"
          ? [usageCountryStatement(db, call.spec.kind, view.id, caller, call.proxyCountry)]
          : []),
      ]
    : [];
  const accepted = holdAcceptedStatement(db, hold, view.id, { slotOnly: call.admission.slotOnly === true });
  const log = c.get("log");
  // A hook delivery's session is its own in the same batch: no write between them can be lost
  // alone, leaving a session whose delivery never learns of it (nor sends its callback).
  const delivery = c.get("deliveryHoldId") === hold.id ? [linkDeliveryStatement(db, hold.id, view.id)] : [];
  const lead = [...record, accepted, ...delivery];
  const recorded = await afterUpstreamActed(
    log,
    "record_or_first_booking_failed",
    { holdId: hold.id, id: view.id },
    async () => {
      try {
        await observeViews(c.env, log, call.spec, caller, [view], sentAt, {
          lead,
          recorded: isNew,
          held: call.admission.slotOnly !== true,
        });
      } catch (err) {
        if (isStoreFailure(err)) throw err;
        // A view the ledger cannot book (a figure it cannot read) must not cost the client
        // upstream's answer: the object is still recorded and held, and booked at its next read.
        log.error("first_booking_failed", { holdId: hold.id, id: view.id, ...describeError(err) });
        await db.batch(lead);
      }
    },
  );
  if (recorded && isNew) rememberOwned(c, call.spec, view.id);
}

/** Adds the gateway's changes to a request body to the response, as `X-Gateway-Applied`. */
export function announceApplied(c: Ctx, applied: string[]): void {
  if (applied.length > 0) c.header("X-Gateway-Applied", formatApplied(applied));
}
