import * as z from "zod/mini";
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
 * The two cross-field rules are the API's own and hold for strict copies too (`strictCopy`).
 */
export const RunTaskRequest = z
  .object({
    task: z.nullish(z.string()),
    model: z._default(BuModel, "claude-opus-4.7"),
    thinkingLevel: z.nullish(ThinkingLevel),
    sessionId: z.nullish(Uuid),
    keepAlive: z._default(z.boolean(), false),
    /** A number or a decimal string; the response echoes it as a string. */
    maxCostUsd: z.optional(z.union([z.number(), DecimalString, z.null()])),
    profileId: z.nullish(Uuid),
    workspaceId: z.nullish(Uuid),
    proxyCountryCode: z._default(z.nullable(ProxyCountryCode), "us"),
    browserScreenWidth: z.nullish(ScreenWidth),
    browserScreenHeight: z.nullish(ScreenHeight),
    outputSchema: z.nullish(JsonObject),
    enableScheduledTasks: z._default(z.boolean(), false),
    sensitiveData: z.nullish(z.record(z.string(), z.string())),
    enableRecording: z._default(z.boolean(), false),
    skills: z._default(z.boolean(), true),
    agentmail: z._default(z.boolean(), true),
    codeMode: z._default(z.boolean(), false),
    cacheScript: z.nullish(z.boolean()),
    useOwnKey: z._default(z.boolean(), false),
    autoHeal: z._default(z.boolean(), true),
  })
  .check(
    z.superRefine((body, ctx) => {
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
    }),
  );
export type RunTaskRequest = z.infer<typeof RunTaskRequest>;
export type RunTaskRequestInput = z.input<typeof RunTaskRequest>;

export const StopStrategy = z.enum(["task", "session"]);
export type StopStrategy = z.infer<typeof StopStrategy>;

/** `POST /sessions/{id}/stop` body; the body itself may also be absent or `null`. */
export const StopSessionRequest = z.object({ strategy: z._default(StopStrategy, "session") });
export type StopSessionRequest = z.infer<typeof StopSessionRequest>;

/**
 * A session as the API returns it. Fields with a documented default are required here (pydantic
 * always serializes them); nullable fields may be null or absent.
 */
export const SessionResponse = z.object({
  id: Uuid,
  status: BuAgentSessionStatus,
  model: BuModel,
  thinkingLevel: z.nullish(ThinkingLevel),
  title: z.nullish(z.string()),
  /** A string, an object matching `outputSchema`, or `{text, code, output?}` in code mode. */
  output: z.unknown(),
  outputSchema: z.nullish(JsonObject),
  stepCount: z.int().check(z.minimum(0)),
  lastStepSummary: z.nullish(z.string()),
  isTaskSuccessful: z.nullish(z.boolean()),
  liveUrl: z.nullish(z.string()),
  /** Populated only by `GET /sessions/{id}`; `[]` in lists. */
  recordingUrls: z.array(z.string()),
  profileId: z.nullish(Uuid),
  workspaceId: z.nullish(Uuid),
  proxyCountryCode: z.nullish(ProxyCountryCode),
  browserScreenWidth: z.nullish(z.int()),
  browserScreenHeight: z.nullish(z.int()),
  maxCostUsd: z.nullish(MoneyString),
  totalInputTokens: z.int().check(z.minimum(0)),
  totalOutputTokens: z.int().check(z.minimum(0)),
  proxyUsedMb: DecimalString,
  llmCostUsd: MoneyString,
  proxyCostUsd: MoneyString,
  browserCostUsd: MoneyString,
  /** llmCostUsd + proxyCostUsd + browserCostUsd. */
  totalCostUsd: MoneyString,
  /** Populated only by `GET /sessions/{id}`; null in lists. */
  screenshotUrl: z.nullish(z.string()),
  agentmailEmail: z.nullish(z.string()),
  integrationsUsed: z.optional(z.array(z.string())),
  createdAt: DateTime,
  updatedAt: DateTime,
});
export type SessionResponse = z.infer<typeof SessionResponse>;

export const SessionListResponse = z.object({
  sessions: z.array(SessionResponse),
  total: z.int().check(z.minimum(0)),
  page: z.int().check(z.minimum(1)),
  pageSize: z.int().check(z.minimum(1)),
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
  screenshotUrl: z.nullish(z.string()),
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
  page: z._default(queryInt(1), 1),
  page_size: z._default(queryInt(1, 100), 20),
});
export type ListSessionsQuery = z.infer<typeof ListSessionsQuery>;

/** `GET /sessions/{id}/messages` cursors are message ids. */
export const ListMessagesQuery = z.object({
  after: z.nullish(queryScalar(Uuid)),
  before: z.nullish(queryScalar(Uuid)),
  limit: z._default(queryInt(1, 100), 10),
});
export type ListMessagesQuery = z.infer<typeof ListMessagesQuery>;

export const SessionPathParams = z.object({ session_id: Uuid });
