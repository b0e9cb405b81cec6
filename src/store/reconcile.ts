import type { Owner, ResourceKind } from "./resources";

export interface Watched extends Owner {
  kind: "session" | "browser";
  id: string;
}

/**
 * Sessions and browsers the reconciler should ask upstream about: those not yet final and those
 * whose hold is still open, least recently seen first.
 */
export async function listWatched(db: D1Database, limit: number): Promise<Watched[]> {
  const { results } = await db
    .prepare(
      `SELECT r.kind, r.id, r.org_id, r.tenant_id FROM resources r
       WHERE r.deleted_at IS NULL AND r.kind IN ('session', 'browser') AND (
         (r.kind = 'session' AND r.status IN ('created', 'idle', 'running'))
         OR (r.kind = 'browser' AND r.status = 'active')
         OR EXISTS (SELECT 1 FROM holds h WHERE h.kind = r.kind AND h.resource_id = r.id AND h.state = 'open'))
       ORDER BY r.view_at ASC LIMIT ?`,
    )
    .bind(limit)
    .all<{ kind: "session" | "browser"; id: string; org_id: string; tenant_id: string }>();
  return results.map((r) => ({ kind: r.kind, id: r.id, orgId: r.org_id, tenantId: r.tenant_id }));
}

export interface OrphanHold extends Owner {
  id: string;
  kind: "session" | "browser";
  amountMicros: number;
  slotOnly: boolean;
  createdAt: string;
}

/** Open holds whose create never told us what upstream made, older than `before`. */
export async function listOrphanHolds(db: D1Database, before: string): Promise<OrphanHold[]> {
  const { results } = await db
    .prepare(
      `SELECT id, kind, org_id, tenant_id, amount_micros, slot_only, created_at FROM holds
       WHERE state = 'open' AND resource_id IS NULL AND created_at < ? ORDER BY created_at`,
    )
    .bind(before)
    .all<{
      id: string;
      kind: "session" | "browser";
      org_id: string;
      tenant_id: string;
      amount_micros: number;
      slot_only: number;
      created_at: string;
    }>();
  return results.map((r) => ({
    id: r.id,
    kind: r.kind,
    orgId: r.org_id,
    tenantId: r.tenant_id,
    amountMicros: r.amount_micros,
    slotOnly: r.slot_only === 1,
    createdAt: r.created_at,
  }));
}

/** Which of `ids` the gateway has never recorded (deleted ones count as recorded). */
export async function unknownIds(db: D1Database, kind: ResourceKind, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const lower = ids.map((id) => id.toLowerCase());
  const { results } = await db
    .prepare(`SELECT id FROM resources WHERE kind = ? AND id IN (${lower.map(() => "?").join(", ")})`)
    .bind(kind, ...lower)
    .all<{ id: string }>();
  const known = new Set(results.map((r) => r.id));
  return lower.filter((id) => !known.has(id));
}
