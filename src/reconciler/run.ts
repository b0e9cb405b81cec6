import { budgetView } from "../budget/view";
import type { Bindings } from "../env";
import { observeViews } from "../ledger/observe";
import { describeError, type Logger } from "../lib/log";
import { toMicros } from "../lib/money";
import { loadEffectivePolicy } from "../policy/load";
import { chargeOrphanInFull, expireOrphan, settleGone } from "../budget/holds";
import { IDEMPOTENCY_TTL_MS } from "../store/idempotency";
import {
  listInFlightHolds,
  listOrphanHolds,
  listWatched,
  markChecked,
  type Watched,
} from "../store/reconcile";
import { findOpenHold } from "../store/budgets";
import { isStoreFailure } from "../store/guard";
import { markDeletedStatement } from "../store/resources";
import { findOrgUpstream } from "../store/upstreams";
import { callUpstream } from "../upstream/client";
import { BROWSERS, type HeldKindSpec, PROFILES, SESSIONS, WORKSPACES } from "../upstream/kinds";
import { forgetIntentStatement, listInFlightIntents, listStaleIntents } from "../store/intents";
import { enqueueEvents } from "../events/deliver";
import { listOverdue } from "../store/events";
import {
  DEFAULT_MAX_LIST_PAGES,
  findLostCreates,
  findLostFreeCreates,
  type ListingWindow,
  listedPast,
  UNATTRIBUTED,
} from "./lost-creates";

export { UNATTRIBUTED };

export interface ReconcileOptions {
  /** Most sessions and browsers asked about per run. */
  batch?: number;
  /** How old an unanswered create's hold must be before it is looked for upstream. */
  orphanAfterMs?: number;
  /** How old it must be, still unmatched, before it is released. */
  releaseAfterMs?: number;
  now?: Date;
  /** Most pages of 100 a listing of upstream's newest objects reads per kind and pass. */
  maxListPages?: number;
  /**
   * The upstream account the pass is for, which `env` must carry: this org's own (its sessions,
   * browsers and holds; every object the account lists is the org's concern), or, unset, the
   * deployment's (every org without an account of its own).
   */
  orgId?: string;
  /**
   * For an org's pass: when the account `env` carries was set, as read before the pass (its
   * credentials were). A session or browser upstream does not know is taken as gone only while
   * the org is still on that account (see onTheAccountRead).
   */
  accountSetAt?: string;
}

export interface ReconcileReport {
  refreshed: number;
  gone: number;
  stoppedIdle: number;
  stoppedOverBudget: number;
  /** Browsers whose proxy spend passed what they hold. */
  stoppedOverHold: number;
  /** Sessions and browsers of a suspended tenant or org, still live. */
  stoppedSuspended: number;
  adopted: number;
  unattributed: number;
  /**
   * Lost creates of several tenants that could not be told apart, each hold charged in full (one
   * that reserved nothing, the costliest of their objects).
   */
  chargedInFull: number;
  /** Objects of such lost creates, which belong to no one, stopped (at once, or by a later pass). */
  stoppedUnclaimed: number;
  released: number;
  failures: number;
}

/** How long a lost create may stay unresolved before its hold is charged in full. */
const ORPHAN_GIVE_UP_MS = 24 * 60 * 60_000;

const SPECS: Record<"session" | "browser", HeldKindSpec> = { session: SESSIONS, browser: BROWSERS };
type View = Record<string, unknown>;

