import type { AuditOf } from "./audit";
import { type Page, tenantPageWith } from "./orgs";
import { type RotatedSecretRow, secretsInGrace } from "./rotated-secrets";
import type { Owner } from "./resources";

/** How long an old secret keeps verifying after a rotation. */
export const SECRET_GRACE_MS = 24 * 60 * 60_000;

/** How long a delivery's webhook-id is remembered, so a repeat starts nothing. */
export const DELIVERY_TTL_MS = 24 * 60 * 60_000;

/** Longer than any admission takes: a delivery still pending after it was cut off. */
const STALE_PENDING_MS = 5 * 60_000;

/** A hook: a task template its tenant runs when a signed delivery arrives. */
export interface Hook extends Owner {
  id: string;
  name: string;
  task: string;
  options: Record<string, unknown>;
  callbackUrl: string | null;
  suspended: boolean;
  createdAt: string;
  updatedAt: string;
}

/** A hook with the secrets that verify its deliveries (and sign its callbacks: the first). */
export interface HookWithSecrets extends Hook {
  secrets: string[];
  /** Its tenant or org is suspended. */
  ownerSuspended: boolean;
}

// A hook's columns but its secrets (getHook reads those too, as a RotatedSecretRow).
interface HookRow {
  id: string;
  org_id: string;
  tenant_id: string;
  name: string;
  task: string;
  options: string;
  callback_url: string | null;
  suspended_at: string | null;
  created_at: string;
  updated_at: string;
}

