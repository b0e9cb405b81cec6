/**
 * What the browser tests share: headless Chromium (Debian's, driven by playwright-core), the
 * gateway's admin and tenant APIs over HTTP, and screenshots to .ci/out/.
 */
import { mkdirSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";
import { inject } from "vitest";

export const GATEWAY = inject("gatewayUrl");
export const EMULATOR = inject("emulatorUrl");
export const ADMIN_TOKEN = inject("adminToken");
export const SHOTS = ".ci/out/dashboard";

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** A page at 1280 px (or `width`) that fails the test on any console error, CSP violations included. */
export async function openPage(browser: Browser, width = 1280): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("response", (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  return { page, errors };
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(`${GATEWAY}/dashboard/`);
  await page.getByLabel("Admin token or tenant key").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Views" }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}

/** A JSON call; throws with the body unless the status is `expected`. */
export async function api<T = Record<string, unknown>>(
  token: string,
  path: string,
  init: { method?: string; body?: unknown; expected?: number } = {},
): Promise<T> {
  const res = await fetch(GATEWAY + path, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: {
      Authorization: `Bearer ${token}`,
      ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  if (init.expected === undefined ? !res.ok : res.status !== init.expected) {
    throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${text}`);
  }
  return (text ? JSON.parse(text) : null) as T;
}

export const admin = <T = Record<string, unknown>>(
  path: string,
  init?: { method?: string; body?: unknown; expected?: number },
) => api<T>(ADMIN_TOKEN, path, init);

let seq = 0;

/** An org with a budget, a tenant with a budget, and a key of the tenant; names unique per run. */
export async function newTenant(label: string, budgets = { org: "50", tenant: "20" }) {
  const n = `${label} ${Date.now().toString(36)}-${++seq}`;
  const org = await admin<{ id: string; name: string }>("/admin/v1/orgs", { body: { name: `Org ${n}` } });
  await admin(`/admin/v1/orgs/${org.id}/policy`, {
    method: "PUT",
    body: {
      budget: { capUsd: budgets.org, period: "month" },
      maxTaskCostUsd: "2",
      defaultTaskCostUsd: "0.5",
    },
  });
  const tenant = await admin<{ id: string; name: string }>(`/admin/v1/orgs/${org.id}/tenants`, {
    body: { name: `Tenant ${n}` },
  });
  await admin(`/admin/v1/tenants/${tenant.id}/policy`, {
    method: "PUT",
    body: { budget: { capUsd: budgets.tenant, period: "month" } },
  });
  const key = await admin<{ key: string; id: string }>(`/admin/v1/tenants/${tenant.id}/keys`, {
    body: { name: "browser test" },
  });
  return {
    orgId: org.id,
    orgName: org.name,
    tenantId: tenant.id,
    tenantName: tenant.name,
    key: key.key,
    keyId: key.id,
  };
}

/** A session with a task, started through the gateway as the tenant; the gateway's answer. */
export function startSession(key: string, task: string) {
  return api<{ id: string; status: string; totalCostUsd: string }>(key, "/api/v3/sessions", {
    body: { task },
  });
}

/** Waits until the tenant's session has ended (stopped), as the gateway sees it. */
export function sessionEnded(key: string, id: string) {
  return until(`session ${id} to end`, async () => {
    const s = await api<{ status: string }>(key, `/api/v3/sessions/${id}`);
    return s.status === "stopped" ? s : undefined;
  });
}

/** Polls `check` until it returns a value (not undefined), or fails after `ms`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
