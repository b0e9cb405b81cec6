import * as z from "zod/mini";
import { DateTime, PageQuery, Uuid, itemsPage, queryBool, queryInt, queryScalar } from "./common";

/** `POST /workspaces` body; the body itself is optional. */
export const WorkspaceCreateRequest = z.object({ name: z.nullish(z.string().check(z.maxLength(100))) });
export type WorkspaceCreateRequest = z.infer<typeof WorkspaceCreateRequest>;

export const WorkspaceUpdateRequest = z.object({ name: z.nullish(z.string().check(z.maxLength(100))) });
export type WorkspaceUpdateRequest = z.infer<typeof WorkspaceUpdateRequest>;

export const WorkspaceView = z.object({
  id: Uuid,
  name: z.nullish(z.string()),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type WorkspaceView = z.infer<typeof WorkspaceView>;

export const WorkspaceListResponse = itemsPage(WorkspaceView);
export type WorkspaceListResponse = z.infer<typeof WorkspaceListResponse>;

export const ListWorkspacesQuery = PageQuery;
export type ListWorkspacesQuery = z.infer<typeof ListWorkspacesQuery>;

export const FileInfo = z.object({
  /** Relative to the workspace root, e.g. "uploads/data.csv". */
  path: z.string(),
  size: z.int().check(z.minimum(0)),
  lastModified: DateTime,
  /** Presigned GET (60 s), only with `includeUrls=true`. */
  url: z.nullish(z.string()),
});
export type FileInfo = z.infer<typeof FileInfo>;

export const FileListResponse = z.object({
  files: z.array(FileInfo),
  /** Immediate sub-folders of `prefix`, with `shallow=true`. */
  folders: z.optional(z.array(z.string())),
  nextCursor: z.nullish(z.string()),
  hasMore: z.boolean(),
});
export type FileListResponse = z.infer<typeof FileListResponse>;

export const ListFilesQuery = z.object({
  prefix: z._default(queryScalar(z.string()), ""),
  limit: z._default(queryInt(1, 100), 50),
  cursor: z.nullish(queryScalar(z.string())),
  includeUrls: z._default(queryBool(), false),
  shallow: z._default(queryBool(), false),
});
export type ListFilesQuery = z.infer<typeof ListFilesQuery>;

/** `DELETE /workspaces/{id}/files?path=...`: the relative path is required. */
export const DeleteFileQuery = z.object({ path: queryScalar(z.string()) });
export type DeleteFileQuery = z.infer<typeof DeleteFileQuery>;

/** `POST /workspaces/{id}/files/upload?prefix=uploads/`. */
export const UploadFilesQuery = z.object({ prefix: z._default(queryScalar(z.string()), "") });
export type UploadFilesQuery = z.infer<typeof UploadFilesQuery>;

export const FileUploadItem = z.object({
  name: z.string().check(z.minLength(1), z.maxLength(255)),
  contentType: z._default(z.string().check(z.maxLength(255)), "application/octet-stream"),
  /** Bytes; documented as required for workspace uploads, though the schema allows null. */
  size: z.nullish(z.int().check(z.minimum(1))),
});
export type FileUploadItem = z.infer<typeof FileUploadItem>;

export const FileUploadRequest = z.object({
  files: z.array(FileUploadItem).check(z.minLength(1), z.maxLength(10)),
});
export type FileUploadRequest = z.infer<typeof FileUploadRequest>;

export const FileUploadResponseItem = z.object({
  name: z.string(),
  /** Presigned PUT (5 min); send the bytes with the same Content-Type. */
  uploadUrl: z.string(),
  path: z.string(),
});
export type FileUploadResponseItem = z.infer<typeof FileUploadResponseItem>;

export const FileUploadResponse = z.object({ files: z.array(FileUploadResponseItem) });
export type FileUploadResponse = z.infer<typeof FileUploadResponse>;

/**
 * `GET /workspaces/{id}/size` is untyped in the spec (`schema: {}`); this camelCase shape is a
 * guess from an older snake_case doc, and is what the emulator answers.
 */
export const WorkspaceSizeResponse = z.object({
  sizeBytes: z.int().check(z.minimum(0)),
  quotaBytes: z.int().check(z.minimum(0)),
});
export type WorkspaceSizeResponse = z.infer<typeof WorkspaceSizeResponse>;

export const WorkspacePathParams = z.object({ workspace_id: Uuid });
