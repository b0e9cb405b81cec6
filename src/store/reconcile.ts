import { onAccountSql } from "./upstreams";
import { liveResource, type Owner, type ResourceKind, type SessionFeatures } from "./resources";

export interface Watched extends Owner {
  kind: "session" | "browser";
  id: string;
  /** Its tenant or org is suspended as a kill switch: anything of it still live is stopped. */
  suspended: boolean;
  /** Booked to no tenant because several tenants' lost creates made it (unclaimed = 1): stopped while live. */
  unclaimed: boolean;
}

/**
 * Sessions and browsers the reconciler should ask upstream about: those not yet final, those
 * whose hold is still open (even if deleted: the hold must still be settled), and those recorded
 * but never booked (a booking that failed after the record, however final the object is), least
 * recently checked first. Each of the three is read from an index of its own (resources_live,
 * holds_open, resources_unbooked): the pass runs every minute, and a scan of every session and
 * browser ever recorded, looking up each one's hold and ledger row, grew with every tenant's history.
 */
export async function listWatched(db: D1Database, limit: number, orgId?: string): Promise<Watched[]> {
  const { results } = await db
    .prepare(
      `SELECT r.kind, r.id, r.org_id, r.tenant_id,
         (t.suspension_stops = 1 OR o.suspension_stops = 1) AS suspended, r.unclaimed
       FROM resources r LEFT JOIN tenants t ON t.id = r.tenant_id LEFT JOIN orgs o ON o.id = r.org_id
       WHERE r.rowid IN (
           SELECT rowid FROM resources WHERE deleted_at IS NULL AND ${liveResource()}
           UNION ALL SELECT w.rowid FROM holds h JOIN resources w ON w.kind = h.kind AND w.id = h.resource_id
             WHERE h.state = 'open' AND h.resource_id IS NOT NULL
           UNION ALL SELECT rowid FROM resources
             WHERE booked = 0 AND deleted_at IS NULL AND kind IN ('session', 'browser'))
         AND ${onAccountSql("r.org_id", "?2")}
       ORDER BY coalesce(r.checked_at, '') ASC, r.view_at ASC LIMIT ?1`,
    )
    .bind(limit, orgId ?? null)
    .all<{
      kind: "session" | "browser";
      id: string;
      org_id: string;
      tenant_id: string;
      suspended: number;
      unclaimed: number;
    }>();
  return results.map((r) => ({
    kind: r.kind,
    id: r.id,
    orgId: r.org_id,
    tenantId: r.tenant_id,
    suspended: r.suspended === 1,
    unclaimed: r.unclaimed === 1,
  }));
}

export interface OrphanHold extends Owner {
  id: string;
  orgPeriod: string;
  tenantPeriod: string;
  kind: "session" | "browser";
  amountMicros: number;
  tagMicros: number;
  /** What the create sent that upstream echoes (KindSpec.requestPrint); null for older holds. */
  fingerprint: string | null;
  slotOnly: boolean;
  /** What the create was sent with that its session keeps: what it made is recorded so. */
  features: SessionFeatures;
  createdAt: string;
}

/** Notes that the reconciler asked upstream about these objects now. */
export async function markChecked(db: D1Database, items: Watched[], at: string): Promise<void> {
  if (items.length === 0) return;
  await db
    .prepare(
      `UPDATE resources SET checked_at = ?
       WHERE (kind, id) IN (SELECT value ->> '$.kind', value ->> '$.id' FROM json_each(?))`,
    )
    .bind(at, JSON.stringify(items.map(({ kind, id }) => ({ kind, id }))))
    .run();
}

/** Open holds whose create never told us what upstream made, older than `before` (of one org, if given). */
export function listOrphanHolds(db: D1Database, before: string, orgId?: string): Promise<OrphanHold[]> {
  return listUnattachedHolds(db, { before }, orgId);
}

/**
 * Open holds not yet tied to an object, made since `since`: creates still on their way, or lost
 * too recently to be looked for. Their objects may be listed already (upstream's clock may run
 * behind the gateway's), and must not be taken for anyone else's meanwhile.
 */
export function listInFlightHolds(db: D1Database, since: string, orgId?: string): Promise<OrphanHold[]> {
  return listUnattachedHolds(db, { since }, orgId);
}

async function listUnattachedHolds(
  db: D1Database,
  range: { before?: string; since?: string },
  orgId?: string,
): Promise<OrphanHold[]> {
  const { results } = await db
    .prepare(
      `SELECT id, kind, org_id, tenant_id, org_period, tenant_period, amount_micros, ceiling_tag, fingerprint,
         slot_only, own_key, scheduled_tasks, created_at FROM holds
       WHERE state = 'open' AND resource_id IS NULL AND (?1 IS NULL OR created_at < ?1)
         AND (?3 IS NULL OR created_at >= ?3) AND ${onAccountSql("org_id", "?2")}
       ORDER BY created_at`,
    )
    .bind(range.before ?? null, orgId ?? null, range.since ?? null)
    .all<{
      id: string;
      kind: "session" | "browser";
      org_id: string;
      tenant_id: string;
      org_period: string;
      tenant_period: string;
      amount_micros: number;
      ceiling_tag: number;
      fingerprint: string | null;
      slot_only: number;
      own_key: number;
      scheduled_tasks: number;
      created_at: string;
    }>();
  return results.map((r) => ({
    id: r.id,
    kind: r.kind,
    orgId: r.org_id,
    tenantId: r.tenant_id,
    orgPeriod: r.org_period,
    tenantPeriod: r.tenant_period,
    amountMicros: r.amount_micros,
    tagMicros: r.ceiling_tag,
    fingerprint: r.fingerprint,
    slotOnly: r.slot_only === 1,
    features: { useOwnKey: r.own_key === 1, enableScheduledTasks: r.scheduled_tasks === 1 },
    createdAt: r.created_at,
  }));
}

/** Which of `ids` the gateway has never recorded (deleted ones count as recorded). */
export async function unknownIds(db: D1Database, kind: ResourceKind, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const lower = ids.map((id) => id.toLowerCase());
  // One JSON parameter, not one per id: D1 takes at most 100 bound parameters a query.
  const { results } = await db
    .prepare("SELECT id FROM resources WHERE kind = ? AND id IN (SELECT value FROM json_each(?))")
    .bind(kind, JSON.stringify(lower))
    .all<{ id: string }>();
  const known = new Set(results.map((r) => r.id));
  return lower.filter((id) => !known.has(id));
}
