import * as z from "zod/mini";

/** Where a value came from, as FastAPI names it in the first element of `loc`. */
export type InputSource = "body" | "query" | "path" | "header";

/** One item of FastAPI's 422 `detail` list (pydantic v2 wording). */
export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input?: unknown;
}

/**
 * Parses `value` with `schema` and, on failure, returns the FastAPI-style issue list.
 * Both the emulator and the gateway answer bad input with these, so a client sees the
 * same 422 body whichever of them refused it.
 */
export function parseInput<S extends z.core.$ZodType>(
  schema: S,
  source: InputSource,
  value: unknown,
): { ok: true; data: z.output<S> } | { ok: false; issues: ValidationIssue[] } {
  const result = z.safeParse(schema, value, { reportInput: true });
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, issues: result.error.issues.flatMap((issue) => toValidationIssues(issue, source)) };
}

/** The issue FastAPI reports for a body that is not valid JSON. */
export function jsonInvalidIssue(): ValidationIssue {
  return { type: "json_invalid", loc: ["body", 0], msg: "JSON decode error", input: {} };
}

/** The gateway's refusal of a body nested deeper than it reads (FastAPI has no such limit). */
export function jsonTooDeepIssue(max: number): ValidationIssue {
  return { type: "json_invalid", loc: ["body"], msg: `JSON nested more than ${max} levels deep` };
}

/** The issue FastAPI reports for a required body that was not sent. */
export function bodyMissingIssue(): ValidationIssue {
  return { type: "missing", loc: ["body"], msg: "Field required", input: null };
}

function toValidationIssues(issue: z.core.$ZodIssue, source: InputSource): ValidationIssue[] {
  const loc = [source, ...issue.path.map((p) => (typeof p === "number" ? p : String(p)))];
  const input = "input" in issue ? issue.input : undefined;
  const item = (type: string, msg: string, at = loc): ValidationIssue =>
    input === undefined ? { type, loc: at, msg } : { type, loc: at, msg, input };

  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return [{ type: "missing", loc, msg: "Field required", input: null }];
      if (issue.expected === "int" && typeof input === "number") {
        return [
          item("int_from_float", "Input should be a valid integer, got a number with a fractional part"),
        ];
      }
      return [item(...invalidTypeWording(issue.expected))];
    case "too_big":
      return [item(...boundWording("at most", issue.origin, issue.maximum, issue.inclusive))];
    case "too_small":
      return [item(...boundWording("at least", issue.origin, issue.minimum, issue.inclusive))];
    case "invalid_format":
      if (issue.format === "uuid" || issue.format === "guid") {
        return [item("uuid_parsing", "Input should be a valid UUID, invalid character or length")];
      }
      if (issue.format === "datetime") return [item("datetime_parsing", "Input should be a valid datetime")];
      return [
        item(
          "string_pattern_mismatch",
          `String should match pattern '${patternSource(issue.pattern) ?? issue.format}'`,
        ),
      ];
    case "invalid_value":
      return [
        item(
          issue.values.length === 1 ? "literal_error" : "enum",
          `Input should be ${listWording(issue.values)}`,
        ),
      ];
    case "unrecognized_keys":
      return issue.keys.map((key) => ({
        type: "extra_forbidden",
        loc: [...loc, key],
        msg: "Extra inputs are not permitted",
        input: (issue.input as Record<string, unknown> | undefined)?.[key],
      }));
    case "invalid_union": {
      // Report the branch that got furthest, as pydantic reports the most specific failure.
      const branches = issue.errors.filter((errs) => errs.length > 0);
      const best = branches.find((errs) => errs.every((e) => e.code !== "invalid_type")) ?? branches[0];
      if (best)
        return best.flatMap((e) => toValidationIssues({ ...e, path: [...issue.path, ...e.path] }, source));
      return [item("union_error", "Input does not match any allowed type")];
    }
    case "custom": {
      // A schema can name the pydantic error it stands for (see the query coercions in schemas).
      const pydanticType = issue.params?.pydanticType;
      if (typeof pydanticType === "string") return [item(pydanticType, issue.message)];
      return [item("value_error", `Value error, ${issue.message}`)];
    }
    default:
      return [item("value_error", issue.message)];
  }
}

function invalidTypeWording(expected: string): [string, string] {
  switch (expected) {
    case "string":
      return ["string_type", "Input should be a valid string"];
    case "int":
      return ["int_parsing", "Input should be a valid integer, unable to parse string as an integer"];
    case "number":
      return ["float_parsing", "Input should be a valid number, unable to parse string as a number"];
    case "boolean":
      return ["bool_parsing", "Input should be a valid boolean, unable to interpret input"];
    case "array":
      return ["list_type", "Input should be a valid list"];
    case "object":
      return ["model_attributes_type", "Input should be a valid dictionary or object to extract fields from"];
    case "record":
      return ["dict_type", "Input should be a valid dictionary"];
    case "null":
      return ["none_required", "Input should be None"];
    default:
      return ["value_error", `Input should be a valid ${expected}`];
  }
}

function boundWording(
  side: "at most" | "at least",
  origin: string,
  bound: number | bigint,
  inclusive = true,
): [string, string] {
  const max = side === "at most";
  if (origin === "string") {
    const s = Number(bound) === 1 ? "" : "s";
    return [
      max ? "string_too_long" : "string_too_short",
      `String should have ${side} ${bound} character${s}`,
    ];
  }
  if (origin === "array" || origin === "set") {
    const s = Number(bound) === 1 ? "" : "s";
    return [max ? "too_long" : "too_short", `List should have ${side} ${bound} item${s} after validation`];
  }
  if (max) {
    return inclusive
      ? ["less_than_equal", `Input should be less than or equal to ${bound}`]
      : ["less_than", `Input should be less than ${bound}`];
  }
  return inclusive
    ? ["greater_than_equal", `Input should be greater than or equal to ${bound}`]
    : ["greater_than", `Input should be greater than ${bound}`];
}

function listWording(values: readonly unknown[]): string {
  const quoted = values.map((v) => (typeof v === "string" ? `'${v}'` : String(v)));
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}`;
}

/** zod reports a regex as "/source/flags"; pydantic quotes the bare source. */
function patternSource(pattern: string | undefined): string | undefined {
  const match = pattern === undefined ? null : /^\/(.*)\/[a-z]*$/s.exec(pattern);
  return match ? match[1] : pattern;
}
