import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv, Bindings } from "../env";
import { GatewayError, invalidInput, notFound } from "../lib/errors";
import { auditChange } from "../middleware/audit";
import { jsonBody } from "../middleware/json-body";
import { REDACTED } from "../lib/redact";
import { validate } from "../middleware/validate";
import { describeRoute } from "../openapi/describe";
import { hasUnattachedHold } from "../store/budgets";
import { getOrg } from "../store/orgs";
import { listLive } from "../store/resources";
import { deleteOrgUpstream, putOrgUpstream } from "../store/upstreams";
import { forgetUpstream, sealCredentials, upstreamEnvFor, withCredentials } from "../upstream/accounts";
import { callUpstream } from "../upstream/client";
import { BROWSERS, SESSIONS } from "../upstream/kinds";

const OrgParam = z.object({ orgId: z.uuid() });
/** Header-safe: printable ASCII without spaces, as a key or secret that travels in a header must be. */
const Secret = z.string().regex(/^[\x21-\x7e]{1,500}$/, "printable ASCII without spaces, at most 500");
/** The body of `PUT /orgs/{orgId}/upstream`. */
export const UpstreamBody = z.strictObject({ apiKey: Secret, webhookSecret: Secret.optional() });

/**
 * Whether an org may move to the account of `target`: yes when nothing of it is live, or when the
 * account sees what is (the same account under a new key). Moving live sessions to an account that
 * does not know them would read them as gone, and stop the ledger following what they spend. Never
 * while a create of the org has an open hold tied to no object (in flight, or its answer lost): the
 * reconciler would look for its object on the new account, find nothing and release the hold,
 * and what the object costs on the old one would be charged to no budget.
 */
async function mayMoveTo(c: Context<AppEnv>, orgId: string, target: Bindings): Promise<boolean> {
  if (await hasUnattachedHold(c.env.DB, orgId)) return false;
  const [live] = await listLive(c.env.DB, { column: "org_id", id: orgId }, 1);
  if (!live) return true;
  const spec = live.kind === "session" ? SESSIONS : BROWSERS;
  const res = await callUpstream(target, c.get("log"), { method: "GET", path: spec.path(live.id) });
  return res.status === 200;
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
      try {
        await callUpstream(target, c.get("log"), { method: "GET", path: "/billing/account" });
      } catch (err) {
        if (!(err instanceof GatewayError && err.code === "upstream_unauthorized")) throw err;
        throw invalidInput([
          { type: "value_error", loc: ["body", "apiKey"], msg: "Browser Use refused this key" },
        ]);
      }
      if (!(await mayMoveTo(c, orgId, target))) throw new GatewayError("conflict", LIVE_ELSEWHERE);
      const audit = auditChange(c, {
        action: "upstream.put",
        target: { type: "org", id: orgId },
        orgId,
        tenantId: null,
        before: accountView(org.ownUpstream),
        after: { ...accountView(true), apiKey: REDACTED, webhookSecret: webhookSecret ? REDACTED : null },
      });
      if (!(await putOrgUpstream(c.env.DB, sealed, audit))) {
        // A create took its hold since mayMoveTo looked: the move waits for it.
        if (await hasUnattachedHold(c.env.DB, orgId)) throw new GatewayError("conflict", LIVE_ELSEWHERE);
        throw notFound("Org not found");
      }
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
      const current = await upstreamEnvFor(c.env, orgId, c.get("log")).catch(() => null);
      if (current === c.env) return c.body(null, 204);
      if (!(await mayMoveTo(c, orgId, c.env))) throw new GatewayError("conflict", LIVE_ELSEWHERE);
      const moved = await deleteOrgUpstream(
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
      );
      // A create took its hold since mayMoveTo looked: the move waits for it.
      if (!moved && (await hasUnattachedHold(c.env.DB, orgId))) {
        throw new GatewayError("conflict", LIVE_ELSEWHERE);
      }
      forgetUpstream(orgId);
      return c.body(null, 204);
    },
  );
