import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { upstreamEnvFor } from "../upstream/accounts";

/**
 * Points the rest of the request at the caller's org's Browser Use account: its own when it has
 * one, the deployment's otherwise (see upstream/accounts.ts). After the caller is known.
 */
export function orgUpstream(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.env = await upstreamEnvFor(c.env, c.get("caller").orgId, c.get("log"));
    await next();
  };
}