/**
 * One reconciler pass (the cron runs it every minute). Every step is idempotent and every write
 * goes through the same exactly-once paths as a tenant's requests, so passes may overlap.
 * 1. Asks upstream about each session and browser that is not final or still holds money, books
 *    its figures and settles what ended; stops kept-alive sessions idle longer than policy allows,
 *    browsers whose proxy spend passed their hold, and anything live in a scope whose cap is used
 *    up.
 * 2. Finds the sessions and browsers of creates whose answer was lost (lost-creates.ts): gives
 *    each one the gateway never recorded to the orphaned hold it came from, or books it as
 *    unattributed spend (stopping it when several tenants' lost creates could have made it: it
 *    is no one's to use); releases an orphaned hold only once listings that reached back past its
 *    time showed nothing of it, for long enough.
 * 3. Forgets idempotency keys past their time.
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
    stoppedOverHold: 0,
    stoppedSuspended: 0,
    adopted: 0,
    unattributed: 0,
    chargedInFull: 0,
    stoppedUnclaimed: 0,
    released: 0,
    failures: 0,
  };
  const db = env.DB;

  // 40 reads, 2 lists and a few stops stay within the 50 subrequests a Workers Free invocation may make.
  const watched = await listWatched(db, options.batch ?? 40, options.orgId);
  await markChecked(db, watched, now.toISOString());
  await inBatches(watched, 6, async (item) => {
    try {
      await refresh(env, log, item, now, report, options);
    } catch (err) {
      report.failures++;
      log.error("reconcile_refresh_failed", { kind: item.kind, id: item.id, ...describeError(err) });
    }
  });

  const orphanBefore = new Date(now.getTime() - (options.orphanAfterMs ?? 120_000)).toISOString();
  const releaseBefore = new Date(now.getTime() - (options.releaseAfterMs ?? 15 * 60_000)).toISOString();
  const giveUpBefore = new Date(now.getTime() - ORPHAN_GIVE_UP_MS).toISOString();
  const orphans = await listOrphanHolds(db, orphanBefore, options.orgId);
  const window = {
    before: orphanBefore,
    inFlight: await listInFlightHolds(db, orphanBefore, options.orgId),
    maxPages: options.maxListPages ?? DEFAULT_MAX_LIST_PAGES,
    unclaimedOwner: options.orgId ? { orgId: options.orgId, tenantId: "" } : UNATTRIBUTED,
  };
  for (const spec of [SESSIONS, BROWSERS] as const) {
    const mine = orphans.filter((h) => h.kind === spec.kind);
    let found: Awaited<ReturnType<typeof findLostCreates>> = null;
    try {
      found = await findLostCreates(env, log, spec, mine, window, report);
    } catch (err) {
      report.failures++;
      log.error("reconcile_lost_creates_failed", { kind: spec.kind, ...describeError(err) });
    }
    // A lost create nothing could be found of in a day (listings that kept failing, or never
    // reached back that far) is charged, never released: whatever it made has been paid for.
    for (const hold of mine.filter((h) => h.createdAt < giveUpBefore)) {
      const events = await chargeOrphanInFull(db, hold);
      if (events) {
        report.chargedInFull++;
        log.error("orphan_unresolved_charged", { kind: hold.kind, holdId: hold.id, tenantId: hold.tenantId });
        await enqueueEvents(env, log, events);
      }
    }
    // Released only when a listing that did not fail reached back past the hold's whole window,
    // and nothing it may have made was left for a later pass.
    if (found === null) continue;
    const { completeSince, deferred } = found;
    for (const hold of mine) {
      if (
        !deferred.has(hold.id) &&
        listedPast(hold, completeSince) &&
        hold.createdAt < releaseBefore &&
        (await expireOrphan(db, hold.id))
      ) {
        report.released++;
        log.warn("orphan_hold_released", { holdId: hold.id, kind: hold.kind });
      }
    }
  }
  await findLostProfilesAndWorkspaces(env, log, window, releaseBefore, options.orgId, report);
  // Events whose attempt is long overdue lost their message: send it again.
  await enqueueEvents(env, log, await listOverdue(db, new Date(now.getTime() - 60_000).toISOString(), 50));
  await forgetExpired(db, now);
  log.info("reconciled", { ...report });
  return report;
}

/**
 * Profiles and workspaces whose create was sent but never recorded (D1 failed after upstream made
 * them): found by their intents and recorded as their tenant's; an intent nothing matched in a
 * complete listing, for long enough, is dropped.
 */
