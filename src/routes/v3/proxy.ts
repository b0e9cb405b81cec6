import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { settleGone } from "../../budget/holds";
import { enqueueEvents } from "../../events/deliver";
import { observeViews } from "../../ledger/observe";
import { afterResponse } from "../../lib/after-response";
import { notFound } from "../../lib/errors";
import { describeError } from "../../lib/log";
import { TtlCache } from "../../lib/ttl-cache";
import {
  findOwned,
  type ListPage,
  listOwned,
  markDeletedStatement,
  recordCreatedStatement,
} from "../../store/resources";
import { callUpstream, type UpstreamRequest, type UpstreamResponse } from "../../upstream/client";
import { type FindableKindSpec, type KindSpec, SESSIONS } from "../../upstream/kinds";
import { afterUpstreamActed } from "../../store/guard";
import { forgetIntentStatement, recordIntent } from "../../store/intents";
import { followAccountMove, movedSinceRead } from "../../middleware/org-upstream";

type Ctx = Context<AppEnv>;
type View = Record<string, unknown>;

/** Sends a request upstream with this request's env and logger. */
export function forward(c: Ctx, req: UpstreamRequest): Promise<UpstreamResponse> {
  return callUpstream(c.env, c.get("log"), req);
}

/**
 * forward, for a call on one object the caller owns: a 404 from an account the org has since moved
 * from (movedSinceRead) is asked again of the account it is on, so nothing is taken as gone that
 * lives on the other.
 */
export async function forwardToObject(c: Ctx, req: UpstreamRequest): Promise<UpstreamResponse> {
  const res = await forward(c, req);
  if (res.status !== 404 || !(await movedSinceRead(c))) return res;
  return forward(c, req);
}

/** Upstream's answer, status and body as they came, byte for byte (204 without a body). */
export function relay(c: Ctx, res: UpstreamResponse): Response {
  if (res.status === 204) return c.body(null, 204);
  if (res.text === undefined) return c.json(res.body as object, res.status as 200);
  return c.body(res.text, res.status as 200, { "Content-Type": "application/json" });
}

/** The body the client sent, exactly (after validation passed): the gateway forwards it unchanged. */
export async function clientBody(c: Ctx): Promise<unknown> {
  return c.req.bodyCache.json ? await c.req.bodyCache.json : undefined;
}

// Ownership never moves from one tenant to another, so a positive answer can be remembered; a
// deletion through this isolate forgets it, and one through another isolate is answered by
// upstream's own 404 until the entry expires.
const ownedCache = new TtlCache<true>(60_000);
const ownedKey = (kind: string, id: string, tenantId: string) => `${kind}:${id.toLowerCase()}:${tenantId}`;

/** Whether the caller owns this object (an unknown or deleted one it does not). */
export async function owns(c: Ctx, spec: KindSpec, id: string): Promise<boolean> {
  const { tenantId } = c.get("caller");
  const key = ownedKey(spec.kind, id, tenantId);
  if (ownedCache.get(key)) return true;
  const owned = await findOwned(c.env.DB, spec.kind, id, tenantId);
  if (owned) ownedCache.set(key, true);
  return owned !== null;
}

/** Passes if the caller owns this object; otherwise the same 404 as upstream gives for an unknown id. */
export async function requireOwned(c: Ctx, spec: KindSpec, id: string): Promise<void> {
  if (!(await owns(c, spec, id))) throw notFound(spec.notFound);
}

/** Remembers that the caller owns an object it has just made, so its first poll reads no D1. */
export function rememberOwned(c: Ctx, spec: KindSpec, id: string): void {
  ownedCache.set(ownedKey(spec.kind, id, c.get("caller").tenantId), true);
}

/** Checks an optional id inside a body (a profile, a workspace, a session) the same way. */
export async function requireOwnedIfSet(
  c: Ctx,
  spec: KindSpec,
  id: string | null | undefined,
): Promise<void> {
  if (id) await requireOwned(c, spec, id);
}

/** Observes views (see observeViews) after the response; `sentAt` is when upstream was asked. */
export function remember(c: Ctx, spec: KindSpec, views: View[], sentAt: string): void {
  if (views.length === 0) return;
  const { env } = c;
  const log = c.get("log");
  const caller = c.get("caller");
  afterResponse(c, `remember_${spec.kind}`, () => observeViews(env, log, spec, caller, views, sentAt));
}

export interface OwnedCall {
  method: UpstreamRequest["method"];
  /** Below the object's path, e.g. `/files`; none for the object itself. */
  suffix?: string;
  /** Query parameters passed through as the client sent them (already validated). */
  query?: string[];
  /** Whether the client's (validated) JSON body is forwarded. */
  body?: boolean;
  /** Whether a 200 carries a view of the object to keep (default: calls on the object itself). */
  returnsView?: boolean;
}

