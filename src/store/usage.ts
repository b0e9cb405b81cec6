import type { Owner } from "./resources";

/** Cost figures of one session or browser as upstream reported them, in integers. */
export interface CostFigures {
  inputTokens: number;
  outputTokens: number;
  proxyUsedMicroMb: number;
  llmCostMicros: number;
  proxyCostMicros: number;
  browserCostMicros: number;
  totalCostMicros: number;
}

/** One observation of a session or browser: its figures and state at the moment upstream answered. */
export interface UsageObservation {
  kind: "session" | "browser";
  id: string;
  owner: Owner;
  status: string;
  /** Whether `status` is final (stopped, timed_out, error): final figures are authoritative. */
  final: boolean;
  model?: string | null;
  proxyCountry?: string | null;
  figures: CostFigures;
  /**
   * A session's step count and last update (whether a task has moved past its dispatch), and
   * whether the view tells how its last task went (`isTaskSuccessful` set, which a task only has
   * once it has ended).
   */
  progress?: { stepCount: number; updatedAt: string | null; outcome?: boolean };
}

const COLUMNS: [keyof CostFigures, string][] = [
  ["inputTokens", "input_tokens"],
  ["outputTokens", "output_tokens"],
  ["proxyUsedMicroMb", "proxy_used_micro_mb"],
  ["llmCostMicros", "llm_cost_micros"],
  ["proxyCostMicros", "proxy_cost_micros"],
  ["browserCostMicros", "browser_cost_micros"],
  ["totalCostMicros", "total_cost_micros"],
];

// The figure a column should hold after an observation, in SQL over the current row and the
// observation's bound value `:v`: figures only grow while a session lives, so a stale read never
// lowers them; once a final view is seen it wins (a browser's refund on stop legitimately lowers
// its cost) and a later non-final view (a stale read) changes nothing.
const next = (col: string, param: string) =>
  `CASE WHEN final = 1 AND ?final = 0 THEN ${col}
        WHEN final = 0 AND ?final = 1 THEN ${param}
        ELSE max(${col}, ${param}) END`;

const numbered = (col: string, i: number) => next(col, `?${i + 1}`).replaceAll("?final", "?8");

// ?1..?7 are the figures in COLUMNS order, ?8 the final flag, ?9 kind, ?10 id, ?11 status, ?12 now.
const EVENT_SQL = `INSERT INTO cost_events
  (kind, id, org_id, tenant_id, at, status, ${COLUMNS.map(([, c]) => c).join(", ")})
  SELECT kind, id, org_id, tenant_id, ?12, ?11, ${COLUMNS.map(([, c], i) => `${numbered(c, i)} - ${c}`).join(", ")}
  FROM usage WHERE kind = ?9 AND id = ?10
    AND (${COLUMNS.map(([, c], i) => `${numbered(c, i)} <> ${c}`).join(" OR ")})`;

const UPDATE_SQL = `UPDATE usage SET
  ${COLUMNS.map(([, c], i) => `${c} = ${numbered(c, i)}`).join(",\n  ")},
  status = CASE WHEN final = 1 AND ?8 = 0 THEN status ELSE ?11 END,
  final = max(final, ?8),
  updated_at = ?12
  WHERE kind = ?9 AND id = ?10`;

/**
 * The statements that book an observation into the ledger, to run in one D1 batch (one
 * transaction): the usage row is created on first sight, a cost event with the deltas is appended
 * only when a figure changed, and the latest figures are updated. Seeing the same figures twice
 * books nothing. Several observations may share one batch.
 */
export function recordUsageStatements(db: D1Database, obs: UsageObservation): D1PreparedStatement[] {
  const now = new Date().toISOString();
  const figures = COLUMNS.map(([key]) => obs.figures[key]);
  const args = [...figures, obs.final ? 1 : 0, obs.kind, obs.id.toLowerCase(), obs.status, now];
  return [
    db
      .prepare(
        `INSERT INTO usage (kind, id, org_id, tenant_id, model, proxy_country, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET
           model = coalesce(excluded.model, model), proxy_country = coalesce(excluded.proxy_country, proxy_country)`,
      )
      .bind(
        obs.kind,
        obs.id.toLowerCase(),
        obs.owner.orgId,
        obs.owner.tenantId,
        obs.model ?? null,
        obs.proxyCountry ?? null,
        now,
      ),
    db.prepare(EVENT_SQL).bind(...args),
    db.prepare(UPDATE_SQL).bind(...args),
  ];
}

/**
 * Notes the proxy country a browser was created with, which upstream's browser views do not
 * carry, so reports can group its cost by country; what an observation says later wins.
 */
export function usageCountryStatement(
  db: D1Database,
  kind: "session" | "browser",
  id: string,
  owner: Owner,
  country: string,
): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO usage (kind, id, org_id, tenant_id, proxy_country, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (kind, id) DO UPDATE SET proxy_country = coalesce(proxy_country, excluded.proxy_country)`,
    )
    .bind(kind, id.toLowerCase(), owner.orgId, owner.tenantId, country, new Date().toISOString());
}

interface UsageRow {
  status: string | null;
  input_tokens: number;
  output_tokens: number;
  proxy_used_micro_mb: number;
  llm_cost_micros: number;
  proxy_cost_micros: number;
  browser_cost_micros: number;
  total_cost_micros: number;
}

/** The latest figures of a session or browser, or null when the ledger has never seen it. */
export async function getUsage(
  db: D1Database,
  kind: "session" | "browser",
  id: string,
): Promise<(CostFigures & { status: string | null }) | null> {
  const row = await db
    .prepare("SELECT * FROM usage WHERE kind = ? AND id = ?")
    .bind(kind, id.toLowerCase())
    .first<UsageRow>();
  if (!row) return null;
  return {
    status: row.status,
    ...(Object.fromEntries(
      COLUMNS.map(([key, col]) => [key, row[col as keyof UsageRow]]),
    ) as unknown as CostFigures),
  };
}

/** The sum of every cost event of a session or browser: equals its latest figures when nothing was lost. */
export async function sumCostEvents(
  db: D1Database,
  kind: "session" | "browser",
  id: string,
): Promise<CostFigures> {
  const row = await db
    .prepare(
      `SELECT ${COLUMNS.map(([, c]) => `coalesce(sum(${c}), 0) AS ${c}`).join(", ")}
       FROM cost_events WHERE kind = ? AND id = ?`,
    )
    .bind(kind, id.toLowerCase())
    .first<UsageRow>();
  return Object.fromEntries(
    COLUMNS.map(([key, col]) => [key, row?.[col as keyof UsageRow] ?? 0]),
  ) as unknown as CostFigures;
}
