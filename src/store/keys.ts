import { randomBase62, sha256Hex } from "../lib/crypto";
import type { AuditOf } from "./audit";
import { type Page, tenantPageWith } from "./orgs";

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

/**
 * A new key of a tenant, and the statement that stores it (by its hash) if the tenant is not
 * deleted and, with `onlyAfterAChange`, if the statement before it in its batch changed a row
 * (a rotation's shortening of the old key).
 */
async function newKey(
  db: D1Database,
  tenantId: string,
  fields: { name: string; scope: KeyScope; expiresAt: string | null },
  now: Date,
  onlyAfterAChange = false,
): Promise<{ issued: IssuedKey; insert: D1PreparedStatement }> {
  const key = KEY_PREFIX + randomBase62(KEY_BODY_LENGTH);
  const info: KeyInfo = {
    id: crypto.randomUUID(),
    tenantId,
    prefix: key.slice(0, VISIBLE_PREFIX_LENGTH),
    name: fields.name,
    scope: fields.scope,
    createdAt: now.toISOString(),
    lastUsedAt: null,
    expiresAt: fields.expiresAt,
    revokedAt: null,
  };
  const insert = db
    .prepare(
      `INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, created_at, scope, expires_at)
       SELECT ?, id, ?, ?, ?, ?, ?, ? FROM tenants WHERE id = ? AND deleted_at IS NULL
       ${onlyAfterAChange ? "AND changes() > 0" : ""}`,
    )
    .bind(
      info.id,
      info.name,
      info.prefix,
      await sha256Hex(key),
      info.createdAt,
      info.scope,
      info.expiresAt,
      tenantId,
    );
  return { issued: { ...info, key }, insert };
}

/**
 * Issues a key for an existing tenant that is not deleted (null when there is none), with its
 * audit entry, which is given the key's info: never the key.
 */
export async function issueKey(
  db: D1Database,
  tenantId: string,
  fields: { name: string; scope: KeyScope; expiresAt: string | null },
  audit: AuditOf<KeyInfo>,
): Promise<IssuedKey | null> {
  const { issued, insert } = await newKey(db, tenantId, fields, new Date());
  const { key: _, ...info } = issued;
  const [res] = await db.batch([insert, audit(info)]);
  return (res?.meta.changes ?? 0) > 0 ? issued : null;
}

/** A key (revoked, expired or not) and its tenant's org; never the key or its hash. */
export async function getKey(db: D1Database, keyId: string): Promise<(KeyInfo & { orgId: string }) | null> {
  const row = await db
    .prepare("SELECT k.*, t.org_id FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE k.id = ?")
    .bind(keyId)
    .first<KeyRow & { org_id: string }>();
  return row ? { ...toInfo(row), orgId: row.org_id } : null;
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

/**
 * The keys of the tenants that `tenants` names (a parameter or a subquery), newest first: listKeys and
 * listOrgKeys list alike. Not the hash: a list has no use for it.
 */
const KEYS_OF = (tenants: string) =>
  `SELECT id, tenant_id, name, prefix, scope, created_at, last_used_at, expires_at, revoked_at
   FROM api_keys WHERE tenant_id IN (${tenants}) ORDER BY created_at DESC, id DESC`;

/** A tenant's keys, newest first. */
export async function listKeys(db: D1Database, tenantId: string): Promise<KeyInfo[]> {
  const { results } = await db.prepare(KEYS_OF("?1")).bind(tenantId).all<KeyRow>();
  return results.map(toInfo);
}

/**
 * A page of an org's tenants as the tenant list pages them, each with its keys exactly as
 * listKeys lists them (revoked and expired too), read in one batch; null when there is no such org.
 */
export async function listOrgKeys(
  db: D1Database,
  orgId: string,
  page: Page,
): Promise<{ items: { tenantId: string; name: string; keys: KeyInfo[] }[]; total: number } | null> {
  const found = await tenantPageWith<KeyRow>(db, orgId, page, KEYS_OF);
  if (!found) return null;
  return {
    items: found.tenants.map((t) => ({ tenantId: t.id, name: t.name, keys: t.rows.map(toInfo) })),
    total: found.total,
  };
}

/**
 * Revokes a key, with its audit entry; returns its hash (so caches can drop it), or null when
 * there was no such active key.
 */
export async function revokeKey(
  db: D1Database,
  keyId: string,
  audit: D1PreparedStatement,
  now = new Date(),
): Promise<string | null> {
  const [res] = await db.batch([
    db
      .prepare("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING key_hash")
      .bind(now.toISOString(), keyId),
    audit,
  ]);
  return (res?.results[0] as { key_hash: string } | undefined)?.key_hash ?? null;
}

/** A key rotation as its audit entry tells it: the old key before and after, and the new one. */
export interface Rotation {
  before: KeyInfo & { orgId: string };
  after: KeyInfo;
  issued: KeyInfo;
}

/**
 * Rotates a key: a new key with the same tenant, name and scope (and no expiry), and the old one
 * expiring when the grace ends (or sooner, if it was to expire anyway), in one transaction with
 * its audit entry. Null when the key is unknown, revoked or already expired, or its tenant is
 * deleted. Returns the old key's hash too, so caches can drop it.
 */
export async function rotateKey(
  db: D1Database,
  keyId: string,
  graceSeconds: number,
  audit: AuditOf<Rotation>,
  now = new Date(),
): Promise<{ issued: IssuedKey; oldHash: string } | null> {
  const before = await getKey(db, keyId);
  if (!before || before.revokedAt || (before.expiresAt && before.expiresAt <= now.toISOString())) return null;
  const until = new Date(now.getTime() + graceSeconds * 1000).toISOString();
  const after: KeyInfo = {
    ...before,
    expiresAt: before.expiresAt === null || before.expiresAt > until ? until : before.expiresAt,
  };
  // The new key is inserted only if the old one was still there to rotate (a race lost is a 404).
  const { issued, insert } = await newKey(
    db,
    before.tenantId,
    { name: before.name, scope: before.scope, expiresAt: null },
    now,
    true,
  );
  const { key: _, ...info } = issued;
  const [update, inserted] = await db.batch([
    db
      .prepare(
        `UPDATE api_keys SET expires_at = CASE WHEN expires_at IS NULL OR expires_at > ?1 THEN ?1 ELSE expires_at END
         WHERE id = ?2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?3)
           AND EXISTS (SELECT 1 FROM tenants WHERE id = api_keys.tenant_id AND deleted_at IS NULL)
         RETURNING key_hash`,
      )
      .bind(until, keyId, now.toISOString()),
    insert,
    audit({ before, after, issued: info }),
  ]);
  const oldHash = (update?.results[0] as { key_hash: string } | undefined)?.key_hash;
  return oldHash && (inserted?.meta.changes ?? 0) > 0 ? { issued, oldHash } : null;
}

/** Notes that a key was used now, unless that was noted in the last minute. */
export function touchKeyStatement(db: D1Database, keyId: string, now = new Date()): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at < ?3)",
    )
    .bind(now.toISOString(), keyId, new Date(now.getTime() - 60_000).toISOString());
}
