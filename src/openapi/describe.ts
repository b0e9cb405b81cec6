/**
 * How a route says what it is, for the OpenAPI document (see document.ts). The document is built
 * from the app's own route table: every handler of a route may carry a fragment of its operation,
 * and the operation is those fragments merged. `describeRoute()` gives the route's own words and
 * answers; the shared middleware carry the rest themselves: `validate()` its input schema,
 * `jsonBody()` the body's media type and limits, the auth middleware their security and refusals.
 *
 * Adding a route to the document is one step: put `describeRoute({...})` first among its handlers.
 * A route without one fails test/openapi.test.ts ("every route is described").
 */
import type { MiddlewareHandler } from "hono";
import { createMiddleware } from "hono/factory";
import type * as z from "zod/mini";
import type { AppEnv } from "../env";

/** Where a validated input comes from: the targets of `validate()`. */
export type InputTarget = "json" | "query" | "param" | "header";

/**
 * One answer of an operation, keyed by its status:
 * - a zod schema: a JSON body of that shape;
 * - a string: the answer's description; no body for a 2xx, the error shape for a 4xx or 5xx;
 * - an object, for anything else (headers, another media type, an error of another shape).
 */
export type ResponseSpec = z.core.$ZodType | string | ResponseDetail;

export interface ResponseDetail {
  description: string;
  /** The JSON body; an error status without one has the error shape of its operation. */
  schema?: z.core.$ZodType;
  /** The media types (text, or files) the answer comes as instead (`text/csv`, `text/html`). */
  text?: string | string[];
  /** Response headers worth knowing, by name: their description. */
  headers?: Record<string, string>;
}

/** A request header an operation reads itself (not through `validate()`). */
export interface HeaderParam {
  name: string;
  description: string;
  required?: boolean;
}

/** What one handler of a route knows about its operation; the operation merges them in order. */
export interface DocFragment {
  operationId?: string;
  summary?: string;
  description?: string;
  /** Schemas the route validates with, by where the input comes from. */
  inputs?: { target: InputTarget; schema: z.core.$ZodType }[];
  /** A body the route reads itself (hooks, webhooks), or whether a validated JSON body is required. */
  body?: { required: boolean; schema?: z.core.$ZodType; description?: string };
  headers?: HeaderParam[];
  responses?: Record<number, ResponseSpec>;
  /** OpenAPI security requirements, naming the schemes of document.ts (`tenantKey`, `adminToken`). */
  security?: Record<string, string[]>[];
  /** Calls Browser Use and relays its refusals as they came: 502/504 too, and upstream's own errors. */
  callsUpstream?: boolean;
}

/** The words and answers of one route, given with `describeRoute()`. */
export interface RouteDoc {
  /** A stable name for client generators: upstream's own for `/api/v3`, camelCase elsewhere. */
  operationId: string;
  summary: string;
  description?: string;
  /** Every success status with its body; the refusals this route adds to its middleware's. */
  responses: Record<number, ResponseSpec>;
  body?: DocFragment["body"];
  headers?: HeaderParam[];
  /** The route forwards to Browser Use and passes its errors through (see DocFragment). */
  callsUpstream?: boolean;
}

const DOC = Symbol("openapi");

/** Attaches a fragment of the operation to a handler or middleware; returns the same function. */
export function withDoc<H extends object>(handler: H, fragment: DocFragment): H {
  return Object.assign(handler, { [DOC]: fragment });
}

/** The fragment a handler carries, if any. */
export function docOf(handler: unknown): DocFragment | undefined {
  return typeof handler === "function" ? (handler as { [DOC]?: DocFragment })[DOC] : undefined;
}

/**
 * A route's entry in the OpenAPI document: a middleware that does nothing but carry `doc`. Put it
 * first among the route's handlers, so it reads as the route's heading.
 */
export function describeRoute(doc: RouteDoc): MiddlewareHandler<AppEnv> {
  return withDoc(
    createMiddleware<AppEnv>((_c, next) => next()),
    doc,
  );
}
