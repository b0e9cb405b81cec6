import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../../env";
import { microsWithin } from "../../lib/money";
import { idempotency } from "../../middleware/idempotency";
import { describeRoute } from "../../openapi/describe";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { SESSIONS } from "../../upstream/kinds";
import {
  ListMessagesQuery,
  ListSessionsQuery,
  MessageListResponse,
  RunTaskRequest,
  SessionListResponse,
  SessionResponse,
  StopSessionRequest,
  Uuid,
  strictCopy,
} from "../../v3/schemas";
import { createOrDispatch } from "./dispatch";
import { clientBody, listPage, onOwned } from "./proxy";

const SessionPath = z.object({ session_id: Uuid });
const NOT_FOUND = "`Session not found`: unknown, or another tenant's";

/** The most a task may ask to cost, so every amount fits the ledger's integers with room to spare. */
const MAX_COST_MICROS = 1_000_000 * 1_000_000;

/**
 * `RunTaskRequest` as the gateway takes it: no unknown fields (policy cannot judge what it does not
 * know) and a `maxCostUsd` that is an amount the ledger can hold, 0 to $1,000,000.
 */
export const GatewayRunTaskRequest = strictCopy(RunTaskRequest).check(
  z.superRefine((body, ctx) => {
    if (body.maxCostUsd != null && microsWithin(body.maxCostUsd, MAX_COST_MICROS) === null) {
      ctx.addIssue({
        code: "custom",
        path: ["maxCostUsd"],
        message: "maxCostUsd must be a decimal amount from 0 to 1000000",
        input: body.maxCostUsd,
      });
    }
  }),
);

/** /api/v3/sessions: agent sessions, their tasks, messages and stop. */
export const sessions = new Hono<AppEnv>()
  .post(
    "/",
    describeRoute({
      operationId: "create_session_sessions_post",
      callsUpstream: true,
      summary: "Create Session",
      description:
        "Creates a session, with or without a task, or dispatches a task to an idle session (`sessionId`). A task is admitted under a budget hold and sent with `maxCostUsd` set to it; policy may set a default proxy country and turn `skills` off, each change listed in `X-Gateway-Applied`.",
      responses: {
        200: {
          description: "The session",
          schema: SessionResponse,
          headers: {
            "X-Gateway-Applied":
              "Each change the gateway made to the body, e.g. `proxyCountryCode=de, maxCostUsd=2.499873`",
          },
        },
        400: "`session_not_idle`: the session of a follow-up task is busy or has ended",
        402: "`budget_exceeded`: what is left in a budget is below the minimum hold",
        403: "A policy refusal: `country_not_allowed`, `model_not_allowed`, `keep_alive_not_allowed`, `scheduled_tasks_not_allowed` or `own_key_not_allowed`",
        404: "A `sessionId`, `profileId` or `workspaceId` that is unknown or another tenant's",
        429: {
          description: "`concurrency_limit`: too many live sessions and browsers for the tenant or org",
          headers: { "Retry-After": "Seconds until a retry may succeed" },
        },
      },
    }),
    jsonBody({ required: true }),
    validate("json", GatewayRunTaskRequest),
    idempotency(),
    async (c) => createOrDispatch(c, c.req.valid("json"), (await clientBody(c)) as Record<string, unknown>),
  )
  .get(
    "/",
    describeRoute({
      operationId: "list_sessions_sessions_get",
      summary: "List Sessions",
      description: "The caller's own sessions, newest first.",
      responses: { 200: SessionListResponse },
    }),
    validate("query", ListSessionsQuery),
    async (c) => {
      const { page, page_size } = c.req.valid("query");
      const { views, total } = await listPage(c, SESSIONS, {
        offset: (page - 1) * page_size,
        limit: page_size,
      });
      // Lists never carry the single-session extras, as upstream's do not.
      const sessions = views.map((v) => ({ ...v, screenshotUrl: null, recordingUrls: [] }));
      return c.json({ sessions, total, page, pageSize: page_size });
    },
  )
  .get(
    "/:session_id",
    describeRoute({
      operationId: "get_session_sessions__session_id__get",
      callsUpstream: true,
      summary: "Get Session",
      responses: { 200: SessionResponse, 404: NOT_FOUND },
    }),
    validate("param", SessionPath),
    (c) => onOwned(c, SESSIONS, c.req.valid("param").session_id, { method: "GET" }),
  )
  .delete(
    "/:session_id",
    describeRoute({
      operationId: "delete_session_sessions__session_id__delete",
      callsUpstream: true,
      summary: "Delete Session",
      description: "Stops the session first (its final cost is booked), then deletes it.",
      responses: { 204: "Deleted", 404: NOT_FOUND },
    }),
    validate("param", SessionPath),
    (c) => onOwned(c, SESSIONS, c.req.valid("param").session_id, { method: "DELETE" }),
  )
  .post(
    "/:session_id/stop",
    describeRoute({
      operationId: "stop_session_sessions__session_id__stop_post",
      callsUpstream: true,
      summary: "Stop Session",
      responses: { 200: SessionResponse, 404: NOT_FOUND },
    }),
    validate("param", SessionPath),
    jsonBody({ required: false }),
    validate("json", strictCopy(StopSessionRequest)),
    (c) =>
      onOwned(c, SESSIONS, c.req.valid("param").session_id, {
        method: "POST",
        suffix: "/stop",
        body: true,
        returnsView: true,
      }),
  )
  .get(
    "/:session_id/messages",
    describeRoute({
      operationId: "list_session_messages_sessions__session_id__messages_get",
      callsUpstream: true,
      summary: "List Session Messages",
      responses: { 200: MessageListResponse, 404: NOT_FOUND },
    }),
    validate("param", SessionPath),
    validate("query", ListMessagesQuery),
    (c) =>
      onOwned(c, SESSIONS, c.req.valid("param").session_id, {
        method: "GET",
        suffix: "/messages",
        query: ["after", "before", "limit"],
      }),
  );
