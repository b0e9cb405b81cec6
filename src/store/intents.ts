import { onAccountSql } from "./upstreams";
import type { Owner } from "./resources";

/** A profile or workspace create that was sent upstream and not yet recorded. */
export interface CreateIntent extends Owner {
  id: string;
  kind: "profile" | "workspace";
  fingerprint: string;
  createdAt: string;
}

/**
 * Notes a create about to be sent; its id is what forgetIntentStatement removes. Reads, in the same
 * transaction, when the org's own account was set (null: the deployment's), so the create can go
 * to the account the org is on now however stale this isolate's memory of it is.
 */
export async function recordIntent(
  db: D1Database,
  intent: CreateIntent,
): Promise<{ accountSetAt: string | null }> {
  const [, account] = await db.batch([
    db
      .prepare(
        "INSERT INTO create_intents (id, kind, org_id, tenant_id, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .bind(intent.id, intent.kind, intent.orgId, intent.tenantId, intent.fingerprint, intent.createdAt),
    db.prepare("SELECT updated_at FROM org_upstreams WHERE org_id = ?").bind(intent.orgId),
  ]);
  const row = account?.results[0] as { updated_at: string } | undefined;
  return { accountSetAt: row?.updated_at ?? null };
}

export function forgetIntentStatement(db: D1Database, id: string): D1PreparedStatement {
  return db.prepare("DELETE FROM create_intents WHERE id = ?").bind(id);
}

/** Intents older than `before` (their create's answer is long due), of one org if given, oldest first. */
export function listStaleIntents(db: D1Database, before: string, orgId?: string): Promise<CreateIntent[]> {
  return listIntents(db, { before }, orgId);
}

/** Intents made since `since`: creates still on their way, or lost too recently to be looked for. */
export function listInFlightIntents(db: D1Database, since: string, orgId?: string): Promise<CreateIntent[]> {
  return listIntents(db, { since }, orgId);
}

async function listIntents(
  db: D1Database,
  range: { before?: string; since?: string },
  orgId?: string,
): Promise<CreateIntent[]> {
  const { results } = await db
    .prepare(
      `SELECT id, kind, org_id, tenant_id, fingerprint, created_at FROM create_intents
       WHERE (?1 IS NULL OR created_at < ?1) AND (?3 IS NULL OR created_at >= ?3)
         AND ${onAccountSql("org_id", "?2")} ORDER BY created_at`,
    )
    .bind(range.before ?? null, orgId ?? null, range.since ?? null)
    .all<{
      id: string;
      kind: "profile" | "workspace";
      org_id: string;
      tenant_id: string;
      fingerprint: string;
      created_at: string;
    }>();
  return results.map((r) => ({
    id: r.id,
    kind: r.kind,
    orgId: r.org_id,
    tenantId: r.tenant_id,
    fingerprint: r.fingerprint,
    createdAt: r.created_at,
  }));
}
