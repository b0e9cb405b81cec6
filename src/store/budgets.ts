import type { StoredPolicies } from "./policies";
import { liveResource, type SessionFeatures } from "./resources";

/**
 * Budget counters and holds. Every function that moves money is one D1 batch, which D1 runs as
 * one transaction with no other write in between: a check and its write can never be split.
 */

export type Scope = "org" | "tenant";

/** One scope's cap for the period a request falls in; a null cap means no limit. */
export interface ScopeBudget {
  capMicros: number | null;
  periodKey: string;
}

export interface HoldRequest {
  holdId: string;
  kind: "session" | "browser";
  /** Known for a follow-up task; null for a create (filled in once upstream answers). */
  resourceId: string | null;
  orgId: string;
  tenantId: string;
  org: ScopeBudget;
  tenant: ScopeBudget;
  /** The hold wanted before looking at what remains: the requested ceiling, capped by policy. */
  wantMicros: number;
  /** Below this, refuse rather than admit a task that can hardly run. */
  minHoldMicros: number;
  /** What every capped scope must have left, whatever is held (for a hold of 0 that still costs). */
  minRemainingMicros: number;
  /** Live sessions and browsers allowed per scope; checked only when this request adds one. */
  maxLive: { org: number | null; tenant: number | null } | null;
  /** For a create: what upstream will echo of the request, to find its object if the answer is lost. */
  fingerprint: string | null;
  /** A session created without a task: the hold only takes a live slot while upstream answers. */
  slotOnly: boolean;
  /** Where the session stood before the dispatch (a create starts from no steps). */
  baseline: { stepCount: number; updatedAt: string | null };
  /** What a create was sent with that its session keeps: its object, once found, is recorded so. */
  features: SessionFeatures;
  /**
   * The policy documents the caps, ceilings and limits above come from, as read: the hold is taken
   * only while they are still what is stored (null: not checked).
   */
  policies: StoredPolicies | null;
}

export interface CounterView {
  heldMicros: number;
  spentMicros: number;
  /** The part of spent that went past its holds (upstream stops a task only after a step). */
  overshootMicros: number;
}

/** Tags run from 1 to CEILING_TAGS - 1 micro-USD, so any 999 holds in a row carry different ones. */
export const CEILING_TAGS = 1_000;

export type Admission =
  | {
      admitted: true;
      amountMicros: number;
      tagMicros: number;
      /** When the org's own account was set as of the admission (null: the deployment's). */
      accountSetAt: string | null;
    }
  | { admitted: false; reason: "budget"; scope: Scope; remainingMicros: number }
  | { admitted: false; reason: "concurrency"; scope: Scope; live: number; max: number }
  | { admitted: false; reason: "already_held" }
  /** The policy was replaced since the request read it: nothing held, judge it again. */
  | { admitted: false; reason: "stale_policy" };

// A follow-up may not take a second hold on a session while one is open (the unique index
// holds_one_open_per_resource enforces it too; this check answers it without an error).
const NOT_HELD = `NOT EXISTS (SELECT 1 FROM holds WHERE kind = ?2 AND resource_id = ?3 AND state = 'open')`;

const LIVE = (column: "org_id" | "tenant_id", param: string) => `(
  (SELECT count(*) FROM resources WHERE ${column} = ${param} AND deleted_at IS NULL
     AND ${liveResource()})
  + (SELECT count(*) FROM holds WHERE ${column} = ${param} AND state = 'open' AND resource_id IS NULL))`;

// What is live in a scope, counted only where it explains a refusal: the hold (?1) was not taken
// and the scope has a live max. An admitted request reads no row for it (D1 bills rows read).
const LIVE_IF_REFUSED = (column: "org_id" | "tenant_id", param: string, max: string) =>
  `CASE WHEN ${max} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM holds WHERE id = ?1) THEN ${LIVE(column, param)} END`;

