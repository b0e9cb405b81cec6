/**
 * The OpenAPI 3.1 document of everything the gateway serves, built from the app's own route table
 * (Hono's `app.routes`) and the fragments its handlers carry (see describe.ts). Nothing here lists
 * routes: a route exists in the document because it exists in the app, with the very zod schemas
 * it validates with, so the two cannot drift apart.
 */
import type { RouterRoute } from "hono/types";
import type * as z from "zod/mini";
import { version } from "../../package.json";
import { type DocFragment, docOf, type ResponseDetail, type ResponseSpec } from "./describe";
import { NAMED_SCHEMAS } from "./components";
import { type JsonSchema, SchemaConverter } from "./json-schema";
import { outgoingEvents } from "./webhooks";

export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, Operation>> };
type Operation = Record<string, unknown>;

const STORE_DOWN =
  "`store_unavailable` (`budget_unavailable` for a task or browser): a store of the gateway's did not answer; try again";

/** The gateway's surfaces, by path prefix: the tag of their operations, and what all of them may answer. */
const SURFACES: { prefix: string; tag: (path: string) => string; responses: Record<number, string> }[] = [
  // Upstream's own tags (Sessions, Browsers, ...), from the segment after /api/v3.
  { prefix: "/api/v3/", tag: (path) => capitalise(path.split("/")[3] ?? ""), responses: { 503: STORE_DOWN } },
  { prefix: "/admin/v1/", tag: () => "Admin", responses: { 503: STORE_DOWN } },
  { prefix: "/gateway/v1/", tag: () => "Gateway", responses: { 503: STORE_DOWN } },
  { prefix: "/hooks/", tag: () => "Hooks", responses: { 503: STORE_DOWN } },
  { prefix: "/webhooks/", tag: () => "Webhooks", responses: { 503: STORE_DOWN } },
  { prefix: "/", tag: () => "Service", responses: {} },
];

/** What an operation that calls Browser Use may answer besides its own (see `callsUpstream`). */
const UPSTREAM_FAILURES: Record<number, string> = {
  502: "`upstream_unreachable`, `upstream_bad_response` (not JSON where JSON is due) or `upstream_unauthorized` (upstream refused the gateway's own key)",
  504: "`upstream_timeout`: no answer within `UPSTREAM_TIMEOUT_MS`",
};

const TAGS = [
  { name: "Sessions", description: "Browser Use v3 agent sessions, per tenant, under policy and budget." },
  {
    name: "Browsers",
    description: "Browser Use v3 standalone browsers, per tenant, under policy and budget.",
  },
  { name: "Profiles", description: "Browser Use v3 profiles, owned by the tenant that created them." },
  { name: "Workspaces", description: "Browser Use v3 workspaces and their files, owned per tenant." },
  { name: "Billing", description: "The tenant's own balance, in Browser Use's AccountView shape." },
  {
    name: "Gateway",
    description: "A tenant's own view: who am I, my budget, my usage. Same key as /api/v3.",
  },
  { name: "Hooks", description: "Signed inbound webhooks (Standard Webhooks) that start a hook's task." },
  { name: "Webhooks", description: "Browser Use's own signed status webhooks, so costs settle at once." },
  { name: "Admin", description: "Orgs, tenants, keys, policies, hooks, alerts and usage. Admin token." },
  { name: "Service", description: "Health and this document." },
  {
    name: "Events",
    description:
      "What the gateway posts out, signed with Standard Webhooks: hook callbacks and budget alerts.",
  },
];

const SECURITY_SCHEMES = {
  tenantKey: {
    type: "apiKey",
    in: "header",
    name: "X-Browser-Use-API-Key",
    description: "A tenant's gateway key (`bugw_…`), as the official Browser Use SDK sends it.",
  },
  tenantBearer: {
    type: "http",
    scheme: "bearer",
    description: "The same gateway key as `Authorization: Bearer`.",
  },
  adminToken: { type: "http", scheme: "bearer", description: "The deployment's `ADMIN_TOKEN`." },
};

const STATUS_TEXT: Record<number, string> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content" };

