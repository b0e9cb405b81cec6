import { currentPeriods } from "../budget/admission";
import { crossingStatements, madeEvents } from "../budget/alerts";
import { settleIfEnded } from "../budget/holds";
import type { Bindings } from "../env";
import { enqueueEvents } from "../events/deliver";
import type { Logger } from "../lib/log";
import { sessionFinishedStatement } from "../store/events";
import { chargeUnheldStatements } from "../store/budgets";
import { type Owner, updateViewStatement } from "../store/resources";
import { recordUsageStatements, type UsageObservation } from "../store/usage";
import { TtlCache } from "../lib/ttl-cache";
import type { KindSpec } from "../upstream/kinds";

type View = Record<string, unknown>;

/**
 * A create's or a dispatch's booking of the view upstream answered it with. `lead` runs first, in
 * the same transaction: the object's record and its hold's attachment, so a new object is
 * recorded, held and booked in one round trip, or not at all. What the lead does makes some of
 * the booking's statements ones that would change nothing, so they are not sent.
 */
export interface FirstBooking {
  lead: D1PreparedStatement[];
  /** The lead records the object with this very view: there is no newer one to store. */
  recorded: boolean;
  /**
   * The lead attaches an open hold to it: nothing can be charged outside a hold while it is open,
   * and what the view cost before it is charged by the next booking once the hold closes (the
   * usage row's `charged_micros` watermark stays where it was).
   */
  held: boolean;
}

const VIEWS_PER_BATCH = 10;

// What was last booked for each object in this isolate. A client polling a session every two
// seconds mostly sees it unchanged; booking the same figures again would add nothing, so the
// write is skipped. Set only once a booking has succeeded.
const booked = new TtlCache<string>(5 * 60_000);

/** What this isolate last saw of an object: whose it is, its status, and when. */
export interface Observed {
  owner: Owner;
  status: string | null;
  /** When the read that returned the view was sent (ms): which of two views is newer. */
  sentAtMs: number;
  /** When the view had been booked: upstream's state then was at least as new as the view. */
  seenAtMs: number;
}

// Set with `booked`, from the same views: a status webhook about a state this isolate has already
// booked since it happened needs neither an owner lookup nor an upstream read.
const observed = new TtlCache<Observed>(5 * 60_000);

/** What this isolate last saw of an object, if it saw it in the last five minutes. */
export function lastObserved(kind: KindSpec["kind"], id: string): Observed | undefined {
  return observed.get(`${kind}:${id.toLowerCase()}`);
}

// The creates this isolate has sent upstream and not yet booked the answer of. Not a cache: an
// entry lives only as long as its request, and losing one costs a D1 read, nothing more.
const createsInFlight = new Set<Promise<unknown>>();

/**
 * Runs a create (sent upstream, its answer recorded and booked) as one in flight in this
 * isolate. Browser Use sends a new session's first status event while the create's answer is
 * still on its way: the event can wait for it (createsLanded) rather than look up in D1 a session
 * whose record is not there yet.
 */
export async function inFlight<T>(create: Promise<T>): Promise<T> {
  createsInFlight.add(create);
  try {
    return await create;
  } finally {
    createsInFlight.delete(create);
  }
}

