import * as z from "zod/mini";
import { MoneyString } from "../v3/schemas/common";
import { ValidationError } from "../v3/schemas/errors";
import type { ValidationIssue } from "../v3/validation";

/** Every error the gateway itself can answer with. Upstream errors pass through untouched. */
export type ErrorCode =
  | "session_not_idle"
  | "missing_api_key"
  | "invalid_api_key"
  | "key_expired"
  | "admin_unauthorized"
  | "invalid_signature"
  | "budget_exceeded"
  | "country_not_allowed"
  | "model_not_allowed"
  | "keep_alive_not_allowed"
  | "suspended"
  | "forbidden"
  | "read_only_key"
  | "scheduled_tasks_not_allowed"
  | "own_key_not_allowed"
  | "timeout_not_allowed"
  | "not_found"
  | "method_not_allowed"
  | "idempotency_conflict"
  | "conflict"
  | "body_too_large"
  | "unsupported_media_type"
  | "validation_error"
  | "template_value_missing"
  | "concurrency_limit"
  | "rate_limited"
  | "upstream_unreachable"
  | "upstream_bad_response"
  | "upstream_unauthorized"
  | "upstream_timeout"
  | "store_unavailable"
  | "budget_unavailable"
  | "encryption_not_configured"
  | "internal_error";

const STATUS: Record<ErrorCode, number> = {
  session_not_idle: 400,
  missing_api_key: 401,
  invalid_api_key: 401,
  key_expired: 401,
  admin_unauthorized: 401,
  invalid_signature: 401,
  budget_exceeded: 402,
  country_not_allowed: 403,
  model_not_allowed: 403,
  keep_alive_not_allowed: 403,
  suspended: 403,
  forbidden: 403,
  read_only_key: 403,
  scheduled_tasks_not_allowed: 403,
  own_key_not_allowed: 403,
  timeout_not_allowed: 403,
  not_found: 404,
  method_not_allowed: 405,
  idempotency_conflict: 409,
  conflict: 409,
  body_too_large: 413,
  unsupported_media_type: 415,
  validation_error: 422,
  template_value_missing: 422,
  concurrency_limit: 429,
  rate_limited: 429,
  upstream_unreachable: 502,
  upstream_bad_response: 502,
  upstream_unauthorized: 502,
  upstream_timeout: 504,
  store_unavailable: 503,
  budget_unavailable: 503,
  encryption_not_configured: 503,
  internal_error: 500,
};

const CODES = Object.keys(STATUS) as [ErrorCode, ...ErrorCode[]];

/**
 * The body of every error the gateway answers itself (errorResponse renders it): upstream's
 * `detail` shape plus `code` and `requestId`, and the further fields some refusals carry. Strict,
 * so a field nobody documented (or meant to send) fails the suite's check of every answer.
 */
export const GatewayErrorBody = z.strictObject({
  /** A message, or FastAPI's issue list for a 422 of invalid input. */
  detail: z.union([z.string(), z.array(ValidationError)]),
  code: z.enum(CODES),
  requestId: z.string(),
  /** `country_not_allowed`, `model_not_allowed`: what the policy allows (null: no allowlist). */
  allowed: z.optional(z.nullable(z.array(z.string()))),
  /** `budget_exceeded`, `concurrency_limit`: the budget scope that refused. */
  scope: z.optional(z.enum(["org", "tenant"])),
  /** `concurrency_limit`: live sessions allowed; `rate_limited`: requests per minute allowed. */
  limit: z.optional(z.int()),
  /** `budget_exceeded`: what the scope has left (null: no cap), and the least a hold may be. */
  remainingUsd: z.optional(z.nullable(MoneyString)),
  minHoldUsd: z.optional(MoneyString),
  /** `timeout_not_allowed`: the policy's longest browser timeout. */
  maxTimeoutMinutes: z.optional(z.int()),
  /** `template_value_missing`: the placeholders the delivery had no value for. */
  missing: z.optional(z.array(z.string())),
});

/** The further fields of an error body, beside `detail`, `code` and `requestId`. */
export type ErrorExtra = Omit<z.input<typeof GatewayErrorBody>, "detail" | "code" | "requestId">;

/**
 * The gateway's one error type. `detail` is a message, or the FastAPI issue list for 422,
 * so a client sees the same shape as from Browser Use itself, plus `code` and `requestId`.
 */
export class GatewayError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    readonly detail: string | ValidationIssue[],
    readonly headers: Record<string, string> = {},
    /** Further fields of the error body, e.g. which budget scope refused and what remains. */
    readonly extra: ErrorExtra = {},
  ) {
    super(typeof detail === "string" ? detail : `${code}: ${detail.length} issue(s)`);
    this.name = "GatewayError";
    this.status = STATUS[code];
  }
}

/** 422 with the FastAPI issue list. */
export const invalidInput = (issues: ValidationIssue[]) => new GatewayError("validation_error", issues);

/** The 404 for an id that does not exist or is not the caller's: the two are indistinguishable. */
export const notFound = (detail = "Not Found") => new GatewayError("not_found", detail);
