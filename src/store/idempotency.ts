/** How long a key is remembered. */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export type Claim =
  | { claimed: true }
  | { claimed: false; requestHash: string; state: "pending" | "unknown" }
  | {
      claimed: false;
      requestHash: string;
      state: "done";
      status: number;
      body: string;
      applied: string | null;
    };

interface Row {
  request_hash: string;
  claim_token: string;
  state: "pending" | "done" | "unknown";
  status: number | null;
  body: string | null;
  applied: string | null;
}

/**
 * Claims a tenant's idempotency key for a request, in one transaction: a key older than the TTL is
 * forgotten first, and so is one whose outcome was unknown once its hold has been released (the
 * reconciler found nothing upstream made of it: see markUnknown); then either this request claims
 * it, or the earlier request's row is returned.
 */
export async function claimKey(
  db: D1Database,
  tenantId: string,
  key: string,
  requestHash: string,
): Promise<Claim> {
  const now = new Date();
  const token = crypto.randomUUID();
  const [, , select] = await db.batch([
    db
      .prepare(
        `DELETE FROM idempotency_keys WHERE tenant_id = ?1 AND key = ?2 AND (created_at < ?3
           OR (state = 'unknown' AND EXISTS (SELECT 1 FROM holds h WHERE h.id = idempotency_keys.hold_id
             AND h.state = 'released' AND h.slot_only = 0)))`,
      )
      .bind(tenantId, key, new Date(now.getTime() - IDEMPOTENCY_TTL_MS).toISOString()),
    db
      .prepare(
        `INSERT INTO idempotency_keys (tenant_id, key, request_hash, claim_token, state, created_at)
         VALUES (?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING`,
      )
      .bind(tenantId, key, requestHash, token, now.toISOString()),
    db.prepare("SELECT * FROM idempotency_keys WHERE tenant_id = ? AND key = ?").bind(tenantId, key),
  ]);
  const row = select?.results?.[0] as Row | undefined;
  if (!row) throw new Error("idempotency key vanished during its claim");
  if (row.claim_token === token) return { claimed: true };
  if (row.state === "done") {
    return {
      claimed: false,
      requestHash: row.request_hash,
      state: "done",
      status: row.status ?? 500,
      body: row.body ?? "",
      applied: row.applied,
    };
  }
  return { claimed: false, requestHash: row.request_hash, state: row.state };
}

/** Stores the answer of the request that claimed the key. */
export async function completeKey(
  db: D1Database,
  tenantId: string,
  key: string,
  answer: { status: number; body: string; applied: string | null },
): Promise<void> {
  await db
    .prepare(
      `UPDATE idempotency_keys SET state = 'done', status = ?, body = ?, applied = ?
       WHERE tenant_id = ? AND key = ? AND state = 'pending'`,
    )
    .bind(answer.status, answer.body, answer.applied, tenantId, key)
    .run();
}

/**
 * Marks a key whose request's outcome upstream is unknown (its answer was lost), with the hold it
 * was sent under. A retry is refused while that hold may have made something. Once the reconciler
 * releases it, upstream made nothing and the key is free again (claimKey). A slot-only hold (a
 * session without a task) is released when its session is found as well, so its key stays taken.
 */
export async function markUnknown(
  db: D1Database,
  tenantId: string,
  key: string,
  holdId: string,
): Promise<void> {
  await db
    .prepare(
      "UPDATE idempotency_keys SET state = 'unknown', hold_id = ? WHERE tenant_id = ? AND key = ? AND state = 'pending'",
    )
    .bind(holdId, tenantId, key)
    .run();
}

/** Frees a key whose request certainly did nothing, so a retry may run. */
export async function releaseKey(db: D1Database, tenantId: string, key: string): Promise<void> {
  await db
    .prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND state = 'pending'")
    .bind(tenantId, key)
    .run();
}
