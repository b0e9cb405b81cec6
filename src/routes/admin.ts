import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { adminAuth } from "../middleware/admin-auth";
import { jsonBody } from "../middleware/json-body";
import { forgetKey } from "../middleware/tenant-auth";
import { validate } from "../middleware/validate";
import { issueKey, revokeKey } from "../store/keys";
import { createOrg, createTenant } from "../store/orgs";
import { adminAlerts } from "./admin-alerts";
import { adminHooks } from "./admin-hooks";
import { adminPolicies } from "./admin-policies";

const NameBody = z.strictObject({ name: z.string().trim().min(1).max(200) });
const OrgParam = z.object({ orgId: z.uuid() });
const TenantParam = z.object({ tenantId: z.uuid() });
const KeyParam = z.object({ keyId: z.uuid() });

/** /admin/v1: orgs, tenants and keys. Guarded by the admin token. */
export const admin = new Hono<AppEnv>()
  .use(adminAuth())
  .post("/orgs", jsonBody({ required: true }), validate("json", NameBody), async (c) => {
    const org = await createOrg(c.env.DB, c.req.valid("json").name);
    return c.json({ id: org.id, name: org.name, createdAt: org.createdAt }, 201);
  })
  .post(
    "/orgs/:orgId/tenants",
    validate("param", OrgParam),
    jsonBody({ required: true }),
    validate("json", NameBody),
    async (c) => {
      const tenant = await createTenant(c.env.DB, c.req.valid("param").orgId, c.req.valid("json").name);
      if (!tenant) throw notFound("Org not found");
      return c.json(
        { id: tenant.id, orgId: tenant.orgId, name: tenant.name, createdAt: tenant.createdAt },
        201,
      );
    },
  )
  .post(
    "/tenants/:tenantId/keys",
    validate("param", TenantParam),
    jsonBody({ required: true }),
    validate("json", NameBody),
    async (c) => {
      const key = await issueKey(c.env.DB, c.req.valid("param").tenantId, c.req.valid("json").name);
      if (!key) throw notFound("Tenant not found");
      c.header("Cache-Control", "no-store");
      return c.json(
        {
          id: key.id,
          key: key.key,
          prefix: key.prefix,
          tenantId: key.tenantId,
          name: key.name,
          createdAt: key.createdAt,
        },
        201,
      );
    },
  )
  .delete("/keys/:keyId", validate("param", KeyParam), async (c) => {
    const hash = await revokeKey(c.env.DB, c.req.valid("param").keyId);
    if (!hash) throw notFound("Key not found");
    forgetKey(hash);
    return c.body(null, 204);
  })
  .route("/", adminPolicies)
  .route("/", adminHooks)
  .route("/", adminAlerts);
