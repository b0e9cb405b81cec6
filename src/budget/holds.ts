/**
 * The life of a hold, every state change in one place. A hold reserves money in an org's and a
 * tenant's budget for one task or browser:
 *
 *   open ──upstream accepted──▶ open, attached to its session or browser ──it ended──▶ settled
 *   open ──upstream certainly did nothing──▶ released (at $0)
 *   open, unattached (the create's answer was lost) ──the reconciler found its object──▶ attached
 *                                                 ──nothing upstream matches, long enough──▶ released
 *                                                 ──several tenants' creates alike──▶ settled in full
 *
 * Routes, the upstream webhook (through observeViews) and the reconciler all call these; nothing
 * else writes to `holds`. Each change is one D1 batch, and the counters move exactly once however
 * many observers race (see closeHold).
 */
import type { Caller } from "../env";
import { GatewayError } from "../lib/errors";
import type { Logger } from "../lib/log";
import { fromMicros } from "../lib/money";
import type { EffectivePolicy } from "../policy/effective";
import {
  type Admission,
  admitHold,
  attachHoldStatement,
  closeHold,
  closeHoldStatements,
  findOpenHold,
  type OpenHold,
  releaseUnusedHoldStatement,
} from "../store/budgets";
import { deliveryLostStatement, sessionGoneStatement } from "../store/events";
import type { UsageObservation } from "../store/usage";
import { crossingStatements, madeEvents, type MovedScopes } from "./alerts";
import { ERROR_DETAILS } from "../v3/schemas";
import { type AdmissionRequest, type HoldBounds, holdBounds, scopeBudget } from "./admission";
import { forgetPolicy, loadEffectivePolicy } from "../policy/load";

/** Seconds a client is told to wait when its scope has no free session slot. */
const CONCURRENCY_RETRY_AFTER_S = 10;

/** How long a dispatch whose answer was lost may still be on its way to upstream. */
export const UNKNOWN_DISPATCH_GRACE_MS = 120_000;

export interface Hold {
  id: string;
  /** 0 when nothing bounds the task: no ceiling is forwarded, but its spend is still booked. */
  amountMicros: number;
  /** A few micro-USD that tell this hold's create apart from others of the same amount. */
  tagMicros: number;
  /**
   * When the org's own account was set, read with the hold (null: the deployment's account): the
   * account its create goes to, since no org moves while a hold of its is open and tied to nothing.
   */
  accountSetAt: string | null;
}

/**
 * The `maxCostUsd` a create is sent under its hold: the hold less its tag, so no two creates in
 * flight carry the same one and upstream's echo of it names the hold exactly. Null for a hold of
 * 0 (no ceiling is sent); a hold too small to carry its tag is sent whole.
 */
export function createCeilingMicros(amountMicros: number, tagMicros: number): number | null {
  if (amountMicros === 0) return null;
  return amountMicros > tagMicros ? amountMicros - tagMicros : amountMicros;
}

/**
 * Opens the hold for a task or browser in the org's and the tenant's budgets at once, or refuses:
 * 402 `budget_exceeded` naming the scope and what remains, 429 `concurrency_limit`, 400
 * `session_not_idle` when the session already holds a task, or 503 `budget_unavailable` when D1
 * cannot answer (never forward unbudgeted). The hold is the smallest of holdBounds' want and what
 * remains in each scope. `holdId` is the id it takes (a hook delivery chose it, and wrote it on
 * itself, when it was claimed). The hold is taken only while `policy` is still made of the
 * documents stored (an admin may have replaced one since the request read it, here or on another
 * isolate): otherwise the policy is read again and the admission judged by it, so no hold is ever
 * reserved under caps, ceilings or limits that no longer stand.
 */
export async function openHold(
  db: D1Database,
  caller: Caller,
  policy: EffectivePolicy,
  req: AdmissionRequest,
  now = new Date(),
  holdId: string = crypto.randomUUID(),
): Promise<Hold> {
  let judgedBy = policy;
  for (let attempt = 1; ; attempt++) {
    const admission = await admitUnder(db, caller, judgedBy, req, now, holdId);
    if (admission.admitted || admission.reason !== "stale_policy") {
      return holdOrRefusal(admission, holdBounds(judgedBy, req), req, holdId);
    }
    // An admin changing the policy again and again: refuse, as when the store cannot answer.
    if (attempt === STALE_POLICY_ATTEMPTS) throw budgetUnavailable(new Error("policy kept changing"));
    forgetPolicy(caller);
    try {
      judgedBy = await loadEffectivePolicy(db, caller);
    } catch (err) {
      throw budgetUnavailable(err);
    }
  }
}

/** How often an admission is judged again when the policy changed under it, before giving up. */
const STALE_POLICY_ATTEMPTS = 3;

