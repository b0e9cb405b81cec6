import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv, Bindings } from "../env";
import { GatewayError, invalidInput, notFound } from "../lib/errors";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { REDACTED } from "../lib/redact";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { getOrg } from "../store/orgs";
import { listLive } from "../store/resources";
import { deleteOrgUpstream, putOrgUpstream } from "../store/upstreams";
import { forgetUpstream, sealCredentials, upstreamEnvFor, withCredentials } from "../upstream/accounts";
import { callUpstream, type UpstreamResponse } from "../upstream/client";
import { BROWSERS, SESSIONS } from "../upstream/kinds";

const OrgParam = z.object({ orgId: z.uuid() });
/** Header-safe: printable ASCII without spaces, as a key or secret that travels in a header must be. */
const Secret = z
  .string()
  .check(z.regex(/^[\x21-\x7e]{1,500}$/, "printable ASCII without spaces, at most 500"));
/** The body of `PUT /orgs/{orgId}/upstream`. */
export const UpstreamBody = z.strictObject({ apiKey: Secret, webhookSecret: z.optional(Secret) });

/**
 * How an org may move from the account of `current` (null: it cannot be read) to that of
 * `target`:
 * - `same_account`: the same Browser Use account under another key or secret (the same
 *   `projectId`, or what is live of the org is seen there): nothing can be lost, so always;
 * - `live_elsewhere`: another account, with sessions or browsers of the org live on this one,
 *   which the new one would read as gone and the ledger stop following: never (409);
 * - `when_nothing_to_lose`: another account (or one not known to be the same), nothing live now:
 *   only if nothing is live at the write either, and no create of the org is in flight or lost
 *   (its object would be looked for on the new account, never found, and its cost charged to no
 *   budget). The write checks both in its own statement (store/upstreams.ts), so no create can
 *   slip in between.
 */
async function moveCheck(
  c: Context<AppEnv>,
  orgId: string,
  current: Bindings | null,
  target: { env: Bindings; projectId: string | null },
): Promise<"same_account" | "live_elsewhere" | "when_nothing_to_lose"> {
  const from = current && (await projectOf(c, current));
  if (from !== null && from === target.projectId) return "same_account";
  const [live] = await listLive(c.env.DB, { column: "org_id", id: orgId }, 1);
  if (!live) return "when_nothing_to_lose";
  const spec = live.kind === "session" ? SESSIONS : BROWSERS;
  const res = await callUpstream(target.env, c.get("log"), { method: "GET", path: spec.path(live.id) });
  return res.status === 200 ? "same_account" : "live_elsewhere";
}

/** Which Browser Use project an account is (`GET /billing/account`), or null when it cannot say. */
async function projectOf(c: Context<AppEnv>, account: Bindings): Promise<string | null> {
  try {
    return projectIdOf(
      await callUpstream(account, c.get("log"), { method: "GET", path: "/billing/account" }),
    );
  } catch {
    return null;
  }
}

/** The `projectId` of a `GET /billing/account` answer, if it is one. */
function projectIdOf(res: UpstreamResponse): string | null {
  const id = (res.body as { projectId?: unknown } | undefined)?.projectId;
  return res.status === 200 && typeof id === "string" ? id : null;
}

/** The org's account as D1 has it now (not this isolate's memory of it); null when it cannot be opened. */
async function currentAccount(c: Context<AppEnv>, orgId: string): Promise<Bindings | null> {
  forgetUpstream(orgId);
  return upstreamEnvFor(c.env, orgId, c.get("log")).catch(() => null);
}

/** What the audit log says of an org's account: which it is, never its key or secret. */
const accountView = (own: boolean) => ({ upstream: own ? "own" : "deployment" });

/** Both ask Browser Use before they change anything: whether the key works, what is live there. */
const UPSTREAM_DOWN = {
  502: "`upstream_unreachable`, `upstream_bad_response` or `upstream_unauthorized`: nothing was changed",
  504: "`upstream_timeout`: nothing was changed",
};

const LIVE_ELSEWHERE =
  "Sessions or browsers of this org are live on its current Browser Use account, or a create's outcome there is still unknown: stop them, or let the reconciler settle it, first";

/**
 * /admin/v1/orgs/{orgId}/upstream: an org's own Browser Use account. PUT checks the key with
 * Browser Use (a key it refuses is 422) and seals it with the webhook secret; DELETE returns the
 * org to the deployment's account. Neither is ever returned; GET of the org says which it uses.
 */