/**
 * Every call on one owned object has this shape: the same 404 as for an unknown id unless the caller
 * owns it, then upstream's answer relayed as it came, keeping any view of the object that comes back
 * and forgetting an object that upstream deleted or no longer knows (answered with that same 404).
 */
export async function onOwned(c: Ctx, spec: KindSpec, id: string, call: OwnedCall): Promise<Response> {
  await requireOwned(c, spec, id);
  const onObject = call.suffix === undefined;
  if (onObject && call.method === "DELETE") {
    const refused = await stopBeforeDelete(c, spec, id);
    if (refused) return relay(c, refused);
  }
  const res = await forwardToObject(c, {
    method: call.method,
    path: spec.path(id) + (call.suffix ?? ""),
    query: call.query ? passQuery(c.req.url, call.query) : undefined,
    body: call.body ? await clientBody(c) : undefined,
  });
  if (onObject && res.status === 404) {
    // Gone upstream (deleted elsewhere): from now on it is unknown here too, with the same answer.
    await forgetAfterUpstream(c, spec, id);
    throw notFound(spec.notFound);
  }
  if (onObject && call.method === "DELETE") {
    if (res.status === 204) await forgetAfterUpstream(c, spec, id);
  } else if (res.status === 200 && (call.returnsView ?? onObject)) {
    remember(c, spec, [res.body as View], res.sentAt);
  }
  return relay(c, res);
}

/**
 * A deleted session can never be read again, and upstream stops it as it deletes it: what it cost
 * between a last read and the delete would go unbooked. So it is stopped first, as upstream's
 * delete would, and that final view is booked (settling any hold at it) before the delete is sent.
 * A stop upstream refused otherwise (a 4xx other than 404: already ended, say) shows no view, and
 * the session may have ended since its last read with figures no one has seen: it is read, and
 * that view booked, instead. A stop or read upstream did not carry out (429, 5xx) is the delete's
 * answer, and the delete is not sent: the client retries it. A session upstream no longer knows
 * (404) lets the delete go on.
 */
async function stopBeforeDelete(c: Ctx, spec: KindSpec, id: string): Promise<UpstreamResponse | null> {
  if (spec.kind !== "session") return null;
  const stopped = await forwardToObject(c, SESSIONS.stop(id));
  const refused = stopped.status >= 400 && stopped.status < 500;
  const unread = refused && stopped.status !== 404 && stopped.status !== 429;
  const res = unread ? await forward(c, { method: "GET", path: spec.path(id) }) : stopped;
  if (res.status === 429 || res.status >= 500) return res;
  if (res.status === 200) {
    await observeViews(c.env, c.get("log"), spec, c.get("caller"), [res.body as View], res.sentAt);
  }
  return null;
}

/**
 * Creates an object that costs nothing to hold (a profile, a workspace) and records it as the
 * caller's. An intent is written before the create is sent (a store that fails then refuses the
 * request, 503, with nothing sent) and removed with the record; should the record fail after
 * upstream made the object, the client still gets it, and the intent leads the reconciler to it.
 */
export async function createOwned(c: Ctx, spec: FindableKindSpec, path: string): Promise<Response> {
  const db = c.env.DB;
  const caller = c.get("caller");
  const body = (await clientBody(c)) as View;
  const intent = { id: crypto.randomUUID(), kind: spec.kind as "profile" | "workspace", ...caller };
  const { accountSetAt } = await recordIntent(db, {
    ...intent,
    fingerprint: spec.lost.requestPrint(body),
    createdAt: new Date().toISOString(),
  });
  await followAccountMove(c, accountSetAt, { intentId: intent.id });
  const res = await forward(c, { method: "POST", path, body });
  const log = c.get("log");
  if (res.status === 201) {
    const view = res.body as View;
    const recorded = await afterUpstreamActed(
      log,
      "record_after_upstream_created_failed",
      { kind: spec.kind },
      () =>
        db.batch([
          recordCreatedStatement(db, spec.kind, String(view.id), caller, view, spec.status(view)),
          forgetIntentStatement(db, intent.id),
        ]),
    );
    if (recorded) remember(c, spec, [view], res.sentAt);
  } else {
    await afterUpstreamActed(log, "intent_cleanup_failed", { kind: spec.kind }, () =>
      forgetIntentStatement(db, intent.id).run(),
    );
  }
  return relay(c, res);
}

/** forget, after upstream deleted the object or answered 404: a failing store is left to the reconciler. */
async function forgetAfterUpstream(c: Ctx, spec: KindSpec, id: string): Promise<void> {
  await afterUpstreamActed(c.get("log"), "forget_after_upstream_failed", { kind: spec.kind }, () =>
    forget(c, spec, id),
  );
}