// The policy documents read for the request (flag, org's, tenant's) are still the stored ones.
const POLICY_CURRENT = (flag: string, org: string, tenant: string, orgId: string, tenantId: string) => `(
  ${flag} IS NULL OR (
    (SELECT document FROM policies WHERE scope = 'org' AND scope_id = ${orgId}) IS ${org}
    AND (SELECT document FROM policies WHERE scope = 'tenant' AND scope_id = ${tenantId}) IS ${tenant}))`;

// A task's base is where the charges to budgets of its session left off (0 for a new one): what
// the session cost before was charged already, by an earlier hold or directly (chargeUnheld).
const CHARGED_SO_FAR = `coalesce((SELECT charged_micros FROM usage WHERE kind = ?2 AND id = ?3), 0)`;

// ?1 hold id, ?2 kind, ?3 resource id, ?4 org, ?5 tenant, ?6 org period, ?7 tenant period,
// ?8 now, ?9 wanted, ?10 org cap, ?11 tenant cap, ?12 min hold, ?13 org live max, ?14 tenant live max,
// ?15 fingerprint, ?16 slot only, ?17 min remaining, ?18 base step count, ?19 base updatedAt,
// ?20 own key, ?21 whether to check the policy, ?22 and ?23 its org and tenant documents as read,
// ?24 scheduled tasks.
// A null cap leaves nothing (NULL) to compare.
// The tag counts holds round (from the newest rowid), so consecutive holds differ.
const INSERT_HOLD = `INSERT INTO holds
  (id, kind, resource_id, org_id, tenant_id, org_period, tenant_period, amount_micros, base_total_micros, state, created_at,
   ceiling_tag, fingerprint, slot_only, base_step_count, base_updated_at, own_key, scheduled_tasks)
  SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, amount, ${CHARGED_SO_FAR}, 'open', ?8,
    1 + coalesce((SELECT max(rowid) FROM holds), 0) % ${CEILING_TAGS - 1}, ?15, ?16, ?18, ?19, ?20, ?24 FROM (
    SELECT min(?9, coalesce(org_left, ?9), coalesce(tenant_left, ?9)) AS amount, org_left, tenant_left FROM (
      SELECT ?10 - o.held_micros - o.spent_micros AS org_left, ?11 - t.held_micros - t.spent_micros AS tenant_left
      FROM budget_counters o, budget_counters t
      WHERE o.scope = 'org' AND o.scope_id = ?4 AND o.period_key = ?6
        AND t.scope = 'tenant' AND t.scope_id = ?5 AND t.period_key = ?7))
  WHERE amount >= ?12 AND coalesce(org_left, ?17) >= ?17 AND coalesce(tenant_left, ?17) >= ?17
    AND (?3 IS NULL OR ${NOT_HELD})
    AND (?13 IS NULL OR ${LIVE("org_id", "?4")} < ?13)
    AND (?14 IS NULL OR ${LIVE("tenant_id", "?5")} < ?14)
    AND ${POLICY_CURRENT("?21", "?22", "?23", "?4", "?5")}`;

const RESERVE = `UPDATE budget_counters
  SET held_micros = held_micros + (SELECT amount_micros FROM holds WHERE id = ?1)
  WHERE EXISTS (SELECT 1 FROM holds WHERE id = ?1)
    AND ((scope = 'org' AND scope_id = ?2 AND period_key = ?3) OR (scope = 'tenant' AND scope_id = ?4 AND period_key = ?5))`;

const REPORT = `SELECT
    (SELECT amount_micros FROM holds WHERE id = ?1) AS amount,
    (SELECT ceiling_tag FROM holds WHERE id = ?1) AS tag,
    (SELECT count(*) FROM holds WHERE kind = ?6 AND resource_id = ?7 AND state = 'open' AND id <> ?1) AS held_elsewhere,
    o.held_micros AS org_held, o.spent_micros AS org_spent,
    t.held_micros AS tenant_held, t.spent_micros AS tenant_spent,
    ${LIVE_IF_REFUSED("org_id", "?2", "?11")} AS org_live,
    ${LIVE_IF_REFUSED("tenant_id", "?4", "?12")} AS tenant_live,
    (SELECT updated_at FROM org_upstreams WHERE org_id = ?2) AS account_set_at,
    ${POLICY_CURRENT("?8", "?9", "?10", "?2", "?4")} AS policy_current
  FROM budget_counters o, budget_counters t
  WHERE o.scope = 'org' AND o.scope_id = ?2 AND o.period_key = ?3
    AND t.scope = 'tenant' AND t.scope_id = ?4 AND t.period_key = ?5`;

