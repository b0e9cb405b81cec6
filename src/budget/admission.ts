import type { BudgetPolicy, EffectivePolicy } from "../policy/effective";
import { loadEffectivePolicy } from "../policy/load";
import type { ScopeBudget } from "../store/budgets";
import type { SessionFeatures } from "../store/resources";
import { periodKey } from "./period";

/** The floor under a hold when no policy sets `minHoldUsd`: a task below a cent can hardly run. */
export const DEFAULT_MIN_HOLD_MICROS = 10_000;

/** Browser time, as upstream charges it: $0.02 an hour, the whole timeout up front. */
export const BROWSER_MICROS_PER_HOUR = 20_000;

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
  /** For a create: what upstream will echo of it (KindSpec.requestPrint), to find a lost answer's object. */
  fingerprint?: string;
  /** For a follow-up: where its session stood just before the dispatch (see Progress). */
  baseline?: Progress;
  /** For a session create: the features it asks for that its session keeps (see SessionFeatures). */
  features?: SessionFeatures;
}

/** How far a session has got: its step count and its last update, as upstream reports them. */
export interface Progress {
  stepCount: number;
  updatedAt: string | null;
}

/**
 * What an admission reserves: at most `wantMicros`, refused below `minHoldMicros`, and refused
 * unless every capped scope has `minRemainingMicros` left.
 */
export interface HoldBounds {
  wantMicros: number;
  minHoldMicros: number;
  minRemainingMicros: number;
}

/**
 * The most a hold may be and the least it may be, before looking at what the scopes have left:
 * what was asked (or the tenant's default), capped by the per-task ceiling. With caps but no ask,
 * the scopes' remainders bound it (the admission statement takes the minimum). Nothing bounding it
 * at all (no ask, no default, no ceiling, no cap) gives a hold of 0 that still takes a session slot
 * and books the task's spend when it ends.
 */
export function holdBounds(policy: EffectivePolicy, req: AdmissionRequest): HoldBounds {
  const asked = req.requestedMicros ?? (req.exact ? null : policy.defaultTaskCostMicros);
  const ceiling = req.exact ? null : policy.maxTaskCostMicros;
  const bounded = [asked, ceiling].filter((v): v is number => v !== null);
  const capped = policy.orgBudget !== null || policy.tenantBudget !== null;
  const unbounded = req.slotOnly === true || (bounded.length === 0 && !capped);
  const want = unbounded ? 0 : bounded.length ? Math.min(...bounded) : Number.MAX_SAFE_INTEGER;
  // A client may ask for less than the floor; the floor is for what little a scope has left.
  const floor = policy.minHoldMicros ?? DEFAULT_MIN_HOLD_MICROS;
  const minHold = unbounded ? 0 : req.exact ? want : Math.max(1, Math.min(floor, want));
  // A session without a task holds nothing, but its sandbox may cost money from the start: it is
  // admitted only while its scopes could still pay for a task.
  return { wantMicros: want, minHoldMicros: minHold, minRemainingMicros: req.slotOnly ? floor : 0 };
}

/** The price of a browser's whole timeout, rounded up to the micro-dollar as upstream's ceiling is. */
export function browserPriceMicros(timeoutMinutes: number): number {
  return Math.ceil((timeoutMinutes * BROWSER_MICROS_PER_HOUR) / 60);
}

/**
 * What a browser holds: its whole timeout's price (charged up front upstream) and, when it goes
 * through upstream's proxy, the policy's proxy allowance, since proxy bandwidth is billed on top.
 * A browser on no proxy or on the client's own proxy runs up no proxy bill upstream.
 */
export function browserHoldMicros(
  body: { timeout: number; proxyCountryCode?: unknown; customProxy?: unknown },
  policy: EffectivePolicy,
): number {
  const proxied = body.proxyCountryCode !== null && body.customProxy == null;
  return browserPriceMicros(body.timeout) + (proxied ? policy.browserProxyAllowanceMicros : 0);
}

/**
 * The org's and tenant's counters that spend charged now goes to: the periods `now` falls in
 * under the owner's current policy.
 */
export async function currentPeriods(
  db: D1Database,
  owner: { orgId: string; tenantId: string },
  now = new Date(),
): Promise<{ orgId: string; orgPeriod: string; tenantId: string; tenantPeriod: string }> {
  const policy = await loadEffectivePolicy(db, owner);
  return {
    orgId: owner.orgId,
    orgPeriod: scopeBudget(policy.orgBudget, now).periodKey,
    tenantId: owner.tenantId,
    tenantPeriod: scopeBudget(policy.tenantBudget, now).periodKey,
  };
}

/** A scope's cap and the key of the period `now` falls in. */
export function scopeBudget(budget: BudgetPolicy | null, now: Date): ScopeBudget {
  if (!budget) return { capMicros: null, periodKey: "none" };
  return { capMicros: budget.capMicros, periodKey: periodKey(budget.period, budget.timeZone, now) };
}