/** Forgets an object upstream no longer has (deleted, or answered 404), settling any hold it had. */
export async function forget(c: Ctx, spec: KindSpec, id: string): Promise<void> {
  ownedCache.delete(ownedKey(spec.kind, id, c.get("caller").tenantId));
  const forgotten = markDeletedStatement(c.env.DB, spec.kind, id);
  const { kind } = spec;
  if (kind !== "session" && kind !== "browser") {
    await forgotten.run();
    return;
  }
  // Forgotten in the transaction that settles its hold and makes a hook's callback: none without the others.
  await enqueueEvents(c.env, c.get("log"), await settleGone(c.env.DB, c.get("log"), kind, id, [forgotten]));
}

/** A list serves an item as last seen when that was this recent, rather than asking upstream again. */
const LIST_FRESH_MS = 5_000;
// What this isolate last heard from upstream of an object a list refreshed, for LIST_FRESH_MS: an
// unchanged view is not written to D1 (its view_at stays old), and without this every list of
// live objects would ask upstream again however often it came.
const recentlyRefreshed = new TtlCache<{ view: View; sentAt: string }>(LIST_FRESH_MS, 2_000);
const refreshKey = (kind: string, id: string) => `${kind}:${id.toLowerCase()}`;

/**
 * One page of the caller's objects, from D1 (so totals and paging count only the caller's own),
 * with every item that may have changed (and was not seen in the last few seconds) refreshed from
 * upstream: from one list of upstream's newest objects when several need it (a page of live
 * sessions costs one upstream call, not ten), and singly for what that list lacks; what this
 * isolate refreshed in the last few seconds is not asked for again. A refresh that fails leaves
 * that item as last seen: the list is the gateway's, upstream only freshens it.
 */
export async function listPage(
  c: Ctx,
  spec: KindSpec,
  page: ListPage,
): Promise<{ views: View[]; total: number }> {
  const { items, total } = await listOwned(c.env.DB, spec.kind, c.get("caller").tenantId, page);
  const refreshed: View[] = [];
  const sentAt = new Date().toISOString();
  // Only while it is at least as new as what D1 has (a stop or a dispatch since is newer).
  const recent = new Map(
    items.flatMap((item) => {
      const cached = recentlyRefreshed.get(refreshKey(spec.kind, item.id));
      return cached && Date.parse(cached.sentAt) >= Date.parse(item.viewAt)
        ? [[item.id, cached.view] as const]
        : [];
    }),
  );
  const stale = items.filter(
    (item) =>
      // By the stored status, which is the stored view's: its view is parsed only if it is served.
      !spec.isFinal(item.status) &&
      !recent.has(item.id) &&
      Date.now() - Date.parse(item.viewAt) >= LIST_FRESH_MS,
  );
  const listed = stale.length > 1 ? await newestUpstream(c, spec) : new Map<string, View>();
  const views = await Promise.all(
    items.map(async (item) => {
      if (!stale.includes(item)) return recent.get(item.id) ?? item.view;
      const fromList = listed.get(item.id.toLowerCase());
      if (fromList) {
        refreshed.push(fromList);
        return fromList;
      }
      let res: UpstreamResponse;
      try {
        res = await forwardToObject(c, { method: "GET", path: spec.path(item.id) });
      } catch (err) {
        c.get("log").warn("list_refresh_failed", { kind: spec.kind, id: item.id, ...describeError(err) });
        return item.view;
      }
      if (res.status === 404) {
        await forget(c, spec, item.id);
        return null;
      }
      if (res.status !== 200) return item.view;
      refreshed.push(res.body as View);
      return res.body as View;
    }),
  );
  for (const view of refreshed)
    recentlyRefreshed.set(refreshKey(spec.kind, String(view.id)), { view, sentAt });
  remember(c, spec, refreshed, sentAt);
  const present = views.filter((v): v is View => v !== null);
  return { views: present, total: total - (views.length - present.length) };
}

/**
 * Upstream's first page of its newest objects of a kind (100), by lower-case id; empty when the kind
 * has no such list or upstream did not give it (the items are then read one by one).
 */
async function newestUpstream(c: Ctx, spec: KindSpec): Promise<Map<string, View>> {
  if (!spec.lost) return new Map();
  try {
    const res = await forward(c, { method: "GET", path: spec.lost.listPath, query: spec.lost.listQuery(1) });
    if (res.status !== 200) return new Map();
    return new Map(spec.lost.listItems(res.body).map((v) => [String(v.id).toLowerCase(), v]));
  } catch (err) {
    c.get("log").warn("list_refresh_failed", { kind: spec.kind, ...describeError(err) });
    return new Map();
  }
}

/** The named query parameters of a URL, as the client sent them (already validated). */
export function passQuery(url: string, names: string[]): URLSearchParams {
  const from = new URL(url).searchParams;
  const out = new URLSearchParams();
  for (const name of names) for (const value of from.getAll(name)) out.append(name, value);
  return out;
}
