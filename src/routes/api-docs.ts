import type { Context } from "hono";
import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { describeRoute } from "../openapi/describe";
import { pageContentSecurityPolicy } from "../openapi/page-style";

/** The outline of an OpenAPI document; its full check is against the OpenAPI 3.1 schema, in the tests. */
const OpenApiShape = z.object({
  openapi: z.literal("3.1.0"),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/**
 * Where the static assets hold the built files (scripts/build-api-docs.ts writes public/openapi.json
 * and public/docs.html; the assets serve an `.html` file at its name without the extension).
 */
export const API_DOCS_ASSETS = { document: "/openapi.json", page: "/docs" };

/** A built file from the static assets, as `contentType`; the deployment is broken without it. */
async function builtFile(c: Context<AppEnv>, path: string, contentType: string): Promise<Response> {
  const asset = await c.env.ASSETS.fetch(new Request(new URL(path, c.req.url)));
  if (!asset.ok || !asset.body) {
    throw new Error(`${path} is not among the static assets (${asset.status}): run npm run build:docs`);
  }
  return c.body(asset.body, 200, { "Content-Type": contentType });
}

/**
 * `GET /openapi.json` and `GET /docs`: the OpenAPI document of every route in the app's table (these
 * two included) and a page rendering it. Both are built with the deployment, not here: the routes
 * cannot change while it runs (src/openapi/static-files.ts).
 */
export const apiDocs = new Hono<AppEnv>()
  .get(
    "/openapi.json",
    describeRoute({
      operationId: "getOpenApiDocument",
      summary: "This document",
      description: "OpenAPI 3.1, generated from the schemas the routes validate with.",
      responses: { 200: OpenApiShape },
    }),
    (c) => builtFile(c, API_DOCS_ASSETS.document, "application/json"),
  )
  .get(
    "/docs",
    describeRoute({
      operationId: "getApiReference",
      summary: "This document as a page",
      description: "Self-contained HTML, no script: it works offline.",
      responses: { 200: { description: "The API reference", text: "text/html" } },
    }),
    async (c) => {
      c.header("Content-Security-Policy", await pageContentSecurityPolicy());
      return builtFile(c, API_DOCS_ASSETS.page, "text/html; charset=UTF-8");
    },
  );
