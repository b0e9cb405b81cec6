/**
 * The OpenAPI document and its page as the files a deployment serves: built from the app's route
 * table in Node by scripts/build-api-docs.ts, as wrangler's `[build]` step before `wrangler dev`
 * and `wrangler deploy`, into public/ (gitignored), and served from the static assets by
 * routes/api-docs.ts. Nothing here is in the worker's bundle: the document cannot change while a
 * deployment runs, so zod's JSON Schema converter and the page's builder need not ship with it.
 */
import type { RouterRoute } from "hono/types";
import { openApiDocument } from "./document";
import { referencePage } from "./reference-page";

/** The files, by their name under public/ (see API_DOCS_ASSETS in routes/api-docs.ts), and their text. */
export function apiDocsFiles(routes: readonly RouterRoute[]): Record<string, string> {
  const document = openApiDocument(routes);
  // As `c.json()` sent it when the worker built it: no indentation.
  return { "openapi.json": JSON.stringify(document), "docs.html": referencePage(document) };
}
