/**
 * Creates whose answer was lost (the client hung up, the connection dropped after upstream acted,
 * a 504 after upstream accepted): upstream made a session or browser the gateway never recorded,
 * and the create's hold is open with no object. This pass pages through upstream's newest
 * objects, gives each unrecorded one to the orphaned hold it came from, and books the rest as
 * unattributed spend, stopping those that several tenants' creates could have made (no one can be
 * given them); it also says how far back its listings are complete, so that a hold is only ever
 * released when nothing upstream can be its object.
 */
import { adoptOrphan, chargeAmbiguousOrphans, createCeilingMicros } from "../budget/holds";
import type { Bindings } from "../env";
import { enqueueEvents } from "../events/deliver";
import { observeViews } from "../ledger/observe";
import { describeError, type Logger } from "../lib/log";
import { toMicros } from "../lib/money";
import { linkDeliveryStatement } from "../store/hooks";
import { type CreateIntent, forgetIntentStatement } from "../store/intents";
import type { OrphanHold } from "../store/reconcile";
import { unknownIds } from "../store/reconcile";
import { markUnclaimedStatement, type Owner, recordCreatedStatement } from "../store/resources";
import { callUpstream } from "../upstream/client";
import type { FindableKindSpec, HeldKindSpec, KindSpec, LostCreates } from "../upstream/kinds";

type View = Record<string, unknown>;

/** Upstream spend no tenant can be found for: booked to nobody, never lost. */
export const UNATTRIBUTED: Owner = { orgId: "", tenantId: "" };

/** How far apart upstream's creation time and the hold's may be (clocks and transit). */
const MATCH_WINDOW_MS = 60_000;

/** What a lost create left behind: an orphaned hold, or a profile's or workspace's intent. */
interface Claim {
  id: string;
  tenantId: string;
  createdAt: string;
  /** What the create sent that upstream echoes; null for holds older than fingerprints. */
  fingerprint: string | null;
}

/** Whether a listing complete back to `completeSince` covered every place a claim's object could be. */
export function listedPast(claim: Claim, completeSince: number): boolean {
  return Date.parse(claim.createdAt) - MATCH_WINDOW_MS >= completeSince;
}

/** Pages of 100 read per kind and pass at most (only while an orphan needs them), to stay within a run's subrequests. */
export const DEFAULT_MAX_LIST_PAGES = 10;

/** Which upstream objects a pass considers: made before `before` (older ones' answers are long due), from at most `maxPages` pages. */
export interface ListingWindow {
  before: string;
  /**
   * Open holds made since `before`, not yet looked for (listInFlightHolds): an object one of them
   * may have made is left, with every object and hold it is alike, for a later pass.
   */
  inFlight: OrphanHold[];
  maxPages: number;
  /**
   * Whom an object no create claims is booked to: nobody (UNATTRIBUTED) on the deployment's
   * account; the org, with no tenant, on an org's own.
   */
  unclaimedOwner: Owner;
}

export interface LostCreatesReport {
  adopted: number;
  unattributed: number;
  chargedInFull: number;
  /** Objects of several tenants' lost creates, which no one can be given, stopped upstream. */
  stoppedUnclaimed: number;
}

/**
 * One kind's pass. Returns the time the listing is complete back to (every object upstream made
 * since then was seen), or null when the listing failed: only orphans whose whole match window
 * lies after it may be released; and the orphans left for a later pass beside a hold still in
 * flight, which are not released either.
 */
