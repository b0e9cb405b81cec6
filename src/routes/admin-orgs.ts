import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { GatewayError, notFound } from "../lib/errors";
import { describeError } from "../lib/log";
import { observeViews } from "../ledger/observe";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { forgetKeys } from "../middleware/tenant-auth";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { Org as OrgView, OrgPage, Suspension, Tenant as TenantView, TenantPage } from "../schemas/admin";
import {
  createOrg,
  createTenant,
  deleteOwner,
  getOrg,
  getTenant,
  listOrgs,
  listTenants,
  type Org,
  type OwnerTable,
  rename,
  setSuspended,
  type Tenant,
} from "../store/orgs";
import type { AuditChange } from "../store/audit";
import { listLive } from "../store/resources";
import { upstreamEnvFor } from "../upstream/accounts";
import { callUpstream } from "../upstream/client";
import { BROWSERS, SESSIONS } from "../upstream/kinds";
import { PageQuery } from "../v3/schemas";
import { queryScalar } from "../v3/schemas/common";

/** The body that names an org or a tenant (create, rename). */
export const NameBody = z.strictObject({
  name: z.string().check(z.trim(), z.minLength(1), z.maxLength(200)),
});
const OrgParam = z.object({ orgId: z.uuid() });
const TenantParam = z.object({ tenantId: z.uuid() });
/** The query of the org and tenant lists. */
export const ListQuery = z.extend(PageQuery, {
  name: z.optional(queryScalar(z.string().check(z.maxLength(200)))),
});
/** The body of a suspension. */
export const SuspendBody = z.strictObject({ stopSessions: z._default(z.boolean(), false) });

/** Most live sessions and browsers a suspension stops in its own request; the reconciler does the rest. */
const STOP_NOW = 40;

const orgView = (org: Org): OrgView => ({
  id: org.id,
  name: org.name,
  createdAt: org.createdAt,
  suspended: org.suspended,
  upstream: org.ownUpstream ? "own" : "deployment",
});
const tenantView = (t: Tenant): TenantView => ({
  id: t.id,
  orgId: t.orgId,
  name: t.name,
  createdAt: t.createdAt,
  suspended: t.suspended,
});

/** What the audit log calls each table's rows, and the 404 for one that is not there. */
const KIND = { orgs: "org", tenants: "tenant" } as const;
const MISSING = { orgs: "Org not found", tenants: "Tenant not found" } as const;

/**
 * An org or tenant that is not deleted, as the admin API shows it, and what an audit entry of a
 * change to it says of it; 404 when there is none.
 */
async function findOwner(
  c: Context<AppEnv>,
  table: OwnerTable,
  id: string,
): Promise<{
  view: ReturnType<typeof orgView> | ReturnType<typeof tenantView>;
  of: Pick<AuditChange, "target" | "orgId" | "tenantId">;
}> {
  if (table === "orgs") {
    const org = await getOrg(c.env.DB, id);
    if (!org) throw notFound(MISSING.orgs);
    return { view: orgView(org), of: { target: { type: "org", id }, orgId: id, tenantId: null } };
  }
  const tenant = await getTenant(c.env.DB, id);
  if (!tenant) throw notFound(MISSING.tenants);
  return {
    view: tenantView(tenant),
    of: { target: { type: "tenant", id }, orgId: tenant.orgId, tenantId: id },
  };
}

/**
 * Suspends or resumes an org or tenant: its keys and hooks are refused (403 `suspended`) at once on
 * this isolate and within the key cache's 30 s everywhere. With `stopSessions`, its live sessions
 * and browsers are stopped too (a kill switch): up to STOP_NOW here, the rest by the reconciler.
 * Without it, what runs runs on (and is charged as ever) but nothing new starts.
 */
async function suspend(
  c: Context<AppEnv>,
  table: OwnerTable,
  id: string,
  suspended: boolean,
  stopSessions: boolean,
) {
  const { view, of } = await findOwner(c, table, id);
  const audit = auditChange(c, {
    action: suspended ? `${KIND[table]}.suspend` : `${KIND[table]}.resume`,
    ...of,
    before: view,
    after: { ...view, suspended, ...(suspended ? { stopSessions } : {}) },
  });
  if (!(await setSuspended(c.env.DB, table, id, { suspended, stops: stopSessions }, audit)))
    throw notFound(MISSING[table]);
  forgetKeys();
  let stopped = 0;
  if (suspended && stopSessions) {
    const live = await listLive(
      c.env.DB,
      { column: table === "orgs" ? "org_id" : "tenant_id", id },
      STOP_NOW,
    );
    const log = c.get("log");
    await Promise.all(
      live.map(async (item) => {
        const spec = item.kind === "session" ? SESSIONS : BROWSERS;
        try {
          const upstream = await upstreamEnvFor(c.env, item.orgId, log);
          const res = await callUpstream(upstream, log, spec.stop(item.id));
          if (res.status !== 200) return;
          await observeViews(c.env, log, spec, item, [res.body as Record<string, unknown>], res.sentAt);
          stopped++;
        } catch (err) {
          log.warn("suspend_stop_failed", { kind: item.kind, id: item.id, ...describeError(err) });
        }
      }),
    );
  }
  return c.json({ id, suspended, stopped } satisfies Suspension);
}

