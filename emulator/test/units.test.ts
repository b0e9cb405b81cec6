import { describe, expect, it } from "vitest";
import * as z from "zod";
import { parseTask } from "../src/directives";
import { formatMicros, toMicros } from "../src/money";
import { sampleFromSchema } from "../src/output";
import { stepUsage } from "../src/pricing";
import { pageMessages } from "../src/sessions";
import type { MessageRecord } from "../src/state";

// The pure pieces, where edge cases are cheaper to pin than over HTTP.
describe("directives", () => {
  it("reads every key, strips the block and merges several", () => {
    const parsed = parseTask(
      'Buy milk [emu steps=5 cost=0.02] now [emu stepMs=50 outcome=fail output="No milk"]',
    );
    expect(parsed).toEqual({
      ok: true,
      text: "Buy milk now",
      directive: { steps: 5, costMicros: 20_000, stepMs: 50, outcome: "fail", output: "No milk" },
    });
  });

  it("reads outputJson as percent-encoded JSON text, and refuses what is not JSON", () => {
    const json = '{"id": 12345678901234567890, "tags": ["a b"]}';
    expect(parseTask(`Find [emu outputJson=${encodeURIComponent(json)}]`)).toEqual({
      ok: true,
      text: "Find",
      directive: { outputJson: json },
    });
    for (const bad of ["%7B", "%E0%A4%A", "nope"])
      expect(parseTask(`[emu outputJson=${bad}]`).ok, bad).toBe(false);
  });

  it("leaves a task without directives alone", () => {
    expect(parseTask("Plain [brackets] here")).toEqual({
      ok: true,
      text: "Plain [brackets] here",
      directive: {},
    });
  });

  it("refuses unknown keys and bad values", () => {
    for (const task of [
      "[emu speed=3]",
      "[emu steps=-1]",
      "[emu cost=abc]",
      "[emu outcome=maybe]",
      "[emu steps]",
    ]) {
      expect(parseTask(task).ok, task).toBe(false);
    }
  });
});

describe("money", () => {
  it("parses and formats decimals exactly", () => {
    expect(toMicros("0.0123")).toBe(12_300);
    expect(toMicros(0.1)).toBe(100_000);
    expect(toMicros("+.5")).toBe(500_000);
    expect(toMicros("1.0000005")).toBe(1_000_001);
    expect(formatMicros(4_320)).toBe("0.00432");
    expect(formatMicros(10_000_000)).toBe("10");
    expect(formatMicros(0)).toBe("0");
  });

  it("splits an exact step cost into parts that sum to it", () => {
    for (const exactMicros of [0, 1, 7, 33_333, 20_000]) {
      for (const proxied of [true, false]) {
        const u = stepUsage({ model: "bu-mini", proxied, useOwnKey: false, stepMs: 10, exactMicros });
        expect(u.llmMicros + u.proxyMicros + u.browserMicros).toBe(exactMicros);
      }
    }
  });
});

describe("structured output", () => {
  it("builds a value that the schema accepts", () => {
    const Schema = z.object({
      id: z.uuid(),
      when: z.iso.datetime(),
      count: z.int().min(3),
      ratio: z.number().gt(0),
      nested: z.object({ flag: z.boolean(), note: z.string().nullable() }),
      items: z.array(z.object({ label: z.string().min(10) })).min(2),
      choice: z.union([z.literal("x"), z.literal("y")]),
    });
    const value = sampleFromSchema(z.toJSONSchema(Schema));
    expect(Schema.safeParse(value).success, JSON.stringify(value)).toBe(true);
  });

  it("follows local $refs", () => {
    const schema = {
      type: "object",
      properties: { a: { $ref: "#/$defs/A" } },
      $defs: { A: { type: "array", items: { type: "integer", minimum: 2 } } },
    };
    expect(sampleFromSchema(schema)).toEqual({ a: [2] });
  });
});

describe("message cursors", () => {
  const messages: MessageRecord[] = Array.from({ length: 7 }, (_, i) => ({
    id: `00000000-0000-4000-8000-00000000000${i}`,
    role: "ai",
    type: "browser_action",
    data: "",
    summary: "",
    createdAt: i,
  }));
  const ids = (page: MessageRecord[]) => page.map((m) => Number(m.id.slice(-1)));

  it("pages between two cursors oldest first", () => {
    const r = pageMessages(messages, { after: messages[1]?.id, before: messages[6]?.id, limit: 2 });
    expect({ ids: ids(r.page), hasMore: r.hasMore }).toEqual({ ids: [2, 3], hasMore: true });
  });

  it("answers an empty page past the newest message", () => {
    const r = pageMessages(messages, { after: messages[6]?.id, limit: 10 });
    expect({ ids: ids(r.page), hasMore: r.hasMore }).toEqual({ ids: [], hasMore: false });
  });
});