interface ReportRow {
  amount: number | null;
  tag: number | null;
  held_elsewhere: number;
  org_held: number;
  org_spent: number;
  tenant_held: number;
  tenant_spent: number;
  /** Null unless the hold was refused and the scope has a live max. */
  org_live: number | null;
  tenant_live: number | null;
  account_set_at: string | null;
  policy_current: number;
}

/**
 * Admits a task or browser: in one transaction, reserves the smallest of what is wanted and what
 * remains in each scope, in both scopes at once, or reserves nothing. However many admissions race,
 * the holds and spend of a scope never pass its cap.
 */
export async function admitHold(db: D1Database, req: HoldRequest): Promise<Admission> {
  const now = new Date().toISOString();
  const scopes = [req.orgId, req.org.periodKey, req.tenantId, req.tenant.periodKey] as const;
  const resourceId = req.resourceId?.toLowerCase() ?? null;
  const policies = req.policies ? [1, req.policies.org, req.policies.tenant] : [null, null, null];
  const results = await db.batch([
    db
      .prepare(
        `INSERT INTO budget_counters (scope, scope_id, period_key) VALUES ('org', ?, ?), ('tenant', ?, ?)
         ON CONFLICT DO NOTHING`,
      )
      .bind(...scopes),
    db
      .prepare(INSERT_HOLD)
      .bind(
        req.holdId,
        req.kind,
        resourceId,
        req.orgId,
        req.tenantId,
        req.org.periodKey,
        req.tenant.periodKey,
        now,
        req.wantMicros,
        req.org.capMicros,
        req.tenant.capMicros,
        req.minHoldMicros,
        req.maxLive?.org ?? null,
        req.maxLive?.tenant ?? null,
        req.fingerprint,
        req.slotOnly ? 1 : 0,
        req.minRemainingMicros,
        req.baseline.stepCount,
        req.baseline.updatedAt,
        req.features.useOwnKey ? 1 : 0,
        ...policies,
        req.features.enableScheduledTasks ? 1 : 0,
      ),
    db.prepare(RESERVE).bind(req.holdId, ...scopes),
    db
      .prepare(REPORT)
      .bind(
        req.holdId,
        ...scopes,
        req.kind,
        resourceId,
        ...policies,
        req.maxLive?.org ?? null,
        req.maxLive?.tenant ?? null,
      ),
  ]);
  const row = results[3]?.results?.[0] as ReportRow | undefined;
  if (!row) throw new Error("budget counters missing after admission");
  if (row.amount !== null) {
    return {
      admitted: true,
      amountMicros: row.amount,
      tagMicros: row.tag ?? 0,
      accountSetAt: row.account_set_at,
    };
  }
  // Judged by a policy no longer stored: any refusal below may be wrong too.
  if (row.policy_current !== 1) return { admitted: false, reason: "stale_policy" };
  // Two follow-ups racing to the same session: the second finds the first's open hold.
  if (row.held_elsewhere > 0) return { admitted: false, reason: "already_held" };

  if (req.maxLive) {
    const { org_live: orgLive, tenant_live: tenantLive } = row;
    if (req.maxLive.tenant !== null && tenantLive !== null && tenantLive >= req.maxLive.tenant) {
      return {
        admitted: false,
        reason: "concurrency",
        scope: "tenant",
        live: tenantLive,
        max: req.maxLive.tenant,
      };
    }
    if (req.maxLive.org !== null && orgLive !== null && orgLive >= req.maxLive.org) {
      return { admitted: false, reason: "concurrency", scope: "org", live: orgLive, max: req.maxLive.org };
    }
  }
  const remaining = (cap: number | null, held: number, spent: number) =>
    cap === null ? Number.POSITIVE_INFINITY : Math.max(0, cap - held - spent);
  const orgLeft = remaining(req.org.capMicros, row.org_held, row.org_spent);
  const tenantLeft = remaining(req.tenant.capMicros, row.tenant_held, row.tenant_spent);
  return tenantLeft <= orgLeft
    ? { admitted: false, reason: "budget", scope: "tenant", remainingMicros: tenantLeft }
    : { admitted: false, reason: "budget", scope: "org", remainingMicros: orgLeft };
}

