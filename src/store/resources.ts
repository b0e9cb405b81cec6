import { parseUpstreamJson } from "../lib/exact-json";
import { nestsDeeperThan } from "../lib/json-depth";
import { fitsStore, MAX_SQL_JSON_DEPTH } from "./stored-json";

/** The kinds of upstream object a tenant can own through the gateway. */
export type ResourceKind = "session" | "browser" | "profile" | "workspace";

export interface Owner {
  orgId: string;
  tenantId: string;
}

/**
 * An owned resource with the last view upstream gave of it (the JSON the client saw), its
 * `output`'s numbers as upstream wrote them (parseUpstreamJson).
 */
export interface OwnedResource {
  kind: ResourceKind;
  id: string;
  status: string | null;
  view: Record<string, unknown>;
  viewAt: string;
}

/**
 * SQL: the row is a session or browser that may still cost money (a session created, idle or
 * running; a browser active). `alias` is the resources table's alias in the query, if any.
 * The kinds and statuses are spelled out first, exactly as the live indexes (resources_live, _of_org,
 * _of_tenant; migration 0024) are partial on them, so that a query can use those indexes and reads
 * their ranges: with the OR alone, SQLite read every session and browser of the tenant or org (its
 * whole history) to find the few that are live. Keep the two in step.
 */
export const liveResource = (alias = "") =>
  `(${alias}kind IN ('session', 'browser') AND ${alias}status IN ('created', 'idle', 'running', 'active')
    AND ((${alias}kind = 'session' AND ${alias}status IN ('created', 'idle', 'running')) OR (${alias}kind = 'browser' AND ${alias}status = 'active')))`;

/**
 * A view as D1 keeps it. A session's view carries its `output`, which nothing the gateway checks
 * bounds (it is what the task asked the agent for): one too large for a row would fail every batch
 * that stores it, and with it the booking of the object's figures and the settling of its hold, on
 * every read for good; one nested deeper than SQLite's JSON functions read would fail every query
 * that reads a field of the view (the live lists, of the tenant and of the whole deployment). Such
 * a view is kept without its output (null); a read of the session itself still gets the output
 * from upstream.
 */
function storedView(view: unknown): string {
  const json = JSON.stringify(view);
  const storable = fitsStore(json) && !nestsDeeperThan(json, MAX_SQL_JSON_DEPTH);
  if (storable || view === null || typeof view !== "object" || !("output" in view)) return json;
  return JSON.stringify({ ...view, output: null });
}

interface ResourceRow {
  kind: ResourceKind;
  id: string;
  status: string | null;
  view: string;
  view_at: string;
}

// The stored view is parsed when first asked for: a list serves most live items from a fresher
// view than D1's, and parsing ten views it never uses was a tenth of a list's time.
const toResource = (row: ResourceRow): OwnedResource => {
  let view: Record<string, unknown> | undefined;
  return {
    kind: row.kind,
    id: row.id,
    status: row.status,
    get view() {
      view ??= parseUpstreamJson(row.view) as Record<string, unknown>;
      return view;
    },
    viewAt: row.view_at,
  };
};

/**
 * The resource if `owner`'s tenant owns it and it is not deleted; otherwise null, whether it
 * belongs to someone else or does not exist. Callers answer both with the same 404.
 */
export async function findOwned(
  db: D1Database,
  kind: ResourceKind,
  id: string,
  tenantId: string,
): Promise<OwnedResource | null> {
  const row = await db
    .prepare(
      `SELECT kind, id, status, view, view_at FROM resources
       WHERE kind = ? AND id = ? AND tenant_id = ? AND deleted_at IS NULL`,
    )
    .bind(kind, id.toLowerCase(), tenantId)
    .first<ResourceRow>();
  return row ? toResource(row) : null;
}

/** Who owns a resource, whoever asks (the upstream webhook does not speak for a tenant). */
export async function findOwner(db: D1Database, kind: ResourceKind, id: string): Promise<Owner | null> {
  const row = await db
    .prepare("SELECT org_id, tenant_id FROM resources WHERE kind = ? AND id = ?")
    .bind(kind, id.toLowerCase())
    .first<{ org_id: string; tenant_id: string }>();
  return row ? { orgId: row.org_id, tenantId: row.tenant_id } : null;
}

/**
 * Records a resource the tenant just created (and the key it used, when known); a repeat of the
 * same id keeps the first owner. `features`: what a session was created with that its follow-ups
 * keep (see sessionFeatures).
 */
