import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountView, type SessionResponse } from "../../src/v3/schemas";
import { type Harness, expectShape, micros, startHarness } from "./helpers";

// Money: exact decimal strings, per-model prices, directives, budgets and browser refunds.
let h: Harness;
const interval = 10;

beforeAll(async () => {
  h = await startHarness({ stepMs: 10 });
});
afterAll(() => h.close());

function parts(s: SessionResponse) {
  return { llm: micros(s.llmCostUsd), proxy: micros(s.proxyCostUsd), browser: micros(s.browserCostUsd) };
}

function expectExactSum(s: SessionResponse) {
  const p = parts(s);
  expect(micros(s.totalCostUsd), JSON.stringify(s)).toBe(p.llm + p.proxy + p.browser);
}

describe("session costs", () => {
  it("makes totalCostUsd the exact sum of its parts for every kind of task", async () => {
    const runs = await Promise.all([
      h.client.run("a [emu steps=3]", { model: "bu-mini", interval }),
      h.client.run("b [emu steps=3]", { model: "bu-max", proxyCountryCode: null, interval }),
      h.client.run("c [emu steps=3]", { model: "claude-opus-4.7", useOwnKey: true, interval }),
      h.client.run("d [emu steps=7 cost=0.0333]", { model: "gpt-5.4-mini", interval }),
    ]);
    for (const s of runs) {
      expectExactSum(s);
      expect(s.totalInputTokens).toBeGreaterThan(0);
      for (const field of [
        "llmCostUsd",
        "proxyCostUsd",
        "browserCostUsd",
        "totalCostUsd",
        "proxyUsedMb",
      ] as const) {
        expect(s[field]).toMatch(/^\d+(\.\d{1,6})?$/);
      }
    }
    // No proxy, no proxy cost or traffic.
    expect(runs[1]).toMatchObject({ proxyCostUsd: "0", proxyUsedMb: "0" });
  });

  it("prices models in tiers: bu-mini below bu-max below Opus", async () => {
    const run = (model: "bu-mini" | "bu-max" | "claude-opus-4.7") =>
      h.client.run("tier [emu steps=1]", { model, proxyCountryCode: null, interval });
    const [mini, max, opus] = await Promise.all([run("bu-mini"), run("bu-max"), run("claude-opus-4.7")]);
    expect(parts(mini).llm).toBeLessThan(parts(max).llm);
    expect(parts(max).llm).toBeLessThan(parts(opus).llm);
    // Opus: 2,000 input tokens at $6/M + 200 output at $30/M = $0.018.
    expect(opus.llmCostUsd).toBe("0.018");
  });

  it("charges a directive's cost per step exactly, split across the parts", async () => {
    const proxied = await h.client.run("exact [emu steps=3 cost=0.02]", { interval });
    expect(proxied.totalCostUsd).toBe("0.06");
    // Per step: browser 10%, proxy 20%, LLM the rest.
    expect(parts(proxied)).toEqual({ llm: 42_000, proxy: 12_000, browser: 6_000 });

    const direct = await h.client.run("exact [emu steps=3 cost=0.02]", { proxyCountryCode: null, interval });
    expect(direct.totalCostUsd).toBe("0.06");
    expect(parts(direct)).toEqual({ llm: 54_000, proxy: 0, browser: 6_000 });
  });

  it("stops the task once maxCostUsd is reached, overshooting by at most one step", async () => {
    const s = await h.client.run("budget [emu steps=50 cost=0.01]", { maxCostUsd: "0.035", interval });
    expect(s).toMatchObject({ status: "stopped", isTaskSuccessful: false, maxCostUsd: "0.035" });
    expect(micros(s.totalCostUsd)).toBeGreaterThanOrEqual(35_000);
    expect(micros(s.totalCostUsd)).toBeLessThan(35_000 + 10_000);
    expect(s.stepCount).toBe(4);
    expectExactSum(s);
  });

  it("accepts maxCostUsd as a number and echoes it as a string; the default is 10", async () => {
    const numeric = await h.client.sessions.create({ task: "n [emu steps=1]", maxCostUsd: 0.5 });
    expect(numeric.maxCostUsd).toBe("0.5");
    const plain = await h.client.sessions.create({ task: "p [emu steps=1]" });
    expect(plain.maxCostUsd).toBe("10");
  });

  it("applies a follow-up's maxCostUsd to the whole session", async () => {
    const first = await h.client.run("one [emu steps=2 cost=0.01]", { keepAlive: true, interval });
    expect(first.totalCostUsd).toBe("0.02");
    const second = await h.client.run("two [emu steps=10 cost=0.01]", {
      sessionId: first.id,
      maxCostUsd: "0.05",
      interval,
    });
    expect(second).toMatchObject({
      status: "idle",
      isTaskSuccessful: false,
      totalCostUsd: "0.05",
      stepCount: 5,
    });
  });

  it("takes session spend off the account balance", async () => {
    const before = expectShape(AccountView, await h.client.billing.account());
    await h.client.run("spend [emu steps=2 cost=0.25]", { interval });
    const after = expectShape(AccountView, await h.client.billing.account());
    expect(Math.round((before.totalCreditsBalanceUsd - after.totalCreditsBalanceUsd) * 1e6)).toBe(500_000);
  });
});

describe("browser costs", () => {
  it("charges the whole timeout up front and refunds unused minutes on stop", async () => {
    const b = await h.client.browsers.create({ timeout: 240 });
    expect(b.browserCost).toBe("0.08"); // 4 hours at $0.02/hour
    await h.control("POST", "/clock", { advanceMs: 90_000 });
    const stopped = await h.client.browsers.stop(b.id);
    // 1.5 minutes used bills as 2: $0.02 × 2/60, rounded up to a whole micro-USD.
    expect(stopped.browserCost).toBe("0.000667");
  });

  it("stops a browser at its timeout, fully charged", async () => {
    const b = await h.client.browsers.create({ timeout: 1 });
    await h.control("POST", "/clock", { advanceMs: 61_000 });
    const later = await h.client.browsers.get(b.id);
    expect(later).toMatchObject({ status: "stopped", browserCost: "0.000334" });
    expect(Date.parse(later.finishedAt ?? "")).toBe(Date.parse(later.timeoutAt));
  });
});