function budgetUnavailable(cause: unknown): GatewayError {
  const refusal = new GatewayError(
    "budget_unavailable",
    "Budget store unavailable; nothing was sent upstream",
  );
  refusal.cause = cause;
  return refusal;
}

/** One admission under `policy` (admitHold), with D1's failure as 503 `budget_unavailable`. */
async function admitUnder(
  db: D1Database,
  caller: Caller,
  policy: EffectivePolicy,
  req: AdmissionRequest,
  now: Date,
  holdId: string,
): Promise<Admission> {
  const { wantMicros, minHoldMicros, minRemainingMicros } = holdBounds(policy, req);
  try {
    return await admitHold(db, {
      holdId,
      kind: req.kind,
      resourceId: req.resourceId,
      orgId: caller.orgId,
      tenantId: caller.tenantId,
      org: scopeBudget(policy.orgBudget, now),
      tenant: scopeBudget(policy.tenantBudget, now),
      wantMicros,
      minHoldMicros,
      minRemainingMicros,
      maxLive: req.addsLive
        ? { org: policy.orgMaxConcurrentSessions, tenant: policy.maxConcurrentSessions }
        : null,
      fingerprint: req.resourceId === null ? (req.fingerprint ?? null) : null,
      slotOnly: req.slotOnly === true,
      baseline: req.baseline ?? { stepCount: 0, updatedAt: null },
      features:
        req.resourceId === null && req.features
          ? req.features
          : { useOwnKey: false, enableScheduledTasks: false },
      policies: policy.stored ?? null,
    });
  } catch (err) {
    throw budgetUnavailable(err);
  }
}

/** The hold an admission took, or the refusal it amounts to. */
function holdOrRefusal(
  admission: Admission,
  { wantMicros, minHoldMicros, minRemainingMicros }: HoldBounds,
  req: AdmissionRequest,
  holdId: string,
): Hold {
  if (admission.admitted) {
    return {
      id: holdId,
      amountMicros: admission.amountMicros,
      tagMicros: admission.tagMicros,
      accountSetAt: admission.accountSetAt,
    };
  }
  if (admission.reason === "stale_policy") throw budgetUnavailable(new Error("stale policy"));
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
  const floor = Math.max(minHoldMicros, minRemainingMicros);
  // No cap refused it: what the task asked for itself is below the floor.
  const why =
    remaining === null
      ? `the task may cost at most $${fromMicros(wantMicros)}`
      : `the ${admission.scope} budget has $${remaining} left`;
  throw new GatewayError(
    "budget_exceeded",
    req.exact
      ? `Budget exceeded: ${why}, the browser needs $${fromMicros(wantMicros)}`
      : `Budget exceeded: ${why}, below the minimum hold of $${fromMicros(floor)}`,
    {},
    { scope: admission.scope, remainingUsd: remaining, minHoldUsd: fromMicros(floor) },
  );
}

/**
 * Upstream accepted: the statement that ties the hold to the session or browser it made (or
 * dispatched to), so whoever sees it end can settle it. A slot-only hold (a session without a
 * task) reserved nothing: once the recorded session counts as live by itself, the hold is released
 * instead. Meant for one batch after the statement that records a new object as the caller's and
 * before the booking of its first view (observeViews' `lead`).
 */
export function holdAcceptedStatement(
  db: D1Database,
  hold: Hold,
  resourceId: string,
  options: { slotOnly: boolean },
): D1PreparedStatement {
  return options.slotOnly
    ? releaseUnusedHoldStatement(db, hold.id)
    : attachHoldStatement(db, hold.id, resourceId);
}

/** Upstream certainly did nothing (a 4xx, or it refused the gateway's key): the hold is released at $0. */
export async function releaseHold(db: D1Database, holdId: string): Promise<boolean> {
  return (await closeHold(db, holdId, { amountMicros: 0 }, "released")) !== null;
}

/**
 * Whether an `idle` view shows the held task over: the session has moved past where it stood at
 * the dispatch (more steps, or a later update). A read that shows it as it was, however late it
 * was sent (a stale replica, a read sent before the dispatch), says nothing about the task. A
 * follow-up whose answer was lost and that shows no progress a grace period later never reached
 * upstream: its session is idle because nothing ran. A create's session (its hold has no base
 * update: a follow-up's carries its session's) had no state before its task: idle with how its
 * task went (`isTaskSuccessful` set), its task is over, steps or none. Not idle alone: a session
 * created with a task may report `idle` for a moment before it runs (the sandbox ready).
 */
