import { Hono } from "hono";
import { ERROR_DETAILS } from "../../src/v3/schemas";
import { apiKeyAuth } from "./auth";
import type { Emulator } from "./emulator";
import { ApiError } from "./errors";
import { faultInjection } from "./faults";
import type { EmuEnv } from "./http";
import { routeMatcher } from "./route-table";
import { assetRoutes } from "./routes/assets";
import { billingRoutes } from "./routes/billing";
import { browserRoutes } from "./routes/browsers";
import { controlRoutes } from "./routes/control";
import { profileRoutes } from "./routes/profiles";
import { sessionRoutes } from "./routes/sessions";
import { storageRoutes } from "./routes/storage";
import { workspaceRoutes } from "./routes/workspaces";

/**
 * The emulator's HTTP surface: the v3 API under /api/v3 (faults, then API key, then routes) and
 * the key-less test controls and presigned storage under /_emulator. Every error is
 * `{"detail": ...}`: a string, or the FastAPI 422 list.
 */
export function buildApp(emu: Emulator) {
  const app = new Hono<EmuEnv>();
  const match = routeMatcher(app);

  app.use("/api/v3/*", faultInjection(emu));
  app.use(
    "/api/v3/*",
    apiKeyAuth(emu.options.apiKey, (method, path) => match(method, path).kind !== "none"),
  );
  app.route(
    "/api/v3",
    new Hono<EmuEnv>()
      .route("/sessions", sessionRoutes(emu))
      .route("/browsers", browserRoutes(emu))
      .route("/profiles", profileRoutes(emu))
      .route("/workspaces", workspaceRoutes(emu))
      .route("/billing", billingRoutes(emu)),
  );
  app.route("/_emulator", controlRoutes(emu));
  app.route("/_emulator", storageRoutes(emu));
  app.route("/_emulator", assetRoutes());

  app.notFound((c) => {
    const found = match(c.req.method, c.req.path);
    if (found.kind === "method") {
      return c.json({ detail: ERROR_DETAILS.methodNotAllowed }, 405, { Allow: found.allow.join(", ") });
    }
    return c.json({ detail: ERROR_DETAILS.notFound }, 404);
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      const headers: Record<string, string> = err.status === 401 ? { "WWW-Authenticate": "APIKey" } : {};
      return c.json({ detail: err.detail }, err.status, headers);
    }
    emu.log(`emulator: unhandled error on ${c.req.method} ${c.req.path}: ${err.stack ?? String(err)}`);
    return c.text("Internal Server Error", 500);
  });

  return app;
}
