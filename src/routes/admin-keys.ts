import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { invalidInput, notFound } from "../lib/errors";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { forgetKey } from "../middleware/tenant-auth";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { IssuedKey as IssuedKeyView, type Key, KeyList, TenantKeysPage } from "../schemas/admin";
import {
  getKey,
  type IssuedKey,
  issueKey,
  type KeyInfo,
  listKeys,
  listOrgKeys,
  revokeKey,
  rotateKey,
} from "../store/keys";
import { getTenant } from "../store/orgs";
import { ListQuery } from "./admin-orgs";

const TenantParam = z.object({ tenantId: z.uuid() });
const OrgParam = z.object({ orgId: z.uuid() });
const KeyParam = z.object({ keyId: z.uuid() });

/** The body of `POST /tenants/{tenantId}/keys`. */
export const NewKey = z.strictObject({
  name: z._default(z.string().check(z.trim(), z.minLength(1), z.maxLength(200)), "key"),
  scope: z._default(z.enum(["full", "read-only"]), "full"),
  expiresAt: z.nullish(z.iso.datetime({ offset: true })),
});
/** The body of `POST /keys/{keyId}/rotate`. */
export const Rotation = z.strictObject({
  graceSeconds: z._default(z.int().check(z.minimum(0), z.maximum(30 * 24 * 3600)), 3600),
});

const keyView = (k: KeyInfo): Key => ({
  id: k.id,
  tenantId: k.tenantId,
  prefix: k.prefix,
  name: k.name,
  scope: k.scope,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
  expiresAt: k.expiresAt,
  revokedAt: k.revokedAt,
});
const issuedView = (k: IssuedKey): IssuedKeyView => ({ ...keyView(k), key: k.key });

/**
 * /admin/v1 keys of a tenant: issue (the key is shown once), list (never the key or its hash; also
 * for a page of an org's tenants in one D1 round trip, the dashboard's Keys view), rotate with a
 * grace, revoke. Their audit entries show keys as keyView does: never the key.
 */
export const adminKeys = new Hono<AppEnv>()
  .post(
    "/tenants/:tenantId/keys",
    describeRoute({
      operationId: "issueKey",
      summary: "Issue a key to a tenant",
      description: "`key` is in this answer only; the gateway keeps its SHA-256.",
      responses: { 201: IssuedKeyView, 404: "`Tenant not found`" },
    }),
    validate("param", TenantParam),
    jsonBody({ required: false }),
    validate("json", NewKey),
    async (c) => {
      const { name, scope, expiresAt } = c.req.valid("json");
      const expires = expiresAt ? new Date(expiresAt).toISOString() : null;
      if (expires && expires <= new Date().toISOString()) {
        throw invalidInput([
          {
            type: "value_error",
            loc: ["body", "expiresAt"],
            msg: "expiresAt must be in the future",
            input: expiresAt,
          },
        ]);
      }
      const tenant = await getTenant(c.env.DB, c.req.valid("param").tenantId);
      if (!tenant) throw notFound("Tenant not found");
      const key = await issueKey(c.env.DB, tenant.id, { name, scope, expiresAt: expires }, (made) =>
        auditChange(c, {
          action: "key.issue",
          target: { type: "key", id: made.id },
          orgId: tenant.orgId,
          tenantId: tenant.id,
          before: null,
          after: keyView(made),
        }),
      );
      if (!key) throw notFound("Tenant not found");
      c.header("Cache-Control", "no-store");
      return c.json(issuedView(key), 201);
    },
  )
  .get(
    "/tenants/:tenantId/keys",
    describeRoute({
      operationId: "listKeys",
      summary: "List a tenant's keys",
      description: "Never the key or its hash.",
      responses: { 200: KeyList, 404: "`Tenant not found`" },
    }),
    validate("param", TenantParam),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      if (!(await getTenant(c.env.DB, tenantId))) throw notFound("Tenant not found");
      return c.json({ keys: (await listKeys(c.env.DB, tenantId)).map(keyView) });
    },
  )
  .get(
    "/orgs/:orgId/keys",
    describeRoute({
      operationId: "listOrgKeys",
      summary: "An org's tenants' keys, a page at a time",
      description:
        "The org's tenants as `GET /admin/v1/orgs/{orgId}/tenants` pages them (`name` matches any part of the name, in any case), each with `keys` exactly as `GET /admin/v1/tenants/{tenantId}/keys` answers for it: never the key or its hash. One D1 round trip per page, whatever its size.",
      responses: { 200: TenantKeysPage, 404: "`Org not found`" },
    }),
    validate("param", OrgParam),
    validate("query", ListQuery),
    async (c) => {
      const { pageNumber, pageSize, name } = c.req.valid("query");
      const page = await listOrgKeys(c.env.DB, c.req.valid("param").orgId, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        name,
      });
      if (!page) throw notFound("Org not found");
      const items = page.items.map((t) => ({ ...t, keys: t.keys.map(keyView) }));
      return c.json({ items, totalItems: page.total, pageNumber, pageSize });
    },
  )
  .post(
    "/keys/:keyId/rotate",
    describeRoute({
      operationId: "rotateKey",
      summary: "Rotate a key",
      description:
        "A new key with the same name and scope; the old one works until `graceSeconds` have passed, then answers 401 `key_expired`.",
      responses: { 201: IssuedKeyView, 404: "`Key not found`" },
    }),
    validate("param", KeyParam),
    jsonBody({ required: false }),
    validate("json", Rotation),
    async (c) => {
      const { keyId } = c.req.valid("param");
      const rotated = await rotateKey(c.env.DB, keyId, c.req.valid("json").graceSeconds, (r) =>
        auditChange(c, {
          action: "key.rotate",
          target: { type: "key", id: keyId },
          orgId: r.before.orgId,
          tenantId: r.before.tenantId,
          before: keyView(r.before),
          after: { ...keyView(r.after), replacedBy: keyView(r.issued) },
        }),
      );
      if (!rotated) throw notFound("Key not found");
      forgetKey(rotated.oldHash);
      c.header("Cache-Control", "no-store");
      return c.json(issuedView(rotated.issued), 201);
    },
  )
  .delete(
    "/keys/:keyId",
    describeRoute({
      operationId: "revokeKey",
      summary: "Revoke a key",
      description: "It stops working at once on this isolate, within the key cache's 30 s elsewhere.",
      responses: { 204: "Revoked", 404: "`Key not found`" },
    }),
    validate("param", KeyParam),
    async (c) => {
      const key = await getKey(c.env.DB, c.req.valid("param").keyId);
      if (!key || key.revokedAt) throw notFound("Key not found");
      const now = new Date();
      const audit = auditChange(c, {
        action: "key.revoke",
        target: { type: "key", id: key.id },
        orgId: key.orgId,
        tenantId: key.tenantId,
        before: keyView(key),
        after: { ...keyView(key), revokedAt: now.toISOString() },
      });
      const hash = await revokeKey(c.env.DB, key.id, audit, now);
      if (!hash) throw notFound("Key not found");
      forgetKey(hash);
      return c.body(null, 204);
    },
  );