export async function findLostCreates(
  env: Bindings,
  log: Logger,
  spec: HeldKindSpec,
  orphans: OrphanHold[],
  window: ListingWindow,
  report: LostCreatesReport,
): Promise<{ completeSince: number; deferred: Set<string> } | null> {
  const found = await unrecordedObjects(env, log, spec, orphans, window);
  if (!found) return null;
  const inFlight = window.inFlight.filter((h) => h.kind === spec.kind);
  const deferred = new Set<string>();
  const { listing } = found;
  const db = env.DB;
  const adopt = async (view: View, hold: OrphanHold) => {
    const id = String(view.id);
    await adoptOrphan(db, hold, id, [
      recordCreatedStatement(db, spec.kind, id, hold, view, spec.status(view), hold.features),
      // A hook delivery whose answer was lost gets its session (and its callback) now.
      linkDeliveryStatement(db, hold.id, id),
    ]);
    await observeViews(env, log, spec, hold, [view], listing.sentAt);
    report.adopted++;
    log.warn("orphan_adopted", { kind: spec.kind, id, holdId: hold.id, tenantId: hold.tenantId });
  };
  // First the certain matches: a session carrying exactly one tagged hold's ceiling, the only
  // one that does. Only what they leave is grouped, so a hold that sent no ceiling (a session
  // without a task, a hold of 0) cannot blur a match the tags make certain.
  let views = found.views;
  let holds = orphans;
  if (spec.kind === "session") {
    const tagged = orphans.filter((h) => ceilingOf(h) !== null);
    for (const hold of tagged) {
      const carrying = views.filter((v) => fitsHold(spec, v, hold));
      const [only] = carrying;
      if (!only || carrying.length > 1) continue;
      // Tags go round every 999 holds: another tagged hold carrying the same ceiling is no match.
      if ([...tagged, ...inFlight].some((other) => other !== hold && fitsHold(spec, only, other))) continue;
      await adopt(only, hold);
      views = views.filter((v) => v !== only);
      holds = holds.filter((h) => h !== hold);
    }
  }
  const fits = (view: View, hold: OrphanHold) => fitsHold(spec, view, hold);
  for (const group of groups(views, [...holds, ...inFlight], fits, spec.lost.createdAt)) {
    if (group.holds.some((h) => inFlight.includes(h))) {
      // One of these objects may be a create's still on its way (its hold too young to be looked
      // for, its object listed already when upstream's clock runs behind): booked as no one's, or
      // handed to an alike orphan, it would be lost to its own. The whole group waits a pass.
      for (const hold of group.holds) deferred.add(hold.id);
      continue;
    }
    if (group.holds.length === 0) {
      // Fits no lost create: made on the account outside the gateway.
      await bookUnattributed(env, log, spec, group.views, listing.sentAt, window, report);
      continue;
    }
    if (pairable(group)) {
      // One tenant's lost creates, alike: whichever object goes to whichever hold, the tenant
      // owns them all and pays for each. Paired in the order they were made.
      for (const [i, view] of group.views.entries()) await adopt(view, group.holds[i] as OrphanHold);
      continue;
    }
    await settleAmbiguousGroup(env, log, spec, group, listing.sentAt, window, report);
  }
  return { completeSince: listing.completeSince, deferred };
}

/**
 * Several tenants' creates that cannot be told apart (or one tenant's, alongside more objects than
 * it made): no tenant is handed an object that may be another's, and none goes unpaid. The objects belong to no one, so no one can use them, and what
 * they would cost from now on no one could be charged for: each live one is stopped upstream at
 * once and marked unclaimed, so that a stop that failed is tried again by every later pass (run.ts,
 * stopReason). Each hold is charged (chargeAmbiguousOrphans: in full, or a hold that reserved
 * nothing the costliest object), in the one transaction that records the objects as no one's.
 *
 * Unless the group holds more objects than creates: then some of them were made by no create here
 * (a session made on the account outside the gateway, alike and in the same minute), and which
 * ones cannot be told. The gateway never stops what may be someone else's: those are booked as
 * unattributed, marked as maybe someone else's and left running, the holds charged as before.
 *
 * Stopped before anything is written: a pass that fails on the way leaves the objects unrecorded
 * and the holds open, and the next pass finds the same group again; charged and recorded at once:
 * no pass leaves some holds closed and others open to fit the objects alone.
 */
