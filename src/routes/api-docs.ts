import { Hono } from "hono";
import type { RouterRoute } from "hono/types";
import * as z from "zod/mini";
import type { AppEnv } from "../env";
import { describeRoute } from "../openapi/describe";
import { type OpenApiDocument, openApiDocument } from "../openapi/document";
import { sha256Base64 } from "../lib/crypto";
import { PAGE_STYLE, referencePage } from "../openapi/reference-page";

/** The outline of an OpenAPI document; its full check is against the OpenAPI 3.1 schema, in the tests. */
const OpenApiShape = z.object({
  openapi: z.literal("3.1.0"),
  info: z.object({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/**
 * `GET /openapi.json` and `GET /docs`: the OpenAPI document of every route in `routes()` (the
 * app's own table, these two included) and a page rendering it. Built on the first request in an
 * isolate and kept: the routes cannot change while it runs.
 */
export function apiDocs(routes: () => readonly RouterRoute[]) {
  let document: OpenApiDocument | undefined;
  let page: Promise<{ html: string; csp: string }> | undefined;
  const built = () => {
    document ??= openApiDocument(routes());
    return document;
  };
  return new Hono<AppEnv>()
    .get(
      "/openapi.json",
      describeRoute({
        operationId: "getOpenApiDocument",
        summary: "This document",
        description: "OpenAPI 3.1, generated from the schemas the routes validate with.",
        responses: { 200: OpenApiShape },
      }),
      (c) => c.json(built()),
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
        page ??= sha256Base64(PAGE_STYLE).then((hash) => ({
          html: referencePage(built()),
          // The page runs and loads nothing but its own style sheet: say so to the browser too.
          csp: `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
        }));
        const { html, csp } = await page;
        c.header("Content-Security-Policy", csp);
        return c.html(html);
      },
    );
}
