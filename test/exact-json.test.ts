import { describe, expect, it } from "vitest";
import { parseUpstreamJson } from "../src/lib/exact-json";

const BIG = "12345678901234567890";

describe("parseUpstreamJson", () => {
  it("keeps every number of an output as written, nested or whole, and leaves the rest as numbers", () => {
    const text = `{"sessions":[{"stepCount":3.0,"totalInputTokens":2000,"output":{"a":[${BIG},{"b":10.0}],"c":1,"d":-0}},{"output":${BIG},"maxCostUsd":1e1}]}`;
    const parsed = parseUpstreamJson(text) as { sessions: Record<string, unknown>[] };
    expect(JSON.stringify(parsed)).toBe(
      text.replace('"stepCount":3.0', '"stepCount":3').replace("1e1", "10"),
    );
    // Outside an output, numbers are what the gateway reads, as ever.
    expect(parsed.sessions[0]?.stepCount).toBe(3);
    expect(parsed.sessions[0]?.totalInputTokens).toBe(2000);
    expect(parsed.sessions[1]?.maxCostUsd).toBe(10);
    // An output member nested in an output is part of it.
    const nested = `{"output":{"output":{"x":0.1000000000000000055511},"y":2.50}}`;
    expect(JSON.stringify(parseUpstreamJson(nested))).toBe(nested);
  });

  it("parses as JSON.parse does when no output can hold a number, or the text nests too deep for the reviver", () => {
    const plain = `{"output":"12.50 and ${BIG}","n":${BIG}}`;
    expect(parseUpstreamJson(plain)).toEqual(JSON.parse(plain));
    const deep = `{"output":${"[".repeat(50_000)}1${"]".repeat(50_000)}}`;
    expect(JSON.stringify(parseUpstreamJson(deep))).toBe(deep);
    expect(() => parseUpstreamJson(`{"output":[1,}`)).toThrow(SyntaxError);
  });
});