async function settleAmbiguousGroup(
  env: Bindings,
  log: Logger,
  spec: HeldKindSpec,
  group: { views: View[]; holds: OrphanHold[] },
  listedAt: string,
  window: ListingWindow,
  report: LostCreatesReport,
): Promise<void> {
  const owner = window.unclaimedOwner;
  const mayBeOthers = group.views.length > group.holds.length;
  if (mayBeOthers)
    log.warn("lost_create_ambiguous_with_others", { kind: spec.kind, holds: group.holds.length });
  const seen: { view: View; sentAt: string }[] = [];
  for (const view of group.views) {
    const stopped =
      mayBeOthers || spec.isFinal(spec.status(view)) ? null : await stopUnclaimed(env, log, spec, view);
    if (stopped) report.stoppedUnclaimed++;
    seen.push(stopped ?? { view, sentAt: listedAt });
  }
  const costliest = Math.max(0, ...seen.map(({ view }) => spec.observe(view, owner).figures.totalCostMicros));
  const db = env.DB;
  const records = seen.flatMap(({ view }) => {
    const id = String(view.id);
    return [
      recordCreatedStatement(db, spec.kind, id, owner, view, spec.status(view)),
      markUnclaimedStatement(db, spec.kind, id, { othersAmong: mayBeOthers }),
    ];
  });
  const { charged, events } = await chargeAmbiguousOrphans(db, group.holds, costliest, records);
  for (const [i, hold] of group.holds.entries()) {
    const chargedMicros = charged[i];
    if (chargedMicros === null || chargedMicros === undefined) continue;
    report.chargedInFull++;
    log.warn("orphan_charged_in_full", {
      kind: spec.kind,
      holdId: hold.id,
      tenantId: hold.tenantId,
      chargedMicros,
    });
  }
  await enqueueEvents(env, log, events);
  for (const { view, sentAt } of seen) {
    await observeViews(env, log, spec, owner, [view], sentAt);
    report.unattributed++;
    log.warn("unattributed_spend", { kind: spec.kind, id: String(view.id), unclaimed: !mayBeOthers });
  }
}

/**
 * Stops an object no tenant can be given, through upstream: its stopped view and when it was
 * asked for, or null when the stop failed (logged; the object stays live until a later pass stops it).
 */
async function stopUnclaimed(
  env: Bindings,
  log: Logger,
  spec: HeldKindSpec,
  view: View,
): Promise<{ view: View; sentAt: string } | null> {
  const id = String(view.id);
  try {
    const res = await callUpstream(env, log, spec.stop(id));
    const stopped = res.body as View | null;
    if (res.status === 200 && stopped && String(stopped.id).toLowerCase() === id.toLowerCase()) {
      log.warn("stopped_unclaimed", { kind: spec.kind, id });
      return { view: stopped, sentAt: res.sentAt };
    }
    log.warn("unclaimed_stop_failed", { kind: spec.kind, id, status: res.status });
  } catch (err) {
    log.warn("unclaimed_stop_failed", { kind: spec.kind, id, ...describeError(err) });
  }
  return null;
}

/**
 * The same for profiles and workspaces, which cost nothing and are created under no hold but
 * under an intent: each unrecorded object one tenant's intents fit is recorded as that tenant's.
 * One that several tenants' intents fit is left to nobody rather than to the wrong one, and so
 * are one tenant's alike objects when they outnumber its intents: one of them was made by no
 * create here (on the account outside the gateway, alike and in the same minute), and which one
 * cannot be told; a profile carries its maker's logins. Their intents expire unmatched. A group
 * that an intent still too young to be looked for (`inFlight`) is part of waits for a later pass,
 * as findLostCreates does; its intents are returned as deferred, and do not expire meanwhile.
 */
export async function findLostFreeCreates(
  env: Bindings,
  log: Logger,
  spec: FindableKindSpec,
  intents: CreateIntent[],
  inFlight: CreateIntent[],
  window: ListingWindow,
  report: LostCreatesReport,
): Promise<{ completeSince: number; deferred: Set<string> } | null> {
  const found = await unrecordedObjects(env, log, spec, intents, window);
  if (!found) return null;
  const db = env.DB;
  const deferred = new Set<string>();
  for (const group of groups(
    found.views,
    [...intents, ...inFlight],
    (view, intent) => fitsIntent(spec.lost, view, intent),
    spec.lost.createdAt,
  )) {
    if (group.holds.some((i) => inFlight.includes(i))) {
      for (const intent of group.holds) deferred.add(intent.id);
      continue;
    }
    if (group.holds.length === 0) continue;
    if (!pairable(group)) {
      log.warn("lost_create_ambiguous", {
        kind: spec.kind,
        intents: group.holds.length,
        objects: group.views.length,
      });
      continue;
    }
    for (const [i, view] of group.views.entries()) {
      const intent = group.holds[i] as CreateIntent;
      const id = String(view.id);
      await db.batch([
        recordCreatedStatement(db, spec.kind, id, intent, view, spec.status(view)),
        forgetIntentStatement(db, intent.id),
      ]);
      report.adopted++;
      log.warn("lost_create_adopted", { kind: spec.kind, id, tenantId: intent.tenantId });
    }
  }
  return { completeSince: found.listing.completeSince, deferred };
}

