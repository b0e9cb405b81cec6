import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { microsWithin } from "../../lib/money";
import { idempotency } from "../../middleware/idempotency";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { SESSIONS } from "../../upstream/kinds";
import {
  ListMessagesQuery,
  ListSessionsQuery,
  RunTaskRequest,
  StopSessionRequest,
  Uuid,
} from "../../v3/schemas";
import { createOrDispatch } from "./dispatch";
import { clientBody, listPage, onOwned } from "./proxy";

const SessionPath = z.object({ session_id: Uuid });

/** The most a task may ask to cost, so every amount fits the ledger's integers with room to spare. */
const MAX_COST_MICROS = 1_000_000 * 1_000_000;

/**
 * `RunTaskRequest` as the gateway takes it: no unknown fields (policy cannot judge what it does not
 * know) and a `maxCostUsd` that is an amount the ledger can hold, 0 to $1,000,000.
 */
export const GatewayRunTaskRequest = RunTaskRequest.strict().superRefine((body, ctx) => {
  if (body.maxCostUsd != null && microsWithin(body.maxCostUsd, MAX_COST_MICROS) === null) {
    ctx.addIssue({
      code: "custom",
      path: ["maxCostUsd"],
      message: "maxCostUsd must be a decimal amount from 0 to 1000000",
      input: body.maxCostUsd,
    });
  }
});

/** /api/v3/sessions: agent sessions, their tasks, messages and stop. */
export const sessions = new Hono<AppEnv>()
  .post(
    "/",
    jsonBody({ required: true }),
    validate("json", GatewayRunTaskRequest),
    idempotency(),
    async (c) => createOrDispatch(c, c.req.valid("json"), (await clientBody(c)) as Record<string, unknown>),
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
  .get("/:session_id", validate("param", SessionPath), (c) =>
    onOwned(c, SESSIONS, c.req.valid("param").session_id, { method: "GET" }),
  )
  .delete("/:session_id", validate("param", SessionPath), (c) =>
    onOwned(c, SESSIONS, c.req.valid("param").session_id, { method: "DELETE" }),
  )
  .post(
    "/:session_id/stop",
    validate("param", SessionPath),
    jsonBody({ required: false }),
    validate("json", StopSessionRequest.strict()),
    (c) =>
      onOwned(c, SESSIONS, c.req.valid("param").session_id, {
        method: "POST",
        suffix: "/stop",
        body: true,
        returnsView: true,
      }),
  )
  .get("/:session_id/messages", validate("param", SessionPath), validate("query", ListMessagesQuery), (c) =>
    onOwned(c, SESSIONS, c.req.valid("param").session_id, {
      method: "GET",
      suffix: "/messages",
      query: ["after", "before", "limit"],
    }),
  );