async function findLostProfilesAndWorkspaces(
  env: Bindings,
  log: Logger,
  window: ListingWindow,
  releaseBefore: string,
  orgId: string | undefined,
  report: ReconcileReport,
): Promise<void> {
  const intents = await listStaleIntents(env.DB, window.before, orgId);
  const inFlight = intents.length > 0 ? await listInFlightIntents(env.DB, window.before, orgId) : [];
  for (const spec of [PROFILES, WORKSPACES]) {
    const mine = intents.filter((i) => i.kind === spec.kind);
    if (mine.length === 0) continue;
    const young = inFlight.filter((i) => i.kind === spec.kind);
    let found: Awaited<ReturnType<typeof findLostFreeCreates>> = null;
    try {
      found = await findLostFreeCreates(env, log, spec, mine, young, window, report);
    } catch (err) {
      report.failures++;
      log.error("reconcile_lost_creates_failed", { kind: spec.kind, ...describeError(err) });
    }
    if (found === null) continue;
    const { completeSince, deferred } = found;
    const expired = mine.filter(
      (i) => !deferred.has(i.id) && listedPast(i, completeSince) && i.createdAt < releaseBefore,
    );
    if (expired.length > 0) await env.DB.batch(expired.map((i) => forgetIntentStatement(env.DB, i.id)));
  }
}

async function refresh(
  env: Bindings,
  log: Logger,
  item: Watched,
  now: Date,
  report: ReconcileReport,
  options: ReconcileOptions,
): Promise<void> {
  const spec = SPECS[item.kind];
  const res = await callUpstream(env, log, { method: "GET", path: spec.path(item.id) });
  if (res.status === 404 && !(await onTheAccountRead(env.DB, item.orgId, options))) {
    // The org moved since the pass read its account: the object may live on the one it is on now,
    // which the next pass reads. Taken as gone, its hold would be settled while it runs.
    log.warn("reconcile_account_moved", { kind: item.kind, id: item.id, orgId: item.orgId });
    return;
  }
  if (res.status === 404) {
    // Gone upstream (deleted outside the gateway): what it cost is what was last seen.
    const forgotten = markDeletedStatement(env.DB, item.kind, item.id);
    await enqueueEvents(env, log, await settleGone(env.DB, log, item.kind, item.id, [forgotten]));
    report.gone++;
    return;
  }
  if (res.status !== 200) throw new Error(`upstream answered ${res.status}`);
  const view = res.body as View;
  try {
    await observeViews(env, log, spec, item, [view], res.sentAt);
    report.refreshed++;
  } catch (err) {
    // A view the ledger cannot book (a figure missing or unreadable) stays unbooked and its hold
    // open; the object is still judged by policy and stopped where it must be, or it would run on
    // past every rule for as long as upstream sends such views.
    if (isStoreFailure(err)) throw err;
    report.failures++;
    log.error("reconcile_view_unbooked", { kind: item.kind, id: item.id, ...describeError(err) });
  }

  const reason = await stopReason(env.DB, item, view, now);
  if (!reason) return;
  const stopped = await callUpstream(env, log, spec.stop(item.id));
  if (stopped.status !== 200) throw new Error(`stop answered ${stopped.status}`);
  await observeViews(env, log, spec, item, [stopped.body as View], stopped.sentAt);
  if (reason === "idle") report.stoppedIdle++;
  else if (reason === "over_hold") report.stoppedOverHold++;
  else if (reason === "suspended") report.stoppedSuspended++;
  else if (reason === "unclaimed") report.stoppedUnclaimed++;
  else report.stoppedOverBudget++;
  log.warn("stopped_by_policy", { kind: item.kind, id: item.id, tenantId: item.tenantId, reason });
}

