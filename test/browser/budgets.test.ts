import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  admin,
  api,
  GATEWAY,
  launch,
  newTenant,
  openPage,
  screenshot,
  sessionEnded,
  signIn,
  startSession,
} from "./harness";

interface Scope {
  scope: string;
  capUsd: string | null;
  spentUsd: string;
  heldUsd: string;
  remainingUsd: string | null;
}

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

describe("dashboard: sign-in and budgets", () => {
  it("serves the page under a strict Content-Security-Policy, with no inline script", async () => {
    const { page } = await openPage(browser);
    const res = await page.goto(`${GATEWAY}/dashboard/`);
    expect(res?.status()).toBe(200);
    const headers = res?.headers() ?? {};
    expect(headers["content-security-policy"]).toContain("script-src 'self'");
    expect(headers["content-security-policy"]).not.toContain("unsafe-inline");
    expect(headers["x-content-type-options"]).toBe("nosniff");
    expect(headers["referrer-policy"]).toBe("no-referrer");
    const inline = await page.locator("script:not([src])").count();
    expect(inline).toBe(0);
    await page.context().close();
  });

  it("refuses a wrong token and keeps nothing", async () => {
    const { page } = await openPage(browser);
    await page.goto(`${GATEWAY}/dashboard/`);
    await page.getByLabel("Admin token or tenant key").fill("not-the-admin-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("not accepted");
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await page.context().close();
  });

  it("shows a tenant its own budgets, spent exactly as GET /gateway/v1/budget says", async () => {
    const t = await newTenant("budget");
    const s = await startSession(t.key, "Spend a little [emu steps=2 cost=0.0123]");
    await sessionEnded(t.key, s.id);
    const { scopes } = await api<{ scopes: Scope[] }>(t.key, "/gateway/v1/budget");
    const tenantScope = scopes.find((x) => x.scope === "tenant");
    expect(tenantScope?.spentUsd).not.toBe("0");

    const { page, errors } = await openPage(browser);
    await signIn(page, t.key);
    const row = page.locator(`tr[data-scope="tenant"][data-id="${t.tenantId}"]`);
    await expect
      .poll(() => row.locator('[data-field="spentUsd"]').textContent())
      .toBe(`$${tenantScope?.spentUsd}`);
    expect(await row.locator('[data-field="capUsd"]').textContent()).toBe(`$${tenantScope?.capUsd}`);
    expect(await row.locator('[data-field="heldUsd"]').textContent()).toBe(`$${tenantScope?.heldUsd}`);
    expect(await row.locator('[data-field="remainingUsd"]').textContent()).toBe(
      `$${tenantScope?.remainingUsd}`,
    );
    const orgScope = scopes.find((x) => x.scope === "org");
    const orgRow = page.locator(`tr[data-scope="org"][data-id="${t.orgId}"]`);
    expect(await orgRow.locator('[data-field="spentUsd"]').textContent()).toBe(`$${orgScope?.spentUsd}`);
    // The key is in this tab's sessionStorage, and in no cookie or URL.
    expect(await page.evaluate("Object.values(sessionStorage)")).toContain(t.key);
    expect(await page.context().cookies()).toEqual([]);
    expect(page.url()).not.toContain(t.key);
    await screenshot(page, "budgets-tenant");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows the admin every tenant's budget as GET /admin/v1/tenants/{id}/budget says, from one request per org page", async () => {
    const a = await newTenant("admin-a");
    const b = await newTenant("admin-b", { org: "30", tenant: "7.5" });
    // A second tenant in a's org, with a budget of its own in another period and zone.
    const a2 = await admin<{ id: string; name: string }>(`/admin/v1/orgs/${a.orgId}/tenants`, {
      body: { name: `${a.tenantName} second` },
    });
    await admin(`/admin/v1/tenants/${a2.id}/policy`, {
      method: "PUT",
      body: { budget: { capUsd: "4", period: "day", timeZone: "Asia/Tokyo" } },
    });
    const s = await startSession(a.key, "Spend a little [emu steps=2 cost=0.0123]");
    await sessionEnded(a.key, s.id);

    const { page, errors } = await openPage(browser);
    const budgetCalls: string[] = [];
    page.on("request", (r) => {
      const path = new URL(r.url()).pathname;
      if (/budgets?$/.test(path)) budgetCalls.push(path);
    });
    await signIn(page, ADMIN_TOKEN);
    for (const t of [a, { ...a, tenantId: a2.id, tenantName: a2.name }, b]) {
      const { scopes } = await api<{ scopes: Scope[] }>(
        ADMIN_TOKEN,
        `/admin/v1/tenants/${t.tenantId}/budget`,
      );
      for (const [scope, id] of [
        ["tenant", t.tenantId],
        ["org", t.orgId],
      ] as const) {
        const figures = scopes.find((x) => x.scope === scope);
        const row = page.locator(`tr[data-scope="${scope}"][data-id="${id}"]`);
        await expect
          .poll(() => row.locator('[data-field="capUsd"]').textContent())
          .toBe(`$${figures?.capUsd}`);
        for (const field of ["spentUsd", "heldUsd", "remainingUsd"] as const) {
          expect(await row.locator(`[data-field="${field}"]`).textContent(), `${scope} ${field}`).toBe(
            `$${figures?.[field]}`,
          );
        }
      }
      expect(
        await page.locator(`tr[data-scope="tenant"][data-id="${t.tenantId}"] th`).textContent(),
      ).toContain(t.tenantName);
    }
    expect(
      await page
        .locator(`tr[data-scope="tenant"][data-id="${a.tenantId}"] [data-field="spentUsd"]`)
        .textContent(),
    ).not.toBe("$0");
    // One page of each org's budgets, and no per-tenant budget request.
    expect(budgetCalls.filter((p) => p.startsWith("/admin/v1/tenants/"))).toEqual([]);
    for (const orgId of [a.orgId, b.orgId]) {
      expect(budgetCalls.filter((p) => p === `/admin/v1/orgs/${orgId}/budgets`)).toHaveLength(1);
    }
    await screenshot(page, "budgets-admin");
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("shows a tenant no other tenant's rows", async () => {
    const mine = await newTenant("mine");
    const theirs = await newTenant("theirs");
    const { page } = await openPage(browser);
    await signIn(page, mine.key);
    await page.locator(`tr[data-id="${mine.tenantId}"]`).waitFor();
    expect(await page.locator(`tr[data-id="${theirs.tenantId}"]`).count()).toBe(0);
    expect(await page.locator(`tr[data-id="${theirs.orgId}"]`).count()).toBe(0);
    expect(await page.getByText(theirs.tenantName).count()).toBe(0);
    // Nor do the admin-only views show for a tenant key.
    expect(await page.getByRole("link", { name: "Keys" }).isVisible()).toBe(false);
    await page.context().close();
  });

  it("works by keyboard alone: sign in with Enter, move between views with Tab and Enter", async () => {
    const t = await newTenant("keyboard");
    const { page, errors } = await openPage(browser);
    await page.goto(`${GATEWAY}/dashboard/`);
    // The token field has the focus on arrival.
    await page.keyboard.type(t.key);
    await page.keyboard.press("Enter");
    await page.getByRole("navigation", { name: "Views" }).waitFor();
    await page.locator(`tr[data-id="${t.tenantId}"]`).waitFor();
    let focused = "";
    for (let i = 0; i < 10 && focused !== "Spend"; i++) {
      await page.keyboard.press("Tab");
      focused = String(await page.evaluate("document.activeElement?.textContent?.trim()"));
    }
    expect(focused).toBe("Spend");
    await page.keyboard.press("Enter");
    await page.locator("#spend-grid, #spend-table p").first().waitFor();
    expect(await page.locator("#view-spend").isVisible()).toBe(true);
    expect(await page.locator("#view-budgets").isVisible()).toBe(false);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("fits a phone's width: nothing wider than the screen but the tables, which scroll", async () => {
    const t = await newTenant("phone");
    const { page, errors } = await openPage(browser, 390);
    await signIn(page, t.key);
    await page.locator(`tr[data-id="${t.tenantId}"]`).waitFor();
    expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(390);
    await screenshot(page, "budgets-phone");
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
