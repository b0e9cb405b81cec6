/**
 * Fault injection on /api/v3 requests, to exercise a client's (or gateway's) error handling.
 * Set with POST /_emulator/faults; cleared by DELETE /_emulator/faults or POST /_emulator/reset.
 *
 * Random mode, one draw per request over the cumulative rates (their sum must be <= 1):
 *   error500Rate   500 with a plain-text "Internal Server Error" body (as an ASGI server sends)
 *   error429Rate   429 with the concurrency-limit detail (the SDK retries these)
 *   dropRate       the connection is destroyed before any answer; the request has no effect
 *   dropAfterRate  the request takes effect, then the connection is destroyed (a lost answer)
 *   malformedRate  200 whose body is truncated JSON
 * and, independently, slowRate: the request waits slowMs first, then proceeds. With `seed`, the
 * draws come from a PRNG seeded with it (the same requests in the same order draw the same
 * faults); without, from Math.random.
 *
 * Every /api/v3 request is counted by route template (`GET /sessions/{id}`), and every fault
 * applied by kind, in the project's stats (GET /_emulator/stats), so a test can tell how many
 * upstream calls of each kind it caused and a chaos run how many faults it met.
 *
 * Queued mode, deterministic: `next` lists faults for the next requests, one each, in order,
 * before the random mode applies again. Entries:
 *   "500" | "502" | "503" | "504"   that status, plain-text body
 *   "429"                           429 with the concurrency-limit detail
 *   "400"                           400 with the ended-session detail: a refusal with no effect,
 *                                   as Browser Use refuses a stop of a session already stopped
 *   "drop"                          connection destroyed; the request has no effect
 *   "drop-after"                    the request takes effect, then the connection is destroyed
 *   "malformed"                     200 with a truncated JSON body
 *   "slow" | "slow:<ms>"            a delay (slowMs, or <ms>), then the normal answer
 *   "late:<ms>"                     the request takes effect at once, its answer waits <ms>
 *                                   (webhooks of what it did go out meanwhile)
 *   "ok"                            no fault (to let a request through mid-queue)
 */
import type { HttpBindings } from "@hono/node-server";
import { createMiddleware } from "hono/factory";
import * as z from "zod";
import { ERROR_DETAILS } from "../../src/v3/schemas";
import type { Emulator } from "./emulator";

const Rate = z.number().min(0).max(1).default(0);
const FaultKind = z.union([
  z.enum(["500", "502", "503", "504", "429", "400", "drop", "drop-after", "malformed", "slow", "ok"]),
  z.string().regex(/^(slow|late):\d{1,6}$/),
]);

export const FaultPlanSchema = z
  .object({
    error500Rate: Rate,
    error429Rate: Rate,
    dropRate: Rate,
    dropAfterRate: Rate,
    malformedRate: Rate,
    slowRate: Rate,
    slowMs: z.int().min(0).max(120_000).default(1_000),
    next: z.array(FaultKind).default([]),
    seed: z.int().min(0).max(0xffff_ffff).nullable().default(null),
  })
  .strict()
  .refine((p) => p.error500Rate + p.error429Rate + p.dropRate + p.dropAfterRate + p.malformedRate <= 1, {
    message: "error500Rate + error429Rate + dropRate + dropAfterRate + malformedRate must not exceed 1",
  });
export type FaultPlan = z.infer<typeof FaultPlanSchema>;

export function noFaults(): FaultPlan {
  return FaultPlanSchema.parse({});
}

const STATUS_TEXT = {
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
} as const;

/** What a project's /api/v3 has seen: requests by route template, faults applied by kind. */
export interface FaultStats {
  requests: Record<string, number>;
  faults: Record<string, number>;
}

export function noStats(): FaultStats {
  return { requests: {}, faults: {} };
}

const UUID_SEGMENT = /\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** A request's route template: its method and path below /api/v3, each id as `{id}`. */
const routeOf = (method: string, path: string) =>
  `${method} ${path.slice("/api/v3".length).replace(UUID_SEGMENT, "/{id}")}`;

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/** Applies the emulator's current fault plan to each request it wraps, and counts both. */
export function faultInjection(emu: Emulator) {
  return createMiddleware<{ Bindings: HttpBindings }>(async function faultInjectionMiddleware(c, next) {
    const plan = emu.faults;
    bump(emu.stats.requests, routeOf(c.req.method, c.req.path));
    let fault = plan.next.shift() ?? drawFault(plan, emu.random);
    if (fault !== "ok") bump(emu.stats.faults, fault.replace(/:\d+$/, ""));
    if (fault === "slow" || fault.startsWith("slow:")) {
      await new Promise((r) => setTimeout(r, fault === "slow" ? plan.slowMs : Number(fault.slice(5))));
      fault = "ok";
    }
    if (fault.startsWith("late:")) {
      await next();
      await new Promise((r) => setTimeout(r, Number(fault.slice(5))));
      return;
    }
    switch (fault) {
      case "ok":
        return next();
      case "429":
        return c.json({ detail: ERROR_DETAILS.tooManyConcurrentSessions }, 429);
      case "400":
        return c.json({ detail: ERROR_DETAILS.sessionStopped }, 400);
      case "500":
      case "502":
      case "503":
      case "504": {
        const status = Number(fault) as keyof typeof STATUS_TEXT;
        return c.text(STATUS_TEXT[status], status);
      }
      case "malformed":
        return c.body('{"detail": "upstream glit', 200, { "Content-Type": "application/json" });
      case "drop-after":
        await next();
        c.env.incoming.socket.destroy();
        return;
      default:
        // "drop": the client sees its connection close with no response at all.
        c.env.incoming.socket.destroy();
        return c.body(null, 500);
    }
  });
}

function drawFault(plan: FaultPlan, random: () => number): string {
  let r = random();
  for (const [kind, rate] of [
    ["500", plan.error500Rate],
    ["429", plan.error429Rate],
    ["drop", plan.dropRate],
    ["drop-after", plan.dropAfterRate],
    ["malformed", plan.malformedRate],
  ] as const) {
    if (r < rate) return kind;
    r -= rate;
  }
  return plan.slowRate > 0 && random() < plan.slowRate ? "slow" : "ok";
}