const ERROR_REF = { $ref: "#/components/schemas/GatewayError" };
const RELAYED_ERROR = { anyOf: [ERROR_REF, { $ref: "#/components/schemas/UpstreamError" }] };

/** Builds the document from an app's route table (`app.routes`). */
export function openApiDocument(routes: readonly RouterRoute[]): OpenApiDocument {
  const schemas = new SchemaConverter(NAMED_SCHEMAS);
  // Every named schema is a component, used or not (the error shapes are referred to by name).
  for (const schema of Object.values(NAMED_SCHEMAS)) schemas.convert(schema);
  // `.use()` middleware of a sub-app: method ALL, path `/prefix/*`, for every route below it.
  const shared = routes
    .filter((r) => r.method === "ALL" && r.path.endsWith("/*"))
    .flatMap((r) => {
      const doc = docOf(r.handler);
      return doc ? [{ prefix: r.path.slice(0, -1), doc }] : [];
    });
  const operations = new Map<string, { method: string; path: string; fragments: DocFragment[] }>();
  for (const route of routes) {
    if (route.method === "ALL") continue;
    const key = `${route.method} ${route.path}`;
    const op = operations.get(key) ?? {
      method: route.method,
      path: route.path,
      fragments: shared.filter((s) => `${route.path}/`.startsWith(s.prefix)).map((s) => s.doc),
    };
    const doc = docOf(route.handler);
    if (doc) op.fragments.push(doc);
    operations.set(key, op);
  }

  const paths: OpenApiDocument["paths"] = {};
  for (const { method, path, fragments } of operations.values()) {
    const template = openApiPath(path);
    paths[template] ??= {};
    paths[template][method.toLowerCase()] = operation(path, template, fragments, schemas);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Browser Use Gateway",
      version,
      description:
        "Every endpoint the gateway serves. `/api/v3` is the Browser Use v3 API as the gateway serves it " +
        "(unknown body fields refused, the gateway's own refusals added; upstream's other errors pass " +
        "through). Every answer carries `X-Request-Id`; the gateway's own errors carry `code` and `requestId`.",
    },
    tags: TAGS,
    paths,
    webhooks: outgoingEvents(schemas),
    components: { schemas: sortedKeys(schemas.components), securitySchemes: SECURITY_SCHEMES },
  };
}

/**
 * A route's path as an OpenAPI path template: `:name` (and any `{regex}` of it) becomes `{name}`,
 * and a trailing wildcard `{path}`, the rest of the path (OpenAPI has no wildcard; the name `path`
 * is kept for it, and test/response-conformance.ts matches it across segments).
 */
export function openApiPath(route: string): string {
  return route.replace(/:(\w+)(\{[^}]*\})?/g, "{$1}").replace(/\/\*$/, "/{path}");
}

