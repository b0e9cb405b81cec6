import { decimalSql } from "./money-sql";
import { type RotatedSecretRow, secretsInGrace } from "./rotated-secrets";

/** How long an old alert secret keeps signing beside the new one after a rotation. */
export const ALERT_SECRET_GRACE_MS = 24 * 60 * 60_000;

/** An org's alert target: where budget.threshold_crossed events go, and at which thresholds. */
export interface AlertTarget {
  orgId: string;
  url: string;
  thresholds: number[];
  createdAt: string;
  updatedAt: string;
}

interface AlertRow {
  org_id: string;
  url: string;
  thresholds: string;
  secret: string;
  created_at: string;
  updated_at: string;
}

const toTarget = (row: AlertRow): AlertTarget => ({
  orgId: row.org_id,
  url: row.url,
  thresholds: JSON.parse(row.thresholds) as number[],
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/**
 * Sets an org's alert target. The secret is kept when there is one already; `secret` is used only
 * for a first one. Returns the target and whether this PUT created it (so its secret is shown).
 * `audit` is the change's audit entry; `at` is when the change is made.
 */
export async function putAlertTarget(
  db: D1Database,
  orgId: string,
  fields: { url: string; thresholds: number[] },
  secret: string,
  audit: D1PreparedStatement,
  at = new Date(),
): Promise<{ target: AlertTarget; created: boolean } | null> {
  const now = at.toISOString();
  const put = db
    .prepare(
      `INSERT INTO alert_targets (org_id, url, thresholds, secret, created_at, updated_at)
       SELECT id, ?, ?, ?, ?, ? FROM orgs WHERE id = ?
       ON CONFLICT (org_id) DO UPDATE SET url = excluded.url, thresholds = excluded.thresholds, updated_at = excluded.updated_at
       RETURNING *`,
    )
    .bind(fields.url, JSON.stringify(fields.thresholds), secret, now, now, orgId);
  const [res] = await db.batch([put, audit]);
  const row = res?.results[0] as AlertRow | undefined;
  return row ? { target: toTarget(row), created: row.created_at === now && row.secret === secret } : null;
}

export async function getAlertTarget(db: D1Database, orgId: string): Promise<AlertTarget | null> {
  const row = await db.prepare("SELECT * FROM alert_targets WHERE org_id = ?").bind(orgId).first<AlertRow>();
  return row ? toTarget(row) : null;
}

/** The secrets alert events of an org are signed with: the current one, and a rotated one in its grace. */
export async function alertSecrets(db: D1Database, orgId: string, now = new Date()): Promise<string[]> {
  const row = await db
    .prepare("SELECT secret, previous_secret, previous_secret_until FROM alert_targets WHERE org_id = ?")
    .bind(orgId)
    .first<RotatedSecretRow>();
  return row ? secretsInGrace(row, now) : [];
}

/** Deletes an org's alert target, with its audit entry; false when there was none. */
export async function deleteAlertTarget(
  db: D1Database,
  orgId: string,
  audit: D1PreparedStatement,
): Promise<boolean> {
  const [res] = await db.batch([db.prepare("DELETE FROM alert_targets WHERE org_id = ?").bind(orgId), audit]);
  return (res?.meta.changes ?? 0) > 0;
}

/**
 * Puts a new secret in place, with its audit entry; events are signed with the old one too for
 * ALERT_SECRET_GRACE_MS.
 */
export async function rotateAlertSecret(
  db: D1Database,
  orgId: string,
  secret: string,
  audit: D1PreparedStatement,
  now = new Date(),
): Promise<boolean> {
  const rotate = db
    .prepare(
      `UPDATE alert_targets SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?
       WHERE org_id = ?`,
    )
    .bind(new Date(now.getTime() + ALERT_SECRET_GRACE_MS).toISOString(), secret, now.toISOString(), orgId);
  const [res] = await db.batch([rotate, audit]);
  return (res?.meta.changes ?? 0) > 0;
}

/**
 * The `budget.threshold_crossed` events a scope's counter now calls for: one per threshold of the
 * org's alert target that its booked spend has reached, and never a second for the same scope,
 * period and threshold (the event's `alert_key` is unique, so the insert itself is the claim,
 * however many settlements cross at once). Makes nothing without a target or a cap. Returns the
 * new events' ids.
 */
export function thresholdCrossingStatement(
  db: D1Database,
  scope: {
    scope: "org" | "tenant";
    orgId: string;
    tenantId: string | null;
    scopeId: string;
    periodKey: string;
  },
  capMicros: number,
  at: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO events (id, type, org_id, tenant_id, alert_key, url, body, state, attempts, next_attempt_at, created_at)
       SELECT 'evt_' || lower(hex(randomblob(16))), 'budget.threshold_crossed', a.org_id, ?2,
         ?3 || ':' || ?4 || ':' || c.period_key || ':' || t.value, a.url,
         json_object('type', 'budget.threshold_crossed', 'timestamp', ?7, 'data', json_object(
           'orgId', a.org_id, 'tenantId', ?2, 'scope', ?3, 'periodKey', c.period_key,
           'thresholdPercent', t.value, 'capUsd', ${decimalSql("CAST(?6 AS INTEGER)")},
           'spentUsd', ${decimalSql("c.spent_micros")}, 'heldUsd', ${decimalSql("c.held_micros")},
           'remainingUsd', ${decimalSql("max(0, CAST(?6 AS INTEGER) - c.spent_micros - c.held_micros)")})),
         'pending', 0, ?7, ?7
       FROM budget_counters c JOIN alert_targets a ON a.org_id = ?1, json_each(a.thresholds) t
       WHERE c.scope = ?3 AND c.scope_id = ?4 AND c.period_key = ?5 AND c.spent_micros * 100 >= ?6 * t.value
       ON CONFLICT DO NOTHING
       RETURNING id`,
    )
    .bind(scope.orgId, scope.tenantId, scope.scope, scope.scopeId, scope.periodKey, capMicros, at);
}
