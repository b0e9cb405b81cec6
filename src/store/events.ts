import { nestsDeeperThan } from "../lib/json-depth";
import { decimalSql } from "./money-sql";
import { fitsStore, MAX_SQL_JSON_DEPTH } from "./stored-json";

/**
 * The outbox of events the gateway posts out (hook callbacks, budget alerts): made once, with a
 * body fixed then, attempted until delivered or out of retries, every attempt recorded.
 */

export interface EventRow {
  id: string;
  type: string;
  org_id: string;
  tenant_id: string | null;
  hook_id: string | null;
  delivery_id: string | null;
  url: string;
  body: string;
  state: "pending" | "delivered" | "failed";
  attempts: number;
  retry_base: number;
  next_attempt_at: string;
  created_at: string;
  delivered_at: string | null;
}

export interface AttemptRow {
  event_id: string;
  attempt: number;
  at: string;
  status: number | null;
  error: string | null;
}

/**
 * An INSERT of the `session.finished` event of the hook delivery `where` picks (`d`, its hook `h`,
 * and whatever `joins` adds), `data` being the fields after `hookId` and `deliveryId`. ?2 is
 * the time it is made. It makes nothing unless the hook has a callback URL, and nothing a second
 * time for the same delivery (events_one_per_delivery): whichever way its session's end is seen
 * first makes the one event, so it can ride along in the batch that books or settles that end.
 */
function sessionFinishedInsert(data: string, joins: string, where: string): string {
  return `INSERT INTO events (id, type, org_id, tenant_id, hook_id, delivery_id, url, body, state, attempts, next_attempt_at, created_at)
    SELECT 'evt_' || lower(hex(randomblob(16))), 'session.finished', h.org_id, h.tenant_id, h.id, d.delivery_id, h.callback_url,
      json_object('type', 'session.finished', 'timestamp', ?2, 'data', json_object(
        'hookId', h.id, 'deliveryId', d.delivery_id, ${data})),
      'pending', 0, ?2, ?2
    FROM hook_deliveries d JOIN hooks h ON h.id = d.hook_id ${joins}
    WHERE ${where} AND h.callback_url IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING id`;
}

/**
 * The `session.finished` event of a hook's session, made from its final view (reason `ended`):
 * one statement that makes nothing unless the session was started by a hook with a callback URL,
 * and nothing a second time (one event per delivery), so it can ride along in the batch that
 * books the view. Its figures are the view's, exactly as upstream wrote them. An output too large
 * for the event's row, or nested deeper than SQLite's json() reads, is sent as null: bound whole,
 * it would fail the batch, and with it the booking of the view, on every read.
 * Returns the new event's id, if any.
 */
export function sessionFinishedStatement(
  db: D1Database,
  view: Record<string, unknown>,
  at: string,
): D1PreparedStatement {
  const text = (v: unknown) => (v === undefined || v === null ? null : String(v));
  const int = (v: unknown) => (typeof v === "number" ? v : 0);
  const output = JSON.stringify(view.output ?? null);
  const storable = fitsStore(output) && !nestsDeeperThan(output, MAX_SQL_JSON_DEPTH);
  return db
    .prepare(
      sessionFinishedInsert(
        `'sessionId', ?1, 'status', ?3, 'reason', 'ended',
           'isTaskSuccessful', json(?4), 'output', json(?5),
           'totalCostUsd', ?6, 'llmCostUsd', ?7, 'proxyCostUsd', ?8, 'browserCostUsd', ?9,
           'totalInputTokens', CAST(?10 AS INTEGER), 'totalOutputTokens', CAST(?11 AS INTEGER), 'proxyUsedMb', ?12`,
        "",
        "d.session_id = ?1",
      ),
    )
    .bind(
      String(view.id).toLowerCase(),
      at,
      text(view.status),
      JSON.stringify(typeof view.isTaskSuccessful === "boolean" ? view.isTaskSuccessful : null),
      storable ? output : "null",
      text(view.totalCostUsd),
      text(view.llmCostUsd),
      text(view.proxyCostUsd),
      text(view.browserCostUsd),
      int(view.totalInputTokens),
      int(view.totalOutputTokens),
      text(view.proxyUsedMb),
    );
}