export function recordCreatedStatement(
  db: D1Database,
  kind: ResourceKind,
  id: string,
  owner: Owner & { keyId?: string },
  view: unknown,
  status: string | null,
  features: Partial<SessionFeatures> = {},
): D1PreparedStatement {
  const now = new Date().toISOString();
  return db
    .prepare(
      // `booked` 0: the ledger has no row of it yet (a trigger sets 1 if it has, or once it has).
      `INSERT INTO resources (kind, id, org_id, tenant_id, created_at, status, view, view_at, key_id, own_key,
         scheduled_tasks, booked)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (kind, id) DO NOTHING`,
    )
    .bind(
      kind,
      id.toLowerCase(),
      owner.orgId,
      owner.tenantId,
      now,
      status,
      storedView(view),
      now,
      owner.keyId ?? null,
      features.useOwnKey === true ? 1 : 0,
      features.enableScheduledTasks === true ? 1 : 0,
    );
}

/**
 * The account-wide features a session was created with, which upstream keeps for its follow-ups:
 * inference on the account's own LLM key, scheduled tasks. None of its views says so.
 */
export interface SessionFeatures {
  useOwnKey: boolean;
  enableScheduledTasks: boolean;
}

/** What a session was created with (see SessionFeatures); the gateway's record is the only place that knows. */
export async function sessionFeatures(db: D1Database, id: string): Promise<SessionFeatures> {
  const row = await db
    .prepare("SELECT own_key, scheduled_tasks FROM resources WHERE kind = 'session' AND id = ?")
    .bind(id.toLowerCase())
    .first<{ own_key: number; scheduled_tasks: number }>();
  return { useOwnKey: row?.own_key === 1, enableScheduledTasks: row?.scheduled_tasks === 1 };
}

/** The features a create's body asks for (see SessionFeatures). */
export function requestedFeatures(body: Record<string, unknown>): SessionFeatures {
  return { useOwnKey: body.useOwnKey === true, enableScheduledTasks: body.enableScheduledTasks === true };
}

/**
 * Marks a session or browser booked to no tenant as unclaimed: lost creates of several tenants
 * could have made it and none can be told apart (see reconciler/lost-creates.ts). 1: no one's,
 * so the reconciler stops it. 2: no one's or someone else's (its group held more objects than
 * creates, so some were made outside the gateway, and which cannot be told): left running. Only
 * while no tenant owns it: an object recorded as a tenant's meanwhile stays theirs.
 */
export function markUnclaimedStatement(
  db: D1Database,
  kind: ResourceKind,
  id: string,
  options: { othersAmong: boolean },
): D1PreparedStatement {
  return db
    .prepare("UPDATE resources SET unclaimed = ? WHERE kind = ? AND id = ? AND tenant_id = ''")
    .bind(options.othersAmong ? 2 : 1, kind, id.toLowerCase());
}

/** Stores a newer view of an owned resource; an older one (by `seenAt`) never overwrites a newer. */
export function updateViewStatement(
  db: D1Database,
  kind: ResourceKind,
  id: string,
  view: unknown,
  status: string | null,
  seenAt: string,
): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE resources SET view = ?, status = ?, view_at = ? WHERE kind = ? AND id = ? AND view_at <= ?",
    )
    .bind(storedView(view), status, seenAt, kind, id.toLowerCase(), seenAt);
}

/** Marks a resource deleted: upstream deleted it, or no longer knows it. */
export function markDeletedStatement(db: D1Database, kind: ResourceKind, id: string): D1PreparedStatement {
  return db
    .prepare("UPDATE resources SET deleted_at = ? WHERE kind = ? AND id = ? AND deleted_at IS NULL")
    .bind(new Date().toISOString(), kind, id.toLowerCase());
}

export interface ListPage {
  offset: number;
  limit: number;
  status?: string[];
  /** Profiles' `query`: name or userId contains it. */
  search?: string;
  /** Browsers' `metadata` filters, all of which must match. */
  metadata?: { key: string; value?: string }[];
}

