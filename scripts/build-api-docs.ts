/**
 * `npm run build:docs`, and wrangler's `[build]` command (wrangler.toml), run before every
 * `wrangler dev` and `wrangler deploy`: writes the OpenAPI document and its page, built from the
 * app's own route table, into public/ as static assets (public/openapi.json, public/docs.html),
 * which GET /openapi.json and GET /docs serve (src/routes/api-docs.ts). The test pool, which runs
 * no `[build]`, calls `writeApiDocs()` before it starts (test/build-api-docs.setup.ts). A file whose text
 * is unchanged is left alone, so `wrangler dev` does not reload its assets for nothing.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { app } from "../src/app";
import { apiDocsFiles } from "../src/openapi/static-files";

const PUBLIC = new URL("../public/", import.meta.url);

/** Writes the files into public/; returns the names of those it changed. */
export function writeApiDocs(): string[] {
  const changed: string[] = [];
  for (const [name, text] of Object.entries(apiDocsFiles(app.routes))) {
    const file = new URL(name, PUBLIC);
    if (readOrNothing(file) === text) continue;
    writeFileSync(file, text);
    changed.push(name);
  }
  return changed;
}

function readOrNothing(file: URL): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) writeApiDocs();
