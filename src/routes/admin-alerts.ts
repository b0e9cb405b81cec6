import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { callbackUrlProblem } from "../hooks/callback-url";
import { newSigningSecret } from "../hooks/signatures";
import { invalidInput, notFound } from "../lib/errors";
import { REDACTED } from "../lib/redact";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import {
  AlertDeliveries,
  AlertTarget as AlertTargetView,
  AlertTargetPut,
  SigningSecret,
} from "../schemas/admin";
import type { BudgetAlertEvent } from "../schemas/events";
import {
  ALERT_SECRET_GRACE_MS,
  type AlertTarget,
  deleteAlertTarget,
  getAlertTarget,
  putAlertTarget,
  rotateAlertSecret,
} from "../store/alerts";
import { listAlertEvents, listAttempts } from "../store/events";
import { PageQuery } from "../v3/schemas";

const OrgParam = z.object({ orgId: z.uuid() });

/** Percent of a scope's cap at which an alert fires, when a PUT names none. */
export const DEFAULT_THRESHOLDS = [50, 80, 100];

/** The body of `PUT /orgs/{orgId}/alerts` (exported for the fuzz tests, like every route schema). */
export const AlertBody = z.strictObject({
  url: z.string().check(z.maxLength(2_000)),
  thresholds: z.optional(
    z.array(z.int().check(z.minimum(1), z.maximum(1_000))).check(
      z.minLength(1),
      z.maxLength(20),
      z.refine((t) => new Set(t).size === t.length, { message: "thresholds must be different" }),
    ),
  ),
});

const targetView = (target: AlertTarget): AlertTargetView => ({
  orgId: target.orgId,
  url: target.url,
  thresholds: target.thresholds,
  createdAt: target.createdAt,
  updatedAt: target.updatedAt,
});

/** Where an alert target's audit entries file it: under its org. */
const alertAudit = (orgId: string) => ({
  target: { type: "org" as const, id: orgId },
  orgId,
  tenantId: null,
});

function checkUrl(c: Context<AppEnv>, url: string): void {
  const problem = callbackUrlProblem(url, c.env.ALLOW_PRIVATE_CALLBACKS === "true");
  if (problem)
    throw invalidInput([{ type: "url_not_allowed", loc: ["body", "url"], msg: problem, input: url }]);
}

/**
 * /admin/v1 budget alerts of an org: where `budget.threshold_crossed` events go and at which
 * thresholds (percent of each capped scope's cap: the org's and each of its tenants'), the
 * secret they are signed with (shown on the first PUT and on rotation only), and their deliveries.
 */
const NO_ALERTS = "`No alerts for this org`";

export const adminAlerts = new Hono<AppEnv>()
  .put(
    "/orgs/:orgId/alerts",
    describeRoute({
      operationId: "putAlerts",
      summary: "Set an org's alert target",
      description:
        "`budget.threshold_crossed` events go to `url`, once per threshold (default 50, 80, 100 percent of booked spend) per budget period, for the org's and each tenant's capped budget. The first PUT answers with the signing `secret`; later ones keep it.",
      responses: { 200: AlertTargetPut, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    jsonBody({ required: true }),
    validate("json", AlertBody),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const body = c.req.valid("json");
      checkUrl(c, body.url);
      const thresholds = [...(body.thresholds ?? DEFAULT_THRESHOLDS)].sort((a, b) => a - b);
      const secret = newSigningSecret();
      const before = await getAlertTarget(c.env.DB, orgId);
      const now = new Date();
      const after = {
        orgId,
        url: body.url,
        thresholds,
        createdAt: before?.createdAt ?? now.toISOString(),
        updatedAt: now.toISOString(),
        // A first PUT makes the target's secret.
        ...(before ? {} : { secret: REDACTED }),
      };
      const audit = auditChange(c, {
        action: "alert.put",
        ...alertAudit(orgId),
        before: before && targetView(before),
        after,
      });
      const put = await putAlertTarget(c.env.DB, orgId, { url: body.url, thresholds }, secret, audit, now);
      if (!put) throw notFound("Org not found");
      if (!put.created) return c.json(targetView(put.target));
      c.header("Cache-Control", "no-store");
      return c.json({ ...targetView(put.target), secret });
    },
  )
  .get(
    "/orgs/:orgId/alerts",
    describeRoute({
      operationId: "getAlerts",
      summary: "Read an org's alert target",
      responses: { 200: AlertTargetView, 404: NO_ALERTS },
    }),
    validate("param", OrgParam),
    async (c) => {
      const target = await getAlertTarget(c.env.DB, c.req.valid("param").orgId);
      if (!target) throw notFound("No alerts for this org");
      return c.json(targetView(target));
    },
  )
  .delete(
    "/orgs/:orgId/alerts",
    describeRoute({
      operationId: "deleteAlerts",
      summary: "Stop an org's alerts",
      responses: { 204: "Deleted", 404: NO_ALERTS },
    }),
    validate("param", OrgParam),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const before = await getAlertTarget(c.env.DB, orgId);
      if (!before) throw notFound("No alerts for this org");
      const audit = auditChange(c, {
        action: "alert.delete",
        ...alertAudit(orgId),
        before: targetView(before),
        after: null,
      });
      if (!(await deleteAlertTarget(c.env.DB, orgId, audit))) throw notFound("No alerts for this org");
      return c.body(null, 204);
    },
  )
  .post(
    "/orgs/:orgId/alerts/rotate-secret",
    describeRoute({
      operationId: "rotateAlertSecret",
      summary: "Rotate an org's alert signing secret",
      description:
        "The new secret is in this answer only; the previous one keeps verifying for a grace period.",
      responses: { 200: SigningSecret, 404: NO_ALERTS },
    }),
    validate("param", OrgParam),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const secret = newSigningSecret();
      const now = new Date();
      const audit = auditChange(c, {
        action: "alert.rotate_secret",
        ...alertAudit(orgId),
        before: { secret: REDACTED },
        after: {
          secret: REDACTED,
          previousSecretUntil: new Date(now.getTime() + ALERT_SECRET_GRACE_MS).toISOString(),
        },
      });
      if (!(await rotateAlertSecret(c.env.DB, orgId, secret, audit, now))) {
        throw notFound("No alerts for this org");
      }
      c.header("Cache-Control", "no-store");
      return c.json({ secret });
    },
  )
  .get(
    "/orgs/:orgId/alerts/deliveries",
    describeRoute({
      operationId: "listAlertDeliveries",
      summary: "An org's alerts and their attempts",
      description: "Newest first; `event` is the body the alert URL is sent.",
      responses: { 200: AlertDeliveries },
    }),
    validate("param", OrgParam),
    validate("query", PageQuery),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const { pageNumber, pageSize } = c.req.valid("query");
      const { rows, total } = await listAlertEvents(c.env.DB, orgId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
      });
      const attempts = await listAttempts(
        c.env.DB,
        rows.map((r) => r.id),
      );
      const deliveries = rows.map((r) => ({
        eventId: r.id,
        state: r.state,
        createdAt: r.created_at,
        event: JSON.parse(r.body) as z.infer<typeof BudgetAlertEvent>,
        attempts: attempts
          .filter((a) => a.event_id === r.id)
          .map((a) => ({ attempt: a.attempt, at: a.at, status: a.status, error: a.error })),
      }));
      return c.json({ deliveries, totalItems: total, pageNumber, pageSize });
    },
  );