const toHook = (row: HookRow): Hook => ({
  id: row.id,
  orgId: row.org_id,
  tenantId: row.tenant_id,
  name: row.name,
  task: row.task,
  options: JSON.parse(row.options) as Record<string, unknown>,
  callbackUrl: row.callback_url,
  suspended: row.suspended_at !== null,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export interface HookFields {
  name: string;
  task: string;
  options: Record<string, unknown>;
  callbackUrl: string | null;
  /** Only when changing a hook. */
  suspended?: boolean;
}

/**
 * Creates a hook for an existing tenant (null when there is none), with its first secret and its
 * audit entry, which is given the hook: never its secret.
 */
export async function createHook(
  db: D1Database,
  owner: Owner,
  fields: HookFields,
  secret: string,
  audit: AuditOf<Hook>,
): Promise<Hook | null> {
  const now = new Date().toISOString();
  const hook: Hook = {
    id: crypto.randomUUID(),
    ...owner,
    name: fields.name,
    task: fields.task,
    options: fields.options,
    callbackUrl: fields.callbackUrl,
    suspended: false,
    createdAt: now,
    updatedAt: now,
  };
  const [insert] = await db.batch([
    db
      .prepare(
        `INSERT INTO hooks (id, org_id, tenant_id, name, task, options, callback_url, secret, created_at, updated_at)
         SELECT ?, org_id, id, ?, ?, ?, ?, ?, ?, ? FROM tenants WHERE id = ?`,
      )
      .bind(
        hook.id,
        hook.name,
        hook.task,
        JSON.stringify(hook.options),
        hook.callbackUrl,
        secret,
        now,
        now,
        owner.tenantId,
      ),
    audit(hook),
  ]);
  return (insert?.meta.changes ?? 0) > 0 ? hook : null;
}

/** A hook that is not deleted, with its verifying secrets (the old one only inside its grace). */
export async function getHook(db: D1Database, id: string, now = new Date()): Promise<HookWithSecrets | null> {
  // A hook of a deleted tenant or org is as gone as a deleted hook.
  const row = await db
    .prepare(
      `SELECT h.*, (t.suspended_at IS NOT NULL OR o.suspended_at IS NOT NULL) AS owner_suspended
       FROM hooks h JOIN tenants t ON t.id = h.tenant_id JOIN orgs o ON o.id = t.org_id
       WHERE h.id = ? AND h.deleted_at IS NULL AND t.deleted_at IS NULL AND o.deleted_at IS NULL`,
    )
    .bind(id)
    .first<HookRow & RotatedSecretRow & { owner_suspended: number }>();
  if (!row) return null;
  return {
    ...toHook(row),
    secrets: secretsInGrace(row, now),
    ownerSuspended: row.owner_suspended === 1,
  };
}

/**
 * The hooks (not deleted) of the tenants that `tenants` names (a parameter or a subquery), newest
 * first: listHooks and listOrgHooks list alike. Not the secrets: a list has no use for them.
 */
const HOOKS_OF = (tenants: string) =>
  `SELECT id, org_id, tenant_id, name, task, options, callback_url, suspended_at, created_at, updated_at
   FROM hooks WHERE tenant_id IN (${tenants}) AND deleted_at IS NULL ORDER BY created_at DESC, id DESC`;

/** A tenant's hooks, newest first. */
export async function listHooks(db: D1Database, tenantId: string): Promise<Hook[]> {
  const { results } = await db.prepare(HOOKS_OF("?1")).bind(tenantId).all<HookRow>();
  return results.map(toHook);
}

/**
 * A page of an org's tenants as the tenant list pages them, each with its hooks exactly as
 * listHooks lists them, read in one batch; null when there is no such org.
 */
export async function listOrgHooks(
  db: D1Database,
  orgId: string,
  page: Page,
): Promise<{ items: { tenantId: string; name: string; hooks: Hook[] }[]; total: number } | null> {
  const found = await tenantPageWith<HookRow>(db, orgId, page, HOOKS_OF);
  if (!found) return null;
  return {
    items: found.tenants.map((t) => ({ tenantId: t.id, name: t.name, hooks: t.rows.map(toHook) })),
    total: found.total,
  };
}

/** Replaces the fields given, with the change's audit entry; null when the hook does not exist. */
export async function updateHook(
  db: D1Database,
  id: string,
  fields: Partial<HookFields>,
  audit: D1PreparedStatement,
  now = new Date(),
): Promise<Hook | null> {
  const update = db
    .prepare(
      `UPDATE hooks SET name = coalesce(?1, name), task = coalesce(?2, task), options = coalesce(?3, options),
         callback_url = CASE WHEN ?4 = 1 THEN ?5 ELSE callback_url END, updated_at = ?6,
         suspended_at = CASE WHEN ?8 = 1 THEN coalesce(suspended_at, ?6) WHEN ?8 = 0 THEN NULL ELSE suspended_at END
       WHERE id = ?7 AND deleted_at IS NULL RETURNING *`,
    )
    .bind(
      fields.name ?? null,
      fields.task ?? null,
      fields.options === undefined ? null : JSON.stringify(fields.options),
      fields.callbackUrl === undefined ? 0 : 1,
      fields.callbackUrl ?? null,
      now.toISOString(),
      id,
      fields.suspended === undefined ? null : fields.suspended ? 1 : 0,
    );
  const [res] = await db.batch([update, audit]);
  const row = res?.results[0] as HookRow | undefined;
  return row ? toHook(row) : null;
}

/** Deletes a hook, with its audit entry: deliveries to it are 404 from now on. False when there was none. */
export async function deleteHook(db: D1Database, id: string, audit: D1PreparedStatement): Promise<boolean> {
  const [res] = await db.batch([
    db
      .prepare("UPDATE hooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL")
      .bind(new Date().toISOString(), id),
    audit,
  ]);
  return (res?.meta.changes ?? 0) > 0;
}

/** Puts a new secret in place, with its audit entry; the current one keeps verifying for SECRET_GRACE_MS. */
export async function rotateHookSecret(
  db: D1Database,
  id: string,
  secret: string,
  audit: D1PreparedStatement,
  now = new Date(),
): Promise<boolean> {
  const rotate = db
    .prepare(
      `UPDATE hooks SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?
       WHERE id = ? AND deleted_at IS NULL`,
    )
    .bind(new Date(now.getTime() + SECRET_GRACE_MS).toISOString(), secret, now.toISOString(), id);
  const [res] = await db.batch([rotate, audit]);
  return (res?.meta.changes ?? 0) > 0;
}

export type DeliveryClaim =
  /** `token` is also the id of the hold its task is admitted under (written on the delivery now). */
  | { claimed: true; token: string }
  | { claimed: false; state: "pending" | "unknown" }
  | { claimed: false; state: "done"; status: number; body: string };

/**
 * Claims a delivery's webhook-id for this hook, in one transaction: one older than DELIVERY_TTL_MS
 * is forgotten first; then either this request claims it or the earlier one's row comes back. A
 * claim names, from the start, the hold its task will be admitted under (its token): should the
 * request be cut off or its store fail once the create has left, the reconciler, finding that
 * hold's session, ties it to the delivery (linkDeliveryStatement). And one that certainly started
 * nothing is forgotten too, so the sender's retry runs: no session, and its hold released (upstream
 * refused it, or the reconciler found nothing it made) or never opened, once its request is over
 * (its outcome marked unknown, or pending for longer than any admission takes).
 */
export async function claimDelivery(
  db: D1Database,
  hook: { id: string; orgId: string; tenantId: string },
  deliveryId: string,
  now = new Date(),
): Promise<DeliveryClaim> {
  const token = crypto.randomUUID();
  const [, , read] = await db.batch([
    db
      .prepare(
        `DELETE FROM hook_deliveries WHERE hook_id = ?1 AND delivery_id = ?2 AND (created_at < ?3
           OR (state <> 'done' AND session_id IS NULL AND hold_id IS NOT NULL
             AND (state = 'unknown' OR created_at < ?4)
             AND NOT EXISTS (SELECT 1 FROM holds WHERE id = hook_deliveries.hold_id AND state <> 'released')))`,
      )
      .bind(
        hook.id,
        deliveryId,
        new Date(now.getTime() - DELIVERY_TTL_MS).toISOString(),
        new Date(now.getTime() - STALE_PENDING_MS).toISOString(),
      ),
    db
      .prepare(
        `INSERT INTO hook_deliveries (hook_id, delivery_id, org_id, tenant_id, claim_token, state, hold_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?5, ?6) ON CONFLICT DO NOTHING`,
      )
      .bind(hook.id, deliveryId, hook.orgId, hook.tenantId, token, now.toISOString()),
    db
      .prepare(
        "SELECT claim_token, state, status, body, created_at FROM hook_deliveries WHERE hook_id = ? AND delivery_id = ?",
      )
      .bind(hook.id, deliveryId),
  ]);
  const row = read?.results?.[0] as
    | {
        claim_token: string;
        state: "pending" | "done" | "unknown";
        status: number | null;
        body: string | null;
        created_at: string;
      }
    | undefined;
  if (!row) throw new Error("hook delivery vanished during its claim");
  if (row.claim_token === token) return { claimed: true, token };
  if (row.state === "done")
    return { claimed: false, state: "done", status: row.status ?? 500, body: row.body ?? "" };
  // A delivery pending this long was cut off mid-way with its hold open (one that held nothing was
  // forgotten above): its outcome is not known, and it is not run again.
  if (row.state === "pending" && row.created_at < new Date(now.getTime() - STALE_PENDING_MS).toISOString()) {
    return { claimed: false, state: "unknown" };
  }
  return { claimed: false, state: row.state };
}

/** Stores the answer a delivery got (and the session it started), for repeats of it to get too. */
export async function completeDelivery(
  db: D1Database,
  hookId: string,
  deliveryId: string,
  answer: { status: number; body: string; sessionId: string | null },
): Promise<void> {
  await db
    .prepare(
      `UPDATE hook_deliveries SET state = 'done', status = ?, body = ?, session_id = ?
       WHERE hook_id = ? AND delivery_id = ? AND state = 'pending'`,
    )
    .bind(answer.status, answer.body, answer.sessionId, hookId, deliveryId)
    .run();
}

/**
 * Marks a delivery whose task's outcome upstream is unknown: a repeat is refused, not run again,
 * while its hold (named at the claim) may have made a session; the reconciler ties the session it
 * finds back to it, or releases the hold when upstream made nothing (see claimDelivery).
 */
export async function markDeliveryUnknown(db: D1Database, hookId: string, deliveryId: string): Promise<void> {
  await db
    .prepare(
      "UPDATE hook_deliveries SET state = 'unknown' WHERE hook_id = ? AND delivery_id = ? AND state = 'pending'",
    )
    .bind(hookId, deliveryId)
    .run();
}

/**
 * The reconciler found the session of a lost create: if it was a hook delivery's, the delivery
 * now has its session (for its callback) and the answer a repeat of it gets.
 */
export function linkDeliveryStatement(
  db: D1Database,
  holdId: string,
  sessionId: string,
): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE hook_deliveries SET session_id = ?2, state = 'done', status = 200,
         body = json_object('sessionId', ?2, 'deliveryId', delivery_id)
       WHERE hold_id = ?1 AND session_id IS NULL`,
    )
    .bind(holdId, sessionId.toLowerCase());
}

/** A delivery as recorded, if it is: what a repeat of it is answered with. */
export async function findDelivery(
  db: D1Database,
  hookId: string,
  deliveryId: string,
  now = new Date(),
): Promise<{ state: string; body: string } | null> {
  return db
    .prepare(
      "SELECT state, body FROM hook_deliveries WHERE hook_id = ? AND delivery_id = ? AND created_at >= ?",
    )
    .bind(hookId, deliveryId, new Date(now.getTime() - DELIVERY_TTL_MS).toISOString())
    .first<{ state: string; body: string }>();
}

/** The secrets a hook signs its callbacks with, deleted or not: a callback made before the deletion is still sent. */
export async function hookSigningSecrets(
  db: D1Database,
  hookId: string,
  now = new Date(),
): Promise<string[]> {
  const row = await db
    .prepare("SELECT secret, previous_secret, previous_secret_until FROM hooks WHERE id = ?")
    .bind(hookId)
    .first<RotatedSecretRow>();
  return row ? secretsInGrace(row, now) : [];
}

/** Forgets a delivery that started nothing (refused), so the sender may retry it. */
export async function releaseDelivery(db: D1Database, hookId: string, deliveryId: string): Promise<void> {
  await db
    .prepare("DELETE FROM hook_deliveries WHERE hook_id = ? AND delivery_id = ? AND state = 'pending'")
    .bind(hookId, deliveryId)
    .run();
}
