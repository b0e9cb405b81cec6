import { Hono } from "hono";
import type { EmuEnv } from "../http";

/** A 1×1 transparent PNG, standing in for every screenshot. */
const PIXEL_PNG = new Uint8Array(
  Array.from(
    atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="),
    (ch) => ch.charCodeAt(0),
  ),
);

/**
 * Placeholders behind the URLs sessions and browsers carry (live view, screenshots,
 * recordings), so a client that follows them gets a 200 rather than a dead link.
 */
export function assetRoutes() {
  return new Hono<EmuEnv>()
    .get("/live/:id", (c) =>
      c.html(
        `<!doctype html><title>Live view</title><p>Emulated live view of ${escapeHtml(c.req.param("id"))}</p>`,
      ),
    )
    .get("/screenshots/:file", (c) => c.body(PIXEL_PNG.slice(), 200, { "Content-Type": "image/png" }))
    .get("/recordings/:file", (c) => c.body("emulated recording", 200, { "Content-Type": "video/mp4" }));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
