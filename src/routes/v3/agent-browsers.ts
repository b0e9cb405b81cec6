import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { observeViews } from "../../ledger/observe";
import { afterResponse } from "../../lib/after-response";
import { notFound } from "../../lib/errors";
import { describeError } from "../../lib/log";
import { TtlCache } from "../../lib/ttl-cache";
import { findOwnedAgentBrowser, recordAgentBrowsers } from "../../store/agent-browsers";
import type { UpstreamResponse } from "../../upstream/client";
import { BROWSERS, SESSIONS } from "../../upstream/kinds";
import { clientBody, forward, type OwnedCall, onOwned, owns, passQuery, relay } from "./proxy";

type Ctx = Context<AppEnv>;
type View = Record<string, unknown>;

// An agent session's browser stays its session's, so which session it is can be remembered (by
// browser and tenant). Whose it is cannot: a remembered one is the caller's only while the caller
// owns that session (`owns`, which a delete through the gateway forgets at once), whatever
// upstream still answers for the browser.
const agentCache = new TtlCache<string>(60_000);
const agentKey = (browserId: string, tenantId: string) => `${browserId.toLowerCase()}:${tenantId}`;

// The browsers this isolate has recorded as their session's: a list that shows them again writes
// nothing. Only that: who may call on a browser is still the stored row's word (agentSessionOf).
const recorded = new TtlCache<true>(10 * 60_000);
const recordedKey = (browserId: string, sessionId: string) =>
  `${browserId.toLowerCase()}:${sessionId.toLowerCase()}`;

/** The caller's agent session whose own browser this is, if it is one (see agent_browsers). */
async function agentSessionOf(c: Ctx, browserId: string): Promise<string | null> {
  const { tenantId } = c.get("caller");
  const key = agentKey(browserId, tenantId);
  const cached = agentCache.get(key);
  if (cached) {
    if (await owns(c, SESSIONS, cached)) return cached;
    agentCache.delete(key);
    return null;
  }
  const sessionId = await findOwnedAgentBrowser(c.env.DB, browserId, tenantId);
  if (sessionId) agentCache.set(key, sessionId);
  return sessionId;
}

/**
 * `GET /browsers?agentSessionId=`: the browser an agent session runs in. No POST /browsers made it
 * (its time is billed in its session), so the gateway holds, books and counts nothing for it; for
 * a session of the caller's, upstream's list under that filter is the answer, relayed. Any other
 * session's id lists nothing, as upstream answers for a session it does not know. Only that
 * session's browsers are passed on: a list that ignored the filter would hold every tenant's
 * browsers, with their CDP URLs, and isolation must not rest on upstream honouring a query
 * parameter. Those it passes on are recorded as that session's (agent_browsers), which is what
 * lets its owner call /browsers/{id} on them: upstream's own word, on a session the caller owns.
 */
export async function listAgentBrowsers(
  c: Ctx,
  sessionId: string,
  page: { pageSize: number; pageNumber: number },
): Promise<Response> {
  if (!(await owns(c, SESSIONS, sessionId))) return c.json({ items: [], totalItems: 0, ...page });
  const query = passQuery(c.req.url, ["pageSize", "pageNumber", "filterBy", "metadata", "agentSessionId"]);
  const res = await forward(c, { method: "GET", path: "/browsers", query });
  const listed = sessionsPage(res, sessionId);
  if (!listed) return relay(c, res);
  const ofSession = listed.ofSession;
  await recordSeen(c, sessionId, ofSession);
  // A page short of full that has items, or is the first, is the last: the total is what the pages
  // up to it hold. Past it (a full page, or an empty one after the first) upstream's total is
  // taken only as far as a page of the most it lists shows it: an upstream that ignored the
  // filter counts the account's browsers, which is no business of the caller's.
  const lastPage = ofSession.length < page.pageSize && (ofSession.length > 0 || page.pageNumber === 1);
  const totalItems = lastPage
    ? (page.pageNumber - 1) * page.pageSize + ofSession.length
    : await vouchedTotal(c, sessionId, query, ofSession.length);
  const unfiltered = ofSession.length !== listed.items.length || totalItems !== listed.totalItems;
  if (!unfiltered) return relay(c, res);
  c.get("log").warn("upstream_list_unfiltered", {
    path: "/browsers",
    dropped: listed.items.length - ofSession.length,
  });
  return c.json({ ...listed.body, items: ofSession, totalItems });
}