/** One operation: its fragments merged (middleware in order, then the route's own words). */
function operation(
  path: string,
  template: string,
  fragments: DocFragment[],
  schemas: SchemaConverter,
): Operation {
  const surface = SURFACES.find((s) => `${path}/`.startsWith(s.prefix));
  const relays = fragments.some((f) => f.callsUpstream);
  const error = relays ? RELAYED_ERROR : ERROR_REF;
  const merged: DocFragment = {};
  const responses: Record<number, ResponseSpec> = {
    ...surface?.responses,
    ...(relays ? UPSTREAM_FAILURES : {}),
  };
  const parameters: Record<string, unknown>[] = [];
  let body: (DocFragment["body"] & { validated?: z.core.$ZodType }) | undefined;
  // The route's own words (describeRoute's, the one with an operationId) go last, so they win.
  const ordered = [...fragments.filter((f) => !f.operationId), ...fragments.filter((f) => f.operationId)];
  for (const f of ordered) {
    for (const key of ["operationId", "summary", "description", "security"] as const) {
      if (f[key] !== undefined) Object.assign(merged, { [key]: f[key] });
    }
    for (const [status, spec] of Object.entries(f.responses ?? {})) {
      responses[Number(status)] = joined(responses[Number(status)], spec);
    }
    if (f.body) body = { ...body, ...f.body };
    for (const input of f.inputs ?? []) {
      if (input.target === "json") body = { required: true, ...body, validated: input.schema };
      else parameters.push(...parametersOf(input.target, input.schema, schemas));
    }
    for (const h of f.headers ?? []) {
      parameters.push({
        name: h.name,
        in: "header",
        description: h.description,
        required: h.required === true,
        schema: { type: "string" },
      });
    }
  }
  // Every templated name is a path parameter, validated by the route or not.
  for (const [, name] of template.matchAll(/\{(\w+)\}/g)) {
    if (!parameters.some((p) => p.in === "path" && p.name === name)) {
      parameters.push({ name, in: "path", required: true, schema: { type: "string" } });
    }
  }
  const bodySchema = body?.validated ?? body?.schema;
  return {
    tags: [surface?.tag(path) ?? "Service"],
    ...(merged.summary ? { summary: merged.summary } : {}),
    ...(merged.description ? { description: merged.description } : {}),
    ...(merged.operationId ? { operationId: merged.operationId } : {}),
    ...(merged.security ? { security: merged.security } : {}),
    ...(parameters.length ? { parameters } : {}),
    ...(bodySchema
      ? {
          requestBody: {
            required: body?.required ?? true,
            ...(body?.description ? { description: body.description } : {}),
            content: { "application/json": { schema: schemas.convert(bodySchema) } },
          },
        }
      : {}),
    responses: {
      ...Object.fromEntries(
        Object.entries(responses).map(([status, spec]) => [
          status,
          response(Number(status), spec, error, schemas),
        ]),
      ),
      default: {
        description: relays
          ? "Any other error is upstream's, passed through with its status and body as it came."
          : "An error of the gateway's.",
        content: { "application/json": { schema: error } },
      },
    },
  };
}

/**
 * One status described by several handlers (jsonBody's 422 and validate's, tenantAuth's 403 and a
 * policy's): every description, the later body schema and all the headers.
 */
function joined(before: ResponseSpec | undefined, spec: ResponseSpec): ResponseSpec {
  if (before === undefined || isSchema(before) || isSchema(spec)) return spec;
  const a = typeof before === "string" ? { description: before } : (before as ResponseDetail);
  const b = typeof spec === "string" ? { description: spec } : spec;
  return {
    ...a,
    ...b,
    description: a.description === b.description ? b.description : `${a.description}. ${b.description}`,
    headers: a.headers || b.headers ? { ...a.headers, ...b.headers } : undefined,
  };
}

/** The parameters of a query, path or header schema: one per property of its object. */
function parametersOf(
  target: "query" | "param" | "header",
  schema: z.core.$ZodType,
  schemas: SchemaConverter,
): Record<string, unknown>[] {
  const where = target === "param" ? "path" : target;
  const json = schemas.convert(schema) as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || (json.required ?? []).includes(name),
    schema: property,
  }));
}

function response(
  status: number,
  spec: ResponseSpec,
  error: JsonSchema,
  schemas: SchemaConverter,
): Record<string, unknown> {
  const isError = status >= 400;
  if (typeof spec === "string") {
    return { description: spec, ...(isError ? { content: { "application/json": { schema: error } } } : {}) };
  }
  if (isSchema(spec)) {
    return {
      description: STATUS_TEXT[status] ?? String(status),
      content: { "application/json": { schema: schemas.convert(spec) } },
    };
  }
  const content: Record<string, unknown> = {};
  if (spec.schema) content["application/json"] = { schema: schemas.convert(spec.schema) };
  else if (isError) content["application/json"] = { schema: error };
  for (const type of [spec.text ?? []].flat()) content[type] = { schema: { type: "string" } };
  return {
    description: spec.description,
    ...(spec.headers
      ? {
          headers: Object.fromEntries(
            Object.entries(spec.headers).map(([name, description]) => [
              name,
              { description, schema: { type: "string" } },
            ]),
          ),
        }
      : {}),
    ...(Object.keys(content).length ? { content } : {}),
  };
}

function isSchema(spec: ResponseSpec): spec is z.core.$ZodType {
  return typeof spec === "object" && "_zod" in spec;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function sortedKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));
}
