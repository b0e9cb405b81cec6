import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { readCappedBody } from "../lib/capped-body";
import { GatewayError, invalidInput } from "../lib/errors";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../lib/json-depth";
import { withDoc } from "../openapi/describe";
import { bodyMissingIssue, jsonInvalidIssue, jsonTooDeepIssue } from "../v3/validation";

/** Largest request body the gateway accepts; the README documents it. */
export const MAX_BODY_BYTES = 256 * 1024;

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Reads a JSON request body before validation: 413 over MAX_BODY_BYTES, 415 for a body that is
 * not declared JSON, 422 for malformed JSON, JSON nested deeper than MAX_JSON_DEPTH (which would
 * pass validation and then fail to serialise on its way upstream, after money was held) or a
 * required body that is absent. An absent optional
 * body reads as `{}`, which is what upstream does for e.g. `POST /sessions/{id}/stop`.
 */
export function jsonBody(options: { required: boolean }) {
  const middleware = createMiddleware<AppEnv>(async function jsonBodyMiddleware(c, next) {
    const declared = Number(c.req.header("Content-Length") ?? "0");
    if (declared > MAX_BODY_BYTES) throw tooLarge();
    const bytes = await readCappedBody(c.req.raw, MAX_BODY_BYTES);
    if (!bytes) throw tooLarge();

    const text = new TextDecoder().decode(bytes);
    let value: unknown = {};
    if (text.trim() === "") {
      if (options.required) throw invalidInput([bodyMissingIssue()]);
    } else {
      const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
      if (!JSON_TYPE.test(mediaType)) {
        throw new GatewayError("unsupported_media_type", "Content-Type must be application/json");
      }
      if (nestsDeeperThan(text)) throw invalidInput([jsonTooDeepIssue(MAX_JSON_DEPTH)]);
      try {
        value = JSON.parse(text);
      } catch {
        throw invalidInput([jsonInvalidIssue()]);
      }
      // `null` is how a client says "no body" to FastAPI for optional bodies.
      if (value === null && !options.required) value = {};
    }
    // zValidator reads the body through c.req.json(), which parses the cached text: hand it the
    // value as read here (an absent or `null` optional body as `{}`), and clientBody the value.
    (c.req.bodyCache as Record<string, unknown>).text = Promise.resolve(JSON.stringify(value));
    c.req.bodyCache.json = Promise.resolve(value);
    await next();
  });
  return withDoc(middleware, {
    body: { required: options.required },
    responses: {
      413: `Body over ${MAX_BODY_BYTES} bytes`,
      415: "A body not declared `application/json`",
      422: `Malformed JSON, JSON nested over ${MAX_JSON_DEPTH} levels deep, or a required body missing`,
    },
  });
}

const tooLarge = () => new GatewayError("body_too_large", `Request body exceeds ${MAX_BODY_BYTES} bytes`);
