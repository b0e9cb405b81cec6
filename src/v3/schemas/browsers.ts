import * as z from "zod/mini";
import {
  DateTime,
  DecimalString,
  MoneyString,
  ProxyCountryCode,
  ScreenHeight,
  ScreenWidth,
  Uuid,
  itemsPage,
  queryBool,
  queryInt,
  queryList,
  queryScalar,
} from "./common";

/**
 * Longest browser `timeout`, in minutes. Upstream answers a longer one with 403
 * (`SessionTimeoutLimitExceededError`), not 422, so the request schema leaves it unchecked.
 */
export const BROWSER_TIMEOUT_MAX_MINUTES = 240;

/**
 * Most metadata pairs a browser may carry (the SDK refuses more client-side), and most `metadata`
 * filters a list takes. A list binds three values a filter, twice (listOwned counts its total in a
 * subquery), and D1 takes at most 100 bound values a statement: past 15, a list would fail in D1.
 */
export const BROWSER_METADATA_MAX_PAIRS = 10;

export const BrowserSessionStatus = z.enum(["active", "stopped"]);
export type BrowserSessionStatus = z.infer<typeof BrowserSessionStatus>;

export const CustomProxy = z.object({
  host: z.string().check(z.minLength(1), z.maxLength(255)),
  port: z.int().check(z.minimum(1), z.maximum(65535)),
  username: z.nullish(z.string().check(z.minLength(1), z.maxLength(255))),
  password: z.nullish(z.string().check(z.minLength(1), z.maxLength(255))),
  ignoreCertErrors: z._default(z.boolean(), false),
});
export type CustomProxy = z.infer<typeof CustomProxy>;

/** `POST /browsers` body (OpenAPI plus the SDK 3.11.3 fields metadata, pdfRendererEnabled, solveCaptchas). */
export const CreateBrowserSessionRequest = z.object({
  profileId: z.nullish(Uuid),
  proxyCountryCode: z._default(z.nullable(ProxyCountryCode), "us"),
  metadata: z.nullish(
    z.record(z.string(), z.string()).check(
      z.refine((m) => Object.keys(m).length <= BROWSER_METADATA_MAX_PAIRS, {
        message: `metadata supports at most ${BROWSER_METADATA_MAX_PAIRS} key-value pairs`,
      }),
    ),
  ),
  /** Minutes, 1..240; see BROWSER_TIMEOUT_MAX_MINUTES for the upper bound. */
  timeout: z._default(z.int().check(z.minimum(1)), 60),
  browserScreenWidth: z.nullish(ScreenWidth),
  browserScreenHeight: z.nullish(ScreenHeight),
  allowResizing: z._default(z.boolean(), false),
  customProxy: z.nullish(CustomProxy),
  enableRecording: z._default(z.boolean(), false),
  pdfRendererEnabled: z._default(z.boolean(), true),
  solveCaptchas: z._default(z.boolean(), true),
});
export type CreateBrowserSessionRequest = z.infer<typeof CreateBrowserSessionRequest>;

/** `PATCH /browsers/{id}`: stopping is the only action. */
export const UpdateBrowserSessionRequest = z.object({ action: z.enum(["stop"]) });
export type UpdateBrowserSessionRequest = z.infer<typeof UpdateBrowserSessionRequest>;

/** Note the field names: `proxyCost`/`browserCost`, without the `Usd` sessions use. */
export const BrowserSessionItemView = z.object({
  id: Uuid,
  status: BrowserSessionStatus,
  liveUrl: z.nullish(z.string()),
  cdpUrl: z.nullish(z.string()),
  timeoutAt: DateTime,
  startedAt: DateTime,
  finishedAt: z.nullish(DateTime),
  proxyUsedMb: DecimalString,
  proxyCost: MoneyString,
  browserCost: MoneyString,
  agentSessionId: z.nullish(Uuid),
  /** Always null in lists. */
  recordingUrl: z.nullish(z.string()),
  /** SDK 3.11.3 field, absent from the published spec. */
  metadata: z.optional(z.record(z.string(), z.string())),
});
export type BrowserSessionItemView = z.infer<typeof BrowserSessionItemView>;

export const BrowserSessionView = z.extend(BrowserSessionItemView, {
  /** SDK 3.11.3 field, absent from the published spec. */
  recordingAvailable: z.optional(z.boolean()),
});
export type BrowserSessionView = z.infer<typeof BrowserSessionView>;

export const BrowserSessionListResponse = itemsPage(BrowserSessionItemView);
export type BrowserSessionListResponse = z.infer<typeof BrowserSessionListResponse>;

export const BrowserDownloadFile = z.object({
  path: z.string(),
  size: z.int().check(z.minimum(0)),
  lastModified: DateTime,
  url: z.nullish(z.string()),
});
export type BrowserDownloadFile = z.infer<typeof BrowserDownloadFile>;

export const BrowserDownloadListResponse = z.object({
  files: z.array(BrowserDownloadFile),
  nextCursor: z.nullish(z.string()),
  hasMore: z.boolean(),
});
export type BrowserDownloadListResponse = z.infer<typeof BrowserDownloadListResponse>;

/** `GET /browsers`; `metadata` repeats (`key` or `key=value`, all must match). */
export const ListBrowsersQuery = z.object({
  pageSize: z._default(queryInt(1, 100), 10),
  pageNumber: z._default(queryInt(1), 1),
  filterBy: z.nullish(queryScalar(BrowserSessionStatus)),
  metadata: z.optional(queryList()),
  agentSessionId: z.nullish(queryScalar(Uuid)),
});
export type ListBrowsersQuery = z.infer<typeof ListBrowsersQuery>;

export const BrowserDownloadsQuery = z.object({
  limit: z._default(queryInt(1, 100), 50),
  cursor: z.nullish(queryScalar(z.string())),
  includeUrls: z._default(queryBool(), false),
});
export type BrowserDownloadsQuery = z.infer<typeof BrowserDownloadsQuery>;

export const BrowserPathParams = z.object({ session_id: Uuid });
