import { browserObservation, FINAL_SESSION_STATUSES, sessionObservation } from "../ledger/observations";
import type { Owner, ResourceKind } from "../store/resources";
import type { UsageObservation } from "../store/usage";
import { canonicalJson } from "../lib/canonical-json";
import {
  UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES,
  UPSTREAM_DEFAULT_COUNTRY,
  UPSTREAM_DEFAULT_MODEL,
} from "../policy/apply";
import { ERROR_DETAILS } from "../v3/schemas";
import type { UpstreamRequest } from "./client";

type View = Record<string, unknown>;

/** What the gateway needs to know about each kind of upstream object it proxies. */
export interface KindSpec {
  kind: ResourceKind;
  /** Upstream path of one object. */
  path: (id: string) => string;
  /** Upstream's own 404 detail for an unknown id of this kind; ours must match it. */
  notFound: string;
  /** The status to index, or null for kinds without one. */
  status: (view: View) => string | null;
  /**
   * Whether an object in this status (`status` of its view, as D1 also stores it) can no longer
   * change upstream, so a list can serve it from D1.
   */
  isFinal: (status: string | null) => boolean;
  /** The ledger reading of a view, for the kinds that cost money. */
  observe?: (view: View, owner: Owner) => UsageObservation;
  /** For the kinds created under a hold: how to find the object of a create whose answer was lost. */
  lost?: LostCreates;
}

/**
 * What a create sent that upstream echoes in the object it made, as canonical JSON from either
 * side, and how to page through upstream's newest objects of the kind.
 */
export interface LostCreates {
  /** The fingerprint of a forwarded create body (upstream's defaults filled in). */
  requestPrint: (body: View) => string;
  /** The same fingerprint read from an upstream view. */
  viewPrint: (view: View) => string;
  /** When upstream made the object, in epoch ms. */
  createdAt: (view: View) => number;
  /** Upstream's list of the newest objects, 100 a page, page 1 first. */
  listPath: string;
  listQuery: (page: number) => URLSearchParams;
  listItems: (body: unknown) => View[];
  /** How many objects the list says there are in all, when it says. */
  listTotal: (body: unknown) => number | null;
  /**
   * Whether a listed object is one this kind's create makes (all are, unless this says otherwise):
   * only those can be a lost create's, or spend made outside the gateway.
   */
  madeByCreate?: (view: View) => boolean;
}

/** The kinds a lost create's object can be found of: all four. */
export type FindableKindSpec = KindSpec & { lost: LostCreates };

/** The kinds that cost money and are created under a hold: sessions and browsers. */
export type HeldKindSpec = KindSpec & {
  kind: "session" | "browser";
  observe: NonNullable<KindSpec["observe"]>;
  lost: LostCreates;
  /** The upstream call that stops one, answering 200 with its final view. */
  stop: (id: string) => UpstreamRequest;
};

const status = (view: View) => (typeof view.status === "string" ? view.status : null);
const lower = (v: unknown) => (typeof v === "string" ? v.toLowerCase() : null);
const print = (fields: Record<string, unknown>) => canonicalJson(fields);
const orDefault = (body: View, key: string, fallback: unknown) => (key in body ? body[key] : fallback);

export const SESSIONS: HeldKindSpec = {
  kind: "session",
  path: (id) => `/sessions/${id}`,
  notFound: ERROR_DETAILS.sessionNotFound,
  status,
  isFinal: (status) => status !== null && FINAL_SESSION_STATUSES.has(status),
  observe: sessionObservation,
  stop: (id) => ({ method: "POST", path: `/sessions/${id}/stop`, body: { strategy: "session" } }),
  lost: {
    requestPrint: (body) =>
      print({
        model: orDefault(body, "model", UPSTREAM_DEFAULT_MODEL),
        proxyCountryCode: orDefault(body, "proxyCountryCode", UPSTREAM_DEFAULT_COUNTRY),
        profileId: lower(body.profileId),
        workspaceId: lower(body.workspaceId),
      }),
    viewPrint: (view) =>
      print({
        model: view.model ?? null,
        proxyCountryCode: view.proxyCountryCode ?? null,
        profileId: lower(view.profileId),
        workspaceId: lower(view.workspaceId),
      }),
    createdAt: (view) => Date.parse(String(view.createdAt)),
    listPath: "/sessions",
    listQuery: (page) => new URLSearchParams({ page: String(page), page_size: "100" }),
    listItems: (body) => (body as { sessions?: View[] } | null)?.sessions ?? [],
    listTotal: (body) => countOf((body as { total?: unknown } | null)?.total),
  },
};

