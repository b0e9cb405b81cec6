import * as z from "zod";
import { DateTime, PageQuery, Uuid, itemsPage, queryBool, queryInt, queryScalar } from "./common";

/** `POST /workspaces` body; the body itself is optional. */
export const WorkspaceCreateRequest = z.object({ name: z.string().max(100).nullish() });
export type WorkspaceCreateRequest = z.infer<typeof WorkspaceCreateRequest>;

export const WorkspaceUpdateRequest = z.object({ name: z.string().max(100).nullish() });
export type WorkspaceUpdateRequest = z.infer<typeof WorkspaceUpdateRequest>;

export const WorkspaceView = z.object({
  id: Uuid,
  name: z.string().nullish(),
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
  size: z.int().min(0),
  lastModified: DateTime,
  /** Presigned GET (60 s), only with `includeUrls=true`. */
  url: z.string().nullish(),
});
export type FileInfo = z.infer<typeof FileInfo>;

export const FileListResponse = z.object({
  files: z.array(FileInfo),
  /** Immediate sub-folders of `prefix`, with `shallow=true`. */
  folders: z.array(z.string()).optional(),
  nextCursor: z.string().nullish(),
  hasMore: z.boolean(),
});
export type FileListResponse = z.infer<typeof FileListResponse>;

export const ListFilesQuery = z.object({
  prefix: queryScalar(z.string()).default(""),
  limit: queryInt(1, 100).default(50),
  cursor: queryScalar(z.string()).nullish(),
  includeUrls: queryBool().default(false),
  shallow: queryBool().default(false),
});
export type ListFilesQuery = z.infer<typeof ListFilesQuery>;

/** `DELETE /workspaces/{id}/files?path=...`: the relative path is required. */
export const DeleteFileQuery = z.object({ path: queryScalar(z.string()) });
export type DeleteFileQuery = z.infer<typeof DeleteFileQuery>;

/** `POST /workspaces/{id}/files/upload?prefix=uploads/`. */
export const UploadFilesQuery = z.object({ prefix: queryScalar(z.string()).default("") });
export type UploadFilesQuery = z.infer<typeof UploadFilesQuery>;

export const FileUploadItem = z.object({
  name: z.string().min(1).max(255),
  contentType: z.string().max(255).default("application/octet-stream"),
  /** Bytes; documented as required for workspace uploads, though the schema allows null. */
  size: z.int().min(1).nullish(),
});
export type FileUploadItem = z.infer<typeof FileUploadItem>;

export const FileUploadRequest = z.object({ files: z.array(FileUploadItem).min(1).max(10) });
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
export const WorkspaceSizeResponse = z.object({ sizeBytes: z.int().min(0), quotaBytes: z.int().min(0) });
export type WorkspaceSizeResponse = z.infer<typeof WorkspaceSizeResponse>;

export const WorkspacePathParams = z.object({ workspace_id: Uuid });