/** One page of a tenant's resources of a kind, newest first, and the tenant's total of that kind. */
export async function listOwned(
  db: D1Database,
  kind: ResourceKind,
  tenantId: string,
  page: ListPage,
): Promise<{ items: OwnedResource[]; total: number }> {
  const filters: string[] = [];
  const args: unknown[] = [tenantId, kind];
  if (page.status) {
    filters.push(`AND status IN (${page.status.map(() => "?").join(", ")})`);
    args.push(...page.status);
  }
  for (const { key, value } of page.metadata ?? []) {
    // Browsers' `metadata` filter: the key present, or present with that value. Keys are compared
    // as values, never spliced into a JSON path, so any text a client sends is only text.
    filters.push(
      `AND EXISTS (SELECT 1 FROM json_each(view, '$.metadata') m WHERE m.key = ? AND (? IS NULL OR m.value = ?))`,
    );
    args.push(key, value ?? null, value ?? null);
  }
  if (page.search) {
    // Profiles' `query`: a case-insensitive match on name or userId, as upstream searches.
    filters.push(`AND (instr(lower(coalesce(json_extract(view, '$.name'), '')), lower(?)) > 0
      OR instr(lower(coalesce(json_extract(view, '$.userId'), '')), lower(?)) > 0)`);
    args.push(page.search, page.search);
  }
  const where = `WHERE tenant_id = ? AND kind = ? AND deleted_at IS NULL ${filters.join(" ")}`;
  // The total rides on every row, counted by a subquery on the index alone: one statement. (Not a
  // window, `count(*) OVER ()`: SQLite then reads and sorts every row of the tenant's, views and
  // all, before LIMIT applies; 145 ms a page at 20,000 sessions, against 1 ms.) Only a page past
  // the end has no row to carry it, and asks for it alone.
  const { results } = await db
    .prepare(
      `SELECT kind, id, status, view, view_at, (SELECT count(*) FROM resources ${where}) AS total
       FROM resources ${where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
    )
    .bind(...args, ...args, page.limit, page.offset)
    .all<ResourceRow & { total: number }>();
  const total =
    results[0]?.total ??
    (page.offset === 0
      ? 0
      : ((await db
          .prepare(`SELECT count(*) AS total FROM resources ${where}`)
          .bind(...args)
          .first<number>("total")) ?? 0));
  return { items: results.map(toResource), total };
}

/** How many of a tenant's sessions and browsers were last seen active (running, idle, created). */
export async function countActive(db: D1Database, tenantId: string): Promise<number> {
  return (await countActiveStatement(db, tenantId).first<number>("n")) ?? 0;
}

/** countActive's query, for a batch with others: one row, `n`. */
export function countActiveStatement(db: D1Database, tenantId: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT count(*) AS n FROM resources
       WHERE tenant_id = ? AND deleted_at IS NULL
         AND ${liveResource()}`,
    )
    .bind(tenantId);
}

/** Up to `limit` of the live sessions and browsers of an org or a tenant (for a kill switch). */
export async function listLive(
  db: D1Database,
  owner: { column: "org_id" | "tenant_id"; id: string },
  limit: number,
): Promise<{ kind: "session" | "browser"; id: string; orgId: string; tenantId: string }[]> {
  const { results } = await db
    .prepare(
      `SELECT kind, id, org_id, tenant_id FROM resources WHERE ${owner.column} = ? AND deleted_at IS NULL
         AND ${liveResource()}
       LIMIT ?`,
    )
    .bind(owner.id, limit)
    .all<{ kind: "session" | "browser"; id: string; org_id: string; tenant_id: string }>();
  return results.map((r) => ({ kind: r.kind, id: r.id, orgId: r.org_id, tenantId: r.tenant_id }));
}

/** A live session or browser as the dashboard lists it: the gateway's last view of it. */
export interface LiveItem {
  kind: "session" | "browser";
  id: string;
  orgId: string;
  tenantId: string;
  status: string;
  createdAt: string;
  /** When the gateway last saw it from upstream (a response, a webhook or the reconciler). */
  viewAt: string;
  liveUrl: string | null;
  /** What the ledger has booked for it so far, micro-USD. */
  costMicros: number;
}

/**
 * The live sessions and browsers (as countActive counts them) of every tenant, of an org or of one
 * tenant, newest first, at most `limit`, with what the ledger booked for each.
 */
export async function listLiveItems(
  db: D1Database,
  filter: { orgId?: string; tenantId?: string },
  limit: number,
): Promise<LiveItem[]> {
  // Only the filters given are in the query, so the live rows are one index's ranges: of the
  // tenant's, the org's, or the deployment's (resources_live); never every row ever recorded.
  const where: string[] = [];
  const binds: unknown[] = [];
  for (const [column, value] of [
    ["r.org_id", filter.orgId],
    ["r.tenant_id", filter.tenantId],
  ] as const) {
    if (value === undefined || value === null) continue;
    where.push(`AND ${column} = ?`);
    binds.push(value);
  }
  const { results } = await db
    .prepare(
      `SELECT r.kind, r.id, r.org_id, r.tenant_id, r.status, r.created_at, r.view_at,
         r.view ->> '$.liveUrl' AS live_url, CAST(coalesce(u.total_cost_micros, 0) AS INTEGER) AS cost
       FROM resources r LEFT JOIN usage u ON u.kind = r.kind AND u.id = r.id
       WHERE r.deleted_at IS NULL ${where.join(" ")} AND ${liveResource("r.")}
       ORDER BY r.created_at DESC, r.id DESC LIMIT ?`,
    )
    .bind(...binds, limit)
    .all<{
      kind: "session" | "browser";
      id: string;
      org_id: string;
      tenant_id: string;
      status: string;
      created_at: string;
      view_at: string;
      live_url: string | null;
      cost: number;
    }>();
  return results.map((r) => ({
    kind: r.kind,
    id: r.id,
    orgId: r.org_id,
    tenantId: r.tenant_id,
    status: r.status,
    createdAt: r.created_at,
    viewAt: r.view_at,
    liveUrl: r.live_url,
    costMicros: r.cost,
  }));
}
