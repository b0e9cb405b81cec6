import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv, Bindings } from "../env";
import { afterResponse } from "../lib/after-response";
import { readCanonical } from "../lib/canonical-json";
import { hmacSha256Hex, secretsEqual } from "../lib/crypto";
import { readCappedBody } from "../lib/capped-body";
import { GatewayError, invalidInput, notFound } from "../lib/errors";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../lib/json-depth";
import { createsLanded, lastObserved, type Observed, observeViews } from "../ledger/observe";
import { MAX_BODY_BYTES } from "../middleware/json-body";
import { describeRoute, type RouteDoc } from "../openapi/describe";
import { WebhookReceived } from "../schemas/gateway";
import { upstreamEnvFor } from "../upstream/accounts";
import { callUpstream } from "../upstream/client";
import { SESSIONS } from "../upstream/kinds";
import { findOwner, type Owner } from "../store/resources";
import { TtlCache } from "../lib/ttl-cache";
import { parseInput } from "../v3/validation";

// Whose each session is: ownership never moves, and every status change of a session sends an event.
const owners = new TtlCache<Owner>(60_000);

/** How far a webhook's timestamp may be from now, as Browser Use tells receivers to check. */
export const WEBHOOK_WINDOW_S = 300;

/** What a status webhook's body must be, once its signature is verified. */
export const StatusUpdate = z.object({
  type: z.string(),
  timestamp: z.optional(z.string()),
  payload: z.optional(
    z.looseObject({
      session_id: z.optional(z.string()),
      task_id: z.optional(z.string()),
      status: z.optional(z.string()),
    }),
  ),
});

const RECEIVED: z.infer<typeof WebhookReceived> = { received: true };

/** What both receivers read and answer; they differ in whose account (and secret) it is. */
const RECEIVER_DOC = {
  body: { required: true, schema: StatusUpdate },
  headers: [
    {
      name: "X-Browser-Use-Timestamp",
      required: true,
      description: "Unix seconds; within five minutes of now",
    },
    {
      name: "X-Browser-Use-Signature",
      required: true,
      description: "Hex HMAC-SHA256 of `{timestamp}.{body}` under the webhook secret",
    },
  ],
  responses: {
    200: WebhookReceived,
    401: "`invalid_signature`: missing, wrong or stale",
    413: `Body over ${MAX_BODY_BYTES} bytes, or nested over ${MAX_JSON_DEPTH} levels`,
    422: "Not JSON, or not a Browser Use event",
  },
} satisfies Partial<RouteDoc>;

/**
 * POST /webhooks/browser-use: Browser Use's own signed `agent.task.status_update` events, so a task
 * settles the moment it ends rather than at the next read or reconciler pass. The signature is hex
 * HMAC-SHA256 of `"{X-Browser-Use-Timestamp}.{signed}"` under BROWSER_USE_WEBHOOK_SECRET (see
 * signedForms); stale or unsigned events are 401, and nothing of an unsigned body is parsed. The
 * event is only a hint: the session is read from upstream and observed like any other view, so a
 * replayed or reordered event can book nothing twice. Without the secret configured the endpoint
 * does not exist (404).
 * POST /webhooks/browser-use/{orgId}: the same, from an org's own Browser Use account, verified with
 * that account's webhook secret; it concerns that org's sessions only.
 */
export const upstreamWebhooks = new Hono<AppEnv>()
  .post(
    "/browser-use",
    describeRoute({
      ...RECEIVER_DOC,
      operationId: "receiveBrowserUseWebhook",
      summary: "Browser Use's status webhooks, from the deployment's account",
      description:
        "Point Browser Use's webhook (dashboard, Settings → Webhooks) here, with BROWSER_USE_WEBHOOK_SECRET set to its secret: a task settles the moment it ends. The event is a hint; the session is read from upstream. Without the secret configured: 404.",
      responses: { ...RECEIVER_DOC.responses, 404: "No webhook secret is configured" },
    }),
    (c) => receive(c, c.env, null),
  )
  .post(
    "/browser-use/:orgId",
    describeRoute({
      ...RECEIVER_DOC,
      operationId: "receiveOrgBrowserUseWebhook",
      summary: "Browser Use's status webhooks, from an org's own account",
      description:
        "The same, for an org on its own Browser Use account (PUT /admin/v1/orgs/{orgId}/upstream), verified with that account's webhook secret; it concerns that org's sessions only.",
      responses: {
        ...RECEIVER_DOC.responses,
        404: "No such org, an org on the deployment's account, or its account has no webhook secret",
      },
    }),
    async (c) => {
      const orgId = c.req.param("orgId").toLowerCase();
      if (!z.uuid().safeParse(orgId).success) throw notFound();
      const account = await upstreamEnvFor(c.env, orgId, c.get("log"));
      // An org on the deployment's account has no receiver of its own.
      if (account === c.env) throw notFound();
      return receive(c, account, orgId);
    },
  );

