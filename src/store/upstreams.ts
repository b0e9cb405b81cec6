import { unattachedHoldOf } from "./budgets";
import { liveResource } from "./resources";

/** An org's own Browser Use account as stored: sealed, never in the clear (see upstream/accounts.ts). */
export interface SealedUpstream {
  orgId: string;
  apiKeySealed: string;
  webhookSecretSealed: string | null;
}

interface UpstreamRow {
  org_id: string;
  api_key_sealed: string;
  webhook_secret_sealed: string | null;
}

const toSealed = (row: UpstreamRow): SealedUpstream => ({
  orgId: row.org_id,
  apiKeySealed: row.api_key_sealed,
  webhookSecretSealed: row.webhook_secret_sealed,
});

/**
 * An org's account as stored, and when it was last set: what an admission reads in the same
 * transaction as its hold (`org_upstreams.updated_at`), to tell whether the org moved since.
 */
export async function findOrgUpstream(
  db: D1Database,
  orgId: string,
): Promise<(SealedUpstream & { setAt: string }) | null> {
  const row = await db
    .prepare(
      "SELECT org_id, api_key_sealed, webhook_secret_sealed, updated_at FROM org_upstreams WHERE org_id = ?",
    )
    .bind(orgId)
    .first<UpstreamRow & { updated_at: string }>();
  return row ? { ...toSealed(row), setAt: row.updated_at } : null;
}

/**
 * What a move's write did. `busy`: the move was to be made only while nothing of the org could be
 * lost, and something could: a session or browser live, or a create in flight or whose answer was
 * lost (an open hold tied to no object).
 */
export type MoveOutcome = "moved" | "busy" | "no_org" | "unchanged";

/**
 * SQL: nothing of the org bound at ?1 could be lost by moving it to another account: no session
 * or browser live, no open hold tied to no object. Read in the same transaction as the move, so
 * no create can take its hold, or make its object, between a check and the write.
 */
const NOTHING_TO_LOSE = `NOT EXISTS (${unattachedHoldOf("?1")})
  AND NOT EXISTS (SELECT 1 FROM resources WHERE org_id = ?1 AND deleted_at IS NULL AND ${liveResource()})`;

/**
 * Sets (or replaces) an org's account, with its audit entry in the same transaction (written
 * only if the account was). `whenNothingToLose`: only while nothing of the org could be lost
 * (another account's, or one not known to be the same).
 */
export async function putOrgUpstream(
  db: D1Database,
  sealed: SealedUpstream,
  audit: D1PreparedStatement,
  options: { whenNothingToLose: boolean },
): Promise<MoveOutcome> {
  const now = new Date().toISOString();
  const upsert = db
    .prepare(
      `INSERT INTO org_upstreams (org_id, api_key_sealed, webhook_secret_sealed, created_at, updated_at)
       SELECT id, ?2, ?3, ?4, ?4 FROM orgs
       WHERE id = ?1 AND deleted_at IS NULL AND (?5 = 0 OR (${NOTHING_TO_LOSE}))
       ON CONFLICT (org_id) DO UPDATE SET api_key_sealed = excluded.api_key_sealed,
         webhook_secret_sealed = excluded.webhook_secret_sealed, updated_at = excluded.updated_at
       RETURNING org_id`,
    )
    .bind(
      sealed.orgId,
      sealed.apiKeySealed,
      sealed.webhookSecretSealed,
      now,
      options.whenNothingToLose ? 1 : 0,
    );
  const [put, , why] = await db.batch([
    upsert,
    audit,
    db
      .prepare("SELECT EXISTS (SELECT 1 FROM orgs WHERE id = ? AND deleted_at IS NULL) AS org")
      .bind(sealed.orgId),
  ]);
  if ((put?.results.length ?? 0) > 0) return "moved";
  return (why?.results[0] as { org: number } | undefined)?.org ? "busy" : "no_org";
}

/**
 * Returns an org to the deployment's account, with its audit entry (written only if it was);
 * `unchanged` when it had no account of its own. `whenNothingToLose` as for putOrgUpstream.
 */
export async function deleteOrgUpstream(
  db: D1Database,
  orgId: string,
  audit: D1PreparedStatement,
  options: { whenNothingToLose: boolean },
): Promise<MoveOutcome> {
  const [deleted, , left] = await db.batch([
    db
      .prepare(`DELETE FROM org_upstreams WHERE org_id = ?1 AND (?2 = 0 OR (${NOTHING_TO_LOSE}))`)
      .bind(orgId, options.whenNothingToLose ? 1 : 0),
    audit,
    db.prepare("SELECT EXISTS (SELECT 1 FROM org_upstreams WHERE org_id = ?) AS own").bind(orgId),
  ]);
  if ((deleted?.meta.changes ?? 0) > 0) return "moved";
  return (left?.results[0] as { own: number } | undefined)?.own ? "busy" : "unchanged";
}

/** Up to `limit` orgs with accounts of their own, those the reconciler visited longest ago first. */
export async function listOrgUpstreams(
  db: D1Database,
  limit: number,
): Promise<(SealedUpstream & { setAt: string })[]> {
  const { results } = await db
    .prepare(
      `SELECT org_id, api_key_sealed, webhook_secret_sealed, updated_at FROM org_upstreams
       ORDER BY coalesce(reconciled_at, '') ASC, org_id LIMIT ?`,
    )
    .bind(limit)
    .all<UpstreamRow & { updated_at: string }>();
  return results.map((row) => ({ ...toSealed(row), setAt: row.updated_at }));
}

export async function markUpstreamReconciled(db: D1Database, orgId: string, at: string): Promise<void> {
  await db.prepare("UPDATE org_upstreams SET reconciled_at = ? WHERE org_id = ?").bind(at, orgId).run();
}

/**
 * SQL true for rows of the orgs on one upstream account: the org in parameter `param` when it is
 * set, else every org on the deployment's account (those with no account of their own, and the
 * unattributed, org ''). `column` is fixed text, never input.
 */
export function onAccountSql(column: string, param: string): string {
  return `(CASE WHEN ${param} IS NULL THEN ${column} NOT IN (SELECT org_id FROM org_upstreams) ELSE ${column} = ${param} END)`;
}
