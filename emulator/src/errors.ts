import { ERROR_DETAILS } from "../../src/v3/schemas";
import type { ValidationIssue } from "../../src/v3/validation";

/**
 * The one error the emulator throws; app.ts turns it into `{"detail": ...}` with its status.
 * `detail` is a string, or the FastAPI 422 list.
 */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 402 | 403 | 404 | 405 | 409 | 422 | 429,
    readonly detail: string | ValidationIssue[],
  ) {
    super(typeof detail === "string" ? detail : "validation error");
    this.name = "ApiError";
  }
}

export const notFound = (detail: string = ERROR_DETAILS.notFound) => new ApiError(404, detail);
export const invalid = (issues: ValidationIssue[]) => new ApiError(422, issues);
