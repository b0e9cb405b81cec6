import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import {
  BROWSER_TIMEOUT_MAX_MINUTES,
  BrowserDownloadsQuery,
  BrowserPathParams,
  CreateBrowserSessionRequest,
  ERROR_DETAILS,
  ListBrowsersQuery,
  UpdateBrowserSessionRequest,
} from "../../../src/v3/schemas";
import { stopBrowser } from "../browsers";
import { stopSession } from "../lifecycle";
import type { Emulator } from "../emulator";
import { ApiError } from "../errors";
import { type EmuEnv, parse, publicBase, queryOf, readBody } from "../http";
import { browserMinutesMicros } from "../pricing";
import type { BrowserRecord } from "../state";
import { filePage } from "./storage";
import { agentBrowserView, browserView, itemsPage, newestFirst } from "../views";

/**
 * /api/v3/browsers: standalone CDP browsers, billed by the minute of their timeout, and (with
 * `agentBrowsers`) agent sessions' own ones, billed in their sessions.
 */
export function browserRoutes(emu: Emulator) {
  return new Hono<EmuEnv>()
    .post("/", async (c) => {
      const body = parse(CreateBrowserSessionRequest, "body", await readBody(c, true));
      if (body.timeout > BROWSER_TIMEOUT_MAX_MINUTES) {
        throw new ApiError(403, ERROR_DETAILS.sessionTimeoutLimitExceeded);
      }
      const profile = body.profileId ? emu.profile(body.profileId) : null;
      emu.requireCapacity();
      emu.requireCredits();
      const now = emu.now();
      if (profile) profile.lastUsedAt = now;
      const b: BrowserRecord = {
        id: randomUUID(),
        status: "active",
        profileId: profile?.id ?? null,
        proxyCountryCode: body.proxyCountryCode,
        customProxy: body.customProxy != null,
        metadata: body.metadata ?? {},
        enableRecording: body.enableRecording,
        timeoutMinutes: body.timeout,
        // The whole timeout is charged up front; stopping early refunds the unused minutes.
        chargedMicros: browserMinutesMicros(body.timeout),
        finalMicros: null,
        proxyMilliMb: 0,
        startedAt: now,
        timeoutAt: now + body.timeout * 60_000,
        finishedAt: null,
        downloads: new Map(),
      };
      emu.store.browsers.set(b.id, b);
      return c.json(browserView(b, publicBase(c, emu), false), 201);
    })
    .get("/", (c) => {
      const q = parse(ListBrowsersQuery, "query", queryOf(c));
      emu.tick();
      const wanted = (q.metadata ?? []).map((m) => {
        const eq = m.indexOf("=");
        return eq < 0 ? { key: m, value: null } : { key: m.slice(0, eq), value: m.slice(eq + 1) };
      });
      const base = publicBase(c, emu);
      // Standalone browsers belong to no agent session; agent sessions' own ones are listed
      // only with `agentBrowsers` on.
      const standalone = q.agentSessionId
        ? []
        : [...emu.store.browsers.values()].map((b) => browserView(b, base, false));
      const agents = emu.settings.agentBrowsers
        ? [...emu.store.sessions.values()]
            .filter((s) => !s.deleted && (!q.agentSessionId || s.id === q.agentSessionId.toLowerCase()))
            .map((s) => agentBrowserView(s))
        : [];
      const matching = newestFirst([...standalone, ...agents], (b) => Date.parse(b.startedAt)).filter(
        (b) =>
          (!q.filterBy || b.status === q.filterBy) &&
          wanted.every(
            ({ key, value }) => key in (b.metadata ?? {}) && (value === null || b.metadata?.[key] === value),
          ),
      );
      return c.json(itemsPage(matching, q.pageNumber, q.pageSize));
    })
    .get("/:session_id", (c) => {
      const { session_id } = parse(BrowserPathParams, "path", c.req.param());
      const found = emu.anyBrowser(session_id);
      if ("agentOf" in found) return c.json(agentBrowserView(found.agentOf, true));
      return c.json(browserView(found.standalone, publicBase(c, emu), true));
    })
    .patch("/:session_id", async (c) => {
      const { session_id } = parse(BrowserPathParams, "path", c.req.param());
      parse(UpdateBrowserSessionRequest, "body", await readBody(c, true));
      const found = emu.anyBrowser(session_id);
      if ("agentOf" in found) {
        // Its agent cannot go on without it: the session stops, as POST /sessions/{id}/stop
        // would stop it (Browser Use does not document this; the emulator's choice, README).
        stopSession(found.agentOf, "session", emu.now(), emu.lifecycle);
        return c.json(agentBrowserView(found.agentOf, true));
      }
      stopBrowser(found.standalone, emu.now());
      return c.json(browserView(found.standalone, publicBase(c, emu), true));
    })
    .get("/:session_id/downloads", (c) => {
      const { session_id } = parse(BrowserPathParams, "path", c.req.param());
      const q = parse(BrowserDownloadsQuery, "query", queryOf(c));
      const found = emu.anyBrowser(session_id);
      const [id, files] =
        "agentOf" in found
          ? [found.agentOf.browserId, found.agentOf.browserDownloads]
          : [found.standalone.id, found.standalone.downloads];
      return c.json(filePage(emu, publicBase(c, emu), { kind: "browser", id }, [...files.values()], q));
    });
}
