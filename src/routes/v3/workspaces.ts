import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import {
  DeleteFileQuery,
  FileUploadRequest,
  ListFilesQuery,
  ListWorkspacesQuery,
  UploadFilesQuery,
  WorkspaceCreateRequest,
  WorkspaceUpdateRequest,
} from "../../v3/schemas";
import { Uuid } from "../../v3/schemas";
import { WORKSPACES } from "../../upstream/kinds";
import {
  clientBody,
  forget,
  forward,
  listPage,
  passQuery,
  recordCreated,
  relay,
  remember,
  requireOwned,
} from "./proxy";

const WorkspacePath = z.object({ workspace_id: Uuid });
type View = Record<string, unknown>;

/** /api/v3/workspaces: shared file storage, with its files, uploads and size. */
export const workspaces = new Hono<AppEnv>()
  .post("/", jsonBody({ required: false }), validate("json", WorkspaceCreateRequest.strict()), async (c) => {
    const res = await forward(c, { method: "POST", path: "/workspaces", body: await clientBody(c) });
    if (res.status === 201) await recordCreated(c, WORKSPACES, res.body as View, res.sentAt);
    return relay(c, res);
  })
  .get("/", validate("query", ListWorkspacesQuery), async (c) => {
    const { pageSize, pageNumber } = c.req.valid("query");
    const { views, total } = await listPage(c, WORKSPACES, {
      offset: (pageNumber - 1) * pageSize,
      limit: pageSize,
    });
    return c.json({ items: views, totalItems: total, pageNumber, pageSize });
  })
  .get("/:workspace_id", validate("param", WorkspacePath), async (c) => {
    const { workspace_id } = c.req.valid("param");
    await requireOwned(c, WORKSPACES, workspace_id);
    const res = await forward(c, { method: "GET", path: WORKSPACES.path(workspace_id) });
    if (res.status === 200) remember(c, WORKSPACES, [res.body as View], res.sentAt);
    return relay(c, res);
  })
  .patch(
    "/:workspace_id",
    validate("param", WorkspacePath),
    jsonBody({ required: true }),
    validate("json", WorkspaceUpdateRequest.strict()),
    async (c) => {
      const { workspace_id } = c.req.valid("param");
      await requireOwned(c, WORKSPACES, workspace_id);
      const res = await forward(c, {
        method: "PATCH",
        path: WORKSPACES.path(workspace_id),
        body: await clientBody(c),
      });
      if (res.status === 200) remember(c, WORKSPACES, [res.body as View], res.sentAt);
      return relay(c, res);
    },
  )
  .delete("/:workspace_id", validate("param", WorkspacePath), async (c) => {
    const { workspace_id } = c.req.valid("param");
    await requireOwned(c, WORKSPACES, workspace_id);
    const res = await forward(c, { method: "DELETE", path: WORKSPACES.path(workspace_id) });
    if (res.status === 204 || res.status === 404) await forget(c, WORKSPACES, workspace_id);
    return relay(c, res);
  })
  .get(
    "/:workspace_id/files",
    validate("param", WorkspacePath),
    validate("query", ListFilesQuery),
    async (c) => {
      const { workspace_id } = c.req.valid("param");
      await requireOwned(c, WORKSPACES, workspace_id);
      const query = passQuery(c.req.url, ["prefix", "limit", "cursor", "includeUrls", "shallow"]);
      return relay(
        c,
        await forward(c, { method: "GET", path: `${WORKSPACES.path(workspace_id)}/files`, query }),
      );
    },
  )
  .delete(
    "/:workspace_id/files",
    validate("param", WorkspacePath),
    validate("query", DeleteFileQuery),
    async (c) => {
      const { workspace_id } = c.req.valid("param");
      await requireOwned(c, WORKSPACES, workspace_id);
      const query = passQuery(c.req.url, ["path"]);
      return relay(
        c,
        await forward(c, { method: "DELETE", path: `${WORKSPACES.path(workspace_id)}/files`, query }),
      );
    },
  )
  .get("/:workspace_id/size", validate("param", WorkspacePath), async (c) => {
    const { workspace_id } = c.req.valid("param");
    await requireOwned(c, WORKSPACES, workspace_id);
    return relay(c, await forward(c, { method: "GET", path: `${WORKSPACES.path(workspace_id)}/size` }));
  })
  .post(
    "/:workspace_id/files/upload",
    validate("param", WorkspacePath),
    validate("query", UploadFilesQuery),
    jsonBody({ required: true }),
    validate("json", FileUploadRequest.strict()),
    async (c) => {
      const { workspace_id } = c.req.valid("param");
      await requireOwned(c, WORKSPACES, workspace_id);
      const res = await forward(c, {
        method: "POST",
        path: `${WORKSPACES.path(workspace_id)}/files/upload`,
        query: passQuery(c.req.url, ["prefix"]),
        body: await clientBody(c),
      });
      return relay(c, res);
    },
  );
