import type { Logger } from "../lib/log";
import { closeHold, findOpenHold } from "../store/budgets";
import type { UsageObservation } from "../store/usage";

/**
 * Settles a task's or browser's hold when an observation shows it has ended: a session back to
 * `idle` after its task, or `stopped`, `timed_out`, `error`; a browser `stopped`. The task's actual
 * cost is what it added to the session's total since dispatch. Any number of observers (responses
 * passing through, the upstream webhook, the reconciler) may call this; one of them books it.
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
  if (!obs.final && (!hold.dispatchedAt || observedAt <= hold.dispatchedAt)) return;

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
