import * as z from "zod/mini";

/** Every non-422 error body: `{"detail": "..."}`. */
export const ErrorDetail = z.object({ detail: z.string() });
export type ErrorDetail = z.infer<typeof ErrorDetail>;

/** One item of FastAPI's 422 list; pydantic v2 adds `input` (and sometimes `ctx`). */
export const ValidationError = z.object({
  loc: z.array(z.union([z.string(), z.int()])),
  msg: z.string(),
  type: z.string(),
  input: z.optional(z.unknown()),
  ctx: z.optional(z.record(z.string(), z.unknown())),
});
export type ValidationError = z.infer<typeof ValidationError>;

export const HTTPValidationError = z.object({ detail: z.array(ValidationError) });
export type HTTPValidationError = z.infer<typeof HTTPValidationError>;

/** Any error body of the API: FastAPI's `{"detail": ...}` and nothing else. */
export const UpstreamError = z.strictObject({ detail: z.union([z.string(), z.array(ValidationError)]) });

/**
 * The `detail` texts: the defaults of the OpenAPI error components, and (marked) the wording
 * the v2 API uses where v3 declares no error. Emulator and gateway answer with these.
 */
export const ERROR_DETAILS = {
  notFound: "Not Found",
  methodNotAllowed: "Method Not Allowed",
  sessionNotFound: "Session not found",
  profileNotFound: "Profile not found",
  /** Undocumented; the obvious wording. */
  workspaceNotFound: "Workspace not found",
  accountNotFound: "Account not found",
  insufficientCredits: "Insufficient credits",
  sessionTimeoutLimitExceeded: "Maximum session timeout is 4 hours (240 minutes).",
  tooManyConcurrentSessions:
    "Too many concurrent active sessions. Please wait for one to finish, kill one, or upgrade your plan.",
  /** v2 wording, for a dispatch to a session that is busy (created or running). */
  sessionBusy: "Agent session already has a running task. Please wait for it to finish or stop it manually.",
  /** v2 wording, for a dispatch to a session that has ended (stopped, timed_out, error). */
  sessionStopped: "Browser session is stopped. Please start a new session and try again.",
} as const;
