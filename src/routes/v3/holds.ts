import type { Context } from "hono";
import { admit, type AdmissionRequest, type Hold } from "../../budget/admission";
import { formatApplied } from "../../policy/apply";
import type { AppEnv } from "../../env";
import { describeError } from "../../lib/log";
import { attachHoldStatement, closeHold } from "../../store/budgets";
import { guardStore } from "../../store/guard";
import { recordCreatedStatement } from "../../store/resources";
import type { KindSpec } from "../../upstream/kinds";
import type { UpstreamRequest, UpstreamResponse } from "../../upstream/client";
import { forward, remember } from "./proxy";

type Ctx = Context<AppEnv>;
type View = Record<string, unknown>;

export interface HeldCall {
  spec: KindSpec;
  admission: AdmissionRequest;
  /** Builds the upstream request once the hold is known (to set its ceiling). */
  request: (hold: Hold) => UpstreamRequest;
  /** The status upstream answers a success with (200 for sessions, 201 for browsers). */
  success: number;
}

/**
 * Sends a call that costs money under a hold. The hold is reserved before anything goes upstream;
 * then, by what upstream said:
 * - success: the hold is tied to the session or browser (and a new one recorded as the caller's)
 *   before the client hears of it, so whoever sees it end can settle it; a slot-only hold (a
 *   session without a task) is released instead, once the recorded session itself counts as live;
 * - a 4xx: upstream certainly did nothing, so the hold is released at once;
 * - a 5xx, a timeout, a dropped connection or a garbled answer: the outcome is unknown, so the
 *   hold stays open until the reconciler finds out what upstream did.
 */
export async function forwardHeld(c: Ctx, call: HeldCall): Promise<UpstreamResponse> {
  const db = c.env.DB;
  const log = c.get("log");
  const hold = await admit(db, c.get("caller"), c.get("policy"), call.admission);
  let res: UpstreamResponse;
  try {
    res = await forward(c, call.request(hold));
  } catch (err) {
    log.warn("hold_outcome_unknown", { holdId: hold.id, ...describeError(err) });
    throw err;
  }
  if (res.status === call.success) {
    const view = res.body as View;
    const id = String(view.id);
    const record = recordCreatedStatement(
      db,
      call.spec.kind,
      id,
      c.get("caller"),
      view,
      call.spec.status(view),
    );
    if (call.admission.slotOnly) {
      await guardStore(c, async () => {
        await record.run();
        await closeHold(db, hold.id, 0, "released");
      });
    } else {
      const isNew = call.admission.resourceId === null;
      await guardStore(c, () => db.batch([attachHoldStatement(db, hold.id, id), ...(isNew ? [record] : [])]));
    }
    remember(c, call.spec, [view], res.sentAt);
  } else if (res.status >= 400 && res.status < 500) {
    await guardStore(c, () => closeHold(db, hold.id, 0, "released"));
  } else {
    log.warn("hold_outcome_unknown", { holdId: hold.id, status: res.status });
  }
  return res;
}

/** Adds the gateway's changes to a request body to the response, as `X-Gateway-Applied`. */
export function announceApplied(c: Ctx, applied: string[]): void {
  if (applied.length > 0) c.header("X-Gateway-Applied", formatApplied(applied));
}
