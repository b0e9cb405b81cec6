import { readFileSync } from "node:fs";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  admin,
  api,
  launch,
  newTenant,
  openPage,
  screenshot,
  sessionEnded,
  signIn,
  startSession,
} from "./harness";

interface Report {
  from: string;
  to: string;
  rows: Record<string, string | number | null>[];
  totals: { totalCostUsd: string; sessions: number };
}

/** Micro-USD of a decimal string, exactly (the test's own sum, independent of the page's). */
const micros = (s: string) => {
  const [whole = "0", frac = ""] = s.split(".");
  return BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, "0"));
};

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

describe("dashboard: spend over time", () => {
  it("draws a tenant's spend by day, totalling exactly what GET /gateway/v1/usage reports, and its CSV", async () => {
    const t = await newTenant("spend");
    for (const [task, model] of [
      ["[emu steps=2 cost=0.0111]", "claude-sonnet-4.6"],
      ["[emu steps=3 cost=0.0207]", "gemini-3-flash"],
    ]) {
      const s = await api<{ id: string }>(t.key, "/api/v3/sessions", {
        body: { task: `spend ${task}`, model },
      });
      await sessionEnded(t.key, s.id);
    }
    const { page, errors } = await openPage(browser);
    await signIn(page, t.key);
    await page.getByRole("link", { name: "Spend" }).click();
    const total = page.locator('#spend-grid tfoot [data-field="total"]');
    await total.waitFor();
    const from = await page.locator("#spend-from").inputValue();
    const to = await page.locator("#spend-to").inputValue();
    const report = await api<Report>(t.key, `/gateway/v1/usage?from=${from}&to=${to}&groupBy=day,tenant`);
    expect(micros(report.totals.totalCostUsd)).toBe(micros("0.0222") + micros("0.0621"));
    expect(await total.textContent()).toBe(`$${report.totals.totalCostUsd}`);
    // Each day's row is the report's row for that day.
    for (const row of report.rows) {
      const cell = page.locator(`#spend-grid tr[data-day="${row.day}"] [data-field="dayTotal"]`);
      expect(await cell.textContent()).toBe(`$${row.totalCostUsd}`);
    }
    expect(await page.locator("#spend-chart canvas").count()).toBe(1);
    await screenshot(page, "spend-tenant");

    // By model: one column per model, the same total.
    await page.getByLabel("model").check();
    await page.locator("#spend-grid caption", { hasText: "by day and model" }).waitFor();
    expect(await page.locator("#spend-grid thead th").allTextContents()).toEqual(
      expect.arrayContaining(["claude-sonnet-4.6", "gemini-3-flash"]),
    );
    expect(await total.textContent()).toBe(`$${report.totals.totalCostUsd}`);

    // The CSV is the report of what is shown, and sums to the same total.
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download CSV" }).click(),
    ]);
    const csv = readFileSync((await download.path()) ?? "", "utf8")
      .trim()
      .split("\r\n");
    const header = csv[0]?.split(",") ?? [];
    expect(header.slice(0, 2)).toEqual(["day", "model"]);
    const costAt = header.indexOf("totalCostUsd");
    const sum = csv.slice(1).reduce((s, line) => s + micros(line.split(",")[costAt] ?? "0"), 0n);
    expect(sum).toBe(micros(report.totals.totalCostUsd));
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("stacks the operator's chart by tenant, each tenant's total as GET /admin/v1/usage reports it", async () => {
    const a = await newTenant("stack-a");
    const b = await newTenant("stack-b");
    for (const [t, cost] of [
      [a, "0.013"],
      [b, "0.0401"],
    ] as const) {
      const s = await startSession(t.key, `stack [emu steps=2 cost=${cost}]`);
      await sessionEnded(t.key, s.id);
    }
    const { page, errors } = await openPage(browser);
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole("link", { name: "Spend" }).click();
    await page.locator("#spend-grid").waitFor();
    const from = await page.locator("#spend-from").inputValue();
    const to = await page.locator("#spend-to").inputValue();
    for (const t of [a, b]) {
      const report = await admin<Report>(
        `/admin/v1/usage?from=${from}&to=${to}&groupBy=&tenantId=${t.tenantId}`,
      );
      const cell = page.locator(`#spend-grid tfoot [data-group="${t.tenantId}"]`);
      expect(await cell.textContent()).toBe(`$${report.totals.totalCostUsd}`);
      expect(await page.locator("#spend-grid thead th").allTextContents()).toContain(t.tenantName);
    }
    await screenshot(page, "spend-admin");
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
