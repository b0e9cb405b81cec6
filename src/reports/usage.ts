/**
 * Usage reports: the ledger's cost events summed by org, tenant, key, day, model and country, over
 * calendar days in a time zone. Each event counts on the day it was booked, so a report over any
 * range sums to the ledger, and the days of two reports never overlap. A session or browser counts
 * once, in the group of its first cost event.
 */
import * as z from "zod/mini";
import { fromMicros } from "../lib/money";
import { TimeZone } from "../policy/document";
import { type UsageGroup, type UsageRow, usageRows } from "../store/reports";
import { DecimalString, MoneyString, queryScalar } from "../v3/schemas/common";

export const USAGE_GROUPS = ["org", "tenant", "key", "day", "model", "country"] as const;

/** The longest range a report covers, in days. */
const MAX_DAYS = 400;

const Day = z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, "a calendar day, YYYY-MM-DD"));

/** The query of `GET /admin/v1/usage` (and `/gateway/v1/usage`): from and to are inclusive days. */
export const UsageQuery = z.object({
  from: z.optional(queryScalar(Day)),
  to: z.optional(queryScalar(Day)),
  timeZone: z._default(queryScalar(TimeZone), "UTC"),
  orgId: z.optional(queryScalar(z.uuid())),
  tenantId: z.optional(queryScalar(z.uuid())),
  keyId: z.optional(queryScalar(z.string().check(z.maxLength(100)))),
  model: z.optional(queryScalar(z.string().check(z.maxLength(100)))),
  country: z.optional(queryScalar(z.string().check(z.maxLength(10)))),
  groupBy: queryScalar(
    z.pipe(
      z.pipe(
        z._default(z.string(), "tenant,day"),
        z.transform((s) =>
          s
            .split(",")
            .map((g) => g.trim())
            .filter((g) => g !== ""),
        ),
      ),
      z.array(z.enum(USAGE_GROUPS)).check(z.refine((g) => new Set(g).size === g.length, "each group once")),
    ),
  ),
  format: z.optional(queryScalar(z.enum(["json", "csv"]))),
});
export type UsageQuery = z.infer<typeof UsageQuery>;

/** A report's columns: the groups it is by, then the figures. */
const GROUP_COLUMNS: Record<UsageGroup, keyof z.infer<typeof UsageGroupColumns>> = {
  org: "orgId",
  tenant: "tenantId",
  key: "keyId",
  day: "day",
  model: "model",
  country: "proxyCountryCode",
};
const FIGURES = [
  "sessions",
  "browsers",
  "totalInputTokens",
  "totalOutputTokens",
  "proxyUsedMb",
  "llmCostUsd",
  "proxyCostUsd",
  "browserCostUsd",
  "totalCostUsd",
] as const;

/** A report's figures, for one group or in total: counts, tokens, and decimal strings of MB and USD. */
const UsageFigures = z.strictObject({
  sessions: z.int().check(z.minimum(0)),
  browsers: z.int().check(z.minimum(0)),
  totalInputTokens: z.int().check(z.minimum(0)),
  totalOutputTokens: z.int().check(z.minimum(0)),
  proxyUsedMb: DecimalString,
  llmCostUsd: MoneyString,
  proxyCostUsd: MoneyString,
  browserCostUsd: MoneyString,
  totalCostUsd: MoneyString,
});
type UsageFigures = z.infer<typeof UsageFigures>;

/** A group's columns: those of the report's groups only; null where the ledger has none. */
const UsageGroupColumns = z.strictObject({
  orgId: z.optional(z.nullable(z.string())),
  tenantId: z.optional(z.nullable(z.string())),
  keyId: z.optional(z.nullable(z.string())),
  day: z.optional(z.nullable(Day)),
  model: z.optional(z.nullable(z.string())),
  proxyCountryCode: z.optional(z.nullable(z.string())),
});

/** A usage report as JSON (the CSV has the rows alone, under a header of the same names). */
export const UsageReport = z.strictObject({
  from: Day,
  to: Day,
  timeZone: z.string(),
  groupBy: z.array(z.enum(USAGE_GROUPS)),
  rows: z.array(z.extend(UsageGroupColumns, UsageFigures.shape)),
  totals: UsageFigures,
});
export type UsageReport = z.infer<typeof UsageReport>;

