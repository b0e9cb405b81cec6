import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import {
  DeleteFileQuery,
  FileUploadRequest,
  ListFilesQuery,
  ListWorkspacesQuery,
  UploadFilesQuery,
  WorkspaceCreateRequest,
  WorkspacePathParams,
  WorkspaceUpdateRequest,
} from "../../../src/v3/schemas";
import type { Emulator } from "../emulator";
import { type EmuEnv, parse, publicBase, queryOf, readBody } from "../http";
import type { WorkspaceRecord } from "../state";
import { itemsPage, newestFirst, workspaceView } from "../views";
import { filePage } from "./storage";

/** Storage quota reported by GET /workspaces/{id}/size (1 GiB). */
export const WORKSPACE_QUOTA_BYTES = 1024 ** 3;
/** Lifetime of the presigned upload URLs, as the spec documents it. */
const UPLOAD_URL_TTL_MS = 5 * 60_000;

/** /api/v3/workspaces: persistent file storage; bytes go through presigned /_emulator URLs. */
export function workspaceRoutes(emu: Emulator) {
  return new Hono<EmuEnv>()
    .get("/", (c) => {
      const q = parse(ListWorkspacesQuery, "query", queryOf(c));
      const page = itemsPage(
        newestFirst(emu.store.workspaces.values(), (w) => w.createdAt),
        q.pageNumber,
        q.pageSize,
      );
      return c.json({ ...page, items: page.items.map(workspaceView) });
    })
    .post("/", async (c) => {
      const body = parse(WorkspaceCreateRequest, "body", (await readBody(c, false)) ?? {});
      const now = emu.now();
      const w: WorkspaceRecord = {
        id: randomUUID(),
        name: body.name ?? null,
        files: new Map(),
        createdAt: now,
        updatedAt: now,
      };
      emu.store.workspaces.set(w.id, w);
      return c.json(workspaceView(w), 201);
    })
    .get("/:workspace_id", (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      return c.json(workspaceView(emu.workspace(workspace_id)));
    })
    .patch("/:workspace_id", async (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      const body = parse(WorkspaceUpdateRequest, "body", await readBody(c, true));
      const w = emu.workspace(workspace_id);
      if (body.name !== undefined) w.name = body.name;
      w.updatedAt = emu.now();
      return c.json(workspaceView(w));
    })
    .delete("/:workspace_id", (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      emu.store.workspaces.delete(emu.workspace(workspace_id).id);
      return c.body(null, 204);
    })
    .get("/:workspace_id/files", (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      const q = parse(ListFilesQuery, "query", queryOf(c));
      const w = emu.workspace(workspace_id);
      const under = [...w.files.values()]
        .filter((f) => f.path.startsWith(q.prefix))
        .sort((a, b) => (a.path < b.path ? -1 : 1));
      // shallow: only the files directly under the prefix, plus the sub-folders one level down.
      const direct = q.shallow ? under.filter((f) => !f.path.slice(q.prefix.length).includes("/")) : under;
      const folders = q.shallow
        ? [...new Set(under.map((f) => f.path.slice(q.prefix.length)).filter((r) => r.includes("/")))]
            .map((rest) => `${q.prefix}${rest.slice(0, rest.indexOf("/") + 1)}`)
            .filter((v, i, all) => all.indexOf(v) === i)
        : [];
      const { files, nextCursor, hasMore } = filePage(
        emu,
        publicBase(c, emu),
        { kind: "workspace", id: w.id },
        direct,
        q,
      );
      return c.json({ files, folders, nextCursor, hasMore });
    })
    .delete("/:workspace_id/files", (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      const q = parse(DeleteFileQuery, "query", queryOf(c));
      const w = emu.workspace(workspace_id);
      // Idempotent, like the object-store delete behind it.
      if (w.files.delete(q.path)) w.updatedAt = emu.now();
      return c.body(null, 204);
    })
    .get("/:workspace_id/size", (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      const w = emu.workspace(workspace_id);
      let sizeBytes = 0;
      for (const f of w.files.values()) sizeBytes += f.bytes.byteLength;
      return c.json({ sizeBytes, quotaBytes: WORKSPACE_QUOTA_BYTES });
    })
    .post("/:workspace_id/files/upload", async (c) => {
      const { workspace_id } = parse(WorkspacePathParams, "path", c.req.param());
      const q = parse(UploadFilesQuery, "query", queryOf(c));
      const body = parse(FileUploadRequest, "body", await readBody(c, true));
      const w = emu.workspace(workspace_id);
      const prefix = q.prefix === "" || q.prefix.endsWith("/") ? q.prefix : `${q.prefix}/`;
      const base = publicBase(c, emu);
      const expiresAt = emu.now() + UPLOAD_URL_TTL_MS;
      const files = body.files.map((f) => {
        const token = randomUUID();
        const path = `${prefix}${f.name}`;
        emu.store.uploadGrants.set(token, {
          owner: { kind: "workspace", id: w.id },
          path,
          contentType: f.contentType,
          expiresAt,
        });
        return { name: f.name, uploadUrl: `${base}/_emulator/uploads/${token}`, path };
      });
      // 200, not 201: the API declares 200 here.
      return c.json({ files }, 200);
    });
}