function taskOver(hold: OpenHold, obs: UsageObservation, observedAt: string): boolean {
  const progress = obs.progress;
  if (hold.baseUpdatedAt === null && hold.dispatchedAt !== null && progress?.outcome) return true;
  if (progress) {
    if (progress.stepCount > hold.baseStepCount) return true;
    const updated = progress.updatedAt === null ? Number.NaN : Date.parse(progress.updatedAt);
    if (hold.baseUpdatedAt !== null && updated > Date.parse(hold.baseUpdatedAt)) return true;
  }
  const lostFor = Date.parse(observedAt) - Date.parse(hold.createdAt);
  return hold.dispatchedAt === null && lostFor > UNKNOWN_DISPATCH_GRACE_MS;
}

/**
 * A settlement that moved spend: the scopes it moved, and the ids of the threshold alerts it
 * crossed, made in its own transaction (for the caller to hand to the queue).
 */
export interface Settled extends MovedScopes {
  events: string[];
}

/**
 * Settles a task's or browser's hold when an observation shows it has ended: a session back to
 * `idle` past its task (see taskOver), or `stopped`, `timed_out`, `error`; a browser `stopped`.
 * The task's actual cost is what the session's total added since the hold's base. Any number of
 * observers (responses passing through, the upstream webhook, the reconciler) may call this; one
 * of them books it. `observedAt` is when the request that produced the observation was sent.
 */
export async function settleIfEnded(
  db: D1Database,
  log: Logger,
  obs: UsageObservation,
  observedAt: string,
): Promise<Settled | null> {
  const ended = obs.final || (obs.kind === "session" && obs.status === "idle");
  if (!ended) return null;
  const hold = await findOpenHold(db, obs.kind, obs.id);
  if (!hold) return null;
  if (!obs.final && !taskOver(hold, obs, observedAt)) return null;
  const { moved, actual, events } = await settle(
    db,
    log,
    obs.kind,
    obs.id,
    hold,
    obs.figures.totalCostMicros,
  );
  return actual === null ? null : { ...moved, events };
}

/**
 * A session or browser that is gone (answering 404 upstream: deleted outside the gateway, or no
 * longer known): `alongside` (the statements that forget it) and the settlement of its open hold,
 * if it has one, at the last figures the ledger saw of it (nothing later can be read), in one
 * transaction; and, for a session a hook started whose end was never seen in a final status, its
 * `session.finished` callback (reason `gone`) in that same transaction, so a crash between the two
 * cannot settle it silently, and nothing later makes a second. Returns the ids of the events it
 * made (the callback, the threshold alerts the settlement crossed), for the queue.
 */
export async function settleGone(
  db: D1Database,
  log: Logger,
  kind: "session" | "browser",
  id: string,
  alongside: D1PreparedStatement[],
): Promise<string[]> {
  const announce = kind === "session" ? [sessionGoneStatement(db, id, new Date().toISOString())] : [];
  const hold = await findOpenHold(db, kind, id);
  if (!hold) return madeEvents(await db.batch([...alongside, ...announce]), announce.length);
  // The closing statement reads the last figures the ledger booked of it.
  const { events } = await settle(db, log, kind, id, hold, 0, { gone: true, alongside, announce });
  return events;
}

/**
 * Closes a hold whose task ended, with the threshold alerts it crosses and `announce` (events the
 * end makes) in its own transaction, after `alongside`. Returns what it charged (null when another
 * observer had closed it) and the ids of the events the batch made.
 */
async function settle(
  db: D1Database,
  log: Logger,
  kind: "session" | "browser",
  id: string,
  hold: OpenHold,
  totalMicros: number,
  extra: { gone?: boolean; alongside?: D1PreparedStatement[]; announce?: D1PreparedStatement[] } = {},
): Promise<{ moved: MovedScopes; actual: number | null; events: string[] }> {
  const { alongside = [], announce = [], ...logged } = extra;
  const moved: MovedScopes = {
    orgId: hold.orgId,
    orgPeriod: hold.orgPeriod,
    tenantId: hold.tenantId,
    tenantPeriod: hold.tenantPeriod,
  };
  // The thresholds it crosses are announced in the settlement's own transaction: once it is
  // written, no later observer settles it again, so alerts left for a second write (an isolate
  // stopped, D1 failing in between) would never be made, and a spent budget moves no more.
  const crossings = await crossingStatements(db, moved, new Date().toISOString());
  const close = closeHoldStatements(db, hold.id, { observedTotalMicros: totalMicros }, "settled");
  const results = await db.batch([...alongside, ...close.statements, ...announce, ...crossings]);
  const actual = close.charged(results.slice(alongside.length));
  const events = madeEvents(results, announce.length + crossings.length);
  if (actual === null) return { moved, actual, events };
  log.info("hold_settled", {
    kind,
    id,
    holdId: hold.id,
    heldMicros: hold.amountMicros,
    actualMicros: actual,
    ...logged,
  });
  if (actual > hold.amountMicros) {
    // Upstream stops a task at its ceiling only after the step that crossed it; that step is booked too.
    log.warn("hold_overshoot", { kind, id, holdId: hold.id, overMicros: actual - hold.amountMicros });
  }
  return { moved, actual, events };
}