/** Renames an org or tenant; the answer is the renamed one. */
async function renameOwner(c: Context<AppEnv>, table: OwnerTable, id: string, name: string) {
  const { view, of } = await findOwner(c, table, id);
  const after = { ...view, name };
  const audit = auditChange(c, { action: `${KIND[table]}.rename`, ...of, before: view, after });
  if (!(await rename(c.env.DB, table, id, name, audit))) throw notFound(MISSING[table]);
  return c.json(after);
}

/** Deletes an org or tenant, unless anything of it is live (409). */
async function remove(c: Context<AppEnv>, table: OwnerTable, id: string) {
  const { view, of } = await findOwner(c, table, id);
  const audit = auditChange(c, { action: `${KIND[table]}.delete`, ...of, before: view, after: null });
  const outcome = await deleteOwner(c.env.DB, table, id, audit);
  if (outcome === "gone") throw notFound(MISSING[table]);
  if (outcome === "live") {
    throw new GatewayError("conflict", "Sessions, browsers or holds of it are still live: stop them first");
  }
  forgetKeys();
  return c.body(null, 204);
}

const ORG_NOT_FOUND = "`Org not found`";
const TENANT_NOT_FOUND = "`Tenant not found`";
const SUSPEND_DOC =
  "403 `suspended` on every /api/v3, /gateway/v1 and /hooks call of it, at once on this isolate and within the key cache's 30 s elsewhere. With `stopSessions`, its live sessions and browsers are stopped too.";
const LIVE_CONFLICT = "`conflict`: a session, browser or hold of it is still live";

