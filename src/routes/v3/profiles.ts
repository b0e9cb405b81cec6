import { Hono } from "hono";
import * as z from "zod";
import type { AppEnv } from "../../env";
import { jsonBody } from "../../middleware/json-body";
import { validate } from "../../middleware/validate";
import { ListProfilesQuery, ProfileCreateRequest, ProfileUpdateRequest } from "../../v3/schemas";
import { Uuid } from "../../v3/schemas";
import { PROFILES } from "../../upstream/kinds";
import { clientBody, forget, forward, listPage, recordCreated, relay, remember, requireOwned } from "./proxy";

const ProfilePath = z.object({ profile_id: Uuid });
type View = Record<string, unknown>;

/** /api/v3/profiles: saved browser state, owned by the tenant that created it. */
export const profiles = new Hono<AppEnv>()
  .post("/", jsonBody({ required: false }), validate("json", ProfileCreateRequest.strict()), async (c) => {
    const res = await forward(c, { method: "POST", path: "/profiles", body: await clientBody(c) });
    if (res.status === 201) await recordCreated(c, PROFILES, res.body as View, res.sentAt);
    return relay(c, res);
  })
  .get("/", validate("query", ListProfilesQuery), async (c) => {
    const { pageSize, pageNumber, query } = c.req.valid("query");
    const { views, total } = await listPage(c, PROFILES, {
      offset: (pageNumber - 1) * pageSize,
      limit: pageSize,
      search: query ?? undefined,
    });
    return c.json({ items: views, totalItems: total, pageNumber, pageSize });
  })
  .get("/:profile_id", validate("param", ProfilePath), async (c) => {
    const { profile_id } = c.req.valid("param");
    await requireOwned(c, PROFILES, profile_id);
    const res = await forward(c, { method: "GET", path: PROFILES.path(profile_id) });
    if (res.status === 200) remember(c, PROFILES, [res.body as View], res.sentAt);
    return relay(c, res);
  })
  .patch(
    "/:profile_id",
    validate("param", ProfilePath),
    jsonBody({ required: true }),
    validate("json", ProfileUpdateRequest.strict()),
    async (c) => {
      const { profile_id } = c.req.valid("param");
      await requireOwned(c, PROFILES, profile_id);
      const res = await forward(c, {
        method: "PATCH",
        path: PROFILES.path(profile_id),
        body: await clientBody(c),
      });
      if (res.status === 200) remember(c, PROFILES, [res.body as View], res.sentAt);
      return relay(c, res);
    },
  )
  .delete("/:profile_id", validate("param", ProfilePath), async (c) => {
    const { profile_id } = c.req.valid("param");
    await requireOwned(c, PROFILES, profile_id);
    const res = await forward(c, { method: "DELETE", path: PROFILES.path(profile_id) });
    if (res.status === 204 || res.status === 404) await forget(c, PROFILES, profile_id);
    return relay(c, res);
  });
