import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import {
  ListProfilesQuery,
  ProfileCreateRequest,
  ProfilePathParams,
  ProfileUpdateRequest,
} from "../../../src/v3/schemas";
import type { Emulator } from "../emulator";
import { type EmuEnv, parse, queryOf, readBody } from "../http";
import { itemsPage, newestFirst, profileView } from "../views";

/** /api/v3/profiles: saved browser state, here just names. */
export function profileRoutes(emu: Emulator) {
  return new Hono<EmuEnv>()
    .get("/", (c) => {
      const q = parse(ListProfilesQuery, "query", queryOf(c));
      const needle = q.query?.toLowerCase();
      const matching = newestFirst(emu.store.profiles.values(), (p) => p.createdAt).filter(
        (p) =>
          !needle ||
          (p.name ?? "").toLowerCase().includes(needle) ||
          (p.userId ?? "").toLowerCase().includes(needle),
      );
      const page = itemsPage(matching, q.pageNumber, q.pageSize);
      return c.json({ ...page, items: page.items.map(profileView) });
    })
    .post("/", async (c) => {
      const body = parse(ProfileCreateRequest, "body", (await readBody(c, false)) ?? {});
      const now = emu.now();
      const profile = {
        id: randomUUID(),
        name: body.name ?? null,
        userId: body.userId ?? null,
        lastUsedAt: null,
        createdAt: now,
        updatedAt: now,
      };
      emu.store.profiles.set(profile.id, profile);
      return c.json(profileView(profile), 201);
    })
    .get("/:profile_id", (c) => {
      const { profile_id } = parse(ProfilePathParams, "path", c.req.param());
      return c.json(profileView(emu.profile(profile_id)));
    })
    .patch("/:profile_id", async (c) => {
      const { profile_id } = parse(ProfilePathParams, "path", c.req.param());
      const body = parse(ProfileUpdateRequest, "body", await readBody(c, true));
      const profile = emu.profile(profile_id);
      // Only the fields sent change; an explicit null clears one.
      if (body.name !== undefined) profile.name = body.name;
      if (body.userId !== undefined) profile.userId = body.userId;
      profile.updatedAt = emu.now();
      return c.json(profileView(profile));
    })
    .delete("/:profile_id", (c) => {
      const { profile_id } = parse(ProfilePathParams, "path", c.req.param());
      emu.store.profiles.delete(emu.profile(profile_id).id);
      return c.body(null, 204);
    });
}