/** The report a query asks for; `range` is refused (null) when it is backwards or too long. */
export async function usageReport(
  db: D1Database,
  query: UsageQuery,
  now = new Date(),
): Promise<UsageReport | null> {
  const today = localDay(now, query.timeZone);
  const from = query.from ?? `${today.slice(0, 8)}01`;
  const to = query.to ?? today;
  const days = dayRange(from, to);
  if (days.length === 0 || days.length > MAX_DAYS) return null;
  const selection = {
    groupBy: query.groupBy,
    days: days.map((day) => ({
      day,
      start: startOfDay(day, query.timeZone),
      end: startOfDay(nextDay(day), query.timeZone),
    })),
    orgId: query.orgId,
    tenantId: query.tenantId,
    keyId: query.keyId,
    model: query.model,
    country: query.country,
  };
  const rows = await usageRows(db, selection);
  return {
    from,
    to,
    timeZone: query.timeZone,
    groupBy: query.groupBy,
    rows: rows.map((row) => ({ ...groupsOf(row, query.groupBy), ...figuresOf(row) })),
    totals: figuresOf(sumRows(rows)),
  };
}

/** The report as CSV (RFC 4180): a header row of the same column names, a row per group, no totals. */
export function usageCsv(report: UsageReport): string {
  const columns = [...report.groupBy.map((g) => GROUP_COLUMNS[g]), ...FIGURES];
  const cell = (v: unknown) => {
    const text = v === null || v === undefined ? "" : String(v);
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = [columns.join(","), ...report.rows.map((row) => columns.map((c) => cell(row[c])).join(","))];
  return `${lines.join("\r\n")}\r\n`;
}

function groupsOf(row: UsageRow, groupBy: UsageGroup[]): z.infer<typeof UsageGroupColumns> {
  return Object.fromEntries(groupBy.map((g) => [GROUP_COLUMNS[g], row.groups[g] || null]));
}

function figuresOf(row: Omit<UsageRow, "groups">): UsageFigures {
  return {
    sessions: row.sessions,
    browsers: row.browsers,
    totalInputTokens: row.inputTokens,
    totalOutputTokens: row.outputTokens,
    proxyUsedMb: fromMicros(row.proxyUsedMicroMb),
    llmCostUsd: fromMicros(row.llmCostMicros),
    proxyCostUsd: fromMicros(row.proxyCostMicros),
    browserCostUsd: fromMicros(row.browserCostMicros),
    totalCostUsd: fromMicros(row.totalCostMicros),
  };
}

/** The sum of rows' figures: each object counts on its first cost event, so counts add up too. */
function sumRows(rows: UsageRow[]): Omit<UsageRow, "groups"> {
  const total = {
    sessions: 0,
    browsers: 0,
    inputTokens: 0,
    outputTokens: 0,
    proxyUsedMicroMb: 0,
    llmCostMicros: 0,
    proxyCostMicros: 0,
    browserCostMicros: 0,
    totalCostMicros: 0,
  };
  for (const row of rows) for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += row[k];
  return total;
}

/** The calendar days from `from` to `to`, both included (none when `to` is before `from`). */
function dayRange(from: string, to: string): string[] {
  const days: string[] = [];
  for (let day = from; day <= to && days.length <= MAX_DAYS; day = nextDay(day)) days.push(day);
  return days;
}

function nextDay(day: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
}

/** The calendar day an instant falls on in a time zone. */
function localDay(at: Date, timeZone: string): string {
  return new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(at);
}

/** The instant a calendar day begins in a time zone (midnight, or the first moment after a gap), as ISO. */
function startOfDay(day: string, timeZone: string): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const midnightUtc = Date.UTC(y, m - 1, d);
  // Two rounds find the offset in force at local midnight, across a DST change too.
  let guess = midnightUtc - offsetMs(midnightUtc, timeZone);
  guess = midnightUtc - offsetMs(guess, timeZone);
  return new Date(guess).toISOString();
}

/** How far a time zone's clock is ahead of UTC at an instant. */
function offsetMs(at: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    })
      .formatToParts(new Date(at))
      .map((p) => [p.type, p.value]),
  );
  const local = Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
  return local - Math.floor(at / 1000) * 1000;
}
