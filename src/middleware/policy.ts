import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { loadEffectivePolicy } from "../policy/load";

/**
 * Sets `policy`, the caller's org policy narrowed by its tenant's. A policy that cannot be read
 * refuses the request (503, from the store guard): the gateway never serves a tenant without
 * knowing its limits.
 */
export function loadPolicy() {
  return createMiddleware<AppEnv>(async function loadPolicyMiddleware(c, next) {
    c.set("policy", await loadEffectivePolicy(c.env.DB, c.get("caller")));
    await next();
  });
}
