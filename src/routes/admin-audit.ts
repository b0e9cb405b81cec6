import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { invalidInput } from "../lib/errors";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { type AuditEntry as AuditEntryView, AuditPage } from "../schemas/admin";
import { AUDIT_ACTIONS, type AuditEntry, listAudit } from "../store/audit";
import { queryInt, queryScalar } from "../v3/schemas/common";

// The cursor is opaque to clients; inside it is where the next page starts.
const encodeCursor = (seq: number) => btoa(`audit:${seq}`).replace(/=+$/, "");
const CURSOR = /^audit:(\d{1,15})$/;

function decodeCursor(cursor: string): number | null {
  try {
    const match = CURSOR.exec(atob(cursor));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

const Instant = z.pipe(
  z.iso.datetime({ offset: true }),
  z.transform((s) => new Date(s).toISOString()),
);

/** The query of `GET /audit`. */
export const AuditQuery = z
  .object({
    orgId: z.optional(queryScalar(z.uuid())),
    tenantId: z.optional(queryScalar(z.uuid())),
    action: z.optional(queryScalar(z.enum(AUDIT_ACTIONS))),
    from: z.optional(queryScalar(Instant)),
    to: z.optional(queryScalar(Instant)),
    cursor: z.optional(queryScalar(z.string().check(z.maxLength(100)))),
    pageSize: z._default(queryInt(1, 100), 50),
  })
  .check(
    z.refine((q) => !q.from || !q.to || q.from <= q.to, {
      message: "from must not be after to",
      path: ["to"],
    }),
  );

/** An entry as the API shows it; the field names are the log's contract (README). */
const entryView = (e: AuditEntry): AuditEntryView => ({
  id: e.id,
  at: e.at,
  actor: e.actor,
  tokenName: e.tokenName,
  action: e.action,
  target: e.target,
  orgId: e.orgId,
  tenantId: e.tenantId,
  before: e.before,
  after: e.after,
  requestId: e.requestId,
  code: e.code,
  count: e.count,
});

/** GET /admin/v1/audit: who changed what (and the refusals by policy and budget), newest first. */
export const adminAudit = new Hono<AppEnv>().get(
  "/audit",
  describeRoute({
    operationId: "listAudit",
    summary: "Read the audit log",
    description:
      "Every admin change (who, what, before and after with secrets redacted, request id) and the refusals by policy and budget (one entry per tenant, code and minute, with a `count`), newest first. `from` is inclusive, `to` exclusive; pass `nextCursor` as `cursor` for the next page.",
    responses: { 200: AuditPage },
  }),
  validate("query", AuditQuery),
  async (c) => {
    const { cursor, pageSize, ...filter } = c.req.valid("query");
    const beforeSeq = cursor === undefined ? undefined : decodeCursor(cursor);
    if (beforeSeq === null) {
      throw invalidInput([
        {
          type: "value_error",
          loc: ["query", "cursor"],
          msg: "Not a cursor this API gave out",
          input: cursor,
        },
      ]);
    }
    const { entries, next } = await listAudit(c.env.DB, { ...filter, beforeSeq, limit: pageSize });
    return c.json({ items: entries.map(entryView), nextCursor: next === null ? null : encodeCursor(next) });
  },
);