export const adminUpstreams = new Hono<AppEnv>()
  .put(
    "/orgs/:orgId/upstream",
    describeRoute({
      operationId: "putOrgUpstream",
      summary: "Put an org on its own Browser Use account",
      description:
        'Everything for the org\'s tenants goes to this account from now on: requests, the reconciler, and its status webhooks at `/webhooks/browser-use/{orgId}`, verified with `webhookSecret`. The key is checked with Browser Use, sealed with AES-GCM under `UPSTREAM_KEY_ENCRYPTION_KEY`, and never returned; `GET /admin/v1/orgs/{orgId}` says `"upstream": "own"`.',
      responses: {
        204: "The org uses this account",
        404: "`Org not found`",
        409: "`conflict`: sessions or browsers of the org are live on an account this key does not see, or a create's outcome is still unknown",
        422: "Browser Use refused the key",
        ...UPSTREAM_DOWN,
      },
    }),
    validate("param", OrgParam),
    jsonBody({ required: true }),
    validate("json", UpstreamBody),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const { apiKey, webhookSecret = null } = c.req.valid("json");
      const org = await getOrg(c.env.DB, orgId);
      if (!org) throw notFound("Org not found");
      const sealed = await sealCredentials(c.env, orgId, { apiKey, webhookSecret });
      const target = withCredentials(c.env, { apiKey, webhookSecret });
      let account: UpstreamResponse;
      try {
        account = await callUpstream(target, c.get("log"), { method: "GET", path: "/billing/account" });
      } catch (err) {
        if (!(err instanceof GatewayError && err.code === "upstream_unauthorized")) throw err;
        throw invalidInput([
          { type: "value_error", loc: ["body", "apiKey"], msg: "Browser Use refused this key" },
        ]);
      }
      const check = await moveCheck(c, orgId, await currentAccount(c, orgId), {
        env: target,
        projectId: projectIdOf(account),
      });
      if (check === "live_elsewhere") throw new GatewayError("conflict", LIVE_ELSEWHERE);
      const audit = auditChange(c, {
        action: "upstream.put",
        target: { type: "org", id: orgId },
        orgId,
        tenantId: null,
        before: accountView(org.ownUpstream),
        after: { ...accountView(true), apiKey: REDACTED, webhookSecret: webhookSecret ? REDACTED : null },
      });
      const outcome = await putOrgUpstream(c.env.DB, sealed, audit, {
        whenNothingToLose: check === "when_nothing_to_lose",
      });
      if (outcome === "no_org") throw notFound("Org not found");
      if (outcome === "busy") throw new GatewayError("conflict", LIVE_ELSEWHERE);
      forgetUpstream(orgId);
      return c.body(null, 204);
    },
  )
  .delete(
    "/orgs/:orgId/upstream",
    describeRoute({
      operationId: "deleteOrgUpstream",
      summary: "Return an org to the deployment's Browser Use account",
      description: "Its sealed key and webhook secret are deleted; an org already there answers 204 too.",
      responses: {
        204: "The org uses the deployment's account",
        404: "`Org not found`",
        409: "`conflict`: sessions or browsers of the org are live on its own account, or a create's outcome is still unknown",
        ...UPSTREAM_DOWN,
      },
    }),
    validate("param", OrgParam),
    async (c) => {
      const { orgId } = c.req.valid("param");
      const org = await getOrg(c.env.DB, orgId);
      if (!org) throw notFound("Org not found");
      if (!org.ownUpstream) return c.body(null, 204);
      const check = await moveCheck(c, orgId, await currentAccount(c, orgId), {
        env: c.env,
        projectId: await projectOf(c, c.env),
      });
      if (check === "live_elsewhere") throw new GatewayError("conflict", LIVE_ELSEWHERE);
      const outcome = await deleteOrgUpstream(
        c.env.DB,
        orgId,
        auditChange(c, {
          action: "upstream.delete",
          target: { type: "org", id: orgId },
          orgId,
          tenantId: null,
          before: accountView(true),
          after: accountView(false),
        }),
        { whenNothingToLose: check === "when_nothing_to_lose" },
      );
      if (outcome === "busy") throw new GatewayError("conflict", LIVE_ELSEWHERE);
      forgetUpstream(orgId);
      return c.body(null, 204);
    },
  );