/**
 * The reconciler found what a lost create made: the object is recorded as the hold's tenant's (in
 * the same batch as `records`) and the hold tied to it, to settle like any other (a slot-only hold is released,
 * as on a create that was answered).
 */
export async function adoptOrphan(
  db: D1Database,
  hold: { id: string; slotOnly: boolean },
  resourceId: string,
  records: D1PreparedStatement[],
): Promise<void> {
  const change = hold.slotOnly
    ? releaseUnusedHoldStatement(db, hold.id)
    : attachHoldStatement(db, hold.id, resourceId);
  await db.batch([...records, change]);
}

/**
 * Nothing upstream matches a lost create's hold, in listings that reached back past its time, for
 * long enough: it made nothing, and is released.
 */
export async function expireOrphan(db: D1Database, holdId: string): Promise<boolean> {
  return (await closeHold(db, holdId, { amountMicros: 0 }, "released", { onlyUnattached: true })) !== null;
}

/**
 * A lost create whose object cannot be told apart from another tenant's lost create: rather than
 * hand either tenant an object that may be the other's, or let the work go unpaid, the hold is
 * settled at its full amount, with the threshold alerts that crosses (as settle) and, for a hook
 * delivery's create, its `session.finished` callback (reason `lost`: no session is its), in the
 * same transaction. Returns those events' ids, or null when the hold was no longer open.
 */
export async function chargeOrphanInFull(
  db: D1Database,
  hold: MovedScopes & { id: string; amountMicros: number },
): Promise<string[] | null> {
  const at = new Date().toISOString();
  const crossings = await crossingStatements(db, hold, at);
  const close = closeHoldStatements(db, hold.id, { amountMicros: hold.amountMicros }, "settled", {
    onlyUnattached: true,
  });
  const announce = deliveryLostStatement(db, hold.id, at);
  const results = await db.batch([...close.statements, announce, ...crossings]);
  return close.charged(results) === null ? null : madeEvents(results, 1 + crossings.length);
}

/**
 * The holds of an ambiguous group of lost creates (see chargeOrphanInFull), closed together with
 * `alongside` (the group's objects recorded as no one's) in one transaction, so that no pass can
 * leave some of them charged and others open: the open ones would then fit the objects alone, and
 * one tenant could be handed an object that may be another's. A hold that reserved money is
 * charged its full amount, as there. One that reserved nothing (a session without a task, which
 * only took a slot, or a hold of 0) would be charged nothing that way, while its create may have
 * made any of the group's objects: it is charged `costliestMicros`, what the costliest of them
 * cost when the reconciler last saw it. Either way the tenant pays for the most its own create
 * could have cost, erring against it by at most the difference. Exactly once, like every close.
 * Returns, per hold, what it charged, or null when it was no longer open; and the events made in
 * the same transaction: the threshold alerts the charges cross (as settle), and the
 * `session.finished` callback (reason `lost`) of each hook delivery among the creates.
 */
export async function chargeAmbiguousOrphans(
  db: D1Database,
  holds: (MovedScopes & { id: string; amountMicros: number })[],
  costliestMicros: number,
  alongside: D1PreparedStatement[],
): Promise<{ charged: (number | null)[]; events: string[] }> {
  const closes = holds.map((hold) =>
    closeHoldStatements(
      db,
      hold.id,
      { amountMicros: hold.amountMicros > 0 ? hold.amountMicros : costliestMicros },
      "settled",
      { onlyUnattached: true },
    ),
  );
  // Each tenant's scopes once: several of the holds may be one tenant's.
  const scopes = new Map(holds.map((h) => [`${h.tenantId}:${h.orgPeriod}:${h.tenantPeriod}`, h]));
  const at = new Date().toISOString();
  const crossings = (
    await Promise.all([...scopes.values()].map((scope) => crossingStatements(db, scope, at)))
  ).flat();
  const announce = holds.map((hold) => deliveryLostStatement(db, hold.id, at));
  const results = await db.batch([
    ...closes.flatMap((c) => c.statements),
    ...alongside,
    ...announce,
    ...crossings,
  ]);
  let from = 0;
  const charged = closes.map((close) => {
    const mine = results.slice(from, from + close.statements.length);
    from += close.statements.length;
    return close.charged(mine);
  });
  return { charged, events: madeEvents(results, announce.length + crossings.length) };
}
