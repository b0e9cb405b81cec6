import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { WORKSPACES } from "../../upstream/kinds";
import {
  DeleteFileQuery,
  FileUploadItem,
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

/**
 * A file name, path or prefix inside a workspace: relative, with no `..` segment and no backslash,
 * so nothing a tenant sends can name a place outside its own workspace upstream.
 */
const isInsideWorkspace = (path: string) =>
  !path.startsWith("/") && !path.includes("\\") && !path.split("/").includes("..");

const insideWorkspace = <S extends z.ZodType<string>>(schema: S) =>
  schema.refine(isInsideWorkspace, {
    message: "Must be a relative path inside the workspace: no leading '/', no '..' segment, no '\\'",
  });

const GatewayListFilesQuery = ListFilesQuery.extend({ prefix: insideWorkspace(ListFilesQuery.shape.prefix) });
const GatewayDeleteFileQuery = DeleteFileQuery.extend({ path: insideWorkspace(DeleteFileQuery.shape.path) });
const GatewayUploadFilesQuery = UploadFilesQuery.extend({
  prefix: insideWorkspace(UploadFilesQuery.shape.prefix),
});
const GatewayFileUploadRequest = FileUploadRequest.extend({
  files: z
    .array(FileUploadItem.extend({ name: insideWorkspace(FileUploadItem.shape.name) }))
    .min(1)
    .max(10),
}).strict();

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
  .get(
    "/:workspace_id/files",
    validate("param", WorkspacePath),
    validate("query", GatewayListFilesQuery),
    (c) =>
      onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, {
        method: "GET",
        suffix: "/files",
        query: ["prefix", "limit", "cursor", "includeUrls", "shallow"],
      }),
  )
  .delete(
    "/:workspace_id/files",
    validate("param", WorkspacePath),
    validate("query", GatewayDeleteFileQuery),
    (c) =>
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
    validate("query", GatewayUploadFilesQuery),
    jsonBody({ required: true }),
    validate("json", GatewayFileUploadRequest),
    (c) =>
      onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, {
        method: "POST",
        suffix: "/files/upload",
        query: ["prefix"],
        body: true,
      }),
  );
