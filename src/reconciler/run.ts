import { browserPriceMicros } from "../budget/admission";
import { budgetView } from "../budget/view";
import type { Bindings } from "../env";
import { observeViews } from "../ledger/observe";
import { describeError, type Logger } from "../lib/log";
import { toMicros } from "../lib/money";
import { effectivePolicy } from "../policy/effective";
import { adoptOrphan, expireOrphan, settleGone } from "../budget/holds";
import { IDEMPOTENCY_TTL_MS } from "../store/idempotency";
import { getPolicies } from "../store/policies";
import {
  listOrphanHolds,
  listWatched,
  markChecked,
  type OrphanHold,
  unknownIds,
  type Watched,
} from "../store/reconcile";
import { markDeleted, type Owner, recordCreatedStatement } from "../store/resources";
import { callUpstream } from "../upstream/client";
import { BROWSERS, type KindSpec, SESSIONS } from "../upstream/kinds";

/** Upstream spend no tenant can be found for: booked to nobody, never lost. */
export const UNATTRIBUTED: Owner = { orgId: "", tenantId: "" };

export interface ReconcileOptions {
  /** Most sessions and browsers asked about per run. */
  batch?: number;
  /** How old an unanswered create's hold must be before it is looked for upstream. */
  orphanAfterMs?: number;
  /** How old it must be, still unmatched, before it is released. */
  releaseAfterMs?: number;
  now?: Date;
}

export interface ReconcileReport {
  refreshed: number;
  gone: number;
  stoppedIdle: number;
  stoppedOverBudget: number;
  adopted: number;
  unattributed: number;
  released: number;
  failures: number;
}

const SPECS: Record<"session" | "browser", KindSpec> = { session: SESSIONS, browser: BROWSERS };
type View = Record<string, unknown>;

/**
 * One reconciler pass (the cron runs it every minute). Every step is idempotent and every write
 * goes through the same exactly-once paths as a tenant's requests, so passes may overlap.
 * 1. Asks upstream about each session and browser that is not final or still holds money, books
 *    its figures and settles what ended; stops kept-alive sessions idle longer than policy allows
 *    and running sessions of a scope whose cap an overshoot has used up.
 * 2. Finds the sessions and browsers of creates whose answer was lost: lists upstream's newest,
 *    gives each one the gateway never recorded to the orphaned hold that matches it, or books it
 *    as unattributed spend; releases orphaned holds nothing matched for too long.
 * 3. Forgets rate-limit windows and idempotency keys past their time.
 */
export async function reconcile(
  env: Bindings,
  log: Logger,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const now = options.now ?? new Date();
  const report: ReconcileReport = {
    refreshed: 0,
    gone: 0,
    stoppedIdle: 0,
    stoppedOverBudget: 0,
    adopted: 0,
    unattributed: 0,
    released: 0,
    failures: 0,
  };
  const db = env.DB;

  // 40 reads, 2 lists and a few stops stay within the 50 subrequests a Workers Free invocation may make.
  const watched = await listWatched(db, options.batch ?? 40);
  await markChecked(db, watched, now.toISOString());
  await inBatches(watched, 6, async (item) => {
    try {
      await refresh(env, log, item, now, report);
    } catch (err) {
      report.failures++;
      log.error("reconcile_refresh_failed", { kind: item.kind, id: item.id, ...describeError(err) });
    }
  });

  const orphanBefore = new Date(now.getTime() - (options.orphanAfterMs ?? 120_000)).toISOString();
  const orphans = await listOrphanHolds(db, orphanBefore);
  try {
    await adoptUnknown(env, log, orphans, orphanBefore, report);
  } catch (err) {
    report.failures++;
    log.error("reconcile_unknown_failed", describeError(err));
  }
  const releaseBefore = new Date(now.getTime() - (options.releaseAfterMs ?? 15 * 60_000)).toISOString();
  for (const hold of orphans) {
    if (hold.createdAt < releaseBefore && (await expireOrphan(db, hold.id))) {
      report.released++;
      log.warn("orphan_hold_released", { holdId: hold.id, kind: hold.kind });
    }
  }
  await forgetExpired(db, now);
  log.info("reconciled", { ...report });
  return report;
}

async function refresh(
  env: Bindings,
  log: Logger,
  item: Watched,
  now: Date,
  report: ReconcileReport,
): Promise<void> {
  const spec = SPECS[item.kind];
  const res = await callUpstream(env, log, { method: "GET", path: spec.path(item.id) });
  if (res.status === 404) {
    // Gone upstream (deleted outside the gateway): what it cost is what was last seen.
    await markDeleted(env.DB, item.kind, item.id);
    await settleGone(env.DB, log, item.kind, item.id);
    report.gone++;
    return;
  }
  if (res.status !== 200) throw new Error(`upstream answered ${res.status}`);
  const view = res.body as View;
  await observeViews(env.DB, log, spec, item, [view], res.sentAt);
  report.refreshed++;
  if (item.kind !== "session") return;

  const reason = await stopReason(env.DB, item, view, now);
  if (!reason) return;
  const stopped = await callUpstream(env, log, {
    method: "POST",
    path: `${spec.path(item.id)}/stop`,
    body: { strategy: "session" },
  });
  if (stopped.status !== 200) throw new Error(`stop answered ${stopped.status}`);
  await observeViews(env.DB, log, spec, item, [stopped.body as View], stopped.sentAt);
  if (reason === "idle") report.stoppedIdle++;
  else report.stoppedOverBudget++;
  log.warn("session_stopped_by_policy", { id: item.id, tenantId: item.tenantId, reason });
}

