import { randomBase62, sha256Hex } from "../lib/crypto";

/** Gateway keys look like `bugw_<40 base62 chars>` (~238 bits); the prefix makes them easy to spot in a leak scan. */
export const KEY_PREFIX = "bugw_";
const KEY_BODY_LENGTH = 40;
const VISIBLE_PREFIX_LENGTH = KEY_PREFIX.length + 8;
export const KEY_PATTERN = /^bugw_[0-9A-Za-z]{40}$/;

export interface IssuedKey {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  /** The key itself: returned once, never stored. */
  key: string;
  createdAt: string;
}

/** What a valid key resolves to. */
export interface KeyOwner {
  keyId: string;
  tenantId: string;
  orgId: string;
}

/** Issues a key for an existing tenant; null when the tenant does not exist. */
export async function issueKey(db: D1Database, tenantId: string, name: string): Promise<IssuedKey | null> {
  const key = KEY_PREFIX + randomBase62(KEY_BODY_LENGTH);
  const id = crypto.randomUUID();
  const prefix = key.slice(0, VISIBLE_PREFIX_LENGTH);
  const createdAt = new Date().toISOString();
  const row = await db
    .prepare(
      `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at)
       SELECT ?, id, ?, ?, ?, ? FROM tenants WHERE id = ? RETURNING id`,
    )
    .bind(id, name, prefix, await sha256Hex(key), createdAt, tenantId)
    .first<{ id: string }>();
  return row ? { id, tenantId, name, prefix, key, createdAt } : null;
}

/** The owner of an active key, looked up by the key's hash. */
export async function findKeyOwner(db: D1Database, keyHash: string): Promise<KeyOwner | null> {
  const row = await db
    .prepare(
      `SELECT k.id AS key_id, k.tenant_id, t.org_id
       FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
       WHERE k.key_hash = ? AND k.revoked_at IS NULL`,
    )
    .bind(keyHash)
    .first<{ key_id: string; tenant_id: string; org_id: string }>();
  return row ? { keyId: row.key_id, tenantId: row.tenant_id, orgId: row.org_id } : null;
}

/** Revokes a key; returns its hash (so caches can drop it), or null when there was no such active key. */
export async function revokeKey(db: D1Database, keyId: string): Promise<string | null> {
  const row = await db
    .prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING key_hash")
    .bind(new Date().toISOString(), keyId)
    .first<{ key_hash: string }>();
  return row?.key_hash ?? null;
}
