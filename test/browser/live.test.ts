import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, api, launch, newTenant, openPage, screenshot, signIn, startSession } from "./harness";

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

describe("dashboard: live", () => {
  it("shows a session started through the API while it runs, and drops it when it ends, without a reload", async () => {
    const t = await newTenant("live");
    const other = await newTenant("live-other");
    const { page, errors } = await openPage(browser);
    await signIn(page, t.key);
    await page.getByRole("link", { name: "Live" }).click();
    await page.getByText("Nothing is running.").waitFor();
    // Marks this document: a reload would lose it.
    await page.evaluate("window.sameDocument = true");

    const s = await api<{ id: string; liveUrl: string }>(t.key, "/api/v3/sessions", {
      body: { task: "run until stopped [emu outcome=hang]" },
    });
    const theirs = await startSession(other.key, "not yours [emu outcome=hang]");
    const row = page.locator(`#live-table tr[data-id="${s.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('[data-field="status"]').textContent()).toBe("running");
    expect(await row.locator('[data-field="costUsd"]').textContent()).toMatch(/^\$\d+(\.\d+)?$/);
    expect(await row.getByRole("link").getAttribute("href")).toBe(s.liveUrl);
    expect(await page.locator(`tr[data-id="${theirs.id}"]`).count()).toBe(0);
    await screenshot(page, "live-tenant");

    // The operator sees both, each under its tenant's name.
    const { page: adminPage } = await openPage(browser);
    await signIn(adminPage, ADMIN_TOKEN);
    await adminPage.getByRole("link", { name: "Live" }).click();
    const adminRow = adminPage.locator(`#live-table tr[data-id="${s.id}"]`);
    await adminRow.waitFor();
    expect(await adminRow.textContent()).toContain(t.tenantName);
    await adminPage.locator(`#live-table tr[data-id="${theirs.id}"]`).waitFor();
    await screenshot(adminPage, "live-admin");
    await adminPage.context().close();

    await api(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
    await api(other.key, `/api/v3/sessions/${theirs.id}/stop`, { body: { strategy: "session" } });
    await row.waitFor({ state: "detached", timeout: 10_000 });
    await page.getByText("Nothing is running.").waitFor();
    expect(await page.evaluate("window.sameDocument")).toBe(true);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
