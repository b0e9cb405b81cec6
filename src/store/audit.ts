import { redacted } from "../lib/redact";

/** Every admin change the log records, as `<what>.<verb>`. Add one here for a new kind of change. */
export const CHANGE_ACTIONS = [
  "org.create",
  "org.rename",
  "org.suspend",
  "org.resume",
  "org.delete",
  "tenant.create",
  "tenant.rename",
  "tenant.suspend",
  "tenant.resume",
  "tenant.delete",
  "key.issue",
  "key.rotate",
  "key.revoke",
  "policy.put",
  "hook.create",
  "hook.update",
  "hook.delete",
  "hook.rotate_secret",
  "alert.put",
  "alert.delete",
  "alert.rotate_secret",
  "event.redeliver",
  "upstream.put",
  "upstream.delete",
] as const;
export type ChangeAction = (typeof CHANGE_ACTIONS)[number];

/** The actions of the log: the changes, and `refusal`, the tenants' refusals by policy and budget. */
export const AUDIT_ACTIONS = [...CHANGE_ACTIONS, "refusal"] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What a change was made to: a policy or an alert target is its org's or tenant's. */
export interface AuditTarget {
  type: "org" | "tenant" | "key" | "hook" | "event";
  id: string;
}

/** Who made a change, and in which request: the same for every entry a request records. */
export interface ChangedBy {
  /** `X-Actor` as given, else the admin token's name. */
  actor: string;
  /** The name of the admin token the change was made with. */
  tokenName: string;
  requestId: string;
}

/** One admin change as the log records it. `before` is null for a create, `after` for a delete. */
export interface AuditChange extends ChangedBy {
  action: ChangeAction;
  target: AuditTarget;
  orgId: string | null;
  tenantId: string | null;
  before: unknown;
  after: unknown;
}

/** An entry of the log, a change or a minute's refusals of one tenant with one code. */
export interface AuditEntry {
  /** The log's order: newest first is highest first. */
  seq: number;
  id: string;
  at: string;
  actor: string;
  tokenName: string | null;
  action: AuditAction;
  target: AuditTarget;
  orgId: string | null;
  tenantId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
  /** Refusals only: the error code, and how many the tenant got in the minute from `at` on. */
  code: string | null;
  count: number | null;
}

/** The audit entry of a change a store function makes, given what it made (a created org, a new key). */
export type AuditOf<T> = (made: T) => D1PreparedStatement;

interface AuditRow {
  seq: number;
  id: string;
  at: string;
  actor: string;
  token_name: string | null;
  action: AuditAction;
  target_type: AuditTarget["type"];
  target_id: string;
  org_id: string | null;
  tenant_id: string | null;
  before: string | null;
  after: string | null;
  request_id: string | null;
  code: string | null;
  count: number | null;
}

const toEntry = (row: AuditRow): AuditEntry => ({
  seq: row.seq,
  id: row.id,
  at: row.at,
  actor: row.actor,
  tokenName: row.token_name,
  action: row.action,
  target: { type: row.target_type, id: row.target_id },
  orgId: row.org_id,
  tenantId: row.tenant_id,
  before: row.before === null ? null : JSON.parse(row.before),
  after: row.after === null ? null : JSON.parse(row.after),
  requestId: row.request_id,
  code: row.code,
  count: row.count,
});

// The database's clock, in the format of toISOString: the time of the transaction that commits it.
const NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
const NEW_ID = "'aud_' || lower(hex(randomblob(16)))";

const json = (value: unknown) =>
  value === undefined || value === null ? null : JSON.stringify(redacted(value));

/**
 * The audit entry of an admin change, as a statement to run in the same `db.batch` as the change,
 * right after the statement that makes it: the entry is written only when that statement changed
 * a row (SQLite's `changes()`), so a change that found nothing to change (a 404, a race lost)
 * records nothing, and the change and its entry commit together or not at all. Secrets in
 * `before` and `after` are redacted (lib/redact.ts); pass views that carry none in the first place.
 *
 *     await db.batch([
 *       db.prepare("UPDATE orgs SET … WHERE id = ?").bind(orgId),
 *       auditStatement(db, { ...changedBy, action: "org.rename", target: { type: "org", id: orgId },
 *         orgId, tenantId: null, before, after }),
 *     ]);
 *
 * Routes build it with `auditChange(c, …)` (middleware/audit.ts), which fills in who and which request.
 */
export function auditStatement(db: D1Database, change: AuditChange): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO audit_log (id, at, actor, token_name, action, target_type, target_id, org_id, tenant_id,
         before, after, request_id)
       SELECT ${NEW_ID}, ${NOW}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE changes() > 0`,
    )
    .bind(
      change.actor,
      change.tokenName,
      change.action,
      change.target.type,
      change.target.id,
      change.orgId,
      change.tenantId,
      json(change.before),
      json(change.after),
      change.requestId,
    );
}

/** A refusal by policy or budget, as the counter of its tenant, code and minute records it. */
export interface Refusal {
  orgId: string;
  tenantId: string;
  code: string;
  requestId: string;
}

/**
 * Counts a refusal: one row per tenant, code and minute (UTC), made by the minute's first refusal
 * (whose time and request id it keeps) and counted up by the rest, so a flood of refusals costs
 * one row a minute, not one per request.
 */
export async function countRefusal(db: D1Database, refusal: Refusal): Promise<void> {
  await db
    .prepare(
      `INSERT INTO audit_log (id, at, actor, action, target_type, target_id, org_id, tenant_id, request_id,
         code, count, minute)
       VALUES (${NEW_ID}, ${NOW}, 'gateway', 'refusal', 'tenant', ?1, ?2, ?1, ?3, ?4, 1, substr(${NOW}, 1, 16))
       ON CONFLICT (tenant_id, code, minute) DO UPDATE SET count = count + 1`,
    )
    .bind(refusal.tenantId, refusal.orgId, refusal.requestId, refusal.code)
    .run();
}

/** What the log is read by; every field narrows it. `from` is inclusive, `to` exclusive. */
export interface AuditFilter {
  orgId?: string;
  tenantId?: string;
  action?: AuditAction;
  from?: string;
  to?: string;
  /** Only entries older than this one (a page's cursor). */
  beforeSeq?: number;
  limit: number;
}

/**
 * A page of the log, newest first, and the `seq` the next page starts below (null on the last).
 * Only the filters given are in the query, so each one's index serves it.
 */
export async function listAudit(
  db: D1Database,
  filter: AuditFilter,
): Promise<{ entries: AuditEntry[]; next: number | null }> {
  const where: string[] = [];
  const binds: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    if (value === undefined) return;
    where.push(clause);
    binds.push(value);
  };
  add("org_id = ?", filter.orgId);
  add("tenant_id = ?", filter.tenantId);
  add("action = ?", filter.action);
  add("at >= ?", filter.from);
  add("at < ?", filter.to);
  add("seq < CAST(? AS INTEGER)", filter.beforeSeq);
  const { results } = await db
    .prepare(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY seq DESC LIMIT CAST(? AS INTEGER)`,
    )
    .bind(...binds, filter.limit + 1)
    .all<AuditRow>();
  const entries = results.slice(0, filter.limit).map(toEntry);
  return {
    entries,
    next: results.length > filter.limit ? (entries[entries.length - 1]?.seq ?? null) : null,
  };
}
