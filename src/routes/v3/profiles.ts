import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { PROFILES } from "../../upstream/kinds";
import { ListProfilesQuery, ProfileCreateRequest, ProfileUpdateRequest, Uuid } from "../../v3/schemas";
import { createOwned, listPage, onOwned } from "./proxy";

const ProfilePath = z.object({ profile_id: Uuid });

/** /api/v3/profiles: saved browser state, owned by the tenant that created it. */
export const profiles = new Hono<AppEnv>()
  .post("/", jsonBody({ required: false }), validate("json", ProfileCreateRequest.strict()), (c) =>
    createOwned(c, PROFILES, "/profiles"),
  )
  .get("/", validate("query", ListProfilesQuery), async (c) => {
    const { pageSize, pageNumber, query } = c.req.valid("query");
    const { views, total } = await listPage(c, PROFILES, {
      offset: (pageNumber - 1) * pageSize,
      limit: pageSize,
      search: query ?? undefined,
    });
    return c.json({ items: views, totalItems: total, pageNumber, pageSize });
  })
  .get("/:profile_id", validate("param", ProfilePath), (c) =>
    onOwned(c, PROFILES, c.req.valid("param").profile_id, { method: "GET" }),
  )
  .patch(
    "/:profile_id",
    validate("param", ProfilePath),
    jsonBody({ required: true }),
    validate("json", ProfileUpdateRequest.strict()),
    (c) => onOwned(c, PROFILES, c.req.valid("param").profile_id, { method: "PATCH", body: true }),
  )
  .delete("/:profile_id", validate("param", ProfilePath), (c) =>
    onOwned(c, PROFILES, c.req.valid("param").profile_id, { method: "DELETE" }),
  );
