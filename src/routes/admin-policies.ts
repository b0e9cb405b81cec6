import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { invalidInput, notFound } from "../lib/errors";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { forgetPolicies } from "../policy/load";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { EffectivePolicy } from "../schemas/admin";
import { PolicyDocument } from "../policy/document";
import { effectivePolicy, effectivePolicyView, narrowingIssues } from "../policy/effective";
import { getOrg, getTenant } from "../store/orgs";
import { getPolicies, getPolicy, putPolicy } from "../store/policies";

const OrgParam = z.object({ orgId: z.uuid() });
const TenantParam = z.object({ tenantId: z.uuid() });

/**
 * /admin/v1 policy documents of orgs and tenants. PUT replaces the whole document; GET returns
 * it as stored (`{}` for none). Mounted inside the admin app, which applies adminAuth. A PUT's
 * audit entry has the document it replaced as `before` (null for none) and the new one as `after`.
 */
export const adminPolicies = new Hono<AppEnv>()
  .put(
    "/orgs/:orgId/policy",
    describeRoute({
      operationId: "putOrgPolicy",
      summary: "Replace an org's policy",
      description: "The whole document; the answer is the document as stored.",
      responses: { 200: PolicyDocument, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    jsonBody({ required: true }),
    validate("json", PolicyDocument),
    async (c) => {
      const doc = c.req.valid("json");
      const { orgId } = c.req.valid("param");
      const audit = auditChange(c, {
        action: "policy.put",
        target: { type: "org", id: orgId },
        orgId,
        tenantId: null,
        before: await getPolicy(c.env.DB, "org", orgId),
        after: doc,
      });
      if (!(await putPolicy(c.env.DB, "org", orgId, doc, audit))) throw notFound("Org not found");
      forgetPolicies();
      return c.json(doc);
    },
  )
  .get(
    "/orgs/:orgId/policy",
    describeRoute({
      operationId: "getOrgPolicy",
      summary: "Read an org's policy",
      description: "The document as stored; `{}` for none.",
      responses: { 200: PolicyDocument, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const [org, doc] = await Promise.all([getOrg(c.env.DB, orgId), getPolicy(c.env.DB, "org", orgId)]);
      if (!org) throw notFound("Org not found");
      return c.json(doc ?? {});
    },
  )
  .put(
    "/tenants/:tenantId/policy",
    describeRoute({
      operationId: "putTenantPolicy",
      summary: "Replace a tenant's policy",
      description: "It may only narrow its org's: a widening document is 422 with an issue per field.",
      responses: { 200: PolicyDocument, 404: "`Tenant not found`" },
    }),
    validate("param", TenantParam),
    jsonBody({ required: true }),
    validate("json", PolicyDocument),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      const doc = c.req.valid("json");
      const tenant = await getTenant(c.env.DB, tenantId);
      if (!tenant) throw notFound("Tenant not found");
      // Refusing a widening document tells the admin at once. It is not what keeps the tenant
      // narrow: the org may change its document later, and effectivePolicy narrows per request.
      const issues = narrowingIssues(await getPolicy(c.env.DB, "org", tenant.orgId), doc);
      if (issues.length > 0) throw invalidInput(issues);
      const audit = auditChange(c, {
        action: "policy.put",
        target: { type: "tenant", id: tenantId },
        orgId: tenant.orgId,
        tenantId,
        before: await getPolicy(c.env.DB, "tenant", tenantId),
        after: doc,
      });
      if (!(await putPolicy(c.env.DB, "tenant", tenantId, doc, audit))) throw notFound("Tenant not found");
      forgetPolicies();
      return c.json(doc);
    },
  )
  .get(
    "/tenants/:tenantId/policy",
    describeRoute({
      operationId: "getTenantPolicy",
      summary: "Read a tenant's policy",
      description: "The document as stored; `{}` for none.",
      responses: { 200: PolicyDocument, 404: "`Tenant not found`" },
    }),
    validate("param", TenantParam),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      const [tenant, doc] = await Promise.all([
        getTenant(c.env.DB, tenantId),
        getPolicy(c.env.DB, "tenant", tenantId),
      ]);
      if (!tenant) throw notFound("Tenant not found");
      return c.json(doc ?? {});
    },
  )
  .get(
    "/tenants/:tenantId/policy/effective",
    describeRoute({
      operationId: "getEffectivePolicy",
      summary: "A tenant's effective policy",
      description: "Its org's policy narrowed by its own, as applied to its requests.",
      responses: { 200: EffectivePolicy, 404: "`Tenant not found`" },
    }),
    validate("param", TenantParam),
    async (c) => {
      const tenant = await getTenant(c.env.DB, c.req.valid("param").tenantId);
      if (!tenant) throw notFound("Tenant not found");
      const { org, tenant: own } = await getPolicies(c.env.DB, tenant.orgId, tenant.id);
      return c.json(effectivePolicyView(effectivePolicy(org, own)));
    },
  );