const FINAL = "('stopped', 'timed_out', 'error')";

/**
 * The `session.finished` event of a hook's session upstream no longer has (reason `gone`), for the
 * batch that forgets it and settles its hold: no final view will ever come, so `status` is null
 * (no final status was seen, and none is made up), `output` and `isTaskSuccessful` are the last
 * stored view's, and the figures are those the ledger booked of it, the ones its hold is settled
 * at (read in the same transaction). Nothing for a session the ledger saw in a final status: its
 * end was seen, and made the delivery's event then or (its hook had no callback URL yet) none.
 * Returns the new event's id, if any.
 */
export function sessionGoneStatement(db: D1Database, sessionId: string, at: string): D1PreparedStatement {
  const money = (col: string) => decimalSql(`coalesce(u.${col}, 0)`);
  return db
    .prepare(
      sessionFinishedInsert(
        `'sessionId', d.session_id, 'status', NULL, 'reason', 'gone',
           'isTaskSuccessful', CASE json_type(r.view, '$.isTaskSuccessful')
             WHEN 'true' THEN json('true') WHEN 'false' THEN json('false') END,
           'output', json(r.view -> '$.output'),
           'totalCostUsd', ${money("total_cost_micros")}, 'llmCostUsd', ${money("llm_cost_micros")},
           'proxyCostUsd', ${money("proxy_cost_micros")}, 'browserCostUsd', ${money("browser_cost_micros")},
           'totalInputTokens', coalesce(u.input_tokens, 0), 'totalOutputTokens', coalesce(u.output_tokens, 0),
           'proxyUsedMb', ${money("proxy_used_micro_mb")}`,
        `JOIN resources r ON r.kind = 'session' AND r.id = d.session_id
         LEFT JOIN usage u ON u.kind = 'session' AND u.id = d.session_id`,
        `d.session_id = ?1 AND coalesce(u.final, 0) = 0 AND coalesce(r.status, '') NOT IN ${FINAL}`,
      ),
    )
    .bind(sessionId.toLowerCase(), at);
}

/**
 * The `session.finished` event of a hook delivery whose create lost its answer and whose hold the
 * reconciler charged in full (reason `lost`), for the batch that charges it: no session is the
 * delivery's (`sessionId` null), none was seen end (`status` null), and all that is known is what
 * its hold charged (`totalCostUsd`); every other figure is null, not a made-up 0.
 * Returns the new event's id, if any.
 */
export function deliveryLostStatement(db: D1Database, holdId: string, at: string): D1PreparedStatement {
  return db
    .prepare(
      sessionFinishedInsert(
        `'sessionId', NULL, 'status', NULL, 'reason', 'lost', 'isTaskSuccessful', NULL, 'output', NULL,
           'totalCostUsd', ${decimalSql("ho.settled_micros")}, 'llmCostUsd', NULL, 'proxyCostUsd', NULL,
           'browserCostUsd', NULL, 'totalInputTokens', NULL, 'totalOutputTokens', NULL, 'proxyUsedMb', NULL`,
        "JOIN holds ho ON ho.id = d.hold_id",
        "d.hold_id = ?1 AND d.session_id IS NULL AND ho.state = 'settled' AND ho.resource_id IS NULL",
      ),
    )
    .bind(holdId, at);
}

/** An event whose next attempt was claimed: with how many attempts of its run of retries were made. */
export interface ClaimedEvent extends EventRow {
  /**
   * Attempts recorded since its run began (all failed, or it would not be pending): claims that
   * a consumer's crash cut short, before anything was recorded, do not count against the run.
   */
  made: number;
}

/**
 * Claims the next attempt of a pending event that is due (or nearly: a retry may wake a moment
 * early), leasing it for `leaseMs` so another copy of its message finds nothing to do. Returns the
 * event with its attempt count raised, or null.
 */
export async function claimAttempt(
  db: D1Database,
  id: string,
  now: Date,
  leaseMs: number,
): Promise<ClaimedEvent | null> {
  return db
    .prepare(
      `UPDATE events SET attempts = attempts + 1, next_attempt_at = ?
       WHERE id = ? AND state = 'pending' AND next_attempt_at <= ?
       RETURNING *, (SELECT count(*) FROM event_attempts a
         WHERE a.event_id = events.id AND a.attempt > events.retry_base) AS made`,
    )
    .bind(new Date(now.getTime() + leaseMs).toISOString(), id, new Date(now.getTime() + 5_000).toISOString())
    .first<ClaimedEvent>();
}

