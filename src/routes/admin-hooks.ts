import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { GatewayError, invalidInput, notFound } from "../lib/errors";
import { callbackUrlProblem } from "../hooks/callback-url";
import { newSigningSecret } from "../hooks/signatures";
import { REDACTED } from "../lib/redact";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import {
  CreatedHook,
  Hook as HookView,
  HookDeliveries,
  HookList,
  OrgDeliveries,
  Redelivery,
  SigningSecret,
  TenantHooksPage,
} from "../schemas/admin";
import { findOwned } from "../store/resources";
import {
  createHook,
  deleteHook,
  getHook,
  type Hook,
  listHooks,
  listOrgHooks,
  rotateHookSecret,
  SECRET_GRACE_MS,
  updateHook,
} from "../store/hooks";
import { getTenant } from "../store/orgs";
import { enqueueEvents } from "../events/deliver";
import {
  type DeliveryRow,
  type EventRow,
  findEvents,
  listAttempts,
  listHookDeliveries,
  listOrgDeliveries,
  requeueEvent,
} from "../store/events";
import { PageQuery } from "../v3/schemas";
import { parseInput } from "../v3/validation";
import { ListQuery } from "./admin-orgs";
import { GatewayRunTaskRequest } from "./v3/sessions";

const TenantParam = z.object({ tenantId: z.uuid() });
const OrgParam = z.object({ orgId: z.uuid() });
const HookParam = z.object({ hookId: z.uuid() });

/** The `RunTaskRequest` fields a hook fixes for every task it starts. */
export const HOOK_OPTION_FIELDS = [
  "model",
  "maxCostUsd",
  "proxyCountryCode",
  "outputSchema",
  "profileId",
  "workspaceId",
];

const HookFields = {
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
  task: z.string().check(z.minLength(1), z.maxLength(20_000)),
  options: z.record(z.string(), z.unknown()),
  callbackUrl: z.nullable(z.string().check(z.maxLength(2_000))),
};
/** The body of `POST /tenants/{tenantId}/hooks`. */
export const NewHook = z.strictObject({
  ...HookFields,
  options: z.optional(HookFields.options),
  callbackUrl: z.optional(HookFields.callbackUrl),
});
/** The body of `PATCH /hooks/{hookId}`. */
export const HookPatch = z.partial(z.strictObject({ ...HookFields, suspended: z.boolean() }));

/** A hook as the admin API shows it: never its secret, except once (see withSecret). */
function hookView(hook: Hook): HookView {
  return {
    id: hook.id,
    orgId: hook.orgId,
    tenantId: hook.tenantId,
    name: hook.name,
    task: hook.task,
    options: hook.options,
    callbackUrl: hook.callbackUrl,
    suspended: hook.suspended,
    createdAt: hook.createdAt,
    updatedAt: hook.updatedAt,
  };
}

/** Where a hook's audit entries file it. */
const hookAudit = (hook: Hook) => ({
  target: { type: "hook" as const, id: hook.id },
  orgId: hook.orgId,
  tenantId: hook.tenantId,
});

/**
 * A hook's options, checked like the body of the task they will be part of: only the fields a
 * hook may fix, valid as `RunTaskRequest` fields, and a profile or workspace of the hook's tenant
 * (404 otherwise, as for any body). Returned as given, so upstream's defaults are judged by policy
 * when a task runs, not frozen in here.
 */
async function checkOptions(
  c: Context<AppEnv>,
  tenantId: string,
  options: Record<string, unknown>,
): Promise<void> {
  const extra = Object.keys(options).filter((k) => !HOOK_OPTION_FIELDS.includes(k));
  if (extra.length > 0) {
    throw invalidInput(
      extra.map((key) => ({
        type: "extra_forbidden",
        loc: ["body", "options", key],
        msg: "Extra inputs are not permitted",
      })),
    );
  }
  const parsed = parseInput(GatewayRunTaskRequest, "body", { task: "t", ...options });
  if (!parsed.ok) {
    throw invalidInput(parsed.issues.map((i) => ({ ...i, loc: ["body", "options", ...i.loc.slice(1)] })));
  }
  for (const [kind, id, detail] of [
    ["profile", options.profileId, "Profile not found"],
    ["workspace", options.workspaceId, "Workspace not found"],
  ] as const) {
    if (typeof id === "string" && !(await findOwned(c.env.DB, kind, id, tenantId))) throw notFound(detail);
  }
}

