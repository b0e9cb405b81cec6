import type { Caller } from "../env";
import { GatewayError } from "../lib/errors";
import { fromMicros } from "../lib/money";
import type { BudgetPolicy, EffectivePolicy } from "../policy/effective";
import { type Admission, admitHold, type ScopeBudget } from "../store/budgets";
import { ERROR_DETAILS } from "../v3/schemas";
import { periodKey } from "./period";

/** The floor under a hold when no policy sets `minHoldUsd`: a task below a cent can hardly run. */
export const DEFAULT_MIN_HOLD_MICROS = 10_000;

/** Browser time, as upstream charges it: $0.02 an hour, the whole timeout up front. */
export const BROWSER_MICROS_PER_HOUR = 20_000;

/** Seconds a client is told to wait when its scope has no free session slot. */
const CONCURRENCY_RETRY_AFTER_S = 10;

export interface AdmissionRequest {
  kind: "session" | "browser";
  /** The session a follow-up task goes to; null for a create. */
  resourceId: string | null;
  /** What the client asked for (maxCostUsd), or for a browser, its timeout's price: the most to hold. */
  requestedMicros: number | null;
  /** A browser's price is fixed: a smaller hold than the whole of it is no use. */
  exact: boolean;
  /** Whether this request adds a live session or browser (creates do; follow-ups do not). */
  addsLive: boolean;
  /** Only a live-session slot is wanted (a session created without a task): a hold of 0. */
  slotOnly?: boolean;
}

export interface Hold {
  id: string;
  /** 0 when nothing bounds the task: no ceiling is forwarded, but its spend is still booked. */
  amountMicros: number;
}

/**
 * Reserves the hold for a task or browser in the org's and the tenant's budgets at once, or
 * refuses: 402 `budget_exceeded` naming the scope and what remains, 429 `concurrency_limit`, or
 * 503 `budget_unavailable` when D1 cannot answer (never forward unbudgeted).
 *
 * The hold is the smallest of what was asked (or the tenant's default), the per-task ceiling and
 * what remains in each scope. Nothing bounding it at all (no ask, no default, no ceiling, no cap)
 * gives a hold of 0 that still takes a session slot and books the task's spend when it ends.
 */
export async function admit(
  db: D1Database,
  caller: Caller,
  policy: EffectivePolicy,
  req: AdmissionRequest,
  now = new Date(),
): Promise<Hold> {
  const asked = req.requestedMicros ?? (req.exact ? null : policy.defaultTaskCostMicros);
  const ceiling = req.exact ? null : policy.maxTaskCostMicros;
  const bounded = [asked, ceiling].filter((v): v is number => v !== null);
  const capped = policy.orgBudget !== null || policy.tenantBudget !== null;
  const unbounded = req.slotOnly === true || (bounded.length === 0 && !capped);
  // With caps but no ask, the scopes' remainders bound the hold (SQL takes the minimum).
  const want = unbounded ? 0 : bounded.length ? Math.min(...bounded) : Number.MAX_SAFE_INTEGER;
  // A client may ask for less than the floor; the floor is for what little a scope has left.
  const floor = policy.minHoldMicros ?? DEFAULT_MIN_HOLD_MICROS;
  const minHold = unbounded ? 0 : req.exact ? want : Math.max(1, Math.min(floor, want));

  const holdId = crypto.randomUUID();
  let admission: Admission;
  try {
    admission = await admitHold(db, {
      holdId,
      kind: req.kind,
      resourceId: req.resourceId,
      orgId: caller.orgId,
      tenantId: caller.tenantId,
      org: scopeBudget(policy.orgBudget, now),
      tenant: scopeBudget(policy.tenantBudget, now),
      wantMicros: want,
      minHoldMicros: minHold,
      maxLive: req.addsLive
        ? { org: policy.orgMaxConcurrentSessions, tenant: policy.maxConcurrentSessions }
        : null,
    });
  } catch (err) {
    const refusal = new GatewayError(
      "budget_unavailable",
      "Budget store unavailable; nothing was sent upstream",
    );
    refusal.cause = err;
    throw refusal;
  }
  if (admission.admitted) return { id: holdId, amountMicros: admission.amountMicros };
  if (admission.reason === "already_held")
    throw new GatewayError("session_not_idle", ERROR_DETAILS.sessionBusy);

  if (admission.reason === "concurrency") {
    throw new GatewayError(
      "concurrency_limit",
      `Too many live sessions for this ${admission.scope}: ${admission.live} of ${admission.max}. Stop one or retry later.`,
      { "Retry-After": String(CONCURRENCY_RETRY_AFTER_S) },
      { scope: admission.scope, limit: admission.max },
    );
  }
  const remaining = Number.isFinite(admission.remainingMicros) ? fromMicros(admission.remainingMicros) : null;
  throw new GatewayError(
    "budget_exceeded",
    req.exact
      ? `Budget exceeded: the ${admission.scope} budget has $${remaining} left, the browser needs $${fromMicros(want)}`
      : `Budget exceeded: the ${admission.scope} budget has $${remaining} left, below the minimum hold of $${fromMicros(minHold)}`,
    {},
    { scope: admission.scope, remainingUsd: remaining, minHoldUsd: fromMicros(minHold) },
  );
}

/** The price of a browser's whole timeout, rounded up to the micro-dollar as upstream's ceiling is. */
export function browserPriceMicros(timeoutMinutes: number): number {
  return Math.ceil((timeoutMinutes * BROWSER_MICROS_PER_HOUR) / 60);
}

function scopeBudget(budget: BudgetPolicy | null, now: Date): ScopeBudget {
  if (!budget) return { capMicros: null, periodKey: "none" };
  return { capMicros: budget.capMicros, periodKey: periodKey(budget.period, budget.timeZone, now) };
}
