/** What a usage report can be grouped by. */
export type UsageGroup = "org" | "tenant" | "key" | "day" | "model" | "country";

// Each group's column in the roll-ups (b) and the days they fall in (d). Fixed text, never client
// input. '' in the roll-ups stands for none.
const GROUP_SQL: Record<UsageGroup, string> = {
  org: "b.org_id",
  tenant: "b.tenant_id",
  key: "b.key_id",
  day: "d.day",
  model: "b.model",
  country: "b.country",
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
 * The sums of the cost events booked in the selection's days, by its groups, ordered by them,
 * from the 15-minute roll-ups (migration 0015) a trigger keeps with every cost event. One query:
 * the days come in as one JSON parameter, so a report of a year is one statement.
 */
export async function usageRows(db: D1Database, selection: UsageSelection): Promise<UsageRow[]> {
  const groups = selection.groupBy.map((g, i) => `${GROUP_SQL[g]} AS g${i}`);
  const groupBy = selection.groupBy.map((_, i) => `g${i}`);
  // Only the filters given are in the query, so an org's or a tenant's report reads its own range
  // of usage_buckets_by_org or _by_tenant, not every org's buckets of its days; and the days come
  // first (CROSS JOIN keeps them the outer loop), so a tenant's range is its days', not its history.
  const filters: string[] = [];
  const binds: unknown[] = [];
  for (const [column, value] of [
    ["b.org_id", selection.orgId],
    ["b.tenant_id", selection.tenantId],
    ["b.key_id", selection.keyId],
    ["b.model", selection.model],
    ["b.country", selection.country],
  ] as const) {
    if (value === undefined || value === null) continue;
    filters.push(`${column} = ?`);
    binds.push(value);
  }
  const results = await db
    .prepare(
      `SELECT ${[...groups, ""].join(", ")}
         sum(b.sessions) AS sessions, sum(b.browsers) AS browsers,
         sum(b.input_tokens) AS input_tokens, sum(b.output_tokens) AS output_tokens,
         sum(b.proxy_used_micro_mb) AS proxy_used_micro_mb, sum(b.llm_cost_micros) AS llm_cost_micros,
         sum(b.proxy_cost_micros) AS proxy_cost_micros, sum(b.browser_cost_micros) AS browser_cost_micros,
         sum(b.total_cost_micros) AS total_cost_micros, count(*) AS buckets
       FROM (SELECT value ->> '$.day' AS day, value ->> '$.start' AS start, value ->> '$.end' AS end
             FROM json_each(?)) d
       CROSS JOIN usage_buckets b ON b.bucket >= d.start AND b.bucket < d.end
       ${filters.length ? `WHERE ${filters.join(" AND ")}` : ""}
       ${groupBy.length ? `GROUP BY ${groupBy.join(", ")} ORDER BY ${groupBy.join(", ")}` : ""}`,
    )
    .bind(
      JSON.stringify(
        selection.days.map((d) => ({ day: d.day, start: bucketOf(d.start), end: bucketOf(d.end) })),
      ),
      ...binds,
    )
    // Rows as arrays: a report of every tenant's days is tens of thousands of rows.
    .raw<(number | string | null)[]>();
  const n = selection.groupBy.length;
  return results
    .filter((r) => Number(r[n + 9]) > 0)
    .map((r) => {
      const figure = (i: number) => Number(r[n + i] ?? 0);
      return {
        groups: Object.fromEntries(selection.groupBy.map((g, i) => [g, (r[i] as string | null) || null])),
        sessions: figure(0),
        browsers: figure(1),
        inputTokens: figure(2),
        outputTokens: figure(3),
        proxyUsedMicroMb: figure(4),
        llmCostMicros: figure(5),
        proxyCostMicros: figure(6),
        browserCostMicros: figure(7),
        totalCostMicros: figure(8),
      };
    });
}

/** The roll-up bucket an instant (ISO, UTC) falls in: 'YYYY-MM-DDTHH:MM', its 15 minutes' start. */
function bucketOf(iso: string): string {
  const minute = Math.floor(Number(iso.slice(14, 16)) / 15) * 15;
  return `${iso.slice(0, 14)}${String(minute).padStart(2, "0")}`;
}
