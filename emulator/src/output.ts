/**
 * Builds the smallest value that conforms to a JSON Schema, for tasks that ask for structured
 * output (`outputSchema`). It covers what `z.toJSONSchema` and hand-written schemas use: objects
 * (every property, required or not), arrays (one item, or `minItems`), enums and consts (the
 * first value), strings (format-aware), numbers within their bounds, booleans, null, local
 * `$ref`s, and anyOf/oneOf/allOf (the first non-null branch; allOf merged).
 */

type Schema = Record<string, unknown>;

const MAX_DEPTH = 12;

export function sampleFromSchema(schema: unknown): unknown {
  const root = isObject(schema) ? schema : {};
  return sample(root, root, 0);
}

function sample(schema: Schema, root: Schema, depth: number): unknown {
  if (depth > MAX_DEPTH) return null;
  if (typeof schema.$ref === "string") return sample(resolveRef(schema.$ref, root), root, depth + 1);
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if (Array.isArray(schema.allOf)) {
    const merged = schema.allOf.filter(isObject).reduce<Schema>((acc, part) => mergeSchemas(acc, part), {});
    return sample(mergeSchemas(withoutKeys(schema, ["allOf"]), merged), root, depth + 1);
  }
  const branches = [schema.anyOf, schema.oneOf].find(Array.isArray);
  if (branches) {
    const options = branches.filter(isObject);
    const pick = options.find((b) => b.type !== "null") ?? options[0];
    return pick ? sample(pick, root, depth + 1) : null;
  }
  if ("default" in schema) return schema.default;
  switch (primaryType(schema)) {
    case "object":
      return sampleObject(schema, root, depth);
    case "array": {
      const items = isObject(schema.items) ? schema.items : {};
      const count = Math.max(1, typeof schema.minItems === "number" ? schema.minItems : 1);
      return Array.from({ length: count }, () => sample(items, root, depth + 1));
    }
    case "string":
      return sampleString(schema);
    case "integer":
      return sampleNumber(schema, true);
    case "number":
      return sampleNumber(schema, false);
    case "boolean":
      return true;
    case "null":
      return null;
    default:
      return "example";
  }
}

function sampleObject(schema: Schema, root: Schema, depth: number): Record<string, unknown> {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const out: Record<string, unknown> = {};
  for (const [key, sub] of Object.entries(properties)) {
    out[key] = sample(isObject(sub) ? sub : {}, root, depth + 1);
  }
  // Required keys without a declared property still need a value.
  for (const key of Array.isArray(schema.required) ? schema.required : []) {
    if (typeof key === "string" && !(key in out)) out[key] = "example";
  }
  return out;
}

function sampleString(schema: Schema): string {
  const byFormat: Record<string, string> = {
    "date-time": "2026-01-01T00:00:00Z",
    date: "2026-01-01",
    time: "00:00:00",
    email: "agent@example.com",
    uri: "https://example.com",
    url: "https://example.com",
    uuid: "00000000-0000-4000-8000-000000000000",
    hostname: "example.com",
    ipv4: "127.0.0.1",
  };
  let text = (typeof schema.format === "string" && byFormat[schema.format]) || "example";
  if (typeof schema.maxLength === "number") text = text.slice(0, schema.maxLength);
  if (typeof schema.minLength === "number" && text.length < schema.minLength) {
    text = text.padEnd(schema.minLength, "x");
  }
  return text;
}

function sampleNumber(schema: Schema, integer: boolean): number {
  const min = numeric(schema.minimum) ?? numeric(schema.exclusiveMinimum);
  const max = numeric(schema.maximum) ?? numeric(schema.exclusiveMaximum);
  let value = min ?? (max !== undefined && max < 0 ? max : 0);
  if (schema.exclusiveMinimum !== undefined && value === numeric(schema.exclusiveMinimum)) value += 1;
  if (schema.exclusiveMaximum !== undefined && value === numeric(schema.exclusiveMaximum)) value -= 1;
  return integer ? Math.ceil(value) : value;
}

function primaryType(schema: Schema): string | undefined {
  if (Array.isArray(schema.type)) return schema.type.find((t) => t !== "null") ?? schema.type[0];
  if (typeof schema.type === "string") return schema.type;
  if (isObject(schema.properties)) return "object";
  if (schema.items !== undefined) return "array";
  return undefined;
}

function resolveRef(ref: string, root: Schema): Schema {
  if (!ref.startsWith("#")) return {};
  let node: unknown = root;
  for (const part of ref.slice(1).split("/").filter(Boolean)) {
    node = isObject(node) ? node[part.replace(/~1/g, "/").replace(/~0/g, "~")] : undefined;
  }
  return isObject(node) ? node : {};
}

function mergeSchemas(a: Schema, b: Schema): Schema {
  const merged: Schema = { ...a, ...b };
  if (isObject(a.properties) || isObject(b.properties)) {
    merged.properties = {
      ...(isObject(a.properties) ? a.properties : {}),
      ...(isObject(b.properties) ? b.properties : {}),
    };
  }
  return merged;
}

function withoutKeys(schema: Schema, keys: string[]): Schema {
  return Object.fromEntries(Object.entries(schema).filter(([k]) => !keys.includes(k)));
}

function numeric(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

function isObject(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
