import { type Context, Hono } from "hono";
import {
  ListMessagesQuery,
  ListSessionsQuery,
  RunTaskRequest,
  SessionPathParams,
  StopSessionRequest,
} from "../../../src/v3/schemas";
import type { Emulator } from "../emulator";
import { type EmuEnv, parse, publicBase, queryOf, readBody } from "../http";
import { stopSession } from "../lifecycle";
import { pageMessages, runTask } from "../sessions";
import { jsonText } from "../raw-json";
import { messageView, newestFirst, sessionView } from "../views";

/** A 200 of session views, their outputs written exactly as the task gave them (see RawJson). */
const json = (c: Context<EmuEnv>, body: unknown) =>
  c.body(jsonText(body), 200, { "Content-Type": "application/json" });

/** /api/v3/sessions: agent sessions, their tasks and messages. */
export function sessionRoutes(emu: Emulator) {
  return new Hono<EmuEnv>()
    .post("/", async (c) => {
      const raw = await readBody(c, true);
      const body = parse(RunTaskRequest, "body", raw);
      const s = runTask(emu, body, raw as Record<string, unknown>);
      // 200, not 201: the API declares 200 for create-or-dispatch.
      return json(c, sessionView(s, publicBase(c, emu), false));
    })
    .get("/", (c) => {
      const q = parse(ListSessionsQuery, "query", queryOf(c));
      emu.tick();
      const live = newestFirst(
        [...emu.store.sessions.values()].filter((s) => !s.deleted),
        (s) => s.createdAt,
      );
      const start = (q.page - 1) * q.page_size;
      const base = publicBase(c, emu);
      return json(c, {
        sessions: live.slice(start, start + q.page_size).map((s) => sessionView(s, base, false)),
        total: live.length,
        page: q.page,
        pageSize: q.page_size,
      });
    })
    .get("/:session_id", (c) => {
      const { session_id } = parse(SessionPathParams, "path", c.req.param());
      return json(c, sessionView(emu.session(session_id), publicBase(c, emu), true));
    })
    .delete("/:session_id", (c) => {
      const { session_id } = parse(SessionPathParams, "path", c.req.param());
      const s = emu.session(session_id);
      // Soft delete: the sandbox stops first; the record stays for billing (/_emulator/sessions).
      stopSession(s, "session", emu.now(), emu.lifecycle);
      s.deleted = true;
      return c.body(null, 204);
    })
    .post("/:session_id/stop", async (c) => {
      const { session_id } = parse(SessionPathParams, "path", c.req.param());
      // No body, `null` and `{}` all mean the default strategy ("session").
      const body = parse(StopSessionRequest, "body", (await readBody(c, false)) ?? {});
      const s = emu.session(session_id);
      stopSession(s, body.strategy, emu.now(), emu.lifecycle);
      return json(c, sessionView(s, publicBase(c, emu), false));
    })
    .get("/:session_id/messages", (c) => {
      const { session_id } = parse(SessionPathParams, "path", c.req.param());
      const q = parse(ListMessagesQuery, "query", queryOf(c));
      const s = emu.session(session_id);
      const { page, hasMore } = pageMessages(s.messages, q);
      return c.json({ messages: page.map((m) => messageView(s.id, m)), hasMore });
    });
}
