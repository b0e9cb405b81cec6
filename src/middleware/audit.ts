import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { invalidInput } from "../lib/errors";
import { withDoc } from "../openapi/describe";
import { type AuditChange, auditStatement, type ChangedBy } from "../store/audit";

/** The name the audit log gives the one admin token, `ADMIN_TOKEN`. */
export const ADMIN_TOKEN_NAME = "admin";

/** An `X-Actor`: printable ASCII (an email address, a user name), short enough to list. */
const ACTOR = /^[\x20-\x7e]{1,200}$/;

/**
 * Sets `changedBy` for an admin request: the person its `X-Actor` header names, recorded as given
 * (as LiteLLM's `LiteLLM-Changed-By`), or else the admin token's name, and the request id. A bad
 * `X-Actor` is 422 on any admin call, so a caller learns of it before it matters. Runs after
 * adminAuth: who is not let in is not validated.
 */
export function changedBy() {
  const middleware = createMiddleware<AppEnv>(async function changedByMiddleware(c, next) {
    const actor = c.req.header("X-Actor");
    if (actor !== undefined && !ACTOR.test(actor)) {
      throw invalidInput([
        {
          type: "string_pattern_mismatch",
          loc: ["header", "X-Actor"],
          msg: "X-Actor must be 1 to 200 printable ASCII characters",
        },
      ]);
    }
    c.set("changedBy", {
      actor: actor ?? ADMIN_TOKEN_NAME,
      tokenName: ADMIN_TOKEN_NAME,
      requestId: c.get("requestId"),
    } satisfies ChangedBy);
    await next();
  });
  return withDoc(middleware, {
    headers: [
      {
        name: "X-Actor",
        description:
          "Who makes the change (an email address, a user name: 1 to 200 printable ASCII characters), recorded in the audit log as given; else the admin token's name",
      },
    ],
    responses: { 422: "A malformed `X-Actor`" },
  });
}

/** The audit entry of a change this admin request makes, to batch with the change (see auditStatement). */
export function auditChange(
  c: Context<AppEnv>,
  change: Omit<AuditChange, keyof ChangedBy>,
): D1PreparedStatement {
  return auditStatement(c.env.DB, { ...c.get("changedBy"), ...change });
}