/**
 * Ties a hold to the session or browser upstream made (or dispatched to), marking when upstream
 * accepted the task: a later `idle` means the task is over.
 */
export function attachHoldStatement(db: D1Database, holdId: string, resourceId: string): D1PreparedStatement {
  // Only to its own object, or to one no other open hold has (an adoption two passes race for);
  // and from where the object's charges stand, should any have been made before it was tied.
  return db
    .prepare(
      `UPDATE holds SET resource_id = ?1, dispatched_at = ?2,
         base_total_micros = max(base_total_micros,
           coalesce((SELECT charged_micros FROM usage WHERE kind = holds.kind AND id = ?1), 0))
       WHERE id = ?3 AND state = 'open' AND (resource_id IS NULL OR resource_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM holds o WHERE o.kind = holds.kind AND o.resource_id = ?1
           AND o.state = 'open' AND o.id <> ?3)`,
    )
    .bind(resourceId.toLowerCase(), new Date().toISOString(), holdId);
}

/**
 * Releases a hold that reserved no money (a slot-only hold of 0): no counter moves, so one
 * statement that can share a batch with other writes.
 */
export function releaseUnusedHoldStatement(db: D1Database, holdId: string): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE holds SET state = 'released', settled_micros = 0, settled_at = ?
       WHERE id = ? AND state = 'open' AND amount_micros = 0`,
    )
    .bind(new Date().toISOString(), holdId);
}

export interface OpenHold {
  id: string;
  orgId: string;
  tenantId: string;
  /** The periods its counters are in (those of its admission). */
  orgPeriod: string;
  tenantPeriod: string;
  amountMicros: number;
  baseTotalMicros: number;
  baseStepCount: number;
  baseUpdatedAt: string | null;
  dispatchedAt: string | null;
  createdAt: string;
}

/**
 * SQL: the open holds of the org bound at `orgParam` tied to no object: creates in flight, or whose
 * answer was lost and that the reconciler has yet to find on the org's current account.
 */
export const unattachedHoldOf = (orgParam: string) =>
  `SELECT 1 FROM holds WHERE org_id = ${orgParam} AND state = 'open' AND resource_id IS NULL`;

/** The open hold of a session or browser, if it has one. */
export async function findOpenHold(
  db: D1Database,
  kind: "session" | "browser",
  resourceId: string,
): Promise<OpenHold | null> {
  const row = await db
    .prepare(
      `SELECT id, org_id, tenant_id, org_period, tenant_period, amount_micros, base_total_micros, base_step_count,
         base_updated_at, dispatched_at, created_at FROM holds
       WHERE kind = ? AND resource_id = ? AND state = 'open'`,
    )
    .bind(kind, resourceId.toLowerCase())
    .first<{
      id: string;
      org_id: string;
      tenant_id: string;
      org_period: string;
      tenant_period: string;
      amount_micros: number;
      base_total_micros: number;
      base_step_count: number;
      base_updated_at: string | null;
      dispatched_at: string | null;
      created_at: string;
    }>();
  return row
    ? {
        id: row.id,
        orgId: row.org_id,
        tenantId: row.tenant_id,
        orgPeriod: row.org_period,
        tenantPeriod: row.tenant_period,
        amountMicros: row.amount_micros,
        baseTotalMicros: row.base_total_micros,
        baseStepCount: row.base_step_count,
        baseUpdatedAt: row.base_updated_at,
        dispatchedAt: row.dispatched_at,
        createdAt: row.created_at,
      }
    : null;
}

const BOOK = `UPDATE budget_counters
  SET held_micros = held_micros - h.amount_micros,
      spent_micros = spent_micros + h.settled_micros,
      overshoot_micros = overshoot_micros + max(0, h.settled_micros - h.amount_micros)
  FROM holds h
  WHERE h.id = ?1 AND h.settle_token = ?2
    AND ((budget_counters.scope = 'org' AND budget_counters.scope_id = h.org_id AND budget_counters.period_key = h.org_period)
      OR (budget_counters.scope = 'tenant' AND budget_counters.scope_id = h.tenant_id AND budget_counters.period_key = h.tenant_period))`;

// What the closed hold charged is charged of its object's total: where the next hold starts.
const MARK_CHARGED = `UPDATE usage SET charged_micros = max(charged_micros, h.base_total_micros + h.settled_micros)
  FROM holds h WHERE h.id = ?1 AND h.settle_token = ?2 AND h.resource_id IS NOT NULL
    AND usage.kind = h.kind AND usage.id = h.resource_id`;

/**
 * What a closing hold charges: a fixed amount (0 for a release, the whole hold when charged in
 * full), or, for a task that ended, what its object's total added past the hold's base. That total
 * is the booked one (`usage`), read in the closing statement itself, so a later view another
 * observer booked while this one was deciding is charged too; `observedTotalMicros` stands in only
 * where the ledger has no row.
 */
export type HoldCharge = { amountMicros: number } | { observedTotalMicros: number };

/**
 * Closes a hold, releasing what it reserved and booking its charge as spent in both scopes.
 * Exactly once: only the caller whose token closed the hold moves the counters, whatever the number
 * of observers racing. Returns what it charged, or null when another caller had closed it.
 */
export async function closeHold(
  db: D1Database,
  holdId: string,
  charge: HoldCharge,
  state: "settled" | "released",
  options: { onlyUnattached?: boolean } = {},
): Promise<number | null> {
  const close = closeHoldStatements(db, holdId, charge, state, options);
  return close.charged(await db.batch(close.statements));
}

/**
 * closeHold's batch, for closing several holds (and writing what goes with them) in one
 * transaction: the statements, and how to read from their results what the close charged.
 */
export function closeHoldStatements(
  db: D1Database,
  holdId: string,
  charge: HoldCharge,
  state: "settled" | "released",
  options: { onlyUnattached?: boolean } = {},
): { statements: D1PreparedStatement[]; charged: (results: D1Result[]) => number | null } {
  const token = crypto.randomUUID();
  // An orphan is released only while still unattached: a concurrent pass may have just adopted it.
  const unattached = options.onlyUnattached ? "AND resource_id IS NULL" : "";
  const observed = "observedTotalMicros" in charge ? charge.observedTotalMicros : null;
  const amount = "amountMicros" in charge ? Math.max(0, charge.amountMicros) : null;
  const statements = [
    db
      .prepare(
        `UPDATE holds SET state = ?1, settle_token = ?2, settled_at = ?3,
           settled_micros = coalesce(?4, max(0, coalesce(
             (SELECT u.total_cost_micros FROM usage u WHERE u.kind = holds.kind AND u.id = holds.resource_id),
             ?5) - base_total_micros))
         WHERE id = ?6 AND state = 'open' ${unattached}`,
      )
      .bind(state, token, new Date().toISOString(), amount, observed, holdId),
    db.prepare(BOOK).bind(holdId, token),
    db.prepare(MARK_CHARGED).bind(holdId, token),
    db.prepare("SELECT settled_micros FROM holds WHERE id = ? AND settle_token = ?").bind(holdId, token),
  ];
  const charged = ([claim, , , read]: D1Result[]) => {
    if ((claim?.meta.changes ?? 0) === 0) return null;
    return (read?.results?.[0] as { settled_micros: number } | undefined)?.settled_micros ?? 0;
  };
  return { statements, charged };
}

// The part of an object's booked total no hold has charged, while no hold is open for it.
const UNHELD = `SELECT u.total_cost_micros - u.charged_micros AS delta FROM usage u
  WHERE u.kind = ?1 AND u.id = ?2 AND u.total_cost_micros > u.charged_micros
    AND NOT EXISTS (SELECT 1 FROM holds WHERE kind = ?1 AND resource_id = ?2 AND state = 'open')`;

/**
 * The statements that charge what an object cost outside any hold (a session without a task, idle
 * time after a kept-alive session's last task, a final view's last figures) to its org's and
 * tenant's budgets in the given periods, as spend past any hold (so also as overshoot). Meant for
 * the same batch as the booking of the view, after it: the delta is read from the booked usage
 * row and the watermark moved in the same transaction, so nothing is charged twice, and nothing
 * while a hold is open (its settlement charges the task).
 */
export function chargeUnheldStatements(
  db: D1Database,
  kind: "session" | "browser",
  id: string,
  scopes: { orgId: string; orgPeriod: string; tenantId: string; tenantPeriod: string },
): D1PreparedStatement[] {
  const key = [kind, id.toLowerCase()] as const;
  const periods = [scopes.orgId, scopes.orgPeriod, scopes.tenantId, scopes.tenantPeriod] as const;
  return [
    db
      .prepare(
        `INSERT INTO budget_counters (scope, scope_id, period_key) VALUES ('org', ?, ?), ('tenant', ?, ?)
         ON CONFLICT DO NOTHING`,
      )
      .bind(...periods),
    db
      .prepare(
        `UPDATE budget_counters SET spent_micros = spent_micros + d.delta, overshoot_micros = overshoot_micros + d.delta
         FROM (${UNHELD}) d
         WHERE (scope = 'org' AND scope_id = ?3 AND period_key = ?4) OR (scope = 'tenant' AND scope_id = ?5 AND period_key = ?6)`,
      )
      .bind(...key, ...periods),
    db
      .prepare(
        `UPDATE usage SET charged_micros = total_cost_micros WHERE kind = ?1 AND id = ?2
           AND total_cost_micros > charged_micros
           AND NOT EXISTS (SELECT 1 FROM holds WHERE kind = ?1 AND resource_id = ?2 AND state = 'open')`,
      )
      .bind(...key),
  ];
}

/** A scope's counter for one period. */
export async function getCounter(
  db: D1Database,
  scope: Scope,
  scopeId: string,
  periodKey: string,
): Promise<CounterView> {
  const [counter] = await getCounters(db, [{ scope, scopeId, periodKey }]);
  return counter as CounterView;
}

/** Which counter: a scope, its id and the period. */
export interface CounterKey {
  scope: Scope;
  scopeId: string;
  periodKey: string;
}

interface CounterRow {
  scope: string;
  scope_id: string;
  period_key: string;
  held_micros: number;
  spent_micros: number;
  overshoot_micros: number;
}

/** Several scopes' counters in one query (an org's and a tenant's), in the order asked; zero where none. */
export async function getCounters(db: D1Database, keys: CounterKey[]): Promise<CounterView[]> {
  const { results } = await countersStatement(db, keys).all<CounterRow>();
  return readCounters(keys, results);
}

/** getCounters' query, for a batch with others; its rows go to readCounters. */
export function countersStatement(db: D1Database, keys: CounterKey[]): D1PreparedStatement {
  return db
    .prepare(
      `SELECT scope, scope_id, period_key, held_micros, spent_micros, overshoot_micros FROM budget_counters
       WHERE ${keys.map(() => "(scope = ? AND scope_id = ? AND period_key = ?)").join(" OR ")}`,
    )
    .bind(...keys.flatMap((k) => [k.scope, k.scopeId, k.periodKey]));
}

/** The counters of `keys`, in their order, from countersStatement's rows; zero where none. */
export function readCounters(keys: CounterKey[], rows: unknown[]): CounterView[] {
  return keys.map((k) => {
    const row = (rows as CounterRow[]).find(
      (r) => r.scope === k.scope && r.scope_id === k.scopeId && r.period_key === k.periodKey,
    );
    return {
      heldMicros: row?.held_micros ?? 0,
      spentMicros: row?.spent_micros ?? 0,
      overshootMicros: row?.overshoot_micros ?? 0,
    };
  });
}
