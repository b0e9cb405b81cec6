import { browserObservation, FINAL_SESSION_STATUSES, sessionObservation } from "../ledger/observations";
import type { Owner, ResourceKind } from "../store/resources";
import type { UsageObservation } from "../store/usage";
import { ERROR_DETAILS } from "../v3/schemas";

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
  /** Whether the view can no longer change upstream (so a list can serve it from D1). */
  isFinal: (view: View) => boolean;
  /** The ledger reading of a view, for the kinds that cost money. */
  observe?: (view: View, owner: Owner) => UsageObservation;
}

const status = (view: View) => (typeof view.status === "string" ? view.status : null);

export const SESSIONS: KindSpec = {
  kind: "session",
  path: (id) => `/sessions/${id}`,
  notFound: ERROR_DETAILS.sessionNotFound,
  status,
  isFinal: (view) => FINAL_SESSION_STATUSES.has(String(view.status)),
  observe: sessionObservation,
};

export const BROWSERS: KindSpec = {
  kind: "browser",
  path: (id) => `/browsers/${id}`,
  notFound: ERROR_DETAILS.sessionNotFound,
  status,
  isFinal: (view) => view.status === "stopped",
  observe: browserObservation,
};

// Profiles and workspaces change upstream too (a profile's cookies and last use), so a list
// always refreshes them; they carry no status.
export const PROFILES: KindSpec = {
  kind: "profile",
  path: (id) => `/profiles/${id}`,
  notFound: ERROR_DETAILS.profileNotFound,
  status: () => null,
  isFinal: () => false,
};

export const WORKSPACES: KindSpec = {
  kind: "workspace",
  path: (id) => `/workspaces/${id}`,
  notFound: ERROR_DETAILS.workspaceNotFound,
  status: () => null,
  isFinal: () => false,
};
