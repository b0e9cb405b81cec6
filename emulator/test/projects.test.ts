import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BrowserUse } from "browser-use-sdk/v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { API_KEY, type Harness, expectStatus, micros, startHarness, waitFor } from "./helpers";

// Projects (accounts side by side), a browser's proxy traffic and downloads, and idle browser time.
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

/** A new project and a client and raw control calls for it. */
async function newProject(settings: Record<string, unknown> = {}) {
  const res = await fetch(`${h.running.url}/_emulator/projects`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(settings),
  });
  expect(res.status).toBe(201);
  const { apiKey } = (await res.json()) as { apiKey: string };
  const control = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${h.running.url}/_emulator${path}`, {
      method,
      headers: { "X-Browser-Use-API-Key": apiKey, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  return {
    apiKey,
    client: new BrowserUse({ apiKey, baseUrl: h.base, maxRetries: 0 }),
    control,
  };
}

describe("projects", () => {
  it("keeps each project's sessions, faults and settings to itself", async () => {
    const a = await newProject({ defaultMaxCostUsd: "3" });
    const b = await newProject();
    const mine = await a.client.sessions.create();
    expect(mine.maxCostUsd).toBe("3");
    expect((await b.client.sessions.list()).total).toBe(0);
    expectStatus(await h.api("GET", `/sessions/${mine.id}`), 404);

    await a.control("POST", "/faults", { next: ["500"] });
    // The fault waits for project a's next request; b and the main project are untouched.
    expect((await b.client.sessions.list()).total).toBe(0);
    expectStatus(await h.api("GET", "/sessions"), 200);
    await expect(a.client.sessions.list()).rejects.toMatchObject({ statusCode: 500 });
    expect((await a.control("GET", "/sessions")).body.sessions).toHaveLength(1);
  });

  it("takes a chosen key, refuses it twice, and restores a project's own settings on reset", async () => {
    const apiKey = `bu_chosen_${crypto.randomUUID()}`;
    const create = () =>
      fetch(`${h.running.url}/_emulator/projects`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ apiKey, idleTimeoutMs: 1234 }),
      });
    expect((await create()).status).toBe(201);
    expect((await create()).status).toBe(409);
    const control = (method: string, path: string, body?: unknown) =>
      fetch(`${h.running.url}/_emulator${path}`, {
        method,
        headers: { "X-Browser-Use-API-Key": apiKey, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then((r) => r.json() as Promise<Record<string, unknown>>);
    await control("POST", "/config", { idleTimeoutMs: 5 });
    await control("POST", "/reset");
    expect(await control("GET", "/config")).toMatchObject({ idleTimeoutMs: 1234 });
    expect((await h.control("GET", "/config")).body).toMatchObject({ idleTimeoutMs: 900_000 });
  });

  it("serves a project's presigned upload and download URLs without a key", async () => {
    const p = await newProject();
    const ws = await p.client.workspaces.create({ name: "files" });
    const dir = mkdtempSync(join(tmpdir(), "emu-project-"));
    writeFileSync(join(dir, "a.txt"), "hello");
    expect(await p.client.workspaces.upload(ws.id, join(dir, "a.txt"))).toEqual(["a.txt"]);
    const saved = await p.client.workspaces.download(ws.id, "a.txt", { to: join(dir, "out.txt") });
    expect(readFileSync(saved, "utf8")).toBe("hello");
  });

  it("answers an unknown key with the main project's 401", async () => {
    const res = await h.api("GET", "/sessions", { key: "bu_nobody_has_this_key" });
    expectStatus(res, 401);
    expect(API_KEY).not.toBe("bu_nobody_has_this_key");
  });
});

describe("a browser's proxy traffic", () => {
  it("bills proxy megabytes on top of the browser's time, and keeps them past the refund", async () => {
    const p = await newProject();
    const b = await p.client.browsers.create({ timeout: 10, proxyCountryCode: "de" });
    expect(b.proxyCost).toBe("0");
    const after = await p.control("POST", `/browsers/${b.id}/traffic`, { proxyMb: "25.5" });
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ proxyUsedMb: "25.5", proxyCost: "0.255", browserCost: b.browserCost });
    const stopped = await p.client.browsers.stop(b.id);
    expect(stopped).toMatchObject({ proxyUsedMb: "25.5", proxyCost: "0.255", browserCost: "0.000334" });
    const billing = await p.client.billing.account();
    expect(100_000_000 - micros(String(billing.totalCreditsBalanceUsd))).toBe(255_000 + 334);
  });

  it("refuses traffic for a browser without Browser Use's proxy or one that stopped", async () => {
    const p = await newProject();
    const direct = await p.client.browsers.create({ timeout: 5, proxyCountryCode: null });
    expect((await p.control("POST", `/browsers/${direct.id}/traffic`, { proxyMb: 1 })).status).toBe(409);
    // On the client's own proxy, whatever its country says: Browser Use's proxies carry nothing.
    const own = await p.client.browsers.create({
      timeout: 5,
      proxyCountryCode: "de",
      customProxy: { host: "proxy.example", port: 8080, ignoreCertErrors: false },
    });
    expect((await p.control("POST", `/browsers/${own.id}/traffic`, { proxyMb: 1 })).status).toBe(409);
    const proxied = await p.client.browsers.create({ timeout: 5 });
    await p.client.browsers.stop(proxied.id);
    expect((await p.control("POST", `/browsers/${proxied.id}/traffic`, { proxyMb: 1 })).status).toBe(409);
    expect((await p.control("POST", `/browsers/${proxied.id}/traffic`, { proxyMb: -1 })).status).toBe(422);
  });
});

describe("a browser's downloads", () => {
  it("lists what the browser downloaded, a page at a time, with presigned URLs when asked", async () => {
    const p = await newProject();
    const b = await p.client.browsers.create({ timeout: 5 });
    expect(await p.client.browsers.downloads(b.id)).toEqual({ files: [], nextCursor: null, hasMore: false });
    const files: [string, string][] = [
      ["report.pdf", "%PDF-1"],
      ["data/export.csv", "a,b"],
    ];
    for (const [path, content] of files) {
      const added = await p.control("POST", `/browsers/${b.id}/downloads`, {
        path,
        content,
        contentType: "text/csv",
      });
      expect(added).toEqual({ status: 200, body: { path, size: content.length } });
    }
    const first = await p.client.browsers.downloads(b.id, { limit: 1, includeUrls: true });
    expect(first).toMatchObject({ files: [{ path: "data/export.csv", size: 3 }], hasMore: true });
    const bytes = await fetch(first.files[0]?.url ?? "");
    expect([bytes.status, bytes.headers.get("Content-Type"), await bytes.text()]).toEqual([
      200,
      "text/csv",
      "a,b",
    ]);
    const second = await p.client.browsers.downloads(b.id, {
      limit: 1,
      cursor: first.nextCursor ?? undefined,
    });
    expect(second).toMatchObject({
      files: [{ path: "report.pdf", size: 6, url: null }],
      nextCursor: null,
      hasMore: false,
    });
    // Another project's key cannot list them: the browser is unknown there.
    const other = await newProject();
    await expect(other.client.browsers.downloads(b.id)).rejects.toMatchObject({ statusCode: 404 });
    await p.client.browsers.stop(b.id);
    expect(
      (await p.control("POST", `/browsers/${b.id}/downloads`, { path: "late.txt", content: "" })).status,
    ).toBe(409);
    expect((await p.client.browsers.downloads(b.id)).files).toHaveLength(2);
  });
});

describe("idle browser time", () => {
  it("bills nothing while a session has no task when idle billing is off (the default)", async () => {
    const p = await newProject();
    const s = await p.client.sessions.create();
    await p.control("POST", "/clock", { advanceMs: 10 * 60_000 });
    const later = await p.client.sessions.get(s.id);
    expect(later.status).toBe("idle");
    expect(later.totalCostUsd).toBe("0");
  });

  it("bills browser time while a session has no task, and between tasks, when it is on", async () => {
    const p = await newProject({ idleBrowserBilling: true, idleTimeoutMs: 24 * 60 * 60_000 });
    const s = await p.client.sessions.create();
    await p.control("POST", "/clock", { advanceMs: 30 * 60_000 });
    // Half an hour at $0.06 an hour, and then some milliseconds of wall clock (rounded up).
    const idle = await p.client.sessions.get(s.id);
    expect(micros(idle.browserCostUsd)).toBeGreaterThanOrEqual(30_000);
    expect(micros(idle.browserCostUsd)).toBeLessThan(30_100);
    expect(idle.totalCostUsd).toBe(idle.browserCostUsd);

    const done = await p.client.run("then a task [emu steps=1 cost=0.01]", {
      sessionId: s.id,
      keepAlive: true,
      interval: 10,
    });
    const afterTask = micros(done.totalCostUsd);
    expect(afterTask - micros(idle.totalCostUsd)).toBeGreaterThanOrEqual(10_000);
    await p.control("POST", "/clock", { advanceMs: 60 * 60_000 });
    const stopped = await p.client.sessions.stop(s.id);
    expect(micros(stopped.totalCostUsd) - afterTask).toBeGreaterThanOrEqual(60_000);
    // A stopped session costs nothing more, however long it is kept.
    await p.control("POST", "/clock", { advanceMs: 60 * 60_000 });
    const final = (await p.control("GET", "/sessions")).body.sessions as { totalCostUsd: string }[];
    expect(final[0]?.totalCostUsd).toBe(stopped.totalCostUsd);
    await waitFor(
      () => p.client.sessions.get(s.id),
      (v) => v.status === "stopped",
    );
  });
});

describe("agent sessions' own browsers", () => {
  it("lists none by default, and with agentBrowsers each session's, live while it is, at no cost of its own", async () => {
    const off = await newProject();
    await off.client.sessions.create();
    expect((await off.client.browsers.list()).items).toEqual([]);

    const p = await newProject({ agentBrowsers: true });
    const standalone = await p.client.browsers.create({ timeout: 5 });
    const s = await p.client.sessions.create();
    const all = await p.client.browsers.list();
    expect(all.items.map((b) => b.agentSessionId ?? null)).toEqual([s.id, null]);
    const [own] = (await p.client.browsers.list({ agentSessionId: s.id })).items;
    expect(own).toMatchObject({ status: "active", agentSessionId: s.id, browserCost: "0", proxyCost: "0" });
    expect(own?.id).not.toBe(standalone.id);
    await p.client.sessions.stop(s.id);
    const [after] = (await p.client.browsers.list({ agentSessionId: s.id })).items;
    expect(after).toMatchObject({ id: own?.id, status: "stopped" });
  });

  it("gets one, lists what it downloaded and stops it, which stops its session; 404 with agentBrowsers off", async () => {
    const p = await newProject({ agentBrowsers: true });
    const s = await p.client.sessions.create();
    const [own] = (await p.client.browsers.list({ agentSessionId: s.id })).items;
    const id = String(own?.id);
    expect(await p.client.browsers.get(id)).toMatchObject({
      id,
      status: "active",
      agentSessionId: s.id,
      recordingAvailable: false,
    });
    const saved = await p.control("POST", `/browsers/${id}/downloads`, { path: "a.txt", content: "hi" });
    expect(saved).toEqual({ status: 200, body: { path: "a.txt", size: 2 } });
    const listed = await p.client.browsers.downloads(id, { includeUrls: true });
    expect(listed).toMatchObject({ files: [{ path: "a.txt", size: 2 }], hasMore: false });
    expect(await (await fetch(String(listed.files[0]?.url))).text()).toBe("hi");

    expect(await p.client.browsers.stop(id)).toMatchObject({ id, status: "stopped", agentSessionId: s.id });
    expect((await p.client.sessions.get(s.id)).status).toBe("stopped");
    const late = await p.control("POST", `/browsers/${id}/downloads`, { path: "b.txt", content: "x" });
    expect(late.status).toBe(409);

    await p.control("POST", "/config", { agentBrowsers: false });
    const hidden = await p.client.browsers.get(id).catch((err: unknown) => err);
    expect(hidden).toMatchObject({ statusCode: 404, detail: { detail: "Session not found" } });
  });
});