/**
 * Records an attempt and what follows it: delivered, failed for good, or pending until `retryAt`.
 * `event` is the row as claimed: should a redelivery have given it a fresh run of retries while
 * the attempt was under way, an attempt that did not deliver neither fails it nor puts it off
 * until the old run's next retry: it is due at once. Returns whether that happened (the caller
 * then attempts it again now).
 */
export async function recordAttempt(
  db: D1Database,
  event: EventRow,
  result: { at: string; status: number | null; error: string | null },
  next: { state: "delivered" | "failed" } | { state: "pending"; retryAt: string },
): Promise<boolean> {
  const [, updated] = await db.batch([
    db
      .prepare(
        "INSERT INTO event_attempts (event_id, attempt, at, status, error) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
      )
      .bind(event.id, event.attempts, result.at, result.status, result.error),
    db
      .prepare(
        `UPDATE events SET
           state = CASE WHEN ?1 <> 'delivered' AND retry_base <> ?5 THEN 'pending' ELSE ?1 END,
           next_attempt_at = CASE WHEN ?1 <> 'delivered' AND retry_base <> ?5 THEN ?3
             ELSE coalesce(?2, next_attempt_at) END,
           delivered_at = CASE WHEN ?1 = 'delivered' THEN ?3 ELSE delivered_at END
         WHERE id = ?4 AND state = 'pending'
         RETURNING ?1 <> 'delivered' AND retry_base <> ?5 AS redelivered`,
      )
      .bind(
        next.state,
        next.state === "pending" ? next.retryAt : null,
        result.at,
        event.id,
        event.retry_base,
      ),
  ]);
  return (updated?.results?.[0] as { redelivered?: number } | undefined)?.redelivered === 1;
}

/** Pending events whose time has long passed: their message was lost, and is sent again. */
export async function listOverdue(db: D1Database, before: string, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT id FROM events WHERE state = 'pending' AND next_attempt_at < ? ORDER BY next_attempt_at LIMIT ?",
    )
    .bind(before, limit)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** The events a redelivery of `id` (an event id, or a hook delivery's webhook-id) names. */
export async function findEvents(db: D1Database, id: string): Promise<EventRow[]> {
  const { results } = await db
    .prepare("SELECT * FROM events WHERE id = ?1 OR delivery_id = ?1 LIMIT 2")
    .bind(id)
    .all<EventRow>();
  return results;
}

/**
 * Puts an event back in line, due now, with a fresh run of retries, whatever became of it; an
 * attempt already under way (claimed, its lease running, not yet recorded) is left to finish
 * (at-least-once allows a second copy, not a race). An event waiting for a retry is not under
 * way: it is due now, not hours later. `audit` is the redelivery's audit entry.
 */
export async function requeueEvent(
  db: D1Database,
  id: string,
  now: Date,
  audit: D1PreparedStatement,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `UPDATE events SET state = 'pending', retry_base = attempts,
         next_attempt_at = CASE WHEN state = 'pending' AND next_attempt_at > ?1 AND attempts > 0
           AND NOT EXISTS (SELECT 1 FROM event_attempts a WHERE a.event_id = events.id AND a.attempt = events.attempts)
           THEN next_attempt_at ELSE ?1 END
       WHERE id = ?2`,
      )
      .bind(now.toISOString(), id),
    audit,
  ]);
}

/** The attempts of some events, oldest first. */
export async function listAttempts(db: D1Database, eventIds: string[]): Promise<AttemptRow[]> {
  if (eventIds.length === 0) return [];
  const { results } = await db
    .prepare(
      "SELECT * FROM event_attempts WHERE event_id IN (SELECT value FROM json_each(?)) ORDER BY event_id, attempt",
    )
    .bind(JSON.stringify(eventIds))
    .all<AttemptRow>();
  return results;
}

export interface DeliveryRow {
  delivery_id: string;
  state: string;
  status: number | null;
  session_id: string | null;
  created_at: string;
  event_id: string | null;
  event_state: string | null;
  event_attempts: number | null;
}

