import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../env";
import { invalidInput, notFound } from "../lib/errors";
import { jsonBody } from "../middleware/json-body";
import { forgetKey } from "../middleware/tenant-auth";
import { validate } from "../middleware/validate";
import { type IssuedKey, issueKey, type KeyInfo, listKeys, revokeKey, rotateKey } from "../store/keys";
import { getTenant } from "../store/orgs";

const TenantParam = z.object({ tenantId: z.uuid() });
const KeyParam = z.object({ keyId: z.uuid() });

const NewKey = z.strictObject({
  name: z.string().trim().min(1).max(200).default("key"),
  scope: z.enum(["full", "read-only"]).default("full"),
  expiresAt: z.iso.datetime({ offset: true }).nullish(),
});
const Rotation = z.strictObject({
  graceSeconds: z
    .int()
    .min(0)
    .max(30 * 24 * 3600)
    .default(3600),
});

const keyView = (k: KeyInfo) => ({
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
const issuedView = (k: IssuedKey) => ({ ...keyView(k), key: k.key });

/**
 * /admin/v1 keys of a tenant: issue (the key is shown once), list (never the key or its hash),
 * rotate with a grace, revoke.
 */
export const adminKeys = new Hono<AppEnv>()
  .post(
    "/tenants/:tenantId/keys",
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
      const key = await issueKey(c.env.DB, c.req.valid("param").tenantId, {
        name,
        scope,
        expiresAt: expires,
      });
      if (!key) throw notFound("Tenant not found");
      c.header("Cache-Control", "no-store");
      return c.json(issuedView(key), 201);
    },
  )
  .get("/tenants/:tenantId/keys", validate("param", TenantParam), async (c) => {
    const { tenantId } = c.req.valid("param");
    if (!(await getTenant(c.env.DB, tenantId))) throw notFound("Tenant not found");
    return c.json({ keys: (await listKeys(c.env.DB, tenantId)).map(keyView) });
  })
  .post(
    "/keys/:keyId/rotate",
    validate("param", KeyParam),
    jsonBody({ required: false }),
    validate("json", Rotation),
    async (c) => {
      const rotated = await rotateKey(c.env.DB, c.req.valid("param").keyId, c.req.valid("json").graceSeconds);
      if (!rotated) throw notFound("Key not found");
      forgetKey(rotated.oldHash);
      c.header("Cache-Control", "no-store");
      return c.json(issuedView(rotated.issued), 201);
    },
  )
  .delete("/keys/:keyId", validate("param", KeyParam), async (c) => {
    const hash = await revokeKey(c.env.DB, c.req.valid("param").keyId);
    if (!hash) throw notFound("Key not found");
    forgetKey(hash);
    return c.body(null, 204);
  });