/** Verifies and handles one status event of the account `upstream`; `orgId` when it is an org's own. */
async function receive(c: Context<AppEnv>, upstream: Bindings, orgId: string | null): Promise<Response> {
  const secret = upstream.BROWSER_USE_WEBHOOK_SECRET;
  if (!secret) throw notFound();
  const tooLarge = (why = `exceeds ${MAX_BODY_BYTES} bytes`) =>
    new GatewayError("body_too_large", `Webhook body ${why}`);
  if (Number(c.req.header("Content-Length") ?? "0") > MAX_BODY_BYTES) throw tooLarge();
  const bytes = await readCappedBody(c.req.raw, MAX_BODY_BYTES);
  if (!bytes) throw tooLarge();
  const raw = new TextDecoder().decode(bytes);
  await verifySignature(
    secret,
    c.req.header("X-Browser-Use-Timestamp"),
    c.req.header("X-Browser-Use-Signature"),
    raw,
  );
  if (nestsDeeperThan(raw)) throw tooLarge(`nests more than ${MAX_JSON_DEPTH} levels deep`);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    throw invalidInput([{ type: "json_invalid", loc: ["body", 0], msg: "JSON decode error" }]);
  }
  const parsed = parseInput(StatusUpdate, "body", body);
  if (!parsed.ok) throw invalidInput(parsed.issues);
  const sessionId = parsed.data.payload?.session_id;
  if (parsed.data.type !== "agent.task.status_update" || !sessionId) return c.json(RECEIVED);

  const event = parsed.data;
  const log = c.get("log");
  // The owner before the answer: a store that cannot be read is a 503, and the event is sent again.
  const known = await knownSession(c.env.DB, sessionId);
  // A session of another org than the account's is none of this event's business.
  if (!known || (orgId !== null && known.owner.orgId !== orgId)) {
    log.warn("webhook_unknown_session", { sessionId });
    return c.json(RECEIVED);
  }
  if (known.seen && alreadySeen(event, known.seen)) {
    log.debug("webhook_already_seen", { sessionId });
    return c.json(RECEIVED);
  }
  const { owner } = known;
  afterResponse(c, "webhook_refresh", async () => {
    const res = await callUpstream(upstream, log, { method: "GET", path: SESSIONS.path(sessionId) });
    if (res.status === 200)
      await observeViews(upstream, log, SESSIONS, owner, [res.body as Record<string, unknown>], res.sentAt);
  });
  return c.json(RECEIVED);
}

/** How long an event about a session this isolate does not know waits for its creates in flight. */
const CREATES_IN_FLIGHT_WAIT_MS = 2_000;

/**
 * Whose a session is, and what this isolate last saw of it: from this isolate's memory, or from D1
 * once any create this isolate has in flight has landed. A new session's first event comes while
 * its create's answer is still on its way, and the session is unknown to D1 until that answer is
 * recorded: looked up at once, the event would find nothing and be dropped.
 */
async function knownSession(
  db: D1Database,
  sessionId: string,
): Promise<{ owner: Owner; seen: Observed | undefined } | null> {
  const key = sessionId.toLowerCase();
  let seen = lastObserved("session", sessionId);
  let owner = seen?.owner ?? owners.get(key);
  if (!owner) {
    await createsLanded(CREATES_IN_FLIGHT_WAIT_MS);
    seen = lastObserved("session", sessionId);
    owner = seen?.owner ?? (await findOwner(db, "session", sessionId)) ?? undefined;
  }
  if (!owner) return null;
  owners.set(key, owner);
  return { owner, seen };
}

/** Statuses a session passes through that end no task: an event of one settles nothing. */
const ENDS_NOTHING: ReadonlySet<string> = new Set(["created", "running"]);

/**
 * Whether an event tells of nothing this isolate has not seen: a status that ends no task, which
 * happened before a view of the session was booked here that showed that status (or showed it
 * past `created`). The event a create sets off is one: it arrives just after the create's answer
 * was booked. It needs no read; there is nothing to book or settle the view did not. An event
 * that may end a task (`idle`, `stopped`, …) is always followed by a read, so a task still
 * settles the moment it ends; one newer than the view is read too.
 */
function alreadySeen(event: z.infer<typeof StatusUpdate>, seen: Observed): boolean {
  const status = event.payload?.status;
  if (!status || !ENDS_NOTHING.has(status)) return false;
  if (status !== seen.status && status !== "created") return false;
  const at = event.timestamp ? Date.parse(event.timestamp) : Number.NaN;
  return !Number.isNaN(at) && at <= seen.seenAtMs;
}

/**
 * What a Browser Use signature may have been computed over, in the order they are tried: the body
 * as Python's `json.dumps(sort_keys=True, separators=(",", ":"))` writes it, which is what Browser
 * Use documents (so a genuine event costs one HMAC); the body exactly as sent, if that differs;
 * and, for older deliveries, only its `payload` in the canonical form. A body nested too deeply to
 * be an event, or that is not JSON, is only tried as sent.
 */
function* signedForms(raw: string): Generator<string> {
  let canonical: ReturnType<typeof readCanonical> | null = null;
  if (!nestsDeeperThan(raw)) {
    try {
      canonical = readCanonical(raw);
    } catch {
      canonical = null;
    }
  }
  if (canonical) yield canonical.whole;
  if (canonical?.whole !== raw) yield raw;
  const payload = canonical?.members.get("payload");
  if (payload !== undefined) yield payload;
}

/**
 * Checks a Browser Use signature over `raw` (see signedForms) and its timestamp's freshness;
 * 401 `invalid_signature` otherwise. Comparisons are constant-time.
 */
export async function verifySignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  raw: string,
  nowMs = Date.now(),
): Promise<void> {
  const refuse = (detail: string) => new GatewayError("invalid_signature", detail);
  if (!timestamp || !signature) throw refuse("Missing X-Browser-Use-Timestamp or X-Browser-Use-Signature");
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowMs / 1000 - ts) > WEBHOOK_WINDOW_S) {
    throw refuse("Webhook timestamp is outside the five-minute window");
  }
  const given = signature.trim().toLowerCase();
  for (const signed of signedForms(raw)) {
    if (await secretsEqual(given, await hmacSha256Hex(secret, `${timestamp}.${signed}`))) return;
  }
  throw refuse("Webhook signature does not match");
}