function checkCallbackUrl(c: Context<AppEnv>, url: string | null | undefined): void {
  if (url == null) return;
  const problem = callbackUrlProblem(url, c.env.ALLOW_PRIVATE_CALLBACKS === "true");
  if (problem) {
    throw invalidInput([{ type: "url_not_allowed", loc: ["body", "callbackUrl"], msg: problem, input: url }]);
  }
}

/**
 * /admin/v1 hooks: create, list (a tenant's, or a page of an org's tenants' in one D1 round trip:
 * the dashboard's Hooks view), read, change, delete, and rotate a hook's signing secret. The
 * secret is shown only on creation and rotation, and never in an audit entry. Mounted inside the admin app, which applies
 * adminAuth.
 */
const HOOK_NOT_FOUND = "`Hook not found`";

export const adminHooks = new Hono<AppEnv>()
  .post(
    "/tenants/:tenantId/hooks",
    describeRoute({
      operationId: "createHook",
      summary: "Create a hook for a tenant",
      description:
        "`secret` (`whsec_…`) is in this answer only. `options` may fix `model`, `maxCostUsd`, `proxyCountryCode`, `outputSchema`, `profileId` and `workspaceId`, checked like a task's body.",
      responses: { 201: CreatedHook, 404: "`Tenant not found`, or an option's profile or workspace" },
    }),
    validate("param", TenantParam),
    jsonBody({ required: true }),
    validate("json", NewHook),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      const body = c.req.valid("json");
      const tenant = await getTenant(c.env.DB, tenantId);
      if (!tenant) throw notFound("Tenant not found");
      await checkOptions(c, tenantId, body.options ?? {});
      checkCallbackUrl(c, body.callbackUrl);
      const secret = newSigningSecret();
      const hook = await createHook(
        c.env.DB,
        { orgId: tenant.orgId, tenantId },
        {
          name: body.name,
          task: body.task,
          options: body.options ?? {},
          callbackUrl: body.callbackUrl ?? null,
        },
        secret,
        (made) =>
          auditChange(c, {
            action: "hook.create",
            ...hookAudit(made),
            before: null,
            after: { ...hookView(made), secret: REDACTED },
          }),
      );
      if (!hook) throw notFound("Tenant not found");
      c.header("Cache-Control", "no-store");
      return c.json({ ...hookView(hook), secret }, 201);
    },
  )
  .get(
    "/tenants/:tenantId/hooks",
    describeRoute({
      operationId: "listHooks",
      summary: "List a tenant's hooks",
      responses: { 200: HookList, 404: "`Tenant not found`" },
    }),
    validate("param", TenantParam),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      if (!(await getTenant(c.env.DB, tenantId))) throw notFound("Tenant not found");
      return c.json({ hooks: (await listHooks(c.env.DB, tenantId)).map(hookView) });
    },
  )
  .get(
    "/orgs/:orgId/hooks",
    describeRoute({
      operationId: "listOrgHooks",
      summary: "An org's tenants' hooks, a page at a time",
      description:
        "The org's tenants as `GET /admin/v1/orgs/{orgId}/tenants` pages them (`name` matches any part of the name, in any case), each with `hooks` exactly as `GET /admin/v1/tenants/{tenantId}/hooks` answers for it: never a secret. One D1 round trip per page, whatever its size.",
      responses: { 200: TenantHooksPage, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    validate("query", ListQuery),
    async (c) => {
      const { pageNumber, pageSize, name } = c.req.valid("query");
      const page = await listOrgHooks(c.env.DB, c.req.valid("param").orgId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        name,
      });
      if (!page) throw notFound("Org not found");
      const items = page.items.map((t) => ({ ...t, hooks: t.hooks.map(hookView) }));
      return c.json({ items, totalItems: page.total, pageNumber, pageSize });
    },
  )
  .get(
    "/hooks/:hookId",
    describeRoute({
      operationId: "getHook",
      summary: "Read a hook",
      responses: { 200: HookView, 404: HOOK_NOT_FOUND },
    }),
    validate("param", HookParam),
    async (c) => {
      const hook = await getHook(c.env.DB, c.req.valid("param").hookId);
      if (!hook) throw notFound("Hook not found");
      return c.json(hookView(hook));
    },
  )
  .patch(
    "/hooks/:hookId",
    describeRoute({
      operationId: "updateHook",
      summary: "Change a hook",
      description: "Only the fields sent change; `suspended: true` refuses its deliveries with 404.",
      responses: { 200: HookView, 404: HOOK_NOT_FOUND },
    }),
    validate("param", HookParam),
    jsonBody({ required: true }),
    validate("json", HookPatch),
    async (c) => {
      const { hookId } = c.req.valid("param");
      const patch = c.req.valid("json");
      const hook = await getHook(c.env.DB, hookId);
      if (!hook) throw notFound("Hook not found");
      if (patch.options) await checkOptions(c, hook.tenantId, patch.options);
      checkCallbackUrl(c, patch.callbackUrl);
      const now = new Date();
      const audit = auditChange(c, {
        action: "hook.update",
        ...hookAudit(hook),
        before: hookView(hook),
        after: { ...hookView(hook), ...patch, updatedAt: now.toISOString() },
      });
      const updated = await updateHook(c.env.DB, hookId, patch, audit, now);
      if (!updated) throw notFound("Hook not found");
      return c.json(hookView(updated));
    },
  )
  .delete(
    "/hooks/:hookId",
    describeRoute({
      operationId: "deleteHook",
      summary: "Delete a hook",
      responses: { 204: "Deleted", 404: HOOK_NOT_FOUND },
    }),
    validate("param", HookParam),
    async (c) => {
      const hook = await getHook(c.env.DB, c.req.valid("param").hookId);
      if (!hook) throw notFound("Hook not found");
      const audit = auditChange(c, {
        action: "hook.delete",
        ...hookAudit(hook),
        before: hookView(hook),
        after: null,
      });
      if (!(await deleteHook(c.env.DB, hook.id, audit))) throw notFound("Hook not found");
      return c.body(null, 204);
    },
  )
  .get(
    "/hooks/:hookId/deliveries",
    describeRoute({
      operationId: "listHookDeliveries",
      summary: "A hook's deliveries",
      description: "Newest first, each with its session and the attempts at its callback.",
      responses: { 200: HookDeliveries, 404: HOOK_NOT_FOUND },
    }),
    validate("param", HookParam),
    validate("query", PageQuery),
    async (c) => {
      const { hookId } = c.req.valid("param");
      const { pageNumber, pageSize } = c.req.valid("query");
      if (!(await getHook(c.env.DB, hookId))) throw notFound("Hook not found");
      const { rows, total } = await listHookDeliveries(c.env.DB, hookId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
      });
      const deliveries = await deliveryViews(c.env.DB, rows);
      return c.json({ deliveries, totalItems: total, pageNumber, pageSize });
    },
  )
  .get(
    "/orgs/:orgId/deliveries",
    describeRoute({
      operationId: "listOrgDeliveries",
      summary: "An org's hook deliveries",
      description:
        "The deliveries to every hook of the org's tenants (deleted ones aside), newest first, each as `GET /admin/v1/hooks/{hookId}/deliveries` shows it, with its hook and tenant. One D1 round trip per page, whatever its size, and one more for its callbacks' attempts when it has any.",
      responses: { 200: OrgDeliveries, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    validate("query", PageQuery),
    async (c) => {
      const { pageNumber, pageSize } = c.req.valid("query");
      const page = await listOrgDeliveries(c.env.DB, c.req.valid("param").orgId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
      });
      if (!page) throw notFound("Org not found");
      const views = await deliveryViews(c.env.DB, page.rows);
      const deliveries = page.rows.map((r, i) => ({
        ...views[i],
        hookId: r.hook_id,
        hookName: r.hook_name,
        tenantId: r.tenant_id,
        tenantName: r.tenant_name,
      }));
      return c.json({ deliveries, totalItems: page.total, pageNumber, pageSize });
    },
  )
  .post(
    "/deliveries/:deliveryId/redeliver",
    describeRoute({
      operationId: "redeliver",
      summary: "Send a callback or an alert again",
      description: "By its `eventId`, or by the `webhook-id` of the hook delivery whose callback it is.",
      responses: {
        202: Redelivery,
        404: "No callback or alert of that id",
        409: "`idempotency_conflict`: several hooks had a delivery of that `webhook-id`",
      },
    }),
    async (c) => {
      const found = await findEvents(c.env.DB, c.req.param("deliveryId"));
      if (found.length === 0) throw notFound("No callback or alert of that id");
      if (found.length > 1) {
        throw new GatewayError(
          "idempotency_conflict",
          "Several hooks had a delivery of that webhook-id; redeliver by its eventId",
        );
      }
      const [event] = found as [EventRow];
      const audit = auditChange(c, {
        action: "event.redeliver",
        target: { type: "event", id: event.id },
        orgId: event.org_id,
        tenantId: event.tenant_id,
        before: { state: event.state, attempts: event.attempts },
        after: { state: "pending", attempts: event.attempts },
      });
      await requeueEvent(c.env.DB, event.id, new Date(), audit);
      await enqueueEvents(c.env, c.get("log"), [event.id]);
      return c.json({ eventId: event.id, state: "pending" }, 202);
    },
  )
  .post(
    "/hooks/:hookId/rotate-secret",
    describeRoute({
      operationId: "rotateHookSecret",
      summary: "Rotate a hook's signing secret",
      description:
        "The new secret is in this answer only; the previous one keeps verifying for a grace period.",
      responses: { 200: SigningSecret, 404: HOOK_NOT_FOUND },
    }),
    validate("param", HookParam),
    async (c) => {
      const hook = await getHook(c.env.DB, c.req.valid("param").hookId);
      if (!hook) throw notFound("Hook not found");
      const secret = newSigningSecret();
      const now = new Date();
      const audit = auditChange(c, {
        action: "hook.rotate_secret",
        ...hookAudit(hook),
        before: { secret: REDACTED },
        after: {
          secret: REDACTED,
          previousSecretUntil: new Date(now.getTime() + SECRET_GRACE_MS).toISOString(),
        },
      });
      if (!(await rotateHookSecret(c.env.DB, hook.id, secret, audit, now))) throw notFound("Hook not found");
      c.header("Cache-Control", "no-store");
      return c.json({ secret });
    },
  );

/** Deliveries as the admin API shows them, each with its callback's attempts (one D1 read for all). */
async function deliveryViews(db: D1Database, rows: DeliveryRow[]) {
  const attempts = await listAttempts(
    db,
    rows.flatMap((r) => (r.event_id ? [r.event_id] : [])),
  );
  return rows.map((r) => ({
    deliveryId: r.delivery_id,
    state: r.state,
    sessionId: r.session_id,
    createdAt: r.created_at,
    callback: r.event_id
      ? {
          eventId: r.event_id,
          state: r.event_state,
          attempts: attempts
            .filter((a) => a.event_id === r.event_id)
            .map((a) => ({ attempt: a.attempt, at: a.at, status: a.status, error: a.error })),
        }
      : null,
  }));
}
