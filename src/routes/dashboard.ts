import type { Context } from "hono";
import { Hono } from "hono";
import type { AppEnv } from "../env";
import { notFound } from "../lib/errors";
import { describeRoute } from "../openapi/describe";

/**
 * What the page may load: only the gateway's own scripts, styles and API; no inline script or
 * style, no frames, no plugins. A token in sessionStorage is only as safe as the scripts that run
 * beside it, so none but ours may.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": DASHBOARD_CSP,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  // The files are small and change with each deployment: revalidate rather than serve stale code.
  "Cache-Control": "no-cache",
};

/** One file of public/dashboard from the static assets, with the page's security headers. */
async function serveAsset(c: Context<AppEnv>): Promise<Response> {
  const asset = await c.env.ASSETS.fetch(new Request(c.req.url, { method: c.req.method }));
  if (asset.status === 404) throw notFound();
  const res = new Response(asset.body, asset);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.headers.set(name, value);
  return res;
}

/**
 * GET /dashboard: the operators' and tenants' page (public/dashboard, Workers static assets). It
 * holds no figures of its own: the script reads /admin/v1 or /gateway/v1 with the token the person
 * signs in with.
 */
export const dashboard = new Hono<AppEnv>()
  // The page's files are named relative to /dashboard/, so the bare path is sent there.
  .get(
    "/dashboard",
    describeRoute({
      operationId: "getDashboardRedirect",
      summary: "The dashboard, at /dashboard/",
      responses: { 308: { description: "To /dashboard/", headers: { Location: "`/dashboard/`" } } },
    }),
    (c) => c.redirect("/dashboard/", 308),
  )
  .get(
    "/dashboard/*",
    describeRoute({
      operationId: "getDashboardFile",
      summary: "The dashboard: its page and files",
      description:
        "`path` is the rest of the path: empty for the page, else one of its files (`js/app.js`). Served from the static assets under a Content-Security-Policy that lets only the gateway's own scripts, styles and API be used.",
      responses: {
        200: {
          description: "The file",
          text: ["text/html", "text/javascript", "text/css", "image/svg+xml", "text/plain"],
        },
        404: "No such file",
      },
    }),
    serveAsset,
  );
