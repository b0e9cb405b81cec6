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

  it("keeps outputs nested in outputs as written, at every level", () => {
    // Each node is walked once: an output nested in one was swapped when it came by (walked again
    // by every output around it, 1.2 MB at 1,500 levels took 1.8-2.8 s, against 0.13 s now).
    const levels = 1_500;
    const siblings = Array.from({ length: 100 }, (_, i) => `"a${i}":1`).join(",");
    const text = `{"totalCostUsd":"0.10","totalInputTokens":10.0,${`"output":{${siblings},`.repeat(levels)}"x":1.0${"}".repeat(levels)}}`;
    const parsed = parseUpstreamJson(text) as Record<string, unknown>;
    expect(parsed.totalInputTokens).toBe(10);
    expect(JSON.stringify(parsed).endsWith(`"x":1.0${"}".repeat(levels + 1)}`)).toBe(true);
  });

  it("keeps what the gateway reads (top-level figures) plain numbers and strings", () => {
    const text = `{"id":"s","totalCostUsd":"0.10","totalInputTokens":1.0e3,"totalOutputTokens":20,"stepCount":3.0,"output":{"tokens":{"output":5.0},"n":1E400,"z":-0}}`;
    const v = parseUpstreamJson(text) as Record<string, unknown>;
    expect(v.totalCostUsd).toBe("0.10");
    expect(v.totalInputTokens).toBe(1000);
    expect(v.totalOutputTokens).toBe(20);
    expect(v.stepCount).toBe(3);
    expect(JSON.stringify(v.output)).toBe(`{"tokens":{"output":5.0},"n":1E400,"z":-0}`);
    // Duplicate members: the one JSON.parse keeps, as written.
    expect(JSON.stringify(parseUpstreamJson(`{"output":{"a":2,"a":1.0}}`))).toBe(`{"output":{"a":1.0}}`);
    expect(JSON.stringify(parseUpstreamJson(`{"output":1.0,"output":{"b":2.0}}`))).toBe(
      `{"output":{"b":2.0}}`,
    );
  });
});
