import type { Browser, Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fireCron } from "../../scripts/local-stack";
import {
  ADMIN_TOKEN,
  admin,
  api,
  EMULATOR,
  GATEWAY,
  launch,
  newTenant,
  openPage,
  screenshot,
  signIn,
  until,
} from "./harness";

interface Deliveries {
  deliveries: {
    deliveryId: string;
    callback: { eventId: string; state: string; attempts: unknown[] } | null;
  }[];
}

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(() => browser?.close());

/** The paths of the page's GET requests to the admin API, from now on. */
function adminReads(page: Page): string[] {
  const calls: string[] = [];
  page.on("request", (r) => {
    const path = new URL(r.url()).pathname;
    if (r.method() === "GET" && path.startsWith("/admin/v1/")) calls.push(path);
  });
  return calls;
}

/** Delivers a signed webhook to a hook, as a sender would. */
async function deliver(hook: { id: string; secret: string }, payload: unknown): Promise<void> {
  const body = JSON.stringify(payload);
  const id = `msg_${crypto.randomUUID()}`;
  const at = new Date();
  const res = await fetch(`${GATEWAY}/hooks/${hook.id}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "webhook-id": id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": new Webhook(hook.secret).sign(id, at, body),
    },
    body,
  });
  if (res.status !== 202) throw new Error(`hook delivery answered ${res.status}: ${await res.text()}`);
}

describe("dashboard: hooks, keys and refusals", () => {
  it("shows a failed callback with its attempts, and redelivers it from the page", async () => {
    const t = await newTenant("hooks");
    const inbox = `${EMULATOR}/_emulator/inbox/dash-${crypto.randomUUID()}`;
    // The receiver refuses the first three posts: the first attempt and both retries.
    await fetch(`${inbox}/config`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ failFirst: 3, status: 503 }),
    });
    const hook = await admin<{ id: string; secret: string }>(`/admin/v1/tenants/${t.tenantId}/hooks`, {
      body: {
        name: `Order check ${t.tenantName}`,
        task: "Check order {{order}} [emu steps=1]",
        callbackUrl: inbox,
      },
    });
    await deliver(hook, { order: "A-7" });
    const delivered = Date.now();
    const failed = await until(
      "the callback to fail",
      async () => {
        const { deliveries } = await admin<Deliveries>(`/admin/v1/hooks/${hook.id}/deliveries`);
        const cb = deliveries[0]?.callback;
        if (cb?.state === "failed") return cb;
        // On a loaded machine the session's last status webhook can time out; as deployed, the
        // cron then finds the session ended. It runs here only on demand (fireCron).
        if (Date.now() - delivered > 5_000) await fireCron(GATEWAY);
        return undefined;
      },
      60_000,
    );
    expect(failed.attempts).toHaveLength(3);
    // A second tenant of the org, whose hook has a delivery and no callback.
    const second = await admin<{ id: string; name: string }>(`/admin/v1/orgs/${t.orgId}/tenants`, {
      body: { name: `${t.tenantName} second` },
    });
    const quiet = await admin<{ id: string; name: string; secret: string }>(
      `/admin/v1/tenants/${second.id}/hooks`,
      { body: { name: `Quiet ${t.tenantName}`, task: "Note {{order}} [emu steps=1]" } },
    );
    await deliver(quiet, { order: "B-2" });

    const { page, errors } = await openPage(browser);
    const calls = adminReads(page);
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole("link", { name: "Hooks" }).click();
    const row = page.locator(`#hooks-table tr[data-event="${failed.eventId}"]`);
    await row.waitFor();
    expect(await row.locator('[data-field="callback"]').textContent()).toBe("failed");
    const quietRow = page.locator("#hooks-table tr", { hasText: quiet.name });
    expect(await quietRow.locator("th").textContent()).toContain(second.name);
    expect(await quietRow.locator('[data-field="callback"]').textContent()).toBe("—");
    // One request for each org's deliveries, and none per tenant or per hook.
    expect(
      calls.filter((p) => p.startsWith("/admin/v1/tenants/") || p.startsWith("/admin/v1/hooks/")),
    ).toEqual([]);
    expect(calls.filter((p) => p === `/admin/v1/orgs/${t.orgId}/deliveries`)).toHaveLength(1);
    expect(await row.locator("ol.attempts li").allTextContents()).toEqual([
      expect.stringContaining("HTTP 503"),
      expect.stringContaining("HTTP 503"),
      expect.stringContaining("HTTP 503"),
    ]);
    await screenshot(page, "hooks");
    await row.getByRole("button", { name: /^Redeliver/ }).click();
    await until("the redelivered callback to arrive", async () => {
      const { deliveries } = await admin<Deliveries>(`/admin/v1/hooks/${hook.id}/deliveries`);
      return deliveries[0]?.callback?.state === "delivered" ? true : undefined;
    });
    const received = (await (await fetch(inbox)).json()) as { requests: { status: number }[] };
    expect(received.requests.map((r) => r.status)).toEqual([503, 503, 503, 200]);
    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => row.locator('[data-field="callback"]').textContent()).toBe("delivered");
    expect(errors).toEqual([]);
    await page.context().close();
  }, 90_000);

  it("rotates and revokes a tenant's key from the page", async () => {
    const t = await newTenant("keys");
    // A second tenant of the org, with a key already revoked.
    const second = await admin<{ id: string; name: string }>(`/admin/v1/orgs/${t.orgId}/tenants`, {
      body: { name: `${t.tenantName} second` },
    });
    const old = await admin<{ id: string; key: string }>(`/admin/v1/tenants/${second.id}/keys`, {
      body: { name: "old" },
    });
    await admin(`/admin/v1/keys/${old.id}`, { method: "DELETE", expected: 204 });
    const { page, errors } = await openPage(browser);
    const calls = adminReads(page);
    page.on("dialog", (d) => d.accept());
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole("link", { name: "Keys" }).click();
    const row = page.locator(`#keys-table tr[data-key="${t.keyId}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain(t.key.slice(0, 8));
    expect(await row.textContent()).not.toContain(t.key);
    const oldRow = page.locator(`#keys-table tr[data-key="${old.id}"]`);
    expect(await oldRow.locator("th").textContent()).toContain(second.name);
    expect(await oldRow.locator('[data-field="state"]').textContent()).toMatch(/^revoked/);
    expect(await oldRow.getByRole("button").count()).toBe(0);
    expect(await page.content()).not.toContain(old.key);
    // One page of each org's keys, and no per-tenant keys request.
    expect(calls.filter((p) => p.startsWith("/admin/v1/tenants/") && p.endsWith("/keys"))).toEqual([]);
    expect(calls.filter((p) => p === `/admin/v1/orgs/${t.orgId}/keys`)).toHaveLength(1);
    await screenshot(page, "keys");

    await row.getByRole("button", { name: /^Rotate/ }).click();
    const issued = await page.locator("#issued-key").textContent();
    expect(issued).toMatch(/^bugw_/);
    expect(await api<{ tenantId: string }>(issued ?? "", "/gateway/v1/me")).toMatchObject({
      tenantId: t.tenantId,
    });

    const { keys } = await admin<{ keys: { id: string; revokedAt: string | null }[] }>(
      `/admin/v1/tenants/${t.tenantId}/keys`,
    );
    const fresh = keys.find((k) => k.id !== t.keyId);
    const freshRow = page.locator(`#keys-table tr[data-key="${fresh?.id}"]`);
    await freshRow.getByRole("button", { name: /^Revoke/ }).click();
    await expect.poll(() => freshRow.locator('[data-field="state"]').textContent()).toMatch(/^revoked/);
    await api(issued ?? "", "/gateway/v1/me", { expected: 401 });
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it("lists recent refusals from the audit log under their tenant", async () => {
    const t = await newTenant("refusals");
    await admin(`/admin/v1/tenants/${t.tenantId}/policy`, {
      method: "PUT",
      body: { allowedModels: ["gemini-3-flash"], budget: { capUsd: "20", period: "month" } },
    });
    await api(t.key, "/api/v3/sessions", { body: { task: "t", model: "claude-opus-4.7" }, expected: 403 });
    const entry = await until("the refusal to be recorded", async () => {
      const { items } = await admin<{ items: { id: string; code: string }[] }>(
        `/admin/v1/audit?action=refusal&tenantId=${t.tenantId}`,
      );
      return items[0];
    });
    const { page, errors } = await openPage(browser);
    await signIn(page, ADMIN_TOKEN);
    await page.getByRole("link", { name: "Refusals" }).click();
    const row = page.locator(`#refusals-table tr[data-entry="${entry.id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-field="code"]').textContent()).toBe("model_not_allowed");
    expect(await row.textContent()).toContain(t.tenantName);
    await screenshot(page, "refusals");
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