export const BROWSERS: HeldKindSpec = {
  kind: "browser",
  path: (id) => `/browsers/${id}`,
  notFound: ERROR_DETAILS.sessionNotFound,
  status,
  isFinal: (status) => status === "stopped",
  observe: browserObservation,
  stop: (id) => ({ method: "PATCH", path: `/browsers/${id}`, body: { action: "stop" } }),
  lost: {
    // A browser view echoes neither its country nor its profile; its timeout and metadata it does.
    requestPrint: (body) =>
      print({
        timeout: orDefault(body, "timeout", UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES),
        metadata: body.metadata ?? {},
      }),
    viewPrint: (view) =>
      print({
        timeout: Math.round(
          (Date.parse(String(view.timeoutAt)) - Date.parse(String(view.startedAt))) / 60_000,
        ),
        metadata: view.metadata ?? {},
      }),
    createdAt: (view) => Date.parse(String(view.startedAt)),
    listPath: "/browsers",
    listQuery: (page) => new URLSearchParams({ pageNumber: String(page), pageSize: "100" }),
    listItems: (body) => (body as { items?: View[] } | null)?.items ?? [],
    listTotal: (body) => countOf((body as { totalItems?: unknown } | null)?.totalItems),
    // An agent session's own browser is listed too: it is its session's, who pays for it there,
    // never what a POST /browsers made (those carry no agentSessionId).
    madeByCreate: (view) => view.agentSessionId == null,
  },
};

/** Profiles and workspaces are listed the same way: newest first, `items`, 100 a page. */
const itemsList = (listPath: string) => ({
  createdAt: (view: View) => Date.parse(String(view.createdAt)),
  listPath,
  listQuery: (page: number) => new URLSearchParams({ pageNumber: String(page), pageSize: "100" }),
  listItems: (body: unknown) => (body as { items?: View[] } | null)?.items ?? [],
  listTotal: (body: unknown) => countOf((body as { totalItems?: unknown } | null)?.totalItems),
});

/** A list's total, if it is a count. */
const countOf = (total: unknown): number | null =>
  typeof total === "number" && Number.isInteger(total) && total >= 0 ? total : null;

// Profiles and workspaces change upstream too (a profile's cookies and last use), so a list
// always refreshes them; they carry no status.
export const PROFILES: FindableKindSpec = {
  kind: "profile",
  path: (id) => `/profiles/${id}`,
  notFound: ERROR_DETAILS.profileNotFound,
  status: () => null,
  isFinal: () => false,
  lost: {
    requestPrint: (body) => print({ name: body.name ?? null, userId: body.userId ?? null }),
    viewPrint: (view) => print({ name: view.name ?? null, userId: view.userId ?? null }),
    ...itemsList("/profiles"),
  },
};

export const WORKSPACES: FindableKindSpec = {
  kind: "workspace",
  path: (id) => `/workspaces/${id}`,
  notFound: ERROR_DETAILS.workspaceNotFound,
  status: () => null,
  isFinal: () => false,
  lost: {
    requestPrint: (body) => print({ name: body.name ?? null }),
    viewPrint: (view) => print({ name: view.name ?? null }),
    ...itemsList("/workspaces"),
  },
};
