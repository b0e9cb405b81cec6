import type { Logger } from "../lib/log";
import { closeHold, findOpenHold, type OpenHold } from "../store/budgets";
import { getUsage, type UsageObservation } from "../store/usage";

/** How long a dispatch whose answer was lost may still be on its way to upstream. */
export const UNKNOWN_DISPATCH_GRACE_MS = 120_000;

/**
 * When the held task had certainly reached upstream: when upstream's answer came, or, for a
 * follow-up whose answer was lost, a grace period after it was sent. An `idle` read sent before
 * this says nothing about the task.
 */
function dispatchedBy(hold: OpenHold): string {
  return hold.dispatchedAt ?? new Date(Date.parse(hold.createdAt) + UNKNOWN_DISPATCH_GRACE_MS).toISOString();
}

/**
 * Settles a task's or browser's hold when an observation shows it has ended: a session back to
 * `idle` after its task, or `stopped`, `timed_out`, `error`; a browser `stopped`. The task's actual
 * cost is what the session's total added since its last booking (BOOKED_SO_FAR in the store). Any
 * number of observers (responses passing through, the upstream webhook, the reconciler) may call
 * this; one of them books it.
 *
 * `observedAt` is when the request that produced the observation was sent: an `idle` read sent
 * before the task was dispatched says nothing about the task, and is ignored.
 */
export async function settleIfEnded(
  db: D1Database,
  log: Logger,
  obs: UsageObservation,
  observedAt: string,
): Promise<void> {
  const ended = obs.final || (obs.kind === "session" && obs.status === "idle");
  if (!ended) return;
  const hold = await findOpenHold(db, obs.kind, obs.id);
  if (!hold) return;
  if (!obs.final && observedAt <= dispatchedBy(hold)) return;

  const actual = Math.max(0, obs.figures.totalCostMicros - hold.baseTotalMicros);
  if (!(await closeHold(db, hold.id, actual, "settled"))) return;
  log.info("hold_settled", {
    kind: obs.kind,
    id: obs.id,
    holdId: hold.id,
    heldMicros: hold.amountMicros,
    actualMicros: actual,
  });
  if (actual > hold.amountMicros) {
    // Upstream stops a task at its ceiling only after the step that crossed it; that step is booked too.
    log.warn("hold_overshoot", {
      kind: obs.kind,
      id: obs.id,
      holdId: hold.id,
      overMicros: actual - hold.amountMicros,
    });
  }
}

/**
 * Settles the open hold of a session or browser that is gone (deleted through the gateway, or
 * answering 404 upstream) at the last figures the ledger saw of it: nothing later can be read.
 */
export async function settleGone(
  db: D1Database,
  log: Logger,
  kind: "session" | "browser",
  id: string,
): Promise<void> {
  const hold = await findOpenHold(db, kind, id);
  if (!hold) return;
  const usage = await getUsage(db, kind, id);
  const actual = Math.max(0, (usage?.totalCostMicros ?? 0) - hold.baseTotalMicros);
  if (await closeHold(db, hold.id, actual, "settled")) {
    log.info("hold_settled", {
      kind,
      id,
      holdId: hold.id,
      heldMicros: hold.amountMicros,
      actualMicros: actual,
      gone: true,
    });
  }
}
