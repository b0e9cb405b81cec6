import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env";
import { findOrgUpstream } from "../store/upstreams";
import { forgetUpstream, orgAccountFor } from "../upstream/accounts";

/**
 * Points the rest of the request at the caller's org's Browser Use account: its own when it has
 * one, the deployment's otherwise (see upstream/accounts.ts). After the caller is known. Keeps
 * the deployment's bindings and when the account was set, so a create can follow a move another
 * isolate made (followAccountMove).
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

/**
 * Points the rest of the request at the account the org is on now, when a read made in D1 just
 * before a create (`accountSetAt`: when the org's own account was set, null for the deployment's)
 * says it moved since this isolate learnt it. An isolate remembers an org's account for up to
 * 30 s, so another isolate may have moved the org meanwhile; an object made on the old account
 * would be read as gone from the new one (and a session's cost never booked). `why` names, in the
 * log, what the create was read with (a hold, an intent).
 */
export async function followAccountMove(
  c: Context<AppEnv>,
  accountSetAt: string | null,
  why: Record<string, string>,
): Promise<void> {
  const account = c.get("orgAccount");
  if (!account || account.setAt === accountSetAt) return;
  const { orgId } = c.get("caller");
  c.get("log").warn("org_account_moved", { orgId, ...why });
  forgetUpstream(orgId);
  const now = await orgAccountFor(account.deployment, orgId, c.get("log"));
  c.env = now.env;
  c.set("orgAccount", { ...account, setAt: now.setAt });
}

/**
 * After upstream answered that an object it should know is not there: whether that answer came
 * from an account the org has moved from since this isolate learnt it (another isolate moved it
 * within the last 30 s, and the object was made on the new one). If so, the rest of the request
 * now points at the account the org is on, and the call is to be asked again there: taken as
 * gone, the object would be forgotten, its hold settled while it runs, and its cost never booked.
 * A D1 read, only on a 404.
 */
export async function movedSinceRead(c: Context<AppEnv>): Promise<boolean> {
  const account = c.get("orgAccount");
  if (!account) return false;
  const stored = await findOrgUpstream(account.deployment.DB, c.get("caller").orgId);
  const setAt = stored?.setAt ?? null;
  if (setAt === account.setAt) return false;
  await followAccountMove(c, setAt, { after: "not_found" });
  return true;
}
