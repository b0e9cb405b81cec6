import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { describeRoute } from "../../openapi/describe";
import { WORKSPACES } from "../../upstream/kinds";
import {
  DeleteFileQuery,
  FileListResponse,
  FileUploadItem,
  FileUploadRequest,
  FileUploadResponse,
  ListFilesQuery,
  ListWorkspacesQuery,
  UploadFilesQuery,
  Uuid,
  WorkspaceCreateRequest,
  WorkspaceListResponse,
  WorkspaceSizeResponse,
  WorkspaceUpdateRequest,
  WorkspaceView,
  strictCopy,
} from "../../v3/schemas";
import { createOwned, listPage, onOwned } from "./proxy";

const WorkspacePath = z.object({ workspace_id: Uuid });
const NOT_FOUND = "`Workspace not found`: unknown, or another tenant's";

/**
 * A file name, path or prefix inside a workspace: relative, with no `..` segment and no backslash,
 * so nothing a tenant sends can name a place outside its own workspace upstream.
 */
const isInsideWorkspace = (path: string) =>
  !path.startsWith("/") && !path.includes("\\") && !path.split("/").includes("..");

const insideWorkspace = <S extends z.ZodMiniType<string>>(schema: S) =>
  schema.check(
    z.refine(isInsideWorkspace, {
      message: "Must be a relative path inside the workspace: no leading '/', no '..' segment, no '\\'",
    }),
  );

const GatewayListFilesQuery = z.extend(ListFilesQuery, {
  prefix: insideWorkspace(ListFilesQuery.shape.prefix),
});
const GatewayDeleteFileQuery = z.extend(DeleteFileQuery, {
  path: insideWorkspace(DeleteFileQuery.shape.path),
});
const GatewayUploadFilesQuery = z.extend(UploadFilesQuery, {
  prefix: insideWorkspace(UploadFilesQuery.shape.prefix),
});
const GatewayFileUploadRequest = strictCopy(
  z.extend(FileUploadRequest, {
    files: z
      .array(z.extend(FileUploadItem, { name: insideWorkspace(FileUploadItem.shape.name) }))
      .check(z.minLength(1), z.maxLength(10)),
  }),
);

/** /api/v3/workspaces: shared file storage, with its files, uploads and size. */
export const workspaces = new Hono<AppEnv>()
  .post(
    "/",
    describeRoute({
      operationId: "create_workspace_workspaces_post",
      callsUpstream: true,
      summary: "Create Workspace",
      responses: { 201: WorkspaceView },
    }),
    jsonBody({ required: false }),
    validate("json", strictCopy(WorkspaceCreateRequest)),
    (c) => createOwned(c, WORKSPACES, "/workspaces"),
  )
  .get(
    "/",
    describeRoute({
      operationId: "list_workspaces_workspaces_get",
      summary: "List Workspaces",
      description: "The caller's own workspaces, newest first.",
      responses: { 200: WorkspaceListResponse },
    }),
    validate("query", ListWorkspacesQuery),
    async (c) => {
      const { pageSize, pageNumber } = c.req.valid("query");
      const { views, total } = await listPage(c, WORKSPACES, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
      });
      return c.json({ items: views, totalItems: total, pageNumber, pageSize });
    },
  )
  .get(
    "/:workspace_id",
    describeRoute({
      operationId: "get_workspace_workspaces__workspace_id__get",
      callsUpstream: true,
      summary: "Get Workspace",
      responses: { 200: WorkspaceView, 404: NOT_FOUND },
    }),
    validate("param", WorkspacePath),
    (c) => onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "GET" }),
  )
  .patch(
    "/:workspace_id",
    describeRoute({
      operationId: "update_workspace_workspaces__workspace_id__patch",
      callsUpstream: true,
      summary: "Update Workspace",
      responses: { 200: WorkspaceView, 404: NOT_FOUND },
    }),
    validate("param", WorkspacePath),
    jsonBody({ required: true }),
    validate("json", strictCopy(WorkspaceUpdateRequest)),
    (c) => onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "PATCH", body: true }),
  )
  .delete(
    "/:workspace_id",
    describeRoute({
      operationId: "delete_workspace_workspaces__workspace_id__delete",
      callsUpstream: true,
      summary: "Delete Workspace",
      responses: { 204: "Deleted", 404: NOT_FOUND },
    }),
    validate("param", WorkspacePath),
    (c) => onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "DELETE" }),
  )
  .get(
    "/:workspace_id/files",
    describeRoute({
      operationId: "list_workspace_files_workspaces__workspace_id__files_get",
      callsUpstream: true,
      summary: "List Workspace Files",
      responses: { 200: FileListResponse, 404: NOT_FOUND },
    }),
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
    describeRoute({
      operationId: "delete_workspace_file_workspaces__workspace_id__files_delete",
      callsUpstream: true,
      summary: "Delete Workspace File",
      responses: { 204: "Deleted", 404: NOT_FOUND },
    }),
    validate("param", WorkspacePath),
    validate("query", GatewayDeleteFileQuery),
    (c) =>
      onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, {
        method: "DELETE",
        suffix: "/files",
        query: ["path"],
      }),
  )
  .get(
    "/:workspace_id/size",
    describeRoute({
      operationId: "get_workspace_size_workspaces__workspace_id__size_get",
      callsUpstream: true,
      summary: "Get Workspace Size",
      responses: { 200: WorkspaceSizeResponse, 404: NOT_FOUND },
    }),
    validate("param", WorkspacePath),
    (c) => onOwned(c, WORKSPACES, c.req.valid("param").workspace_id, { method: "GET", suffix: "/size" }),
  )
  .post(
    "/:workspace_id/files/upload",
    describeRoute({
      operationId: "upload_workspace_files_workspaces__workspace_id__files_upload_post",
      callsUpstream: true,
      summary: "Upload Workspace Files",
      description: "Presigned upload URLs; send each file's bytes to its URL with the same Content-Type.",
      responses: { 200: FileUploadResponse, 404: NOT_FOUND },
    }),
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