/** Settles once the creates in flight in this isolate now have landed (or failed), or after `maxMs`. */
export async function createsLanded(maxMs: number): Promise<void> {
  if (createsInFlight.size === 0) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...createsInFlight]),
    new Promise((resolve) => {
      timer = setTimeout(resolve, maxMs);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * What the gateway does with every view of an owned object upstream gives it, whoever asked
 * (a tenant's request, the reconciler, the upstream webhook): keep the latest view, book its cost
 * figures, charge to the owner's budgets what it cost outside any hold, settle the hold of
 * whatever has ended, and, for a session a hook started, make its `session.finished` callback
 * from its final view. `sentAt` is when the upstream request that returned the views was sent.
 * `first` is a create's or a dispatch's own booking of the view it was answered with (see
 * FirstBooking).
 */
export async function observeViews(
  stores: Pick<Bindings, "DB" | "EVENTS">,
  log: Logger,
  spec: KindSpec,
  owner: Owner,
  views: View[],
  sentAt: string,
  first?: FirstBooking,
): Promise<void> {
  const lead = first?.lead ?? [];
  const db = stores.DB;
  const { observe } = spec;
  // A view the ledger cannot read (a figure missing, unreadable or negative) is not booked, and
  // the call fails once the others are: one such view in a list must not keep the rest unbooked
  // (their holds unsettled) with it.
  let unreadable: unknown = null;
  const all = views.flatMap((view) => {
    let obs: ReturnType<NonNullable<typeof observe>> | undefined;
    try {
      obs = observe?.(view, owner);
    } catch (err) {
      if (views.length === 1) throw err;
      unreadable ??= err;
      return [];
    }
    return [
      { view, obs, key: `${spec.kind}:${String(view.id).toLowerCase()}`, print: fingerprint(view, obs) },
    ];
  });
  const fresh = all.filter((o) => booked.get(o.key) !== o.print);
  // Unattributed spend has no budget to charge, and under a hold just attached nothing is charged
  // now (so no threshold can be crossed either).
  const periods =
    observe && fresh.length > 0 && owner.tenantId !== "" && !first?.held
      ? await currentPeriods(db, owner)
      : null;
  // A batch per few views, each view's statements together: a list of a hundred costs ten round
  // trips, not two hundred, and no batch grows past what D1 takes comfortably.
  const events: string[] = [];
  const kept = new Set<string>();
  // At least one batch when there are lead statements, even with nothing new to book.
  for (let i = 0; i < Math.max(fresh.length, lead.length > 0 ? 1 : 0); i += VIEWS_PER_BATCH) {
    const chunk = fresh.slice(i, i + VIEWS_PER_BATCH);
    const perView = chunk.map(({ view, obs }) => [
      ...(first?.recorded
        ? []
        : [updateViewStatement(db, spec.kind, String(view.id), view, spec.status(view), sentAt)]),
      ...(obs ? recordUsageStatements(db, obs) : []),
      ...(obs && periods ? chargeUnheldStatements(db, obs.kind, obs.id, periods) : []),
    ]);
    const statements = perView.flat();
    const finished = chunk.filter(({ obs }) => obs?.kind === "session" && obs.final && owner.tenantId !== "");
    // After the spend they may have charged: the thresholds it crossed.
    const crossings = periods ? await crossingStatements(db, periods, sentAt) : [];
    const extra = [...finished.map(({ view }) => sessionFinishedStatement(db, view, sentAt)), ...crossings];
    const leading = i === 0 ? lead : [];
    const results = await db.batch([...leading, ...statements, ...extra]);
    events.push(...madeEvents(results, extra.length));
    // Which views D1 now keeps: those the lead recorded, and those whose update changed the row.
    let at = leading.length;
    chunk.forEach(({ key }, j) => {
      if (first?.recorded || (results[at]?.meta.changes ?? 0) > 0) kept.add(key);
      at += perView[j]?.length ?? 0;
    });
  }
  await enqueueEvents(stores, log, events);
  // Settling is checked for every view, booked or not: an unchanged view may still be the first
  // sent after its task was dispatched.
  for (const { obs } of all) {
    const settled = obs ? await settleIfEnded(db, log, obs, sentAt) : null;
    if (settled) await enqueueEvents(stores, log, settled.events);
  }
  // Only a view D1 now keeps counts as booked. One refused as older than the stored view (sent
  // before it, by the clocks' account) is not: if it was in truth the newer one (clocks disagree,
  // a read sent earlier may answer later), the same view read again must still be written, or the
  // stored view stays behind for good and the object looks live forever.
  for (const { key, print } of fresh) if (kept.has(key)) booked.set(key, print);
  const sentAtMs = Date.parse(sentAt);
  for (const { key, view } of all) {
    const last = observed.get(key);
    if (!last || last.sentAtMs <= sentAtMs)
      observed.set(key, { owner, status: spec.status(view), sentAtMs, seenAtMs: Date.now() });
  }
  if (unreadable !== null) throw unreadable;
}

/**
 * What makes two views of an object different for the ledger: its state and every figure, not
 * the presigned URLs that change on every read.
 */
function fingerprint(view: View, obs: UsageObservation | undefined): string {
  if (!obs) return JSON.stringify(view);
  return JSON.stringify([
    obs.status,
    obs.figures,
    view.updatedAt ?? null,
    view.stepCount ?? null,
    view.finishedAt ?? null,
  ]);
}
