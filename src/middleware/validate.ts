import { zValidator } from "@hono/zod-validator";
import type { ValidationTargets } from "hono";
import type * as z from "zod";
import { invalidInput } from "../lib/errors";
import { type InputSource, parseInput } from "../v3/validation";

const SOURCE: Partial<Record<keyof ValidationTargets, InputSource>> = {
  json: "body",
  query: "query",
  param: "path",
  header: "header",
};

/**
 * The one validation wrapper: zod through @hono/zod-validator, with failures thrown as the
 * FastAPI-style 422 (never the validator's default 400 body). Handlers read `c.req.valid(target)`.
 * JSON bodies must pass `jsonBody()` first, which owns content type, size and syntax.
 */
export function validate<T extends keyof ValidationTargets, S extends z.ZodType>(target: T, schema: S) {
  const source = SOURCE[target] ?? "body";
  return zValidator(target, schema, undefined, {
    validationFunction: async (s, value) => {
      const parsed = parseInput(s, source, value);
      if (!parsed.ok) throw invalidInput(parsed.issues);
      return { success: true as const, data: parsed.data };
    },
  });
}
