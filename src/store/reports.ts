/** What a usage report can be grouped by. */
export type UsageGroup = "org" | "tenant" | "key" | "day" | "model" | "country";

// Each group's column, from cost events (e), the days they fall in (d), the objects' latest
// figures (u: model, country) and their records (r: the key that created them). Fixed text,
// never client input.
const GROUP_SQL: Record<UsageGroup, string> = {
  org: "e.org_id",
  tenant: "e.tenant_id",
  key: "r.key_id",
  day: "d.day",
  model: "u.model",
  country: "u.proxy_country",
};

export interface UsageRow {
  groups: Partial<Record<UsageGroup, string | null>>;
  sessions: number;
  browsers: number;
  inputTokens: number;
  outputTokens: number;
  proxyUsedMicroMb: number;
  llmCostMicros: number;
  proxyCostMicros: number;
  browserCostMicros: number;
  totalCostMicros: number;
}

export interface UsageSelection {
  groupBy: UsageGroup[];
  /** The report's days, each with the instants it starts and ends at (ISO, UTC). */
  days: { day: string; start: string; end: string }[];
  orgId?: string;
  tenantId?: string;
  keyId?: string;
  model?: string;
  country?: string;
}

/**
 * The sums of the cost events booked in the selection's days, by its groups, ordered by them.
 * One query: the days come in as one JSON parameter, so a report of a year is one statement.
 */
export async function usageRows(db: D1Database, selection: UsageSelection): Promise<UsageRow[]> {
  const groups = selection.groupBy.map((g, i) => `${GROUP_SQL[g]} AS g${i}`);
  const groupBy = selection.groupBy.map((_, i) => `g${i}`);
  const { results } = await db
    .prepare(
      `SELECT ${[...groups, ""].join(", ")}
         count(DISTINCT CASE WHEN e.kind = 'session' THEN e.id END) AS sessions,
         count(DISTINCT CASE WHEN e.kind = 'browser' THEN e.id END) AS browsers,
         sum(e.input_tokens) AS input_tokens, sum(e.output_tokens) AS output_tokens,
         sum(e.proxy_used_micro_mb) AS proxy_used_micro_mb, sum(e.llm_cost_micros) AS llm_cost_micros,
         sum(e.proxy_cost_micros) AS proxy_cost_micros, sum(e.browser_cost_micros) AS browser_cost_micros,
         sum(e.total_cost_micros) AS total_cost_micros
       FROM (SELECT value ->> '$.day' AS day, value ->> '$.start' AS start, value ->> '$.end' AS end
             FROM json_each(?1)) d
       JOIN cost_events e ON e.at >= d.start AND e.at < d.end
       LEFT JOIN usage u ON u.kind = e.kind AND u.id = e.id
       LEFT JOIN resources r ON r.kind = e.kind AND r.id = e.id
       WHERE (?2 IS NULL OR e.org_id = ?2) AND (?3 IS NULL OR e.tenant_id = ?3) AND (?4 IS NULL OR r.key_id = ?4)
         AND (?5 IS NULL OR u.model = ?5) AND (?6 IS NULL OR u.proxy_country = ?6)
       ${groupBy.length ? `GROUP BY ${groupBy.join(", ")} ORDER BY ${groupBy.join(", ")}` : ""}`,
    )
    .bind(
      JSON.stringify(selection.days),
      selection.orgId ?? null,
      selection.tenantId ?? null,
      selection.keyId ?? null,
      selection.model ?? null,
      selection.country ?? null,
    )
    .all<Record<string, number | string | null>>();
  return results
    .filter((r) => Number(r.sessions) + Number(r.browsers) > 0)
    .map((r) => ({
      groups: Object.fromEntries(selection.groupBy.map((g, i) => [g, (r[`g${i}`] as string | null) ?? null])),
      sessions: Number(r.sessions),
      browsers: Number(r.browsers),
      inputTokens: Number(r.input_tokens ?? 0),
      outputTokens: Number(r.output_tokens ?? 0),
      proxyUsedMicroMb: Number(r.proxy_used_micro_mb ?? 0),
      llmCostMicros: Number(r.llm_cost_micros ?? 0),
      proxyCostMicros: Number(r.proxy_cost_micros ?? 0),
      browserCostMicros: Number(r.browser_cost_micros ?? 0),
      totalCostMicros: Number(r.total_cost_micros ?? 0),
    }));
}
