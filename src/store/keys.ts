import { randomBase62, sha256Hex } from "../lib/crypto";

/** Gateway keys look like `bugw_<40 base62 chars>` (~238 bits); the prefix makes them easy to spot in a leak scan. */
export const KEY_PREFIX = "bugw_";
const KEY_BODY_LENGTH = 40;
const VISIBLE_PREFIX_LENGTH = KEY_PREFIX.length + 8;
export const KEY_PATTERN = /^bugw_[0-9A-Za-z]{40}$/;

/** What a key may do: everything, or only read. */
export type KeyScope = "full" | "read-only";

/** A key as the admin API lists it: never the key or its hash. */
export interface KeyInfo {
  id: string;
  tenantId: string;
  prefix: string;
  name: string;
  scope: KeyScope;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface IssuedKey extends KeyInfo {
  /** The key itself: returned once, never stored. */
  key: string;
}

/** What a key that is not revoked resolves to, with what decides whether it may be used now. */
export interface KeyOwner {
  keyId: string;
  tenantId: string;
  orgId: string;
  scope: KeyScope;
  expiresAt: string | null;
  /** The key's tenant or org is suspended: 403 `suspended`. */
  suspended: boolean;
  /** The key's tenant or org is deleted: the key is as good as unknown. */
  deleted: boolean;
}

interface KeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  scope: KeyScope;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

const toInfo = (row: KeyRow): KeyInfo => ({
  id: row.id,
  tenantId: row.tenant_id,
  prefix: row.prefix,
  name: row.name,
  scope: row.scope,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

/** Issues a key for an existing tenant that is not deleted; null when there is none. */
export async function issueKey(
  db: D1Database,
  tenantId: string,
  fields: { name: string; scope: KeyScope; expiresAt: string | null },
): Promise<IssuedKey | null> {
  const key = KEY_PREFIX + randomBase62(KEY_BODY_LENGTH);
  const row = await db
    .prepare(
      `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at, scope, expires_at)
       SELECT ?, id, ?, ?, ?, ?, ?, ? FROM tenants WHERE id = ? AND deleted_at IS NULL RETURNING *`,
    )
    .bind(
      crypto.randomUUID(),
      fields.name,
      key.slice(0, VISIBLE_PREFIX_LENGTH),
      await sha256Hex(key),
      new Date().toISOString(),
      fields.scope,
      fields.expiresAt,
      tenantId,
    )
    .first<KeyRow>();
  return row ? { ...toInfo(row), key } : null;
}

/** The owner of a key that is not revoked, looked up by the key's hash. */
export async function findKeyOwner(db: D1Database, keyHash: string): Promise<KeyOwner | null> {
  const row = await db
    .prepare(
      `SELECT k.id AS key_id, k.tenant_id, t.org_id, k.scope, k.expires_at,
         (t.suspended_at IS NOT NULL OR o.suspended_at IS NOT NULL) AS suspended,
         (t.deleted_at IS NOT NULL OR o.deleted_at IS NOT NULL) AS deleted
       FROM api_keys k JOIN tenants t ON t.id = k.tenant_id JOIN orgs o ON o.id = t.org_id
       WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
    )
    .bind(keyHash)
    .first<{
      key_id: string;
      tenant_id: string;
      org_id: string;
      scope: KeyScope;
      expires_at: string | null;
      suspended: number;
      deleted: number;
    }>();
  return row
    ? {
        keyId: row.key_id,
        tenantId: row.tenant_id,
        orgId: row.org_id,
        scope: row.scope,
        expiresAt: row.expires_at,
        suspended: row.suspended === 1,
        deleted: row.deleted === 1,
      }
    : null;
}

/** A tenant's keys, newest first. */
export async function listKeys(db: D1Database, tenantId: string): Promise<KeyInfo[]> {
  const { results } = await db
    .prepare("SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at DESC, id DESC")
    .bind(tenantId)
    .all<KeyRow>();
  return results.map(toInfo);
}

/** Revokes a key; returns its hash (so caches can drop it), or null when there was no such active key. */
export async function revokeKey(db: D1Database, keyId: string): Promise<string | null> {
  const row = await db
    .prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING key_hash")
    .bind(new Date().toISOString(), keyId)
    .first<{ key_hash: string }>();
  return row?.key_hash ?? null;
}

/**
 * Rotates a key: a new key with the same tenant, name and scope (and no expiry), and the old one
 * expiring when the grace ends (or sooner, if it was to expire anyway). Null when the key is
 * unknown, revoked or already expired. Returns the old key's hash too, so caches can drop it.
 */
export async function rotateKey(
  db: D1Database,
  keyId: string,
  graceSeconds: number,
  now = new Date(),
): Promise<{ issued: IssuedKey; oldHash: string } | null> {
  const until = new Date(now.getTime() + graceSeconds * 1000).toISOString();
  const old = await db
    .prepare(
      `UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?1 THEN ?1 ELSE expires_at END
       WHERE id = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)
       RETURNING tenant_id, name, scope, key_hash`,
    )
    .bind(until, keyId, now.toISOString())
    .first<{ tenant_id: string; name: string; scope: KeyScope; key_hash: string }>();
  if (!old) return null;
  const issued = await issueKey(db, old.tenant_id, { name: old.name, scope: old.scope, expiresAt: null });
  return issued ? { issued, oldHash: old.key_hash } : null;
}

/** Notes that a key was used now, unless that was noted in the last minute. */
export function touchKeyStatement(db: D1Database, keyId: string, now = new Date()): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)",
    )
    .bind(now.toISOString(), keyId, new Date(now.getTime() - 60_000).toISOString());
}
