import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { WORKSPACES } from "../../upstream/kinds";
import {
  DeleteFileQuery,
  FileUploadRequest,
  ListFilesQuery,
  ListWorkspacesQuery,
  UploadFilesQuery,
  Uuid,
  WorkspaceCreateRequest,
  WorkspaceUpdateRequest,
} from "../../v3/schemas";
import { createOwned, listPage, onOwned } from "./proxy";

const WorkspacePath = z.object({ workspace_id: Uuid });

/** /api/v3/workspaces: shared file storage, with its files, uploads and size. */
export const workspaces = new Hono<AppEnv>()
  .post("/", jsonBody({ required: false }), validate("json", WorkspaceCreateRequest.strict()), (c) =>
    createOwned(c, WORKSPACES, "/workspaces"),
  )
  .get("/", validate("query", ListWorkspacesQuery), async (c) => {
    const { pageSize, pageNumber } = c.req.valid("query");
    const { views, total } = await listPage(c, WORKSPACES, {
      offset: (pageNumber - 1) * pageSize,
      limit: pageSize,
    });
    return c.json({ items: views, totalItems: total, pageNumber, pageSize });
  })
  .get("/:workspace_id", validate("param", WorkspacePath), (c) =>
    onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "GET" }),
  )
  .patch(
    "/:workspace_id",
    validate("param", WorkspacePath),
    jsonBody({ required: true }),
    validate("json", WorkspaceUpdateRequest.strict()),
    (c) => onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "PATCH", body: true }),
  )
  .delete("/:workspace_id", validate("param", WorkspacePath), (c) =>
    onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "DELETE" }),
  )
  .get("/:workspace_id/files", validate("param", WorkspacePath), validate("query", ListFilesQuery), (c) =>
    onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, {
      method: "GET",
      suffix: "/files",
      query: ["prefix", "limit", "cursor", "includeUrls", "shallow"],
    }),
  )
  .delete("/:workspace_id/files", validate("param", WorkspacePath), validate("query", DeleteFileQuery), (c) =>
    onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, {
      method: "DELETE",
      suffix: "/files",
      query: ["path"],
    }),
  )
  .get("/:workspace_id/size", validate("param", WorkspacePath), (c) =>
    onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "GET", suffix: "/size" }),
  )
  .post(
    "/:workspace_id/files/upload",
    validate("param", WorkspacePath),
    validate("query", UploadFilesQuery),
    jsonBody({ required: true }),
    validate("json", FileUploadRequest.strict()),
    (c) =>
      onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, {
        method: "POST",
        suffix: "/files/upload",
        query: ["prefix"],
        body: true,
      }),
  );