/**
 * Why policy wants a session stopped now, if it does: kept alive and idle past the tenant's
 * `maxIdleMinutes`, or running in a scope whose cap an earlier task's overshoot has used up.
 */
async function stopReason(
  db: D1Database,
  owner: Owner,
  view: View,
  now: Date,
): Promise<"idle" | "budget" | null> {
  if (view.status !== "idle" && view.status !== "running") return null;
  const docs = await getPolicies(db, owner.orgId, owner.tenantId);
  const policy = effectivePolicy(docs.org, docs.tenant);
  if (view.status === "idle") {
    const maxIdle = policy.maxIdleMinutes;
    if (maxIdle === null || typeof view.updatedAt !== "string") return null;
    return now.getTime() - Date.parse(view.updatedAt) > maxIdle * 60_000 ? "idle" : null;
  }
  const { scopes } = await budgetView(db, owner, policy, now);
  return scopes.some((s) => s.capUsd !== null && toMicros(s.spentUsd) >= toMicros(s.capUsd))
    ? "budget"
    : null;
}

/**
 * Lists upstream's newest sessions and browsers. Each one the gateway never recorded (and older
 * than `before`, so a create still on its way back is not mistaken for a lost one) is given to the
 * orphaned hold (a lost create) it certainly belongs to; otherwise it is recorded as unattributed,
 * so its spend is booked and it is watched until it ends like any other.
 */
async function adoptUnknown(
  env: Bindings,
  log: Logger,
  orphans: OrphanHold[],
  before: string,
  report: ReconcileReport,
): Promise<void> {
  const db = env.DB;
  for (const spec of [SESSIONS, BROWSERS]) {
    const list = await callUpstream(env, log, {
      method: "GET",
      path: spec === SESSIONS ? "/sessions" : "/browsers",
      query: new URLSearchParams(
        spec === SESSIONS ? { page: "1", page_size: "100" } : { pageNumber: "1", pageSize: "100" },
      ),
    });
    if (list.status !== 200) throw new Error(`upstream list answered ${list.status}`);
    const body = list.body as { sessions?: View[]; items?: View[] };
    const settled = (body.sessions ?? body.items ?? []).filter((v) => createdAt(v) < Date.parse(before));
    const unknown = new Set(
      await unknownIds(
        db,
        spec.kind,
        settled.map((v) => String(v.id)),
      ),
    );
    const views = settled.filter((v) => unknown.has(String(v.id).toLowerCase()));
    const holds = orphans.filter((h) => h.kind === spec.kind);

    for (const view of views) {
      const id = String(view.id);
      const hold = certainMatch(spec, view, views, holds);
      if (hold) {
        orphans.splice(orphans.indexOf(hold), 1);
        await adoptOrphan(
          db,
          hold.id,
          id,
          recordCreatedStatement(db, spec.kind, id, hold, view, spec.status(view)),
        );
        await observeViews(db, log, spec, hold, [view], list.sentAt);
        report.adopted++;
        log.warn("orphan_adopted", { kind: spec.kind, id, holdId: hold.id, tenantId: hold.tenantId });
      } else {
        await recordCreatedStatement(db, spec.kind, id, UNATTRIBUTED, view, spec.status(view)).run();
        await observeViews(db, log, spec, UNATTRIBUTED, [view], list.sentAt);
        report.unattributed++;
        log.warn("unattributed_spend", { kind: spec.kind, id });
      }
    }
  }
}

/**
 * The orphaned hold an unrecorded upstream object certainly came from: the only hold it fits, and
 * the only object that fits that hold. Two lost creates alike enough to swap are left alone (and
 * booked as unattributed) rather than charged to a tenant that may not own them.
 */
function certainMatch(spec: KindSpec, view: View, views: View[], holds: OrphanHold[]): OrphanHold | null {
  const fitting = holds.filter((h) => fits(spec, view, h));
  if (fitting.length !== 1) return null;
  const hold = fitting[0] as OrphanHold;
  return views.filter((v) => fits(spec, v, hold)).length === 1 ? hold : null;
}

/** Whether an upstream object is what an orphaned hold's lost create would have made. */
function fits(spec: KindSpec, view: View, hold: OrphanHold): boolean {
  if (!(Math.abs(createdAt(view) - Date.parse(hold.createdAt)) < 60_000)) return false;
  if (spec === BROWSERS) {
    // A browser's hold is its whole timeout's price.
    const minutes = Math.round((Date.parse(String(view.timeoutAt)) - createdAt(view)) / 60_000);
    return browserPriceMicros(minutes) === hold.amountMicros;
  }
  // A new session is sent its hold as its ceiling. A hold of 0 sent none, so nothing ties a session
  // to it: it is never adopted (its session is booked as unattributed), never given to a tenant.
  const ceiling = view.maxCostUsd == null ? null : toMicros(String(view.maxCostUsd));
  return hold.amountMicros > 0 && ceiling === hold.amountMicros;
}

const createdAt = (view: View) => Date.parse(String(view.createdAt ?? view.startedAt));

/** Drops rate windows and idempotency keys that can no longer matter, so their tables stay small. */
async function forgetExpired(db: D1Database, now: Date): Promise<void> {
  const nowS = Math.floor(now.getTime() / 1000);
  await db.batch([
    db.prepare("DELETE FROM rate_windows WHERE window_start < ?").bind(nowS - 120),
    db
      .prepare("DELETE FROM idempotency_keys WHERE created_at < ?")
      .bind(new Date(now.getTime() - IDEMPOTENCY_TTL_MS).toISOString()),
  ]);
}

async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}
