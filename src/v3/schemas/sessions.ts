import * as z from "zod";
import {
  BuAgentSessionStatus,
  BuModel,
  DateTime,
  DecimalString,
  MoneyString,
  ProxyCountryCode,
  ScreenHeight,
  ScreenWidth,
  ThinkingLevel,
  Uuid,
  queryInt,
  queryScalar,
} from "./common";

const JsonObject = z.record(z.string(), z.unknown());

/**
 * `POST /sessions` body (OpenAPI `RunTaskRequest` plus the fields SDK 3.11.3 sends). Every field
 * is optional; defaults are the documented ones. Unknown keys are ignored, as pydantic does.
 * The two cross-field rules are the API's own and hold for strict copies too (`.strict()`).
 */
export const RunTaskRequest = z
  .object({
    task: z.string().nullish(),
    model: BuModel.default("claude-opus-4.7"),
    thinkingLevel: ThinkingLevel.nullish(),
    sessionId: Uuid.nullish(),
    keepAlive: z.boolean().default(false),
    /** A number or a decimal string; the response echoes it as a string. */
    maxCostUsd: z.union([z.number(), DecimalString, z.null()]).optional(),
    profileId: Uuid.nullish(),
    workspaceId: Uuid.nullish(),
    proxyCountryCode: ProxyCountryCode.nullable().default("us"),
    browserScreenWidth: ScreenWidth.nullish(),
    browserScreenHeight: ScreenHeight.nullish(),
    outputSchema: JsonObject.nullish(),
    enableScheduledTasks: z.boolean().default(false),
    sensitiveData: z.record(z.string(), z.string()).nullish(),
    enableRecording: z.boolean().default(false),
    skills: z.boolean().default(true),
    agentmail: z.boolean().default(true),
    codeMode: z.boolean().default(false),
    cacheScript: z.boolean().nullish(),
    useOwnKey: z.boolean().default(false),
    autoHeal: z.boolean().default(true),
  })
  .superRefine((body, ctx) => {
    // An empty task counts as none, as Python's truthiness does upstream.
    if (body.sessionId && !body.task) {
      ctx.addIssue({
        code: "custom",
        message: "task is required when dispatching to an existing session",
        path: [],
        input: body,
      });
    }
    if ((body.browserScreenWidth == null) !== (body.browserScreenHeight == null)) {
      ctx.addIssue({
        code: "custom",
        message: "browserScreenWidth and browserScreenHeight must be set together",
        path: [],
        input: body,
      });
    }
  });
export type RunTaskRequest = z.infer<typeof RunTaskRequest>;
export type RunTaskRequestInput = z.input<typeof RunTaskRequest>;

export const StopStrategy = z.enum(["task", "session"]);
export type StopStrategy = z.infer<typeof StopStrategy>;

/** `POST /sessions/{id}/stop` body; the body itself may also be absent or `null`. */
export const StopSessionRequest = z.object({ strategy: StopStrategy.default("session") });
export type StopSessionRequest = z.infer<typeof StopSessionRequest>;

/**
 * A session as the API returns it. Fields with a documented default are required here (pydantic
 * always serializes them); nullable fields may be null or absent.
 */
export const SessionResponse = z.object({
  id: Uuid,
  status: BuAgentSessionStatus,
  model: BuModel,
  thinkingLevel: ThinkingLevel.nullish(),
  title: z.string().nullish(),
  /** A string, an object matching `outputSchema`, or `{text, code, output?}` in code mode. */
  output: z.unknown(),
  outputSchema: JsonObject.nullish(),
  stepCount: z.int().min(0),
  lastStepSummary: z.string().nullish(),
  isTaskSuccessful: z.boolean().nullish(),
  liveUrl: z.string().nullish(),
  /** Populated only by `GET /sessions/{id}`; `[]` in lists. */
  recordingUrls: z.array(z.string()),
  profileId: Uuid.nullish(),
  workspaceId: Uuid.nullish(),
  proxyCountryCode: ProxyCountryCode.nullish(),
  browserScreenWidth: z.int().nullish(),
  browserScreenHeight: z.int().nullish(),
  maxCostUsd: MoneyString.nullish(),
  totalInputTokens: z.int().min(0),
  totalOutputTokens: z.int().min(0),
  proxyUsedMb: DecimalString,
  llmCostUsd: MoneyString,
  proxyCostUsd: MoneyString,
  browserCostUsd: MoneyString,
  /** llmCostUsd + proxyCostUsd + browserCostUsd. */
  totalCostUsd: MoneyString,
  /** Populated only by `GET /sessions/{id}`; null in lists. */
  screenshotUrl: z.string().nullish(),
  agentmailEmail: z.string().nullish(),
  integrationsUsed: z.array(z.string()).optional(),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type SessionResponse = z.infer<typeof SessionResponse>;

export const SessionListResponse = z.object({
  sessions: z.array(SessionResponse),
  total: z.int().min(0),
  page: z.int().min(1),
  pageSize: z.int().min(1),
});
export type SessionListResponse = z.infer<typeof SessionListResponse>;

export const MessageResponse = z.object({
  id: Uuid,
  sessionId: Uuid,
  /** "human" or "ai" per the spec; older docs show others, so any string. */
  role: z.string(),
  data: z.string(),
  type: z.string(),
  summary: z.string(),
  screenshotUrl: z.string().nullish(),
  hidden: z.boolean(),
  createdAt: DateTime,
});
export type MessageResponse = z.infer<typeof MessageResponse>;

/** Messages in chronological order; `hasMore` looks beyond the page in the cursor's direction. */
export const MessageListResponse = z.object({
  messages: z.array(MessageResponse),
  hasMore: z.boolean(),
});
export type MessageListResponse = z.infer<typeof MessageListResponse>;

/** `GET /sessions`: snake_case, unlike every other list. */
export const ListSessionsQuery = z.object({
  page: queryInt(1).default(1),
  page_size: queryInt(1, 100).default(20),
});
export type ListSessionsQuery = z.infer<typeof ListSessionsQuery>;

/** `GET /sessions/{id}/messages` cursors are message ids. */
export const ListMessagesQuery = z.object({
  after: queryScalar(Uuid).nullish(),
  before: queryScalar(Uuid).nullish(),
  limit: queryInt(1, 100).default(10),
});
export type ListMessagesQuery = z.infer<typeof ListMessagesQuery>;

export const SessionPathParams = z.object({ session_id: Uuid });
