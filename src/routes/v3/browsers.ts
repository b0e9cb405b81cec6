import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import {
  BrowserDownloadsQuery,
  CreateBrowserSessionRequest,
  ListBrowsersQuery,
  UpdateBrowserSessionRequest,
} from "../../v3/schemas";
import { Uuid } from "../../v3/schemas";
import { BROWSERS, PROFILES } from "./kinds";
import { clientBody, forward, listPage, passQuery, recordCreated, relay, remember, requireOwned, requireOwnedIfSet } from "./proxy";

const BrowserPath = z.object({ session_id: Uuid });
type View = Record<string, unknown>;

/** /api/v3/browsers: standalone CDP browsers, billed by time. */
export const browsers = new Hono<AppEnv>()
  .post("/", jsonBody({ required: true }), validate("json", CreateBrowserSessionRequest.strict()), async (c) => {
    await requireOwnedIfSet(c, PROFILES, c.req.valid("json").profileId);
    const res = await forward(c, { method: "POST", path: "/browsers", body: await clientBody(c) });
    if (res.status === 201) await recordCreated(c, BROWSERS, res.body as View);
    return relay(c, res);
  })
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
    if (res.status === 200) remember(c, BROWSERS, [res.body as View]);
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
      const res = await forward(c, { method: "PATCH", path: BROWSERS.path(session_id), body: await clientBody(c) });
      if (res.status === 200) remember(c, BROWSERS, [res.body as View]);
      return relay(c, res);
    },
  )
  .get("/:session_id/downloads", validate("param", BrowserPath), validate("query", BrowserDownloadsQuery), async (c) => {
    const { session_id } = c.req.valid("param");
    await requireOwned(c, BROWSERS, session_id);
    const query = passQuery(c.req.url, ["limit", "cursor", "includeUrls"]);
    return relay(c, await forward(c, { method: "GET", path: `${BROWSERS.path(session_id)}/downloads`, query }));
  });
