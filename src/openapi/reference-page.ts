/**
 * `GET /docs`: the OpenAPI document as one self-contained HTML page, rendered here from the
 * document itself. No script at all, and one inline style sheet allowed by its hash, so nothing third-party runs on the gateway's origin (where an
 * operator may hold an admin token), and it works where the operator's browser cannot reach a CDN.
 * For an explorer that sends requests, point one (Scalar, Swagger UI, Postman) at /openapi.json.
 */
import type { OpenApiDocument } from "./document";
import type { JsonSchema } from "./json-schema";
import { PAGE_STYLE } from "./page-style";

type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: JsonSchema };
type Response = { description: string; content?: Record<string, { schema?: JsonSchema }> };
type Operation = {
  tags?: string[];
  summary?: string;
  description?: string;
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, Response>;
};

const COMPONENT = "#/components/schemas/";
const AUTH: Record<string, string> = {
  tenantKey: "tenant key (X-Browser-Use-API-Key)",
  tenantBearer: "tenant key (Bearer)",
  adminToken: "admin token (Bearer)",
};

/** The whole page. */
export function referencePage(doc: OpenApiDocument): string {
  const info = doc.info as { title: string; version: string; description?: string };
  const tags = doc.tags as { name: string; description?: string }[];
  // The events the gateway posts out (`webhooks`) read as operations too, named by their type.
  const events = (doc.webhooks ?? {}) as Record<string, Record<string, Operation>>;
  const operations = [...Object.entries(doc.paths), ...Object.entries(events)].flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path, method, op: op as Operation })),
  );
  const byTag = tags
    .map((tag) => ({ tag, ops: operations.filter((o) => o.op.tags?.[0] === tag.name) }))
    .filter((t) => t.ops.length > 0);
  const schemas = (doc.components as { schemas: Record<string, JsonSchema> }).schemas;

  const nav = byTag
    .map(
      ({ tag, ops }) =>
        `<li><a href="#tag-${id(tag.name)}">${esc(tag.name)}</a><ul>${ops
          .map((o) => `<li><a href="#${anchor(o)}">${esc(o.method.toUpperCase())} ${esc(o.path)}</a></li>`)
          .join("")}</ul></li>`,
    )
    .join("");
  const body = byTag
    .map(
      ({ tag, ops }) =>
        `<h2 id="tag-${id(tag.name)}">${esc(tag.name)}</h2>${tag.description ? `<p>${inline(tag.description)}</p>` : ""}${ops
          .map(operationHtml)
          .join("")}`,
    )
    .join("");
  const components = Object.entries(schemas)
    .map(([name, s]) => `<section id="schema-${id(name)}"><h3>${esc(name)}</h3>${schemaHtml(s)}</section>`)
    .join("");

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(info.title)} ${esc(info.version)}: API reference</title>
<style>${PAGE_STYLE}</style></head>
<body><nav><p><strong>${esc(info.title)}</strong> ${esc(info.version)}</p><p><a href="/openapi.json">openapi.json</a></p><ul>${nav}<li><a href="#schemas">Schemas</a></li></ul></nav>
<main><h1>${esc(info.title)}</h1><p>${inline(info.description ?? "")}</p>${body}<h2 id="schemas">Schemas</h2>${components}</main></body></html>`;
}

function operationHtml(o: { path: string; method: string; op: Operation }): string {
  const { op } = o;
  const auth = op.security?.flatMap((req) => Object.keys(req).map((k) => AUTH[k] ?? k)).join(" or ");
  const params = op.parameters ?? [];
  const body = op.requestBody;
  return `<section class="op" id="${anchor(o)}">
<h3><span class="m m-${esc(o.method)}">${esc(o.method.toUpperCase())}</span> <code>${esc(o.path)}</code></h3>
<p>${esc(op.summary ?? "")}${op.operationId ? ` <small><code>${esc(op.operationId)}</code></small>` : ""}</p>
${op.description ? `<p>${inline(op.description)}</p>` : ""}<p class="auth">${
    o.path.startsWith("/")
      ? `Auth: ${esc(auth ?? "none")}`
      : "Sent by the gateway to your URL, signed (<code>webhook-signature</code>)"
  }</p>
