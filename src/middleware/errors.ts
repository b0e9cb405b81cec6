import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";
import { GatewayError, invalidInput } from "../lib/errors";
import { createLogger, describeError } from "../lib/log";
import { isStoreFailure } from "../store/guard";
import { jsonInvalidIssue } from "../v3/validation";

/** Renders a GatewayError in the one error shape: `{detail, code, requestId}`. */
export function errorResponse(c: Context<AppEnv>, err: GatewayError): Response {
  const requestId = c.get("requestId");
  return c.json(
    { detail: err.detail, code: err.code, ...err.extra, requestId },
    err.status as 400,
    err.headers,
  );
}

/** The gateway's single onError: known errors keep their status; anything else is a logged 500. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
  if (err instanceof GatewayError) {
    // A 5xx is ours to look into: log what caused it (D1's or the network's words, never a body).
    if (err.status >= 500) {
      const log = c.get("log") ?? createLogger({});
      log.error("request_failed", { code: err.code, ...(err.cause ? describeError(err.cause) : {}) });
    }
    return errorResponse(c, err);
  }
  if (err instanceof HTTPException) return errorResponse(c, fromHttpException(err));
  const log = c.get("log") ?? createLogger({});
  if (isStoreFailure(err)) {
    log.error("request_failed", { code: "store_unavailable", ...describeError(err) });
    return errorResponse(c, new GatewayError("store_unavailable", "Gateway store unavailable, try again"));
  }
  log.error("unhandled_error", describeError(err));
  return errorResponse(c, new GatewayError("internal_error", "Internal gateway error"));
};

/**
 * FastAPI's answers to a route it does not have: 405 when the path exists with other methods,
 * 404 otherwise, both with our code and request id. `routes` is the app's own route table.
 */
export function onNotFound(routes: readonly { method: string; path: string }[]): NotFoundHandler<AppEnv> {
  const known = routes
    .filter((r) => r.method !== "ALL" && !r.path.slice(0, -1).includes("*"))
    .map((r) => ({
      method: r.method,
      // Mounted "/" routes read as ".../sessions/"; the path they answer is ".../sessions". A
      // trailing wildcard (the dashboard's files) stands for the rest of the path.
      pattern: new RegExp(
        `^${r.path
          .replace(/:[^/]+/g, "[^/]+")
          .replace(/(.)\/$/, "$1")
          .replace(/\*$/, ".*")}$`,
      ),
    }));
  return function notFoundHandler(c) {
    const path = new URL(c.req.url).pathname;
    const allowed = [...new Set(known.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length > 0) {
      return errorResponse(
        c,
        new GatewayError("method_not_allowed", "Method Not Allowed", { Allow: allowed.join(", ") }),
      );
    }
    return errorResponse(c, new GatewayError("not_found", "Not Found"));
  };
}

// Hono throws HTTPException for a body it could not parse; those are the client's fault.
function fromHttpException(err: HTTPException): GatewayError {
  if (err.status === 400 && /json/i.test(err.message)) return invalidInput([jsonInvalidIssue()]);
  if (err.status === 413) return new GatewayError("body_too_large", "Request body too large");
  return new GatewayError("validation_error", err.message || "Bad request");
}
