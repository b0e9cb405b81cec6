import { TtlCache } from "../lib/ttl-cache";
import { getPolicies } from "../store/policies";
import { type EffectivePolicy, effectivePolicy } from "./effective";

/** How long one isolate trusts a tenant's effective policy; the README says so. */
export const POLICY_CACHE_TTL_MS = 10_000;

const policyCache = new TtlCache<EffectivePolicy>(POLICY_CACHE_TTL_MS);

/** Forgets every cached policy in this isolate, so an admin change applies here at once. */
export function forgetPolicies(): void {
  policyCache.clear();
}

/** Forgets one tenant's cached policy in this isolate: it was found to be out of date. */
export function forgetPolicy(owner: { orgId: string; tenantId: string }): void {
  policyCache.delete(`${owner.orgId}/${owner.tenantId}`);
}

/**
 * A tenant's org policy narrowed by its own, trusted for POLICY_CACHE_TTL_MS per isolate: what a
 * request is judged by, and what the ledger charges time outside any hold by.
 */
export async function loadEffectivePolicy(
  db: D1Database,
  owner: { orgId: string; tenantId: string },
): Promise<EffectivePolicy> {
  // By org and tenant: every org's spend made outside the gateway has the same (empty) tenant id.
  const key = `${owner.orgId}/${owner.tenantId}`;
  const cached = policyCache.get(key);
  if (cached) return cached;
  const docs = await getPolicies(db, owner.orgId, owner.tenantId);
  const policy: EffectivePolicy = { ...effectivePolicy(docs.org, docs.tenant), stored: docs.stored };
  policyCache.set(key, policy);
  return policy;
}
