/**
 * The style sheet of the `/docs` page (reference-page.ts) and the Content-Security-Policy the page
 * is served with, which lets in that one sheet by its hash and nothing else. Its own module: the
 * worker computes the policy from it, and must not import the page's builder to do so.
 */
import { sha256Base64 } from "../lib/crypto";

/** The page's one style sheet, inline; the only thing its Content-Security-Policy lets run (by hash). */
export const PAGE_STYLE = `body{margin:0;display:flex;font:15px/1.5 system-ui,sans-serif;color:#1c1c1c}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:22rem;flex:none;padding:1rem;background:#f5f5f4;font-size:13px}
nav ul{list-style:none;padding-left:.8rem}main{padding:1rem 2rem;max-width:60rem;min-width:0}
code{font:13px ui-monospace,monospace;background:#f0f0ef;padding:0 .2em;border-radius:3px}
.op{border-top:1px solid #ddd;padding:.5rem 0}.m{font:bold 12px ui-monospace,monospace;padding:.1em .4em;border-radius:3px;color:#fff;background:#555}
.m-get{background:#2563eb}.m-post{background:#16a34a}.m-put,.m-patch{background:#b45309}.m-delete{background:#dc2626}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
dt{font-weight:bold}dd{margin:0 0 .5rem 1rem}.fields{margin:.2rem 0}.auth{color:#555;font-size:13px}`;

/** The page runs and loads nothing but its own style sheet: the policy says so to the browser too. */
export async function pageContentSecurityPolicy(): Promise<string> {
  const hash = await sha256Base64(PAGE_STYLE);
  return `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}
