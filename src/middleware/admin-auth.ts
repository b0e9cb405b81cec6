import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { secretsEqual } from "../lib/crypto";
import { GatewayError } from "../lib/errors";
import { withDoc } from "../openapi/describe";

/** Guards /admin/v1 with `Authorization: Bearer <ADMIN_TOKEN>`, compared in constant time. */
export function adminAuth() {
  const middleware = createMiddleware<AppEnv>(async function adminAuthMiddleware(c, next) {
    const token = bearerToken(c.req.header("Authorization"));
    const expected = c.env.ADMIN_TOKEN;
    if (!token || !expected || !(await secretsEqual(token, expected))) {
      throw new GatewayError("admin_unauthorized", "Invalid or missing admin token", {
        "WWW-Authenticate": "Bearer",
      });
    }
    await next();
  });
  return withDoc(middleware, {
    security: [{ adminToken: [] }],
    responses: { 401: "`admin_unauthorized`: no admin token, or not the deployment's" },
  });
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
