import { Hono } from "hono";
import * as z from "zod/mini";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { describeRoute } from "../../openapi/describe";
import { PROFILES } from "../../upstream/kinds";
import {
  ListProfilesQuery,
  ProfileCreateRequest,
  ProfileListResponse,
  ProfileUpdateRequest,
  ProfileView,
  Uuid,
  strictCopy,
} from "../../v3/schemas";
import { createOwned, listPage, onOwned } from "./proxy";

const ProfilePath = z.object({ profile_id: Uuid });
const NOT_FOUND = "`Profile not found`: unknown, or another tenant's";

/** /api/v3/profiles: saved browser state, owned by the tenant that created it. */
export const profiles = new Hono<AppEnv>()
  .post(
    "/",
    describeRoute({
      operationId: "create_profile_profiles_post",
      callsUpstream: true,
      summary: "Create Profile",
      responses: { 201: ProfileView },
    }),
    jsonBody({ required: false }),
    validate("json", strictCopy(ProfileCreateRequest)),
    (c) => createOwned(c, PROFILES, "/profiles"),
  )
  .get(
    "/",
    describeRoute({
      operationId: "list_profiles_profiles_get",
      summary: "List Profiles",
      description: "The caller's own profiles, newest first.",
      responses: { 200: ProfileListResponse },
    }),
    validate("query", ListProfilesQuery),
    async (c) => {
      const { pageSize, pageNumber, query } = c.req.valid("query");
      const { views, total } = await listPage(c, PROFILES, {
        offset: (pageNumber - 1) * pageSize,
        limit: pageSize,
        search: query ?? undefined,
      });
      return c.json({ items: views, totalItems: total, pageNumber, pageSize });
    },
  )
  .get(
    "/:profile_id",
    describeRoute({
      operationId: "get_profile_profiles__profile_id__get",
      callsUpstream: true,
      summary: "Get Profile",
      responses: { 200: ProfileView, 404: NOT_FOUND },
    }),
    validate("param", ProfilePath),
    (c) => onOwned(c, PROFILES, c.req.valid("param").profile_id, { method: "GET" }),
  )
  .patch(
    "/:profile_id",
    describeRoute({
      operationId: "update_profile_profiles__profile_id__patch",
      callsUpstream: true,
      summary: "Update Profile",
      responses: { 200: ProfileView, 404: NOT_FOUND },
    }),
    validate("param", ProfilePath),
    jsonBody({ required: true }),
    validate("json", strictCopy(ProfileUpdateRequest)),
    (c) => onOwned(c, PROFILES, c.req.valid("param").profile_id, { method: "PATCH", body: true }),
  )
  .delete(
    "/:profile_id",
    describeRoute({
      operationId: "delete_browser_profile_profiles__profile_id__delete",
      callsUpstream: true,
      summary: "Delete Browser Profile",
      responses: { 204: "Deleted", 404: NOT_FOUND },
    }),
    validate("param", ProfilePath),
    (c) => onOwned(c, PROFILES, c.req.valid("param").profile_id, { method: "DELETE" }),
  );
