import * as z from "zod/mini";

/** A JSON Schema (draft 2020-12, which is what OpenAPI 3.1 schema objects are). */
export type JsonSchema = Record<string, unknown>;

const COMPONENT_REF = "#/components/schemas/";

/**
 * Turns zod schemas into OpenAPI 3.1 schema objects with zod's own `z.toJSONSchema`, as their
 * input: what a client may send, and what the gateway (or upstream) may answer, since answers are
 * checked by parsing too. A schema in `names` becomes a component, referenced wherever it occurs;
 * the rest are inlined. Objects keep zod's mode: `z.object` allows more fields (upstream may add
 * some), `z.strictObject` does not (nothing the gateway did not mean to send gets through).
 */
export class SchemaConverter {
  /** Every named schema met so far, by name: the document's `components.schemas`. */
  readonly components: Record<string, JsonSchema> = {};
  readonly #names: z.core.$ZodRegistry<{ id: string }>;
  // Many operations share a schema (an answer, a path id); converting is the slow part of a build.
  readonly #converted = new Map<z.core.$ZodType, JsonSchema>();

  constructor(names: Record<string, z.core.$ZodType>) {
    this.#names = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(names)) this.#names.add(schema, { id });
  }

  /** The schema object of `schema`: a `$ref` when it is named, inline otherwise. */
  convert(schema: z.core.$ZodType): JsonSchema {
    const known = this.#converted.get(schema);
    if (known) return known;
    const {
      $schema: _,
      $defs,
      ...json
    } = z.toJSONSchema(schema, {
      io: "input",
      metadata: this.#names,
      // Refinements and preprocessing are checks, not shapes: what is left is the shape.
      unrepresentable: "any",
      override: tidy,
    }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    for (const [id, def] of Object.entries($defs ?? {})) this.components[id] ??= pointAtComponents(def);
    const converted = pointAtComponents(json);
    this.#converted.set(schema, converted);
    return converted;
  }
}

/**
 * Two fixes to zod's output: a default over a preprocessed value (every query parameter with one)
 * is lost in input mode, and every `z.int()` says it is a safe integer, which is noise here.
 */
function tidy(ctx: { zodSchema: z.core.$ZodTypes; jsonSchema: JsonSchema }): void {
  const { zodSchema, jsonSchema } = ctx;
  const def = zodSchema._zod.def;
  if (def.type === "default" && !("default" in jsonSchema)) jsonSchema.default = def.defaultValue;
  if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
  if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
}

/** zod refers to named schemas as `#/$defs/Name`; in the document they are components. */
function pointAtComponents<T>(value: T): T {
  if (Array.isArray(value)) return value.map(pointAtComponents) as T;
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] =
      key === "$ref" && typeof item === "string" && item.startsWith("#/$defs/")
        ? COMPONENT_REF + item.slice("#/$defs/".length)
        : pointAtComponents(item);
  }
  return out as T;
}