/** /admin/v1 orgs and tenants: create, list, read, rename, suspend, resume, delete. */
export const adminOrgs = new Hono<AppEnv>()
  .post(
    "/orgs",
    describeRoute({ operationId: "createOrg", summary: "Create an org", responses: { 201: OrgView } }),
    jsonBody({ required: true }),
    validate("json", NameBody),
    async (c) => {
      const org = await createOrg(c.env.DB, c.req.valid("json").name, (made) =>
        auditChange(c, {
          action: "org.create",
          target: { type: "org", id: made.id },
          orgId: made.id,
          tenantId: null,
          before: null,
          after: orgView(made),
        }),
      );
      return c.json(orgView(org), 201);
    },
  )
  .get(
    "/orgs",
    describeRoute({
      operationId: "listOrgs",
      summary: "List orgs",
      description: "`name` matches any part of the name, in any case.",
      responses: { 200: OrgPage },
    }),
    validate("query", ListQuery),
    async (c) => {
      const { pageNumber, pageSize, name } = c.req.valid("query");
      const { items, total } = await listOrgs(c.env.DB, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        name,
      });
      return c.json({ items: items.map(orgView), totalItems: total, pageNumber, pageSize });
    },
  )
  .get(
    "/orgs/:orgId",
    describeRoute({
      operationId: "getOrg",
      summary: "Read an org",
      responses: { 200: OrgView, 404: ORG_NOT_FOUND },
    }),
    validate("param", OrgParam),
    async (c) => {
      const org = await getOrg(c.env.DB, c.req.valid("param").orgId);
      if (!org) throw notFound("Org not found");
      return c.json(orgView(org));
    },
  )
  .patch(
    "/orgs/:orgId",
    describeRoute({
      operationId: "renameOrg",
      summary: "Rename an org",
      responses: { 200: OrgView, 404: ORG_NOT_FOUND },
    }),
    validate("param", OrgParam),
    jsonBody({ required: true }),
    validate("json", NameBody),
    (c) => renameOwner(c, "orgs", c.req.valid("param").orgId, c.req.valid("json").name),
  )
  .delete(
    "/orgs/:orgId",
    describeRoute({
      operationId: "deleteOrg",
      summary: "Delete an org",
      description: "Its ledger stays, for reports.",
      responses: { 204: "Deleted", 404: ORG_NOT_FOUND, 409: LIVE_CONFLICT },
    }),
    validate("param", OrgParam),
    (c) => remove(c, "orgs", c.req.valid("param").orgId),
  )
  .post(
    "/orgs/:orgId/suspend",
    describeRoute({
      operationId: "suspendOrg",
      summary: "Suspend an org",
      description: SUSPEND_DOC,
      responses: { 200: Suspension, 404: ORG_NOT_FOUND },
    }),
    validate("param", OrgParam),
    jsonBody({ required: false }),
    validate("json", SuspendBody),
    (c) => suspend(c, "orgs", c.req.valid("param").orgId, true, c.req.valid("json").stopSessions),
  )
  .post(
    "/orgs/:orgId/resume",
    describeRoute({
      operationId: "resumeOrg",
      summary: "Resume an org",
      responses: { 200: Suspension, 404: ORG_NOT_FOUND },
    }),
    validate("param", OrgParam),
    (c) => suspend(c, "orgs", c.req.valid("param").orgId, false, false),
  )
  .post(
    "/orgs/:orgId/tenants",
    describeRoute({
      operationId: "createTenant",
      summary: "Create a tenant in an org",
      responses: { 201: TenantView, 404: ORG_NOT_FOUND },
    }),
    validate("param", OrgParam),
    jsonBody({ required: true }),
    validate("json", NameBody),
    async (c) => {
      const tenant = await createTenant(
        c.env.DB,
        c.req.valid("param").orgId,
        c.req.valid("json").name,
        (made) =>
          auditChange(c, {
            action: "tenant.create",
            target: { type: "tenant", id: made.id },
            orgId: made.orgId,
            tenantId: made.id,
            before: null,
            after: tenantView(made),
          }),
      );
      if (!tenant) throw notFound("Org not found");
      return c.json(tenantView(tenant), 201);
    },
  )
  .get(
    "/orgs/:orgId/tenants",
    describeRoute({
      operationId: "listTenants",
      summary: "List an org's tenants",
      description: "`name` matches any part of the name, in any case.",
      responses: { 200: TenantPage, 404: ORG_NOT_FOUND },
    }),
    validate("param", OrgParam),
    validate("query", ListQuery),
    async (c) => {
      const { orgId } = c.req.valid("param");
      if (!(await getOrg(c.env.DB, orgId))) throw notFound("Org not found");
      const { pageNumber, pageSize, name } = c.req.valid("query");
      const { items, total } = await listTenants(c.env.DB, orgId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        name,
      });
      return c.json({ items: items.map(tenantView), totalItems: total, pageNumber, pageSize });
    },
  )
  .get(
    "/tenants/:tenantId",
    describeRoute({
      operationId: "getTenant",
      summary: "Read a tenant",
      responses: { 200: TenantView, 404: TENANT_NOT_FOUND },
    }),
    validate("param", TenantParam),
    async (c) => {
      const tenant = await getTenant(c.env.DB, c.req.valid("param").tenantId);
      if (!tenant) throw notFound("Tenant not found");
      return c.json(tenantView(tenant));
    },
  )
  .patch(
    "/tenants/:tenantId",
    describeRoute({
      operationId: "renameTenant",
      summary: "Rename a tenant",
      responses: { 200: TenantView, 404: TENANT_NOT_FOUND },
    }),
    validate("param", TenantParam),
    jsonBody({ required: true }),
    validate("json", NameBody),
    (c) => renameOwner(c, "tenants", c.req.valid("param").tenantId, c.req.valid("json").name),
  )
  .delete(
    "/tenants/:tenantId",
    describeRoute({
      operationId: "deleteTenant",
      summary: "Delete a tenant",
      description: "Its keys stop working; its ledger stays, for reports.",
      responses: { 204: "Deleted", 404: TENANT_NOT_FOUND, 409: LIVE_CONFLICT },
    }),
    validate("param", TenantParam),
    (c) => remove(c, "tenants", c.req.valid("param").tenantId),
  )
  .post(
    "/tenants/:tenantId/suspend",
    describeRoute({
      operationId: "suspendTenant",
      summary: "Suspend a tenant",
      description: SUSPEND_DOC,
      responses: { 200: Suspension, 404: TENANT_NOT_FOUND },
    }),
    validate("param", TenantParam),
    jsonBody({ required: false }),
    validate("json", SuspendBody),
    (c) => suspend(c, "tenants", c.req.valid("param").tenantId, true, c.req.valid("json").stopSessions),
  )
  .post(
    "/tenants/:tenantId/resume",
    describeRoute({
      operationId: "resumeTenant",
      summary: "Resume a tenant",
      responses: { 200: Suspension, 404: TENANT_NOT_FOUND },
    }),
    validate("param", TenantParam),
    (c) => suspend(c, "tenants", c.req.valid("param").tenantId, false, false),
  );