/** Upstream's newest objects of a kind the gateway never recorded, listed back past `claims`. */
async function unrecordedObjects(
  env: Bindings,
  log: Logger,
  spec: FindableKindSpec,
  claims: Claim[],
  window: ListingWindow,
): Promise<{ views: View[]; listing: Listing } | null> {
  const oldest = Math.min(...claims.map((h) => Date.parse(h.createdAt)));
  const listing = await listNewest(env, log, spec.lost, oldest - MATCH_WINDOW_MS, window.maxPages);
  if (!listing) return null;
  // A create younger than `before` may still be on its way back: not yet a lost one. Filtered
  // here, not in the listing, which must count every item to know how far back it is complete.
  const madeByCreate = spec.lost.madeByCreate ?? (() => true);
  const settled = listing.views.filter(
    (v) => madeByCreate(v) && spec.lost.createdAt(v) < Date.parse(window.before),
  );
  const unknown = new Set(
    await unknownIds(
      env.DB,
      spec.kind,
      settled.map((v) => String(v.id)),
    ),
  );
  return { views: settled.filter((v) => unknown.has(String(v.id).toLowerCase())), listing };
}

async function bookUnattributed(
  env: Bindings,
  log: Logger,
  spec: KindSpec,
  views: View[],
  sentAt: string,
  window: ListingWindow,
  report: LostCreatesReport,
): Promise<void> {
  const owner = window.unclaimedOwner;
  for (const view of views) {
    const id = String(view.id);
    await recordCreatedStatement(env.DB, spec.kind, id, owner, view, spec.status(view)).run();
    await observeViews(env, log, spec, owner, [view], sentAt);
    report.unattributed++;
    log.warn("unattributed_spend", { kind: spec.kind, id });
  }
}

/**
 * Upstream's newest objects, page by page, until the listing reaches back to `horizon` (or ends),
 * at most `maxPages`. `completeSince` is how far back it is complete: `horizon` or earlier when it
 * got there, else the oldest creation time it saw. Null when upstream did not answer a page.
 *
 * Pages are by number, so the list can move between two of them. A create moves every object one
 * down, and the one at the end of a page is listed twice (kept once). A delete moves those after
 * it one up, and the first object of the next page lands at the end of one already read: never
 * seen. A listing whose total shrank between two pages therefore stops there, complete only down
 * to the oldest object of the pages before (the total drops whenever deletes outnumber creates,
 * which every such skip needs).
 */
interface Listing {
  views: View[];
  completeSince: number;
  sentAt: string;
}

async function listNewest(
  env: Bindings,
  log: Logger,
  lost: LostCreates,
  horizon: number,
  maxPages: number,
): Promise<Listing | null> {
  const views: View[] = [];
  const seen = new Set<string>();
  let sentAt = new Date().toISOString();
  let total: number | null = null;
  for (let page = 1; page <= maxPages; page++) {
    const res = await callUpstream(env, log, {
      method: "GET",
      path: lost.listPath,
      query: lost.listQuery(page),
    });
    if (res.status !== 200) {
      log.warn("reconcile_list_failed", { path: lost.listPath, page, status: res.status });
      return null;
    }
    if (page === 1) sentAt = res.sentAt;
    const items = lost.listItems(res.body);
    const pageTotal = lost.listTotal(res.body);
    if (total !== null && pageTotal !== null && pageTotal < total) {
      // An object may have moved onto a page already read, unseen, since the one before.
      return { views, completeSince: Math.min(...views.map(lost.createdAt)), sentAt };
    }
    total = pageTotal;
    // An object a new create pushed onto the next page shows up twice: keep it once.
    for (const item of items) {
      const id = String(item.id);
      if (seen.has(id)) continue;
      seen.add(id);
      views.push(item);
    }
    const oldest = Math.min(...items.map(lost.createdAt));
    if (items.length < 100) return { views, completeSince: Number.NEGATIVE_INFINITY, sentAt };
    if (oldest < horizon) return { views, completeSince: oldest, sentAt };
  }
  return { views, completeSince: Math.min(...views.map(lost.createdAt)), sentAt };
}

