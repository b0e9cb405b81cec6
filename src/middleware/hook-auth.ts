import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { verifiedBy } from "../hooks/signatures";
import { readCappedBody } from "../lib/capped-body";
import { GatewayError, notFound } from "../lib/errors";
import { withDoc } from "../openapi/describe";
import { getHook } from "../store/hooks";
import { MAX_BODY_BYTES } from "./json-body";

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Authenticates a delivery to `/hooks/{hookId}` by its Standard Webhooks signature, as
 * tenantAuth does a key: 404 for an unknown, deleted or suspended hook, 413 for a body over MAX_BODY_BYTES,
 * 415 for one not declared JSON, 401 `invalid_signature` for a missing, malformed, wrong or stale
 * signature (nothing of an unsigned body is parsed). Sets `caller` to the hook's tenant (its key
 * id is `hook:<id>`, which rate limits count by) and `hook`; the raw body is in `rawBody`.
 */
export function hookAuth() {
  const middleware = createMiddleware<AppEnv>(async function hookAuthMiddleware(c, next) {
    const hook = await getHook(c.env.DB, c.req.param("hookId") ?? "");
    if (!hook || hook.suspended) throw notFound("Hook not found");
    if (Number(c.req.header("Content-Length") ?? "0") > MAX_BODY_BYTES) throw tooLarge();
    const bytes = await readCappedBody(c.req.raw, MAX_BODY_BYTES);
    if (!bytes) throw tooLarge();
    // Exactly what was signed: a leading byte order mark is kept (taskOf reads the JSON after it).
    const raw = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(bytes);
    const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_TYPE.test(mediaType)) {
      throw new GatewayError("unsupported_media_type", "Content-Type must be application/json");
    }
    if (!verifiedBy(hook.secrets, raw, c.req.raw.headers)) {
      throw new GatewayError("invalid_signature", "Missing, invalid or stale webhook signature");
    }
    if (hook.ownerSuspended) throw new GatewayError("suspended", "This hook's tenant is suspended");
    c.set("hook", hook);
    c.set("rawBody", raw);
    c.set("caller", { orgId: hook.orgId, tenantId: hook.tenantId, keyId: `hook:${hook.id}` });
    await next();
  });
  return withDoc(middleware, {
    headers: [
      { name: "webhook-id", required: true, description: "Standard Webhooks: the delivery's id" },
      { name: "webhook-timestamp", required: true, description: "Unix seconds; within five minutes of now" },
      {
        name: "webhook-signature",
        required: true,
        description: "`v1,<base64 HMAC-SHA256>` of `id.timestamp.body` under the hook's secret",
      },
    ],
    responses: {
      401: "`invalid_signature`: missing, malformed, wrong or stale",
      403: "`suspended`: the hook's tenant or org",
      404: "No such hook, or a suspended one",
      413: `Body over ${MAX_BODY_BYTES} bytes`,
      415: "A body not declared `application/json`",
    },
  });
}

const tooLarge = () => new GatewayError("body_too_large", `Request body exceeds ${MAX_BODY_BYTES} bytes`);
