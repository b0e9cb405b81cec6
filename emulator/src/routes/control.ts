import { Hono } from "hono";
import * as z from "zod";
import { DecimalString } from "../../../src/v3/schemas";
import type { Emulator } from "../emulator";
import { FaultPlanSchema, noFaults } from "../faults";
import { type EmuEnv, iso, parse, publicBase, readBody } from "../http";
import { formatMicros, toMicros } from "../money";
import { browserView, newestFirst, sessionView } from "../views";
import { DEFAULT_WEBHOOK_SECRET } from "../webhooks";

const Amount = z.union([z.number().min(0), DecimalString]);

const ConfigPatch = z
  .object({
    stepMs: z.int().min(1).optional(),
    bootMs: z.int().min(0).optional(),
    idleTimeoutMs: z.int().min(1).optional(),
    concurrencyLimit: z.int().min(0).optional(),
    creditsUsd: Amount.optional(),
    defaultMaxCostUsd: Amount.optional(),
  })
  .strict();

const WebhookTargetBody = z
  .object({ url: z.url({ protocol: /^https?$/ }).nullable(), secret: z.string().min(1).optional() })
  .strict();

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
  });

  return new Hono<EmuEnv>()
    .post("/reset", (c) => {
      emu.reset();
      return c.json({ ok: true });
    })
    .get("/faults", (c) => c.json(emu.faults))
    .post("/faults", async (c) => {
      emu.faults = parse(FaultPlanSchema, "body", await readBody(c, true));
      return c.json(emu.faults);
    })
    .delete("/faults", (c) => {
      emu.faults = noFaults();
      return c.json(emu.faults);
    })
    .get("/sessions", (c) => {
      // Every session, deleted ones included (their spend still counts), brought up to now.
      emu.tick();
      const base = publicBase(c, emu);
      const sessions = newestFirst(emu.store.sessions.values(), (s) => s.createdAt);
      return c.json({
        sessions: sessions.map((s) => sessionView(s, base, true)),
        deletedSessionIds: sessions.filter((s) => s.deleted).map((s) => s.id),
        browsers: newestFirst(emu.store.browsers.values(), (b) => b.startedAt).map((b) =>
          browserView(b, base, true),
        ),
      });
    })
    .get("/webhook", (c) => c.json({ url: emu.webhook?.url ?? null }))
    .post("/webhook", async (c) => {
      const body = parse(WebhookTargetBody, "body", await readBody(c, true));
      emu.webhook = body.url ? { url: body.url, secret: body.secret ?? DEFAULT_WEBHOOK_SECRET } : null;
      return c.json({ url: emu.webhook?.url ?? null });
    })
    .get("/config", (c) => c.json(settingsView()))
    .post("/config", async (c) => {
      const patch = parse(ConfigPatch, "body", await readBody(c, true));
      const { creditsUsd, defaultMaxCostUsd, ...plain } = patch;
      emu.settings = {
        ...emu.settings,
        ...plain,
        ...(creditsUsd !== undefined && { creditsMicros: toMicros(creditsUsd) }),
        ...(defaultMaxCostUsd !== undefined && { defaultMaxCostMicros: toMicros(defaultMaxCostUsd) }),
      };
      return c.json(settingsView());
    })
    .post("/clock", async (c) => {
      // Moves emulator time ahead, e.g. past the 15-minute idle timeout, without waiting.
      const { advanceMs } = parse(ClockBody, "body", await readBody(c, true));
      emu.advanceClock(advanceMs);
      emu.tick();
      return c.json({ now: iso(emu.now()) });
    });
}