/** Whether an unrecorded upstream object is what a claim's create would have made: same time and echo. */
function fitsIntent(lost: LostCreates, view: View, claim: Claim): boolean {
  if (!(Math.abs(lost.createdAt(view) - Date.parse(claim.createdAt)) < MATCH_WINDOW_MS)) return false;
  return claim.fingerprint === null || claim.fingerprint === lost.viewPrint(view);
}

/** The ceiling an orphaned hold's create was sent with, if it was sent one (sessions only). */
const ceilingOf = (hold: OrphanHold) =>
  hold.slotOnly ? null : createCeilingMicros(hold.amountMicros, hold.tagMicros);

/**
 * The same for an orphaned hold's create: a session also carries the hold's tagged ceiling, or,
 * for a hold that sent none, is one no task has run in yet if the create had no task.
 */
function fitsHold(spec: HeldKindSpec, view: View, hold: OrphanHold): boolean {
  if (!fitsIntent(spec.lost, view, hold)) return false;
  if (spec.kind === "browser") return true;
  if (hold.slotOnly) return Number(view.stepCount ?? 0) === 0;
  const ceiling = ceilingOf(hold);
  // A hold of 0 sent no ceiling, so only the fingerprint and the time tie an object to it.
  if (ceiling === null) return true;
  return view.maxCostUsd != null && toMicros(String(view.maxCostUsd)) === ceiling;
}

/**
 * Whether a group's objects may be handed to its creates in creation order: only when the creates
 * are all one tenant's and the objects no more than the creates. With several tenants, any object
 * may be another's; with more objects than creates, one was made by no create here (on the account
 * outside the gateway, alike and in the same minute), and which one cannot be told.
 */
function pairable(group: { views: View[]; holds: Claim[] }): boolean {
  return new Set(group.holds.map((h) => h.tenantId)).size === 1 && group.views.length <= group.holds.length;
}

/**
 * The objects and holds that fit each other, in connected groups: a group of one object and one
 * hold is a certain match; a larger group holds creates that cannot be told apart. Both sides in
 * creation order.
 */
function groups<C extends Claim>(
  views: View[],
  holds: C[],
  fits: (view: View, claim: C) => boolean,
  createdAt: (view: View) => number,
): { views: View[]; holds: C[] }[] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    const p = parent.get(x) ?? x;
    if (p === x) return x;
    const root = find(p);
    parent.set(x, root);
    return root;
  };
  const viewKey = (v: View) => `v:${String(v.id)}`;
  const holdKey = (h: C) => `h:${h.id}`;
  const fitted = new Set<C>();
  for (const view of views) {
    for (const hold of holds) {
      if (!fits(view, hold)) continue;
      fitted.add(hold);
      parent.set(find(viewKey(view)), find(holdKey(hold)));
    }
  }
  const out = new Map<string, { views: View[]; holds: C[] }>();
  const groupOf = (key: string) => {
    const root = find(key);
    const group = out.get(root) ?? { views: [], holds: [] };
    out.set(root, group);
    return group;
  };
  const byTime = (a: number, b: number) => a - b;
  for (const view of [...views].sort((a, b) => byTime(createdAt(a), createdAt(b))))
    groupOf(viewKey(view)).views.push(view);
  // A hold nothing fits is in no group: it stays an orphan, for a later pass or to expire.
  for (const hold of holds) if (fitted.has(hold)) groupOf(holdKey(hold)).holds.push(hold);
  return [...out.values()];
}