${
  params.length
    ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>about</th></tr>${params
        .map(
          (p) =>
            `<tr><td><code>${esc(p.name)}</code>${p.required ? " <em>required</em>" : ""}</td><td>${esc(p.in)}</td><td>${typeHtml(p.schema ?? {})}</td><td>${inline(p.description ?? "")}</td></tr>`,
        )
        .join("")}</table>`
    : ""
}${
    body
      ? `<h4>Body${body.required ? "" : " (optional)"}</h4>${Object.entries(body.content)
          .map(([type, c]) => `<p><code>${esc(type)}</code></p>${schemaHtml(c.schema ?? {})}`)
          .join("")}`
      : ""
  }<h4>Responses</h4><dl>${Object.entries(op.responses)
    .map(
      ([status, r]) =>
        `<dt>${esc(status)}</dt><dd>${inline(r.description)}${Object.entries(r.content ?? {})
          .map(([type, c]) => `<div><code>${esc(type)}</code> ${schemaHtml(c.schema ?? {})}</div>`)
          .join("")}</dd>`,
    )
    .join("")}</dl></section>`;
}

/** An object's fields as a nested list; anything else as its type. */
function schemaHtml(s: JsonSchema): string {
  const properties = s.properties as Record<string, JsonSchema> | undefined;
  if (!properties) return typeHtml(s);
  const required = new Set((s.required as string[] | undefined) ?? []);
  const items = Object.entries(properties).map(([name, p]) => {
    const nested = p.properties ? schemaHtml(p) : typeHtml(p);
    return `<li><code>${esc(name)}</code>${required.has(name) ? "" : "?"}: ${nested}</li>`;
  });
  const closed = s.additionalProperties === false ? "" : "<li><em>and other fields</em></li>";
  return `<ul class="fields">${items.join("")}${closed}</ul>`;
}

/** A schema as a short type expression: `string (uuid) | null`, `array of SessionResponse`. */
function typeHtml(s: JsonSchema): string {
  const ref = s.$ref as string | undefined;
  if (ref?.startsWith(COMPONENT)) {
    const name = ref.slice(COMPONENT.length);
    return `<a href="#schema-${id(name)}">${esc(name)}</a>`;
  }
  for (const key of ["anyOf", "oneOf"] as const) {
    const options = s[key] as JsonSchema[] | undefined;
    if (options) return options.map(typeHtml).join(" | ") + defaultOf(s);
  }
  if (s.const !== undefined) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  const values = s.enum as unknown[] | undefined;
  if (values) {
    const shown = values.slice(0, 12).map((v) => `<code>${esc(JSON.stringify(v))}</code>`);
    return (
      (values.length > 12 ? `one of ${values.length}: ${shown.join(", ")}, …` : shown.join(" | ")) +
      defaultOf(s)
    );
  }
  if (s.type === "array") return `array of ${typeHtml((s.items as JsonSchema | undefined) ?? {})}`;
  if (s.type === "object") {
    if (s.properties) return schemaHtml(s);
    const values = s.additionalProperties;
    return typeof values === "object" && values ? `map of ${typeHtml(values as JsonSchema)}` : "object";
  }
  const type = Array.isArray(s.type) ? s.type.join(" | ") : ((s.type as string | undefined) ?? "any");
  const bounds = [
    s.format,
    s.minimum !== undefined ? `≥ ${s.minimum}` : undefined,
    s.maximum !== undefined ? `≤ ${s.maximum}` : undefined,
    s.maxLength !== undefined ? `≤ ${s.maxLength} chars` : undefined,
  ].filter((b) => b !== undefined);
  return `${esc(type)}${bounds.length ? ` <small>(${esc(bounds.join(", "))})</small>` : ""}${defaultOf(s)}`;
}

function defaultOf(s: JsonSchema): string {
  return s.default === undefined ? "" : ` <small>= ${esc(JSON.stringify(s.default))}</small>`;
}

function anchor(o: { path: string; method: string; op: Operation }): string {
  return `op-${id(o.op.operationId ?? `${o.method}-${o.path}`)}`;
}

const id = (text: string) => text.replace(/[^A-Za-z0-9_-]+/g, "-");

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/** Escaped text with `code` spans kept. */
function inline(text: string): string {
  return esc(text).replace(/`([^`]+)`/g, "<code>$1</code>");
}
