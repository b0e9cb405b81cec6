import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserUseError } from "browser-use-sdk/v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AccountView,
  BrowserDownloadListResponse,
  BrowserSessionItemView,
  BrowserSessionListResponse,
  BrowserSessionView,
  FileListResponse,
  FileUploadResponse,
  ProfileListResponse,
  ProfileView,
  WorkspaceListResponse,
  WorkspaceSizeResponse,
  WorkspaceView,
} from "../../src/v3/schemas";
import { type Harness, expectShape, startHarness } from "./helpers";

// The official SDK against the emulator: profiles, workspaces (real uploads), browsers, billing.
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

describe("profiles", () => {
  it("creates, reads, updates, lists, searches and deletes profiles", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const p = expectShape(
      ProfileView,
      await h.client.profiles.create({ name: `Shopper ${tag}`, userId: "user-1" }),
    );
    expect(p).toMatchObject({ name: `Shopper ${tag}`, userId: "user-1", lastUsedAt: null });
    expectShape(ProfileView, await h.client.profiles.get(p.id));

    const updated = await h.client.profiles.update(p.id, { name: `Buyer ${tag}` });
    expect(updated).toMatchObject({ name: `Buyer ${tag}`, userId: "user-1" });

    const found = expectShape(ProfileListResponse, await h.client.profiles.list({ query: tag }));
    expect(found.items.map((x) => x.id)).toEqual([p.id]);
    expect(found).toMatchObject({ totalItems: 1, pageNumber: 1, pageSize: 10 });

    // A session that uses the profile marks it used.
    await h.client.sessions.create({ profileId: p.id });
    expect((await h.client.profiles.get(p.id)).lastUsedAt).not.toBeNull();

    await h.client.profiles.delete(p.id);
    const gone = await h.client.profiles.get(p.id).catch((e: unknown) => e);
    expect((gone as BrowserUseError).statusCode).toBe(404);
    expect((gone as BrowserUseError).message).toBe("Profile not found");
  });
});

describe("workspaces", () => {
  it("uploads with workspaces.upload and downloads with workspaces.download", async () => {
    const ws = expectShape(WorkspaceView, await h.client.workspaces.create({ name: "Data" }));
    const dir = mkdtempSync(join(tmpdir(), "emu-ws-"));
    const local = join(dir, "prices.csv");
    writeFileSync(local, "sku,price\nA,1.50\n");

    const paths = await h.client.workspaces.upload(ws.id, local, { prefix: "uploads/" });
    expect(paths).toEqual(["uploads/prices.csv"]);

    const listed = expectShape(
      FileListResponse,
      await h.client.workspaces.files(ws.id, { includeUrls: true }),
    );
    expect(listed.files).toHaveLength(1);
    expect(listed.files[0]).toMatchObject({ path: "uploads/prices.csv", size: 17 });

    const saved = await h.client.workspaces.download(ws.id, "uploads/prices.csv", {
      to: join(dir, "out.csv"),
    });
    expect(readFileSync(saved, "utf8")).toBe("sku,price\nA,1.50\n");
    expect(expectShape(WorkspaceSizeResponse, await h.client.workspaces.size(ws.id))).toMatchObject({
      sizeBytes: 17,
    });

    await h.client.workspaces.deleteFile(ws.id, "uploads/prices.csv");
    expect((await h.client.workspaces.files(ws.id)).files).toEqual([]);
  });

  it("lists files shallowly and by cursor, and manages the workspace itself", async () => {
    const ws = await h.client.workspaces.create();
    const upload = expectShape(
      FileUploadResponse,
      await h.client.workspaces.uploadFiles(ws.id, {
        files: [
          { name: "a.txt", contentType: "text/plain", size: 1 },
          { name: "b.txt", contentType: "text/plain", size: 1 },
        ],
      }),
    );
    const nested = await h.client.workspaces.uploadFiles(
      ws.id,
      { files: [{ name: "c.txt", contentType: "text/plain", size: 1 }] },
      { prefix: "docs" },
    );
    for (const f of [...upload.files, ...nested.files]) {
      expect((await fetch(f.uploadUrl, { method: "PUT", body: "x" })).status).toBe(200);
    }

    const shallow = await h.client.workspaces.files(ws.id, { shallow: true });
    expect(shallow.files.map((f) => f.path)).toEqual(["a.txt", "b.txt"]);
    expect(shallow.folders).toEqual(["docs/"]);

    const first = await h.client.workspaces.files(ws.id, { limit: 2 });
    expect(first.files.map((f) => f.path)).toEqual(["a.txt", "b.txt"]);
    expect(first.hasMore).toBe(true);
    const second = await h.client.workspaces.files(ws.id, { limit: 2, cursor: first.nextCursor });
    expect(second).toMatchObject({ hasMore: false, nextCursor: null });
    expect(second.files.map((f) => f.path)).toEqual(["docs/c.txt"]);

    expect((await h.client.workspaces.update(ws.id, { name: "Renamed" })).name).toBe("Renamed");
    const list = expectShape(WorkspaceListResponse, await h.client.workspaces.list({ pageSize: 100 }));
    expect(list.items.map((w) => w.id)).toContain(ws.id);
    await h.client.workspaces.delete(ws.id);
    const gone = await h.client.workspaces.get(ws.id).catch((e: unknown) => e);
    expect((gone as BrowserUseError).message).toBe("Workspace not found");
  });
});

describe("browsers", () => {
  it("creates, gets, lists and stops a browser, refunding unused time", async () => {
    const b = expectShape(
      BrowserSessionItemView,
      await h.client.browsers.create({ timeout: 30, metadata: { team: "qa" } }),
    );
    // 30 minutes at $0.02/hour, charged up front.
    expect(b).toMatchObject({
      status: "active",
      browserCost: "0.01",
      finishedAt: null,
      metadata: { team: "qa" },
    });
    expectShape(BrowserSessionView, await h.client.browsers.get(b.id));

    const listed = expectShape(
      BrowserSessionListResponse,
      await h.client.browsers.list({ filterBy: "active", metadata: ["team=qa"], pageSize: 100 }),
    );
    expect(listed.items.map((x) => x.id)).toContain(b.id);

    const stopped = expectShape(BrowserSessionView, await h.client.browsers.stop(b.id));
    // One minute used (the minimum): $0.02/60, rounded up to a whole micro-USD.
    expect(stopped).toMatchObject({ status: "stopped", browserCost: "0.000334", liveUrl: null });
    expect(stopped.finishedAt).not.toBeNull();
    const active = await h.client.browsers.list({ filterBy: "active", pageSize: 100 });
    expect(active.items.map((x) => x.id)).not.toContain(b.id);

    expectShape(BrowserDownloadListResponse, await h.client.browsers.downloads(b.id));
  });
});

describe("billing", () => {
  it("reports the account with its plan, limits and balances as numbers", async () => {
    const account = expectShape(AccountView, await h.client.billing.account());
    expect(account).toMatchObject({ concurrentSessionLimit: 25, rateLimit: 25, isFreeTier: false });
    expect(account.planInfo.planName).toBe("Emulator");
    expect(typeof account.totalCreditsBalanceUsd).toBe("number");
    expect(account.totalCreditsBalanceUsd).toBe(
      account.monthlyCreditsBalanceUsd + account.additionalCreditsBalanceUsd,
    );
  });
});
