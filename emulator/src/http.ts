/** Request plumbing shared by the routes: the Hono env, body and query reading, validation. */
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import type * as z from "zod";
import { type InputSource, bodyMissingIssue, jsonInvalidIssue, parseInput } from "../../src/v3/validation";
import type { Emulator } from "./emulator";
import { invalid } from "./errors";

/** Every emulator app runs on @hono/node-server, which passes the Node request and response. */
export type EmuEnv = { Bindings: HttpBindings };
export type EmuContext = Context<EmuEnv>;

/**
 * Reads a JSON body as FastAPI does: malformed JSON is a 422 `json_invalid`; an absent (or `null`)
 * body is a 422 `missing` when required and `undefined` otherwise. The Content-Type is not checked.
 */
export async function readBody(c: EmuContext, required: boolean): Promise<unknown> {
  const text = await c.req.text();
  let value: unknown = null;
  if (text.trim() !== "") {
    try {
      value = JSON.parse(text);
    } catch {
      throw invalid([jsonInvalidIssue()]);
    }
  }
  if (value !== null) return value;
  if (required) throw invalid([bodyMissingIssue()]);
  return undefined;
}

/** Validates `value` or throws the FastAPI 422. */
export function parse<S extends z.core.$ZodType>(
  schema: S,
  source: InputSource,
  value: unknown,
): z.output<S> {
  const result = parseInput(schema, source, value);
  if (!result.ok) throw invalid(result.issues);
  return result.data;
}

/** The query string as FastAPI sees it: repeated keys as lists, single ones as strings. */
export function queryOf(c: EmuContext): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [key, values] of Object.entries(c.req.queries())) {
    out[key] = values.length === 1 ? (values[0] ?? "") : values;
  }
  return out;
}

/** Base URL for links the emulator hands out: the configured one, else the caller's origin. */
export function publicBase(c: EmuContext, emu: Emulator): string {
  return (emu.options.publicUrl ?? new URL(c.req.url).origin).replace(/\/+$/, "");
}

export const iso = (ms: number) => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
