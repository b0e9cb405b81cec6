import * as z from "zod";
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

/** Most metadata pairs a browser may carry (the SDK refuses more client-side). */
export const BROWSER_METADATA_MAX_PAIRS = 10;

export const BrowserSessionStatus = z.enum(["active", "stopped"]);
export type BrowserSessionStatus = z.infer<typeof BrowserSessionStatus>;

export const CustomProxy = z.object({
  host: z.string().min(1).max(255),
  port: z.int().min(1).max(65535),
  username: z.string().min(1).max(255).nullish(),
  password: z.string().min(1).max(255).nullish(),
  ignoreCertErrors: z.boolean().default(false),
});
export type CustomProxy = z.infer<typeof CustomProxy>;

/** `POST /browsers` body (OpenAPI plus the SDK 3.11.3 fields metadata, pdfRendererEnabled, solveCaptchas). */
export const CreateBrowserSessionRequest = z.object({
  profileId: Uuid.nullish(),
  proxyCountryCode: ProxyCountryCode.nullable().default("us"),
  metadata: z
    .record(z.string(), z.string())
    .refine((m) => Object.keys(m).length <= BROWSER_METADATA_MAX_PAIRS, {
      message: `metadata supports at most ${BROWSER_METADATA_MAX_PAIRS} key-value pairs`,
    })
    .nullish(),
  /** Minutes, 1..240; see BROWSER_TIMEOUT_MAX_MINUTES for the upper bound. */
  timeout: z.int().min(1).default(60),
  browserScreenWidth: ScreenWidth.nullish(),
  browserScreenHeight: ScreenHeight.nullish(),
  allowResizing: z.boolean().default(false),
  customProxy: CustomProxy.nullish(),
  enableRecording: z.boolean().default(false),
  pdfRendererEnabled: z.boolean().default(true),
  solveCaptchas: z.boolean().default(true),
});
export type CreateBrowserSessionRequest = z.infer<typeof CreateBrowserSessionRequest>;

/** `PATCH /browsers/{id}`: stopping is the only action. */
export const UpdateBrowserSessionRequest = z.object({ action: z.enum(["stop"]) });
export type UpdateBrowserSessionRequest = z.infer<typeof UpdateBrowserSessionRequest>;

/** Note the field names: `proxyCost`/`browserCost`, without the `Usd` sessions use. */
export const BrowserSessionItemView = z.object({
  id: Uuid,
  status: BrowserSessionStatus,
  liveUrl: z.string().nullish(),
  cdpUrl: z.string().nullish(),
  timeoutAt: DateTime,
  startedAt: DateTime,
  finishedAt: DateTime.nullish(),
  proxyUsedMb: DecimalString,
  proxyCost: MoneyString,
  browserCost: MoneyString,
  agentSessionId: Uuid.nullish(),
  /** Always null in lists. */
  recordingUrl: z.string().nullish(),
  /** SDK 3.11.3 field, absent from the published spec. */
  metadata: z.record(z.string(), z.string()).optional(),
});
export type BrowserSessionItemView = z.infer<typeof BrowserSessionItemView>;

export const BrowserSessionView = BrowserSessionItemView.extend({
  /** SDK 3.11.3 field, absent from the published spec. */
  recordingAvailable: z.boolean().optional(),
});
export type BrowserSessionView = z.infer<typeof BrowserSessionView>;

export const BrowserSessionListResponse = itemsPage(BrowserSessionItemView);
export type BrowserSessionListResponse = z.infer<typeof BrowserSessionListResponse>;

export const BrowserDownloadFile = z.object({
  path: z.string(),
  size: z.int().min(0),
  lastModified: DateTime,
  url: z.string().nullish(),
});
export type BrowserDownloadFile = z.infer<typeof BrowserDownloadFile>;

export const BrowserDownloadListResponse = z.object({
  files: z.array(BrowserDownloadFile),
  nextCursor: z.string().nullish(),
  hasMore: z.boolean(),
});
export type BrowserDownloadListResponse = z.infer<typeof BrowserDownloadListResponse>;

/** `GET /browsers`; `metadata` repeats (`key` or `key=value`, all must match). */
export const ListBrowsersQuery = z.object({
  pageSize: queryInt(1, 100).default(10),
  pageNumber: queryInt(1).default(1),
  filterBy: queryScalar(BrowserSessionStatus).nullish(),
  metadata: queryList().optional(),
  agentSessionId: queryScalar(Uuid).nullish(),
});
export type ListBrowsersQuery = z.infer<typeof ListBrowsersQuery>;

export const BrowserDownloadsQuery = z.object({
  limit: queryInt(1, 100).default(50),
  cursor: queryScalar(z.string()).nullish(),
  includeUrls: queryBool().default(false),
});
export type BrowserDownloadsQuery = z.infer<typeof BrowserDownloadsQuery>;

export const BrowserPathParams = z.object({ session_id: Uuid });
