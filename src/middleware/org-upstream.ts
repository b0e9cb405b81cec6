import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { orgAccountFor } from "../upstream/accounts";

/**
 * Points the rest of the request at the caller's org's Browser Use account: its own when it has
 * one, the deployment's otherwise (see upstream/accounts.ts). After the caller is known. Keeps
 * the deployment's bindings and when the account was set, so a create can follow a move another
 * isolate made (routes/v3/holds.ts).
 */
export function orgUpstream(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const deployment = c.env;
    const account = await orgAccountFor(deployment, c.get("caller").orgId, c.get("log"));
    c.env = account.env;
    c.set("orgAccount", { deployment, setAt: account.setAt });
    await next();
  };
}