/** One page of a hook's inbound deliveries, newest first, with their callback events, and the total. */
export async function listHookDeliveries(
  db: D1Database,
  hookId: string,
  page: { offset: number; limit: number },
): Promise<{ rows: DeliveryRow[]; total: number }> {
  const [rows, count] = await db.batch([
    db
      .prepare(
        `SELECT d.delivery_id, d.state, d.status, d.session_id, d.created_at,
           e.id AS event_id, e.state AS event_state, e.attempts AS event_attempts
         FROM hook_deliveries d LEFT JOIN events e ON e.hook_id = d.hook_id AND e.delivery_id = d.delivery_id
         WHERE d.hook_id = ? ORDER BY d.created_at DESC, d.delivery_id DESC LIMIT ? OFFSET ?`,
      )
      .bind(hookId, page.limit, page.offset),
    db.prepare("SELECT count(*) AS total FROM hook_deliveries WHERE hook_id = ?").bind(hookId),
  ]);
  return {
    rows: (rows?.results ?? []) as DeliveryRow[],
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}

/** A delivery of an org's listing: which hook of which tenant it reached, and what it became. */
export interface OrgDeliveryRow extends DeliveryRow {
  hook_id: string;
  hook_name: string;
  tenant_id: string;
  tenant_name: string;
}

/**
 * One page of the inbound deliveries to an org's hooks that are not deleted, newest first, with
 * their hooks, tenants and callback events, and the total; null when there is no such org. One
 * round trip, reading one range of an index.
 */
export async function listOrgDeliveries(
  db: D1Database,
  orgId: string,
  page: { offset: number; limit: number },
): Promise<{ rows: OrgDeliveryRow[]; total: number } | null> {
  const live = `hook_deliveries d JOIN hooks h ON h.id = d.hook_id AND h.deleted_at IS NULL
    JOIN tenants t ON t.id = d.tenant_id AND t.deleted_at IS NULL`;
  const [org, rows, count] = await db.batch([
    db.prepare("SELECT 1 FROM orgs WHERE id = ? AND deleted_at IS NULL").bind(orgId),
    db
      .prepare(
        `SELECT d.delivery_id, d.state, d.status, d.session_id, d.created_at, d.hook_id, h.name AS hook_name,
           d.tenant_id, t.name AS tenant_name, e.id AS event_id, e.state AS event_state, e.attempts AS event_attempts
         FROM ${live} LEFT JOIN events e ON e.hook_id = d.hook_id AND e.delivery_id = d.delivery_id
         WHERE d.org_id = ? ORDER BY d.created_at DESC, d.delivery_id DESC LIMIT ? OFFSET ?`,
      )
      .bind(orgId, page.limit, page.offset),
    // The total counts the org's deliveries per hook and tenant on one covering index, then looks
    // up each of those few hooks and tenants, rather than a hook and a tenant for every delivery.
    db
      .prepare(
        `SELECT coalesce(sum(g.n), 0) AS total
         FROM (SELECT hook_id, tenant_id, count(*) AS n FROM hook_deliveries WHERE org_id = ?
               GROUP BY hook_id, tenant_id) g
         JOIN hooks h ON h.id = g.hook_id AND h.deleted_at IS NULL
         JOIN tenants t ON t.id = g.tenant_id AND t.deleted_at IS NULL`,
      )
      .bind(orgId),
  ]);
  if ((org?.results ?? []).length === 0) return null;
  return {
    rows: (rows?.results ?? []) as OrgDeliveryRow[],
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}

/** One page of an org's alert events, newest first, and the total. */
export async function listAlertEvents(
  db: D1Database,
  orgId: string,
  page: { offset: number; limit: number },
): Promise<{ rows: EventRow[]; total: number }> {
  const [rows, count] = await db.batch([
    db
      .prepare(
        `SELECT * FROM events WHERE org_id = ? AND type = 'budget.threshold_crossed'
         ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?`,
      )
      .bind(orgId, page.limit, page.offset),
    db
      .prepare("SELECT count(*) AS total FROM events WHERE org_id = ? AND type = 'budget.threshold_crossed'")
      .bind(orgId),
  ]);
  return {
    rows: (rows?.results ?? []) as EventRow[],
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}
