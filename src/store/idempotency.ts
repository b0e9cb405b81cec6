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
 * forgotten first; then either this request claims it, or the earlier request's row is returned.
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
      .prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND created_at < ?")
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

/** Marks a key whose request's outcome upstream is unknown (its answer was lost). */
export async function markUnknown(db: D1Database, tenantId: string, key: string): Promise<void> {
  await db
    .prepare(
      "UPDATE idempotency_keys SET state = 'unknown' WHERE tenant_id = ? AND key = ? AND state = 'pending'",
    )
    .bind(tenantId, key)
    .run();
}

/** Frees a key whose request certainly did nothing, so a retry may run. */
export async function releaseKey(db: D1Database, tenantId: string, key: string): Promise<void> {
  await db
    .prepare("DELETE FROM idempotency_keys WHERE tenant_id = ? AND key = ? AND state = 'pending'")
    .bind(tenantId, key)
    .run();
}
