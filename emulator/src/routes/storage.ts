import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import type { Emulator } from "../emulator";
import { type EmuEnv, iso } from "../http";
import type { FileOwner, StoredFile } from "../state";

/** Lifetime of a presigned download URL, as the spec documents it. */
const DOWNLOAD_URL_TTL_MS = 60_000;

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
      const workspace =
        grant.owner.kind === "workspace" ? emu.store.workspaces.get(grant.owner.id) : undefined;
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
      const { owner } = grant;
      const files =
        owner.kind === "workspace" ? emu.store.workspaces.get(owner.id)?.files : emu.downloadsOf(owner.id);
      const file = files?.get(grant.path);
      if (!file) return denied(c.req.path);
      return c.body(file.bytes.slice().buffer, 200, { "Content-Type": file.contentType });
    });
}

function denied(resource: string): Response {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired or is not valid</Message><Resource>${resource}</Resource></Error>`;
  return new Response(xml, { status: 403, headers: { "Content-Type": "application/xml" } });
}

/** A presigned GET of one stored file, good for DOWNLOAD_URL_TTL_MS. */
export function grantDownload(
  emu: Emulator,
  base: string,
  owner: FileOwner,
  file: StoredFile,
  now: number,
): string {
  const token = randomUUID();
  emu.store.downloadGrants.set(token, {
    owner,
    path: file.path,
    contentType: file.contentType,
    expiresAt: now + DOWNLOAD_URL_TTL_MS,
  });
  return `${base}/_emulator/files/${token}`;
}

/**
 * One page of an owner's files as the API lists them (a workspace's files, a browser's downloads):
 * path order, paged by `cursor`, each with a presigned URL when `includeUrls` asks for one.
 */
export function filePage(
  emu: Emulator,
  base: string,
  owner: FileOwner,
  files: StoredFile[],
  q: { cursor?: string | null; limit: number; includeUrls?: boolean },
) {
  const { page, nextCursor, hasMore } = pageByPath(files, q.cursor, q.limit);
  const now = emu.now();
  return {
    files: page.map((f) => ({
      path: f.path,
      size: f.bytes.byteLength,
      lastModified: iso(f.lastModified),
      url: q.includeUrls ? grantDownload(emu, base, owner, f, now) : null,
    })),
    nextCursor,
    hasMore,
  };
}

/**
 * One page of files in path order, after `cursor` (the last path of the previous page, base64url:
 * opaque to the caller, as Browser Use's cursors are).
 */
function pageByPath(files: StoredFile[], cursor: string | null | undefined, limit: number) {
  const after = cursor ? Buffer.from(cursor, "base64url").toString("utf8") : null;
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  const rest = after === null ? sorted : sorted.filter((f) => f.path > after);
  const page = rest.slice(0, limit);
  const hasMore = rest.length > page.length;
  const last = page[page.length - 1];
  return {
    page,
    hasMore,
    nextCursor: hasMore && last ? Buffer.from(last.path, "utf8").toString("base64url") : null,
  };
}
