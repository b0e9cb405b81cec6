import { Hono } from "hono";
import * as z from "zod";
import { BU_MODELS, BrowserPathParams, DecimalString } from "../../../src/v3/schemas";
import { addProxyTraffic } from "../browsers";
import type { Emulator } from "../emulator";
import { ApiError } from "../errors";
import { FaultPlanSchema, noFaults } from "../faults";
import { type EmuEnv, iso, parse, publicBase, readBody } from "../http";
import { formatMicros, toMicros } from "../money";
import { jsonText } from "../raw-json";
import { agentBrowserView, browserView, newestFirst, sessionView } from "../views";
import type { SessionRecord } from "../state";
import { DEFAULT_WEBHOOK_SECRET } from "../webhooks";

const Amount = z.union([z.number().min(0), DecimalString]);

/** The settings POST /_emulator/config (and a new project) may set; any subset. */
export const ConfigPatch = z
  .object({
    stepMs: z.int().min(1).optional(),
    bootMs: z.int().min(0).optional(),
    idleTimeoutMs: z.int().min(1).optional(),
    concurrencyLimit: z.int().min(0).optional(),
    creditsUsd: Amount.optional(),
    defaultMaxCostUsd: Amount.optional(),
    idleBrowserBilling: z.boolean().optional(),
    agentBrowsers: z.boolean().optional(),
    defaultModel: z.enum(BU_MODELS).optional(),
  })
  .strict();

/** Applies a settings patch to a project. */
export function applyConfig(emu: Emulator, patch: z.infer<typeof ConfigPatch>): void {
  const { creditsUsd, defaultMaxCostUsd, ...plain } = patch;
  emu.settings = {
    ...emu.settings,
    ...plain,
    ...(creditsUsd !== undefined && { creditsMicros: toMicros(creditsUsd) }),
    ...(defaultMaxCostUsd !== undefined && { defaultMaxCostMicros: toMicros(defaultMaxCostUsd) }),
  };
}

const TrafficBody = z.object({ proxyMb: z.union([z.number().min(0), DecimalString]) }).strict();

const DownloadBody = z
  .object({
    path: z.string().min(1).max(255),
    content: z.string(),
    contentType: z.string().max(255).default("application/octet-stream"),
  })
  .strict();

const WebhookTargetBody = z
  .object({ url: z.url({ protocol: /^https?$/ }).nullable(), secret: z.string().min(1).optional() })
  .strict();

/** The tasks dispatched to a session, as sent (directives included), oldest first. */
const taskTexts = (s: SessionRecord) =>
  s.messages.filter((m) => m.type === "user_message").map((m) => m.data);

const ClockBody = z.object({ advanceMs: z.int().min(0) }).strict();

/**
 * /_emulator: test controls, without an API key (bind to localhost only). Bodies are checked
 * and refused with the same 422 shape as the API's.
 */
export function controlRoutes(emu: Emulator) {
  const settingsView = () => ({
    stepMs: emu.settings.stepMs,
    bootMs: emu.settings.bootMs,
    idleTimeoutMs: emu.settings.idleTimeoutMs,
    concurrencyLimit: emu.settings.concurrencyLimit,
    creditsUsd: formatMicros(emu.settings.creditsMicros),
    defaultMaxCostUsd: formatMicros(emu.settings.defaultMaxCostMicros),
    idleBrowserBilling: emu.settings.idleBrowserBilling,
    agentBrowsers: emu.settings.agentBrowsers,
    defaultModel: emu.settings.defaultModel,
  });

  return new Hono<EmuEnv>()
    .post("/reset", (c) => {
      emu.reset();
      return c.json({ ok: true });
    })
    .get("/faults", (c) => c.json(emu.faults))
    .post("/faults", async (c) => {
      emu.setFaults(parse(FaultPlanSchema, "body", await readBody(c, true)));
      return c.json(emu.faults);
    })
    .delete("/faults", (c) => {
      emu.setFaults(noFaults());
      return c.json(emu.faults);
    })
    .get("/stats", (c) => c.json(emu.stats))
    .get("/sessions", (c) => {
      // Every session, deleted ones included (their spend still counts), brought up to now.
      emu.tick();
      const base = publicBase(c, emu);
      const sessions = newestFirst(emu.store.sessions.values(), (s) => s.createdAt);
      const truth = {
        // With the text of every task sent to it, oldest first: who asked for what.
        sessions: sessions.map((s) => ({ ...sessionView(s, base, true), tasks: taskTexts(s) })),
        deletedSessionIds: sessions.filter((s) => s.deleted).map((s) => s.id),
        browsers: newestFirst(emu.store.browsers.values(), (b) => b.startedAt).map((b) =>
          browserView(b, base, true),
        ),
      };
      return c.body(jsonText(truth), 200, { "Content-Type": "application/json" });
    })
    .get("/webhook", (c) => c.json({ url: emu.webhook?.url ?? null }))
    .post("/webhook", async (c) => {
      const body = parse(WebhookTargetBody, "body", await readBody(c, true));
      emu.webhook = body.url ? { url: body.url, secret: body.secret ?? DEFAULT_WEBHOOK_SECRET } : null;
      return c.json({ url: emu.webhook?.url ?? null });
    })
    .get("/config", (c) => c.json(settingsView()))
    .post("/config", async (c) => {
      applyConfig(emu, parse(ConfigPatch, "body", await readBody(c, true)));
      return c.json(settingsView());
    })
    .post("/browsers/:session_id/traffic", async (c) => {
      // Proxy bandwidth a standalone browser used, billed on top of its time (documented).
      const { session_id } = parse(BrowserPathParams, "path", c.req.param());
      const { proxyMb } = parse(TrafficBody, "body", await readBody(c, true));
      const b = emu.browser(session_id);
      // A browser on the client's own proxy (customProxy) sends nothing through Browser Use's.
      if (b.status !== "active" || b.proxyCountryCode === null || b.customProxy) {
        throw new ApiError(409, "Only an active browser on Browser Use's proxy carries proxy traffic");
      }
      addProxyTraffic(b, Math.round(toMicros(proxyMb) / 1_000));
      return c.json(browserView(b, publicBase(c, emu), true));
    })
    .post("/browsers/:session_id/downloads", async (c) => {
      // A file the browser downloaded, as a page it drove would have made it (documented).
      const { session_id } = parse(BrowserPathParams, "path", c.req.param());
      const body = parse(DownloadBody, "body", await readBody(c, true));
      const found = emu.anyBrowser(session_id);
      const [active, downloads] =
        "agentOf" in found
          ? [agentBrowserView(found.agentOf).status === "active", found.agentOf.browserDownloads]
          : [found.standalone.status === "active", found.standalone.downloads];
      if (!active) throw new ApiError(409, "Only an active browser downloads files");
      const bytes = new TextEncoder().encode(body.content);
      downloads.set(body.path, {
        path: body.path,
        bytes,
        contentType: body.contentType,
        lastModified: emu.now(),
      });
      return c.json({ path: body.path, size: bytes.byteLength });
    })
    .post("/clock", async (c) => {
      // Moves emulator time ahead, e.g. past the 15-minute idle timeout, without waiting.
      const { advanceMs } = parse(ClockBody, "body", await readBody(c, true));
      emu.advanceClock(advanceMs);
      emu.tick();
      return c.json({ now: iso(emu.now()) });
    });
}
