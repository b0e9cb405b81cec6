import * as z from "zod/mini";
import { DateTime, PageQuery, Uuid, itemsPage, queryScalar } from "./common";

/** `POST /profiles` body; the body itself is optional. */
export const ProfileCreateRequest = z.object({
  name: z.nullish(z.string().check(z.maxLength(100))),
  userId: z.nullish(z.string().check(z.maxLength(255))),
});
export type ProfileCreateRequest = z.infer<typeof ProfileCreateRequest>;

/** `PATCH /profiles/{id}`: only the fields present change. */
export const ProfileUpdateRequest = z.object({
  name: z.nullish(z.string().check(z.maxLength(100))),
  userId: z.nullish(z.string().check(z.maxLength(255))),
});
export type ProfileUpdateRequest = z.infer<typeof ProfileUpdateRequest>;

export const ProfileView = z.object({
  id: Uuid,
  userId: z.nullish(z.string()),
  name: z.nullish(z.string()),
  lastUsedAt: z.nullish(DateTime),
  createdAt: DateTime,
  updatedAt: DateTime,
  cookieDomains: z.nullish(z.array(z.string())),
});
export type ProfileView = z.infer<typeof ProfileView>;

export const ProfileListResponse = itemsPage(ProfileView);
export type ProfileListResponse = z.infer<typeof ProfileListResponse>;

/**
 * `GET /profiles`; `query` matches name or userId. (SDK 3.11.3's `profiles.list()` sends
 * `page`/`page_size`, which the API ignores like any unknown parameter.)
 */
export const ListProfilesQuery = z.extend(PageQuery, {
  query: z.nullish(queryScalar(z.string().check(z.maxLength(200)))),
});
export type ListProfilesQuery = z.infer<typeof ListProfilesQuery>;

export const ProfilePathParams = z.object({ profile_id: Uuid });
