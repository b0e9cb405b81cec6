import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../../env";
import { idempotency } from "../../middleware/idempotency";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { describeRoute } from "../../openapi/describe";
import { browserHoldMicros } from "../../budget/admission";
import {
  applyBrowserPolicy,
  UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES,
  UPSTREAM_DEFAULT_COUNTRY,
} from "../../policy/apply";
import { BROWSERS, PROFILES } from "../../upstream/kinds";
import {
  BROWSER_METADATA_MAX_PAIRS,
  BrowserDownloadListResponse,
  BrowserDownloadsQuery,
  BrowserSessionItemView,
  BrowserSessionListResponse,
  BrowserSessionView,
  CreateBrowserSessionRequest,
  ListBrowsersQuery,
  UpdateBrowserSessionRequest,
  Uuid,
  strictCopy,
} from "../../v3/schemas";
import { announceApplied, forwardHeld } from "./holds";
import { listAgentBrowsers, onBrowser } from "./agent-browsers";
import { clientBody, listPage, relay, requireOwnedIfSet } from "./proxy";

const BrowserPath = z.object({ session_id: Uuid });
const NOT_FOUND =
  "`Session not found`: unknown, another tenant's, or the own browser of a session that is not the caller's";
type View = Record<string, unknown>;

/** A `metadata` filter, `key` or `key=value`, as upstream takes them. */
function metadataFilter(raw: string): { key: string; value?: string } {
  const at = raw.indexOf("=");
  return at < 0 ? { key: raw } : { key: raw.slice(0, at), value: raw.slice(at + 1) };
}

/**
 * `GET /browsers` as the gateway takes it: every `metadata` filter names a key, and there are no
 * more of them than a browser can carry pairs (a longer AND could match nothing anyway).
 */
const GatewayListBrowsersQuery = ListBrowsersQuery.check(
  z.superRefine((query, ctx) => {
    const filters = query.metadata ?? [];
    if (filters.length > BROWSER_METADATA_MAX_PAIRS) {
      ctx.addIssue({
        code: "custom",
        path: ["metadata"],
        message: `At most ${BROWSER_METADATA_MAX_PAIRS} metadata filters`,
        input: filters,
      });
    }
    filters.forEach((raw, index) => {
      if (metadataFilter(raw).key === "") {
        ctx.addIssue({
          code: "custom",
          path: ["metadata", index],
          message: "A metadata filter is key or key=value, with a key",
          input: raw,
        });
      }
    });
  }),
);

/** /api/v3/browsers: standalone CDP browsers, billed by time. */
export const browsers = new Hono<AppEnv>()
  .post(
    "/",
    describeRoute({
      operationId: "create_browser_session_browsers_post",
      callsUpstream: true,
      summary: "Create Browser Session",
      description:
        "Upstream charges a browser's whole timeout up front, so that is held, with the policy's proxy allowance; policy may set a default proxy country or cap the timeout (`X-Gateway-Applied`).",
      responses: {
        201: {
          description: "The browser",
          schema: BrowserSessionItemView,
          headers: { "X-Gateway-Applied": "Each change the gateway made to the body" },
        },
        402: "`budget_exceeded`: the budget cannot hold the browser's timeout",
        403: "A policy refusal: `country_not_allowed` or `timeout_not_allowed`",
        404: "A `profileId` that is unknown or another tenant's",
        429: {
          description: "`concurrency_limit`: too many live sessions and browsers for the tenant or org",
          headers: { "Retry-After": "Seconds until a retry may succeed" },
        },
      },
    }),
    jsonBody({ required: true }),
    validate("json", strictCopy(CreateBrowserSessionRequest)),
    idempotency(),
    async (c) => {
      await requireOwnedIfSet(c, PROFILES, c.req.valid("json").profileId);
      // Upstream charges a browser's whole timeout up front, so that is held, with its proxy allowance.
      const { body, applied } = applyBrowserPolicy((await clientBody(c)) as View, c.get("policy"));
      const timeout =
        typeof body.timeout === "number" ? body.timeout : UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES;
      const proxyCountryCode = "proxyCountryCode" in body ? body.proxyCountryCode : UPSTREAM_DEFAULT_COUNTRY;
      const res = await forwardHeld(c, {
        spec: BROWSERS,
        admission: {
          kind: "browser",
          resourceId: null,
          requestedMicros: browserHoldMicros(
            { timeout, proxyCountryCode, customProxy: body.customProxy },
            c.get("policy"),
          ),
          exact: true,
          addsLive: true,
          fingerprint: BROWSERS.lost.requestPrint(body),
        },
        path: "/browsers",
        body,
        success: 201,
        proxyCountry: typeof proxyCountryCode === "string" ? proxyCountryCode : null,
      });
      announceApplied(c, applied);
      return relay(c, res);
    },
  )
  .get(
    "/",
    describeRoute({
      operationId: "list_browser_sessions_browsers_get",
      callsUpstream: true,
      summary: "List Browser Sessions",
      description:
        "The browsers the caller made, newest first; with `agentSessionId`, upstream's list of the own browsers of that session of the caller's, which the caller may then get, stop and list the downloads of.",
      responses: { 200: BrowserSessionListResponse },
    }),
    validate("query", GatewayListBrowsersQuery),
    async (c) => {
      const { pageSize, pageNumber, filterBy, metadata, agentSessionId } = c.req.valid("query");
      if (agentSessionId) return listAgentBrowsers(c, agentSessionId, { pageSize, pageNumber });
      const { views, total } = await listPage(c, BROWSERS, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        status: filterBy ? [filterBy] : undefined,
        metadata: metadata?.map(metadataFilter),
      });
      // Lists never carry a recording URL, as upstream's do not.
      const items = views.map(({ recordingAvailable: _, ...v }) => ({ ...v, recordingUrl: null }));
      return c.json({ items, totalItems: total, pageNumber, pageSize });
    },
  )
  .get(
    "/:session_id",
    describeRoute({
      operationId: "get_browser_session_browsers__session_id__get",
      callsUpstream: true,
      summary: "Get Browser Session",
      responses: { 200: BrowserSessionView, 404: NOT_FOUND },
    }),
    validate("param", BrowserPath),
    (c) => onBrowser(c, c.req.valid("param").session_id, { method: "GET" }),
  )
  .patch(
    "/:session_id",
    describeRoute({
      operationId: "update_browser_session_browsers__session_id__patch",
      callsUpstream: true,
      summary: "Update Browser Session",
      description:
        "Stopping is the only action; the unused part of the timeout is refunded. Stopping an agent session's own browser may end its session, whose view is then booked.",
      responses: { 200: BrowserSessionView, 404: NOT_FOUND },
    }),
    validate("param", BrowserPath),
    jsonBody({ required: true }),
    validate("json", strictCopy(UpdateBrowserSessionRequest)),
    (c) => onBrowser(c, c.req.valid("param").session_id, { method: "PATCH", body: true }),
  )
  .get(
    "/:session_id/downloads",
    describeRoute({
      operationId: "list_browser_session_downloads_browsers__session_id__downloads_get",
      callsUpstream: true,
      summary: "List Browser Session Downloads",
      responses: { 200: BrowserDownloadListResponse, 404: NOT_FOUND },
    }),
    validate("param", BrowserPath),
    validate("query", BrowserDownloadsQuery),
    (c) =>
      onBrowser(c, c.req.valid("param").session_id, {
        method: "GET",
        suffix: "/downloads",
        query: ["limit", "cursor", "includeUrls"],
      }),
  );
