import { zValidator } from "@hono/zod-validator";
import type * as z from "zod/mini";
import { invalidInput } from "../lib/errors";
import { type InputTarget, withDoc } from "../openapi/describe";
import { type InputSource, parseInput } from "../v3/validation";

const SOURCE: Record<InputTarget, InputSource> = {
  json: "body",
  query: "query",
  param: "path",
  header: "header",
};

/**
 * The one validation wrapper: zod through @hono/zod-validator, with failures thrown as the
 * FastAPI-style 422 (never the validator's default 400 body). Handlers read `c.req.valid(target)`.
 * JSON bodies must pass `jsonBody()` first, which owns content type, size and syntax. The schema
 * is the route's input in the OpenAPI document too.
 */
export function validate<T extends InputTarget, S extends z.core.$ZodType>(target: T, schema: S) {
  const source = SOURCE[target];
  const middleware = zValidator(target, schema, undefined, {
    validationFunction: async (s, value) => {
      const parsed = parseInput(s, source, value);
      if (!parsed.ok) throw invalidInput(parsed.issues);
      return { success: true as const, data: parsed.data };
    },
  });
  return withDoc(middleware, {
    inputs: [{ target, schema }],
    responses: { 422: "Invalid input: FastAPI's issue list in `detail`" },
  });
}
