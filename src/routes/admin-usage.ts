import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { invalidInput } from "../lib/errors";
import { validate } from "../middleware/validate";
import { describeRoute, type ResponseDetail } from "../openapi/describe";
import { UsageReport, type UsageQuery, usageCsv, usageReport } from "../reports/usage";
import { UsageQuery as UsageQuerySchema } from "../reports/usage";

/**
 * A usage report as JSON, or as CSV for `Accept: text/csv` or `format=csv`; 422 for a range that
 * is backwards or longer than a report covers.
 */
export async function answerUsage(c: Context<AppEnv>, query: UsageQuery): Promise<Response> {
  const report = await usageReport(c.env.DB, query);
  if (!report) {
    throw invalidInput([
      {
        type: "value_error",
        loc: ["query", "to"],
        msg: "from must not be after to, and a report covers at most 400 days",
      },
    ]);
  }
  const csv =
    query.format === "csv" ||
    (query.format === undefined && /\btext\/csv\b/.test(c.req.header("Accept") ?? ""));
  if (!csv) return c.json(report);
  return c.body(usageCsv(report), 200, {
    "Content-Type": "text/csv; charset=utf-8",
    "Content-Disposition": `attachment; filename="usage-${report.from}-${report.to}.csv"`,
  });
}

/** How a usage report answers, in the OpenAPI document (for /gateway/v1/usage too). */
export const USAGE_ANSWER: ResponseDetail = {
  description:
    "The report; with `Accept: text/csv` or `format=csv`, RFC 4180 CSV: a header row of the same column names, a row per group, no totals",
  schema: UsageReport,
  text: "text/csv",
};

/** GET /admin/v1/usage: where the money went, by org, tenant, key, day, model and country. */
export const adminUsage = new Hono<AppEnv>().get(
  "/usage",
  describeRoute({
    operationId: "getUsage",
    summary: "Usage report",
    description:
      "The cost ledger summed by any of `org`, `tenant`, `key`, `day`, `model`, `country` (`groupBy`, default `tenant,day`), over calendar days in `timeZone` from `from` to `to`, both included (default: this month up to today; at most 400 days). Each cost counts on the day it was booked, so any range sums to the ledger.",
    responses: { 200: USAGE_ANSWER },
  }),
  validate("query", UsageQuerySchema),
  (c) => answerUsage(c, c.req.valid("query")),
);
