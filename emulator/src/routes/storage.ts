import { Hono } from "hono";
import type { Emulator } from "../emulator";
import type { EmuEnv } from "../http";

/**
 * The object store behind the presigned URLs the API hands out: PUT /_emulator/uploads/<token>
 * stores bytes, GET /_emulator/files/<token> returns them. As with S3, the token is the only
 * credential (no API key), and an expired or unknown one gets 403 with an S3-style XML body.
 */
export function storageRoutes(emu: Emulator) {
  return new Hono<EmuEnv>()
    .put("/uploads/:token", async (c) => {
      const grant = emu.store.uploadGrants.get(c.req.param("token"));
      if (!grant || grant.expiresAt <= emu.now()) return denied(c.req.path);
      const workspace = emu.store.workspaces.get(grant.workspaceId);
      if (!workspace) return denied(c.req.path);
      const now = emu.now();
      workspace.files.set(grant.path, {
        path: grant.path,
        bytes: new Uint8Array(await c.req.arrayBuffer()),
        contentType: c.req.header("Content-Type") ?? grant.contentType,
        lastModified: now,
      });
      workspace.updatedAt = now;
      return c.body(null, 200, { ETag: `"${crypto.randomUUID()}"` });
    })
    .get("/files/:token", (c) => {
      const grant = emu.store.downloadGrants.get(c.req.param("token"));
      if (!grant || grant.expiresAt <= emu.now()) return denied(c.req.path);
      const file = emu.store.workspaces.get(grant.workspaceId)?.files.get(grant.path);
      if (!file) return denied(c.req.path);
      return c.body(file.bytes.slice().buffer, 200, { "Content-Type": file.contentType });
    });
}

function denied(resource: string): Response {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired or is not valid</Message><Resource>${resource}</Resource></Error>`;
  return new Response(xml, { status: 403, headers: { "Content-Type": "application/xml" } });
}
