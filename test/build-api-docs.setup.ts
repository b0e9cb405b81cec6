import { writeApiDocs } from "../scripts/build-api-docs";

/**
 * Builds the OpenAPI document and its page into public/ before the pool starts, as wrangler's
 * `[build]` does before `wrangler dev` and deploy: the pool runs no `[build]`, and serves public/ as
 * the static assets. Runs in Node, not workerd. Not in test/global-setup.ts: that one is checked
 * with the emulator's Node types, and this imports the worker's app.
 */
export default function setup() {
  writeApiDocs();
}
