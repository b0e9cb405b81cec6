import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { sha256Hex } from "../lib/crypto";
import { GatewayError } from "../lib/errors";
import { TtlCache } from "../lib/ttl-cache";
import { withDoc } from "../openapi/describe";
import { afterResponse } from "../lib/after-response";
import { findKeyOwner, KEY_PATTERN, type KeyOwner, touchKeyStatement } from "../store/keys";
import { bearerToken } from "./admin-auth";

/**
 * How long a key lookup is trusted in one isolate. It bounds how long a revoked key keeps
 * working on other isolates (the revoking isolate forgets it at once); the README says so.
 */
export const KEY_CACHE_TTL_MS = 30_000;

// Keyed by the key's SHA-256; unknown keys are cached too (as null), so a flood of bad keys
// costs no D1 reads. A new key can never be a cached miss: its hash was never seen.
const keyCache = new TtlCache<KeyOwner | null>(KEY_CACHE_TTL_MS);

/** Forgets a key in this isolate, so its revocation takes effect here at once. */
export function forgetKey(keyHash: string): void {
  keyCache.delete(keyHash);
}

/** Forgets every key in this isolate: a suspension or deletion applies here at once. */
export function forgetKeys(): void {
  keyCache.clear();
}

// Keys whose use was noted in the last minute in this isolate: lastUsedAt is written at most once
// a minute per key, not on every request.
const touched = new TtlCache<true>(60_000);

/**
 * Authenticates a tenant by its gateway key, sent as `X-Browser-Use-API-Key` (what the official
 * SDK sends) or `Authorization: Bearer`. Sets `caller`. 401 `missing_api_key`, `invalid_api_key`
 * (unknown, malformed, revoked, or of a deleted tenant) or `key_expired`; 403 `suspended` when its
 * tenant or org is suspended; 403 `read_only_key` when a read-only key asks for anything but a read.
 */
export function tenantAuth() {
  const middleware = createMiddleware<AppEnv>(async function tenantAuthMiddleware(c, next) {
    const key = c.req.header("X-Browser-Use-API-Key")?.trim() || bearerToken(c.req.header("Authorization"));
    if (!key) throw new GatewayError("missing_api_key", "Missing API key: send X-Browser-Use-API-Key");
    if (!KEY_PATTERN.test(key)) throw new GatewayError("invalid_api_key", "Invalid API key");

    const hash = await sha256Hex(key);
    let owner = keyCache.get(hash);
    if (owner === undefined) {
      owner = await findKeyOwner(c.env.DB, hash);
      keyCache.set(hash, owner);
    }
    if (!owner || owner.deleted) throw new GatewayError("invalid_api_key", "Invalid API key");
    if (owner.expiresAt !== null && owner.expiresAt <= new Date().toISOString()) {
      throw new GatewayError("key_expired", "This API key has expired");
    }
    if (owner.suspended) throw new GatewayError("suspended", "This tenant is suspended");
    if (owner.scope === "read-only" && c.req.method !== "GET" && c.req.method !== "HEAD") {
      throw new GatewayError("read_only_key", "This API key may only read");
    }
    c.set("caller", { orgId: owner.orgId, tenantId: owner.tenantId, keyId: owner.keyId });
    if (!touched.get(owner.keyId)) {
      touched.set(owner.keyId, true);
      const { DB } = c.env;
      const keyId = owner.keyId;
      afterResponse(c, "key_last_used", () => touchKeyStatement(DB, keyId).run());
    }
    await next();
  });
  return withDoc(middleware, {
    security: [{ tenantKey: [] }, { tenantBearer: [] }],
    responses: {
      401: "`missing_api_key`, `invalid_api_key` or `key_expired`",
      403: "`suspended` tenant or org, or a `read_only_key` asking for more than a read",
    },
  });
}
