import * as z from "zod/mini";
import { PROXY_COUNTRY_CODES } from "./country-codes";

/**
 * Path and body ids. pydantic's UUID accepts any 8-4-4-4-12 hex string (the nil UUID, other
 * versions), so this is `guid`, not zod's RFC-strict `uuid`.
 */
export const Uuid = z.guid();

/** Timestamps as pydantic emits them: ISO 8601, with `Z`, an offset, or (naive) neither. */
export const DateTime = z.iso.datetime({ offset: true, local: true });

/** The OpenAPI pattern of every decimal-string field (money, megabytes). */
export const DECIMAL_PATTERN = /^(?!^[-+.]*$)[+-]?0*\d*\.?\d*$/;

/** A decimal carried as a string ("0", "0.0123"); the API never sends money as a JSON number. */
export const DecimalString = z.string().check(z.regex(DECIMAL_PATTERN));

/** Money on the wire: a decimal string of US dollars. */
export const MoneyString = DecimalString;

/** OpenAPI `BuModel` enum (spec) joined with the newer list the SDK 3.11.3 ships. */
export const BU_MODELS = [
  // OpenAPI document
  "bu-mini",
  "bu-max",
  "bu-ultra",
  "gemini-3-flash",
  "claude-sonnet-4.6",
  "claude-opus-4.6",
  "claude-opus-4.7",
  "gpt-5.4-mini",
  // SDK 3.11.3 only
  "claude-sonnet-5",
  "claude-opus-4.8",
  "glm-5.2",
  "minimax-m3",
  "grok-4.6",
  "glm-5.3-flash",
  "deepseek-v4-flash-vision",
  "claude-haiku-4.5",
  "gpt-5.2",
  "gpt-5-mini",
  "gpt-5.5",
  "gpt-5.6-sol",
  "gpt-5.6-terra",
  "gpt-5.6-luna",
  "gemini-3-pro",
  "gemini-3.1-pro",
  "gemini-3.5-flash",
] as const;
export const BuModel = z.enum(BU_MODELS);
export type BuModel = z.infer<typeof BuModel>;

export const ThinkingLevel = z.enum(["disabled", "low", "medium", "high"]);
export type ThinkingLevel = z.infer<typeof ThinkingLevel>;

export const ProxyCountryCode = z.enum(PROXY_COUNTRY_CODES);
export type ProxyCountryCode = z.infer<typeof ProxyCountryCode>;

export const BuAgentSessionStatus = z.enum(["created", "idle", "running", "stopped", "timed_out", "error"]);
export type BuAgentSessionStatus = z.infer<typeof BuAgentSessionStatus>;

/** Browser viewport bounds shared by sessions and browsers. */
export const ScreenWidth = z.int().check(z.minimum(320), z.maximum(6144));
export const ScreenHeight = z.int().check(z.minimum(320), z.maximum(3456));

// ---------------------------------------------------------------------------------------------
// Query parameters arrive as strings (or arrays when repeated). FastAPI coerces them, takes the
// last of a repeated scalar, and words its errors as below; these helpers do the same. Each is
// a transform piped into the schema that checks the result (what classic zod's `z.preprocess`
// builds); a transform's context is the bare parse payload, so a refusal goes onto its `issues`.

/** The last value of a repeated query parameter, as Starlette hands a scalar parameter. */
function lastValue(value: unknown): unknown {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/**
 * A query parameter read from its text by `read` (undefined: not of its type, refused with
 * pydantic's `message` and `pydanticType`), then checked by `schema`. A value that is not text
 * (from a caller other than a query string) goes to `schema` as it is.
 */
function queryParsed<S extends z.ZodMiniType>(
  read: (text: string) => unknown,
  refusal: { message: string; pydanticType: string },
  schema: S,
) {
  return z.pipe(
    z.transform((raw, ctx) => {
      const value = lastValue(raw);
      if (typeof value !== "string") return value;
      const parsed = read(value);
      if (parsed !== undefined) return parsed;
      ctx.issues.push({
        code: "custom",
        message: refusal.message,
        params: { pydanticType: refusal.pydanticType },
        input: value,
      });
      return z.NEVER;
    }),
    schema,
  );
}

/** An integer query parameter within [min, max]; wrap with `z._default()` or `z.optional()`. */
export function queryInt(min: number, max?: number) {
  const bounded =
    max === undefined ? z.int().check(z.minimum(min)) : z.int().check(z.minimum(min), z.maximum(max));
  return queryParsed(
    (text) => (/^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : undefined),
    {
      message: "Input should be a valid integer, unable to parse string as an integer",
      pydanticType: "int_parsing",
    },
    bounded,
  );
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on", "t", "y"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off", "f", "n"]);

/** A boolean query parameter: pydantic's words (true/false, 1/0, yes/no, on/off). */
export function queryBool() {
  return queryParsed(
    (text) => {
      const word = text.trim().toLowerCase();
      return TRUE_WORDS.has(word) ? true : FALSE_WORDS.has(word) ? false : undefined;
    },
    { message: "Input should be a valid boolean, unable to interpret input", pydanticType: "bool_parsing" },
    z.boolean(),
  );
}

/** A scalar query parameter checked by `schema` after taking the last repeated value. */
export function queryScalar<S extends z.ZodMiniType>(schema: S) {
  return z.pipe(z.transform(lastValue), schema);
}

/** A repeatable query parameter (`metadata=a&metadata=b`), always read as a list. */
export function queryList() {
  return z.pipe(
    z.transform((raw) => (typeof raw === "string" ? [raw] : raw)),
    z.array(z.string()),
  );
}

/** `pageSize`/`pageNumber` as browsers, profiles and workspaces take them. */
export const PageQuery = z.object({
  pageSize: z._default(queryInt(1, 100), 10),
  pageNumber: z._default(queryInt(1), 1),
});

/** Envelope of the `items` lists (browsers, profiles, workspaces). */
export function itemsPage<S extends z.ZodMiniType>(item: S) {
  return z.object({
    items: z.array(item),
    totalItems: z.int(),
    pageNumber: z.int(),
    pageSize: z.int(),
  });
}

/**
 * A copy of a request object that refuses unknown fields, its refinements kept (what classic
 * zod's `.strict()` makes): the gateway takes only what its policy knows how to judge.
 */
export function strictCopy<S extends z.ZodMiniObject>(
  schema: S,
): z.ZodMiniObject<S["shape"], z.core.$strict> {
  // `z.catchall` types the extra keys as `never` fields; the object's own type is the strict one.
  return z.catchall(schema, z.never()) as unknown as z.ZodMiniObject<S["shape"], z.core.$strict>;
}
