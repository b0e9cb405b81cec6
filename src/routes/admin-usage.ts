import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { invalidInput } from "../lib/errors";
import { validate } from "../middleware/validate";
import { type UsageQuery, usageCsv, usageReport } from "../reports/usage";
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

/** GET /admin/v1/usage: where the money went, by org, tenant, key, day, model and country. */
export const adminUsage = new Hono<AppEnv>().get("/usage", validate("query", UsageQuerySchema), (c) =>
  answerUsage(c, c.req.valid("query")),
);
