import * as z from "zod";
import { DateTime, PageQuery, Uuid, itemsPage, queryScalar } from "./common";

/** `POST /profiles` body; the body itself is optional. */
export const ProfileCreateRequest = z.object({
  name: z.string().max(100).nullish(),
  userId: z.string().max(255).nullish(),
});
export type ProfileCreateRequest = z.infer<typeof ProfileCreateRequest>;

/** `PATCH /profiles/{id}`: only the fields present change. */
export const ProfileUpdateRequest = z.object({
  name: z.string().max(100).nullish(),
  userId: z.string().max(255).nullish(),
});
export type ProfileUpdateRequest = z.infer<typeof ProfileUpdateRequest>;

export const ProfileView = z.object({
  id: Uuid,
  userId: z.string().nullish(),
  name: z.string().nullish(),
  lastUsedAt: DateTime.nullish(),
  createdAt: DateTime,
  updatedAt: DateTime,
  cookieDomains: z.array(z.string()).nullish(),
});
export type ProfileView = z.infer<typeof ProfileView>;

export const ProfileListResponse = itemsPage(ProfileView);
export type ProfileListResponse = z.infer<typeof ProfileListResponse>;

/**
 * `GET /profiles`; `query` matches name or userId. (SDK 3.11.3's `profiles.list()` sends
 * `page`/`page_size`, which the API ignores like any unknown parameter.)
 */
export const ListProfilesQuery = PageQuery.extend({
  query: queryScalar(z.string().max(200)).nullish(),
});
export type ListProfilesQuery = z.infer<typeof ListProfilesQuery>;

export const ProfilePathParams = z.object({ profile_id: Uuid });
