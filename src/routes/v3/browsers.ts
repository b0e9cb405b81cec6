import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { idempotency } from "../../middleware/idempotency";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import {
  BrowserDownloadsQuery,
  CreateBrowserSessionRequest,
  ListBrowsersQuery,
  UpdateBrowserSessionRequest,
} from "../../v3/schemas";
import { Uuid } from "../../v3/schemas";
import { browserPriceMicros } from "../../budget/admission";
import { applyBrowserPolicy, UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES } from "../../policy/apply";
import { BROWSERS, PROFILES } from "../../upstream/kinds";
import { announceApplied, forwardHeld } from "./holds";
import {
  clientBody,
  forward,
  listPage,
  passQuery,
  relay,
  remember,
  requireOwned,
  requireOwnedIfSet,
} from "./proxy";

const BrowserPath = z.object({ session_id: Uuid });
type View = Record<string, unknown>;

/** /api/v3/browsers: standalone CDP browsers, billed by time. */
export const browsers = new Hono<AppEnv>()
  .post(
    "/",
    jsonBody({ required: true }),
    validate("json", CreateBrowserSessionRequest.strict()),
    idempotency(),
    async (c) => {
      await requireOwnedIfSet(c, PROFILES, c.req.valid("json").profileId);
      // Upstream charges a browser's whole timeout up front, so that is exactly what is held.
      const { body, applied } = applyBrowserPolicy((await clientBody(c)) as View, c.get("policy"));
      const timeout =
        typeof body.timeout === "number" ? body.timeout : UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES;
      const res = await forwardHeld(c, {
        spec: BROWSERS,
        admission: {
          kind: "browser",
          resourceId: null,
          requestedMicros: browserPriceMicros(timeout),
          exact: true,
          baseTotalMicros: 0,
          addsLive: true,
        },
        request: () => ({ method: "POST", path: "/browsers", body }),
        success: 201,
      });
      announceApplied(c, applied);
      return relay(c, res);
    },
  )
  .get("/", validate("query", ListBrowsersQuery), async (c) => {
    const { pageSize, pageNumber, filterBy } = c.req.valid("query");
    const { views, total } = await listPage(c, BROWSERS, {
      offset: (pageNumber - 1) * pageSize,
      limit: pageSize,
      status: filterBy ? [filterBy] : undefined,
    });
    // Lists never carry a recording URL, as upstream's do not.
    const items = views.map(({ recordingAvailable: _, ...v }) => ({ ...v, recordingUrl: null }));
    return c.json({ items, totalItems: total, pageNumber, pageSize });
  })
  .get("/:session_id", validate("param", BrowserPath), async (c) => {
    const { session_id } = c.req.valid("param");
    await requireOwned(c, BROWSERS, session_id);
    const res = await forward(c, { method: "GET", path: BROWSERS.path(session_id) });
    if (res.status === 200) remember(c, BROWSERS, [res.body as View], res.sentAt);
    return relay(c, res);
  })
  .patch(
    "/:session_id",
    validate("param", BrowserPath),
    jsonBody({ required: true }),
    validate("json", UpdateBrowserSessionRequest.strict()),
    async (c) => {
      const { session_id } = c.req.valid("param");
      await requireOwned(c, BROWSERS, session_id);
      const res = await forward(c, {
        method: "PATCH",
        path: BROWSERS.path(session_id),
        body: await clientBody(c),
      });
      if (res.status === 200) remember(c, BROWSERS, [res.body as View], res.sentAt);
      return relay(c, res);
    },
  )
  .get(
    "/:session_id/downloads",
    validate("param", BrowserPath),
    validate("query", BrowserDownloadsQuery),
    async (c) => {
      const { session_id } = c.req.valid("param");
      await requireOwned(c, BROWSERS, session_id);
      const query = passQuery(c.req.url, ["limit", "cursor", "includeUrls"]);
      return relay(
        c,
        await forward(c, { method: "GET", path: `${BROWSERS.path(session_id)}/downloads`, query }),
      );
    },
  );
