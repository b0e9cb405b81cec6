import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { TtlCache } from "../lib/ttl-cache";
import { type EffectivePolicy, effectivePolicy } from "../policy/effective";
import { getPolicies } from "../store/policies";

/** How long one isolate trusts a tenant's effective policy; the README says so. */
export const POLICY_CACHE_TTL_MS = 10_000;

const policyCache = new TtlCache<EffectivePolicy>(POLICY_CACHE_TTL_MS);

/** Forgets every cached policy in this isolate, so an admin change applies here at once. */
export function forgetPolicies(): void {
  policyCache.clear();
}

/**
 * Sets `policy`, the caller's org policy narrowed by its tenant's. A policy that cannot be read
 * refuses the request (503, from the store guard): the gateway never serves a tenant without
 * knowing its limits.
 */
export function loadPolicy() {
  return createMiddleware<AppEnv>(async function loadPolicyMiddleware(c, next) {
    const { orgId, tenantId } = c.get("caller");
    let policy = policyCache.get(tenantId);
    if (!policy) {
      const docs = await getPolicies(c.env.DB, orgId, tenantId);
      policy = effectivePolicy(docs.org, docs.tenant);
      policyCache.set(tenantId, policy);
    }
    c.set("policy", policy);
    await next();
  });
}
