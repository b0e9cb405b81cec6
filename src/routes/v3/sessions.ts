import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { idempotency } from "../../middleware/idempotency";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { ListMessagesQuery, ListSessionsQuery, RunTaskRequest, StopSessionRequest } from "../../v3/schemas";
import { Uuid } from "../../v3/schemas";
import { SESSIONS } from "../../upstream/kinds";
import { createOrDispatch } from "./dispatch";
import { clientBody, forget, forward, listPage, passQuery, relay, remember, requireOwned } from "./proxy";

const SessionPath = z.object({ session_id: Uuid });
type View = Record<string, unknown>;

/** /api/v3/sessions: agent sessions, their tasks, messages and stop. */
export const sessions = new Hono<AppEnv>()
  .post("/", jsonBody({ required: true }), validate("json", RunTaskRequest.strict()), idempotency(), (c) =>
    createOrDispatch(c, c.req.valid("json")),
  )
  .get("/", validate("query", ListSessionsQuery), async (c) => {
    const { page, page_size } = c.req.valid("query");
    const { views, total } = await listPage(c, SESSIONS, {
      offset: (page - 1) * page_size,
      limit: page_size,
    });
    // Lists never carry the single-session extras, as upstream's do not.
    const sessions = views.map((v) => ({ ...v, screenshotUrl: null, recordingUrls: [] }));
    return c.json({ sessions, total, page, pageSize: page_size });
  })
  .get("/:session_id", validate("param", SessionPath), async (c) => {
    const { session_id } = c.req.valid("param");
    await requireOwned(c, SESSIONS, session_id);
    const res = await forward(c, { method: "GET", path: SESSIONS.path(session_id) });
    if (res.status === 200) remember(c, SESSIONS, [res.body as View], res.sentAt);
    return relay(c, res);
  })
  .delete("/:session_id", validate("param", SessionPath), async (c) => {
    const { session_id } = c.req.valid("param");
    await requireOwned(c, SESSIONS, session_id);
    const res = await forward(c, { method: "DELETE", path: SESSIONS.path(session_id) });
    if (res.status === 204 || res.status === 404) await forget(c, SESSIONS, session_id);
    return relay(c, res);
  })
  .post(
    "/:session_id/stop",
    validate("param", SessionPath),
    jsonBody({ required: false }),
    validate("json", StopSessionRequest.strict()),
    async (c) => {
      const { session_id } = c.req.valid("param");
      await requireOwned(c, SESSIONS, session_id);
      const res = await forward(c, {
        method: "POST",
        path: `${SESSIONS.path(session_id)}/stop`,
        body: await clientBody(c),
      });
      if (res.status === 200) remember(c, SESSIONS, [res.body as View], res.sentAt);
      return relay(c, res);
    },
  )
  .get(
    "/:session_id/messages",
    validate("param", SessionPath),
    validate("query", ListMessagesQuery),
    async (c) => {
      const { session_id } = c.req.valid("param");
      await requireOwned(c, SESSIONS, session_id);
      const res = await forward(c, {
        method: "GET",
        path: `${SESSIONS.path(session_id)}/messages`,
        query: passQuery(c.req.url, ["after", "before", "limit"]),
      });
      return relay(c, res);
    },
  );