/**
 * Whether the org is still on the account this pass reads: the deployment's (no account of its
 * own) for the deployment's pass; for an org's pass, its own, set when the pass read it (not
 * checked when the caller did not say when). A D1 read, only when upstream answered 404.
 */
async function onTheAccountRead(db: D1Database, orgId: string, options: ReconcileOptions): Promise<boolean> {
  const setAt = (await findOrgUpstream(db, orgId))?.setAt ?? null;
  if (options.orgId === undefined) return setAt === null;
  return options.accountSetAt === undefined || setAt === options.accountSetAt;
}

/**
 * Why policy wants a session or browser stopped now, if it does: one no tenant can be given (of
 * several tenants' lost creates, whose stop at the time failed); a session kept alive and idle
 * past the tenant's `maxIdleMinutes`, or idle after a task at all where keepAlive is no longer
 * allowed; a browser whose spend (its proxy traffic, billed on top of its time) has passed what
 * it holds; or anything live in a scope whose cap is used up, since what it costs from now on no
 * budget can pay for. Never, by policy, what was made on the account outside the gateway.
 */
async function stopReason(
  db: D1Database,
  item: Watched,
  view: View,
  now: Date,
): Promise<"unclaimed" | "idle" | "over_hold" | "budget" | "suspended" | null> {
  const live = item.kind === "session" ? ["created", "idle", "running"] : ["active"];
  if (!live.includes(String(view.status))) return null;
  if (item.unclaimed) return "unclaimed";
  if (item.suspended) return "suspended";
  // Made on the account outside the gateway (no tenant): no policy is its, and nothing says it is
  // no one's. The org's own policy (which owner `{orgId, tenantId: ""}` would load) judges only
  // its tenants' objects; this one runs until it ends by itself.
  if (item.tenantId === "") return null;
  const policy = await loadEffectivePolicy(db, item);
  // An idle session with an open hold is taking a follow-up this very moment (admitted, on its way
  // upstream): the tenant is paying for that task, and a stop now would cut it short. Neither rule
  // below stops it; a later pass judges it again once that task has ended.
  const idle = view.status === "idle" && !(await findOpenHold(db, "session", item.id));
  const maxIdle = policy.maxIdleMinutes;
  if (idle && maxIdle !== null && typeof view.updatedAt === "string") {
    if (now.getTime() - Date.parse(view.updatedAt) > maxIdle * 60_000) return "idle";
  }
  // Idle after a task, a session is kept alive (one that is not stops when its task ends): kept
  // under an earlier policy, it is stopped once keepAlive is no longer allowed. One that has run no
  // step yet (created without a task, waiting for its first) is what its create asked for, and is
  // left to maxIdleMinutes; one taking a follow-up (sent `keepAlive: false`) stops when that ends.
  if (idle && !policy.allowKeepAlive && Number(view.stepCount) > 0) return "idle";
  if (item.kind === "browser") {
    const hold = await findOpenHold(db, "browser", item.id);
    const spent = browserSpent(view, item) - (hold?.baseTotalMicros ?? 0);
    if (hold && spent > hold.amountMicros) return "over_hold";
  }
  const { scopes } = await budgetView(db, item, policy, now);
  return scopes.some((s) => s.capUsd !== null && toMicros(s.spentUsd) >= toMicros(s.capUsd))
    ? "budget"
    : null;
}

/** What a browser's view says it has cost, or 0 where the ledger cannot read it (refresh logged that). */
function browserSpent(view: View, owner: Watched): number {
  try {
    return BROWSERS.observe(view, owner).figures.totalCostMicros;
  } catch {
    return 0;
  }
}

/** Drops idempotency keys that can no longer matter, so their table stays small. */
async function forgetExpired(db: D1Database, now: Date): Promise<void> {
  await db
    .prepare("DELETE FROM idempotency_keys WHERE created_at < ?")
    .bind(new Date(now.getTime() - IDEMPOTENCY_TTL_MS).toISOString())
    .run();
}

async function inBatches<T>(items: T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(work));
}
