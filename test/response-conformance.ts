import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import Ajv2020, { type ValidateFunction } from "ajv/dist/2020";
import addFormats from "ajv-formats";
import worker from "../src/index";

type Media = Record<string, { schema?: unknown }>;
type ResponseDoc = { description: string; content?: Media };
type OperationDoc = { responses: Record<string, ResponseDoc> };
interface Document {
  paths: Record<string, Record<string, OperationDoc>>;
  webhooks?: Record<string, { post?: { requestBody?: { content?: Media } } }>;
}

const DOC_ID = "openapi";
const GATEWAY_ERROR = "#/components/schemas/GatewayError";
const UPSTREAM_ERROR = "#/components/schemas/UpstreamError";

/**
 * Checks answers against the gateway's own OpenAPI document, as served at /openapi.json: the
 * status must be documented for the path and method (by itself, not only as `default`, except for
 * upstream's own errors where the gateway relays them), the media type too, and a JSON body must
 * match its schema. Built once per test
 * file (each runs in an isolate of its own); each schema is compiled when first needed.
 */
class ResponseConformance {
  readonly #ajv: Ajv2020;
  readonly #paths: { template: string; pattern: RegExp; operations: Record<string, OperationDoc> }[];
  readonly #validators = new Map<string, ValidateFunction>();
  readonly #events: Set<string>;

  constructor(doc: Document) {
    this.#events = new Set(
      Object.entries(doc.webhooks ?? {})
        .filter(([, event]) => event.post?.requestBody?.content?.["application/json"]?.schema)
        .map(([type]) => type),
    );
    this.#ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.#ajv);
    this.#ajv.addSchema(doc as object, DOC_ID);
    // A literal segment matches before a parameter, as the router prefers it.
    this.#paths = Object.entries(doc.paths)
      .map(([template, operations]) => ({
        template,
        // `{path}` at the end stands for a route's wildcard (openApiPath): the rest of the path.
        pattern: new RegExp(`^${template.replace(/\{path\}$/, ".*").replace(/\{[^}]+\}/g, "[^/]+")}$`),
        operations,
      }))
      .sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
  }

  /** The problem with an answer, or null when the document allows it. */
  problem(
    method: string,
    path: string,
    status: number,
    contentType: string | null,
    body: string,
  ): string | null {
    if (method === "HEAD") return null;
    const route = this.#paths.find((p) => p.pattern.test(path));
    const operation = route?.operations[method.toLowerCase()];
    if (!route || !operation) {
      // Not in the document: only the gateway's own 404 or 405 may answer it.
      if (status !== 404 && status !== 405) return `no operation in the document, yet answered ${status}`;
      return this.#bodyProblem(GATEWAY_ERROR, body);
    }
    // Not `default`: every status of the gateway's own must be named, so the document lists them
    // all. Only upstream's errors, where an operation relays them, may come with any status.
    const key = [String(status), `${String(status)[0]}XX`].find((k) => operation.responses[k]);
    if (!key) {
      const relays = JSON.stringify(operation.responses.default ?? {}).includes(UPSTREAM_ERROR);
      if (status >= 400 && relays) {
        const problem = this.#bodyProblem(UPSTREAM_ERROR, body);
        return problem && `status ${status} is not documented, and the body is not upstream's: ${problem}`;
      }
      return `status ${status} is not documented for ${method} ${route.template}`;
    }
    const content = (operation.responses[key] as ResponseDoc).content;
    if (!content)
      return body === "" ? null : `documented without a body, yet answered: ${body.slice(0, 300)}`;
    const type = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
    if (!content[type]) {
      return `media type "${type}" is not documented for ${status} (documented: ${Object.keys(content).join(", ")})`;
    }
    if (type !== "application/json") return null;
    const pointer = jsonPointer([
      "paths",
      route.template,
      method.toLowerCase(),
      "responses",
      key,
      "content",
      type,
      "schema",
    ]);
    return this.#bodyProblem(pointer, body);
  }

  /** The problem with an event the gateway posted (its body), or null when the document's `webhooks` allow it. */
  eventProblem(body: string): string | null {
    let type: unknown;
    try {
      type = (JSON.parse(body) as { type?: unknown }).type;
    } catch {
      return `the event is not JSON: ${body.slice(0, 300)}`;
    }
    if (typeof type !== "string" || !this.#events.has(type)) {
      return `event type ${JSON.stringify(type)} is not among the document's webhooks`;
    }
    const pointer = jsonPointer([
      "webhooks",
      type,
      "post",
      "requestBody",
      "content",
      "application/json",
      "schema",
    ]);
    return this.#bodyProblem(pointer, body);
  }

  #bodyProblem(pointer: string, body: string): string | null {
    let validate = this.#validators.get(pointer);
    if (!validate) {
      validate = this.#ajv.compile({ $ref: `${DOC_ID}${pointer}` });
      this.#validators.set(pointer, validate);
    }
    let value: unknown;
    try {
      value = JSON.parse(body);
    } catch {
      return `the body is not JSON: ${body.slice(0, 300)}`;
    }
    if (validate(value)) return null;
    const errors = (validate.errors ?? [])
      .slice(0, 8)
      .map((e) => `  ${e.instancePath || "(body)"} ${e.message ?? ""} ${JSON.stringify(e.params)}`);
    return `the body does not match ${decodeURIComponent(pointer)}:\n${errors.join("\n")}\nbody: ${body.slice(0, 2000)}`;
  }
}

/** A JSON pointer into the document, as a URI fragment (`#/paths/~1healthz/...`). */
function jsonPointer(segments: string[]): string {
  const escaped = segments.map((segment) =>
    encodeURIComponent(segment.replaceAll("~", "~0").replaceAll("/", "~1")),
  );
  return `#/${escaped.join("/")}`;
}

let conformance: Promise<ResponseConformance> | undefined;

async function loadConformance(): Promise<ResponseConformance> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request("https://gateway.test/openapi.json"), env, ctx);
  await waitOnExecutionContext(ctx);
  if (res.status !== 200) throw new Error(`GET /openapi.json answered ${res.status}: ${await res.text()}`);
  return new ResponseConformance((await res.json()) as Document);
}

/** The problem with an answer to `request` by the document, or null when it conforms. */
export async function documentProblem(request: Request, response: Response): Promise<string | null> {
  conformance ??= loadConformance();
  const body = await response.clone().text();
  return (await conformance).problem(
    request.method,
    new URL(request.url).pathname,
    response.status,
    response.headers.get("Content-Type"),
    body,
  );
}

/**
 * Fails (throws) when the gateway's answer to `request` is not what its OpenAPI document says it
 * answers; every call a test makes through `gateway()` passes here.
 */
export async function expectDocumented(request: Request, response: Response): Promise<void> {
  const problem = await documentProblem(request, response);
  if (problem) {
    const { pathname, search } = new URL(request.url);
    throw new Error(
      `${request.method} ${pathname}${search} answered ${response.status}, not as /openapi.json says: ${problem}`,
    );
  }
}

/**
 * Fails (throws) when an event the gateway posted (a hook callback, a budget alert: its body as
 * received) is not what the document's `webhooks` say the gateway posts.
 */
export async function expectDocumentedEvent(body: string): Promise<void> {
  conformance ??= loadConformance();
  const problem = (await conformance).eventProblem(body);
  if (problem) throw new Error(`an event the gateway posted is not as /openapi.json says: ${problem}`);
}
