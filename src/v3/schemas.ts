/**
 * Zod schemas of the Browser Use Cloud v3 API, written from its OpenAPI document (x402 left out)
 * and widened to what the official SDK 3.11.3 sends and expects. Names follow the OpenAPI
 * components; query and path schemas are named after their operation. They are written with
 * `zod/mini`, as is everything in the worker, whose bundle carries no classic zod; the emulator
 * mixes them with classic schemas freely, since both are zod's core schemas.
 *
 * Request objects are not strict (pydantic ignores unknown fields); a caller wanting to refuse
 * unknown fields takes a `strictCopy()` of them. Response objects require every field the API always
 * serializes, so a missing field is caught; unknown fields are stripped on parse.
 */
export * from "./schemas/billing";
export * from "./schemas/browsers";
export * from "./schemas/common";
export * from "./schemas/errors";
export * from "./schemas/profiles";
export * from "./schemas/sessions";
export * from "./schemas/workspaces";