/** An upstream page of browsers, and those of it that are `sessionId`'s; null for any other answer. */
function sessionsPage(res: UpstreamResponse, sessionId: string) {
  const listed = res.status === 200 ? (res.body as { items?: unknown; totalItems?: unknown }) : null;
  if (!listed || !Array.isArray(listed.items)) return null;
  const ofSession = (listed.items as View[]).filter(
    (b) => String(b.agentSessionId ?? "").toLowerCase() === sessionId.toLowerCase(),
  );
  return { body: listed, items: listed.items as View[], totalItems: listed.totalItems, ofSession };
}

/** The most browsers upstream lists in a page. */
const MAX_PAGE_SIZE = 100;

/**
 * How many browsers the session has, as far as one upstream page of the most it lists can show
 * it (an agent session runs in one): upstream's own total only when that page is full of the
 * session's alone, else what the page holds of the session's, and never fewer than the `seen` the
 * page being answered holds (all it can say when that read fails). One more upstream call, made
 * only for a page that is not known to be the last.
 */
async function vouchedTotal(
  c: Ctx,
  sessionId: string,
  query: URLSearchParams,
  seen: number,
): Promise<number> {
  const first = new URLSearchParams(query);
  first.set("pageSize", String(MAX_PAGE_SIZE));
  first.set("pageNumber", "1");
  const listed = sessionsPage(
    await forward(c, { method: "GET", path: "/browsers", query: first }),
    sessionId,
  );
  if (!listed) return seen;
  await recordSeen(c, sessionId, listed.ofSession);
  const fullOfSession = listed.items.length === MAX_PAGE_SIZE && listed.ofSession.length === MAX_PAGE_SIZE;
  if (fullOfSession && typeof listed.totalItems === "number") return Math.max(seen, listed.totalItems);
  return Math.max(seen, listed.ofSession.length);
}

/**
 * Records the browsers listed as the session's before the list is answered, so a call on one
 * right after finds it. A store that fails leaves the list as upstream gave it (a read is not
 * refused for its bookkeeping): the next list records them.
 */
async function recordSeen(c: Ctx, sessionId: string, browsers: View[]): Promise<void> {
  const { tenantId } = c.get("caller");
  const unseen = browsers
    .map((b) => String(b.id))
    .filter(
      (id) =>
        !recorded.get(recordedKey(id, sessionId)) &&
        agentCache.get(agentKey(id, tenantId)) !== sessionId.toLowerCase(),
    );
  try {
    await recordAgentBrowsers(c.env.DB, sessionId, unseen, new Date().toISOString());
    for (const id of unseen) recorded.set(recordedKey(id, sessionId), true);
  } catch (err) {
    c.get("log").warn("agent_browsers_record_failed", { sessionId, ...describeError(err) });
  }
}

/**
 * Every `/browsers/{id}` call: on a browser the caller made, as onOwned; on the own browser of an
 * agent session the caller owns, as onAgentBrowser; on anything else, the same 404 as for an
 * unknown id.
 */
export async function onBrowser(c: Ctx, id: string, call: OwnedCall): Promise<Response> {
  if (await owns(c, BROWSERS, id)) return onOwned(c, BROWSERS, id, call);
  const sessionId = await agentSessionOf(c, id);
  if (!sessionId) throw notFound(BROWSERS.notFound);
  return onAgentBrowser(c, id, sessionId, call);
}

/**
 * A call on an agent session's own browser, relayed. Its view is not booked: the browser is
 * billed in its session (its own figures are not the money), holds nothing and is no live object
 * of the tenant's beside the session. A stop may end the session (Browser Use does not say; its
 * agent cannot go on without its browser): the session is read after it, and that view booked,
 * which settles its hold if it ended; should the read fail, the reconciler, which watches every
 * held session, does.
 */
async function onAgentBrowser(c: Ctx, id: string, sessionId: string, call: OwnedCall): Promise<Response> {
  const res = await forward(c, {
    method: call.method,
    path: BROWSERS.path(id) + (call.suffix ?? ""),
    query: call.query ? passQuery(c.req.url, call.query) : undefined,
    body: call.body ? await clientBody(c) : undefined,
  });
  if (res.status === 404) {
    // Gone upstream (its session deleted, here or elsewhere): unknown here too, with the same
    // answer. Its downloads have no 404 of their own either: one there is the browser's.
    agentCache.delete(agentKey(id, c.get("caller").tenantId));
    throw notFound(BROWSERS.notFound);
  }
  if (call.method === "PATCH" && res.status === 200) {
    afterResponse(c, "read_session_after_browser_stop", async () => {
      const session = await forward(c, { method: "GET", path: SESSIONS.path(sessionId) });
      if (session.status !== 200) return;
      await observeViews(
        c.env,
        c.get("log"),
        SESSIONS,
        c.get("caller"),
        [session.body as View],
        session.sentAt,
      );
    });
  }
  return relay(c, res);
}
