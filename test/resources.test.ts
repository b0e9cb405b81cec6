import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { getUsage } from "../src/store/usage";
import {
  AccountView,
  BrowserSessionListResponse,
  BrowserSessionView,
  ProfileListResponse,
  WorkspaceListResponse,
} from "../src/v3/schemas";
import { asTenant, expectJson, newTenant, newUpstreamAccount } from "./helpers";

type Obj = Record<string, unknown> & { id: string };

describe("browsers through the gateway", () => {
  it("creates, lists, stops a browser and books the upfront charge, then the refund", async () => {
    const t = await newTenant();
    const b = await expectJson<Obj>(
      await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 60 } }),
      201,
    );
    expect(b.status).toBe("active");
    const charged = await getUsage(env.DB, "browser", b.id);
    expect(charged?.browserCostMicros).toBe(20_000); // 60 minutes at $0.02/hour, charged up front

    const got = await expectJson(await asTenant(t.key, `/api/v3/browsers/${b.id}`), 200);
    expect(BrowserSessionView.safeParse(got).success, JSON.stringify(got)).toBe(true);

    const active = await expectJson(await asTenant(t.key, "/api/v3/browsers?filterBy=active"), 200);
    expect(BrowserSessionListResponse.safeParse(active).success, JSON.stringify(active)).toBe(true);
    expect(active).toMatchObject({ totalItems: 1, items: [{ id: b.id }] });

    const stopped = await expectJson<Obj>(
      await asTenant(t.key, `/api/v3/browsers/${b.id}`, { method: "PATCH", body: { action: "stop" } }),
      200,
    );
    expect(stopped.status).toBe("stopped");
    const refunded = await getUsage(env.DB, "browser", b.id);
    expect(refunded?.status).toBe("stopped");
    expect(refunded?.browserCostMicros).toBeLessThan(20_000);
    expect(await expectJson(await asTenant(t.key, "/api/v3/browsers?filterBy=active"), 200)).toMatchObject({
      totalItems: 0,
    });
    expect(await expectJson(await asTenant(t.key, "/api/v3/browsers?filterBy=stopped"), 200)).toMatchObject({
      totalItems: 1,
    });

    const downloads = await expectJson(await asTenant(t.key, `/api/v3/browsers/${b.id}/downloads`), 200);
    expect(downloads).toMatchObject({ files: [] });
  });
});

describe("browser list filters", () => {
  it("filters by metadata key and key=value, as upstream does, over the caller's browsers only", async () => {
    const t = await newTenant();
    const make = async (metadata: Record<string, string>) =>
      (
        await expectJson<Obj>(
          await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 5, metadata } }),
          201,
        )
      ).id;
    const blue = await make({ team: "blue", env: "prod" });
    const red = await make({ team: "red" });
    const list = async (query: string) =>
      (
        await expectJson<{ items: Obj[]; totalItems: number }>(
          await asTenant(t.key, `/api/v3/browsers?${query}`),
          200,
        )
      ).items
        .map((b) => b.id)
        .sort();
    expect(await list("metadata=team")).toEqual([blue, red].sort());
    expect(await list("metadata=team=blue")).toEqual([blue]);
    expect(await list("metadata=team&metadata=env=prod")).toEqual([blue]);
    expect(await list("metadata=nope")).toEqual([]);
    expect(await list(`agentSessionId=${crypto.randomUUID()}`)).toEqual([]);
  });

  it("lists an agent session's own browser under its agentSessionId for its owner only", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const [owner, other] = [await newTenant(), await newTenant()];
    const session = await expectJson<Obj>(
      await asTenant(owner.key, "/api/v3/sessions", { body: {}, env: account.env }),
      200,
    );
    const list = async (key: string) =>
      expectJson<{ items: Obj[]; totalItems: number }>(
        await asTenant(key, `/api/v3/browsers?agentSessionId=${session.id}`, { env: account.env }),
        200,
      );
    const mine = await list(owner.key);
    expect(mine, JSON.stringify(mine)).toMatchObject({
      totalItems: 1,
      items: [{ agentSessionId: session.id }],
    });
    expect(await list(other.key)).toEqual({ items: [], totalItems: 0, pageNumber: 1, pageSize: 10 });
    // Listed to its owner, it is the owner's to call on (test/agent-browsers.test.ts).
    const downloads = await asTenant(owner.key, `/api/v3/browsers/${mine.items[0]?.id}/downloads`, {
      env: account.env,
    });
    expect(await expectJson(downloads, 200)).toMatchObject({ files: [], hasMore: false });
  });
  /** A new tenant and a session of its own, on an account whose sessions run in browsers of their own. */
  async function ownedAgentSession() {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const session = await expectJson<Obj>(
      await asTenant(owner.key, "/api/v3/sessions", { body: {}, env: account.env }),
      200,
    );
    return { account, owner, session };
  }

  /**
   * A session of a new tenant's, its owner, and a way to list its browsers through the gateway
   * while upstream's answers to such lists are changed by `answer` (a fault the emulator does not
   * make: an upstream that ignores agentSessionId).
   */
  async function sessionListedBy(answer: (body: { items: Obj[]; totalItems: number }) => unknown) {
    const { account, owner, session } = await ownedAgentSession();
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const res = await real(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!url.pathname.endsWith("/browsers") || !url.searchParams.has("agentSessionId")) return res;
      return Response.json(answer((await res.json()) as { items: Obj[]; totalItems: number }));
    });
    const list = async (query = "") =>
      expectJson<{ items: Obj[]; totalItems: number }>(
        await asTenant(owner.key, `/api/v3/browsers?agentSessionId=${session.id}${query}`, {
          env: account.env,
        }),
        200,
      );
    return { session, list };
  }

  it("passes on only the asked session's browsers, should upstream's list ignore agentSessionId", async () => {
    // The account's whole list, here with another session's browser (another tenant's, with its
    // CDP URL) beside the one asked for.
    const { session, list } = await sessionListedBy((body) => {
      const stranger = { ...body.items[0], id: crypto.randomUUID(), agentSessionId: crypto.randomUUID() };
      return { ...body, items: [...body.items, stranger], totalItems: body.totalItems + 1 };
    });
    try {
      const mine = await list();
      expect(mine.items.map((b) => b.agentSessionId)).toEqual([session.id]);
      expect(mine.totalItems).toBe(1);
    } finally {
      vi.restoreAllMocks();
    }
  });
  it("passes on no account-wide count, should upstream's list ignore agentSessionId on a page of the session's alone", async () => {
    // The page holds only the session's browser, but the total counts the whole account's.
    const { session, list } = await sessionListedBy((body) => ({ ...body, totalItems: 57 }));
    try {
      expect(await list()).toMatchObject({ items: [{ agentSessionId: session.id }], totalItems: 1 });
      // Neither a full page, which may have more after it, nor an empty one past the first can
      // say how many there are: the total is what a page of the most upstream lists holds.
      expect(await list("&pageSize=1")).toMatchObject({
        items: [{ agentSessionId: session.id }],
        totalItems: 1,
      });
      expect(await list("&pageNumber=2")).toEqual({ items: [], totalItems: 1, pageNumber: 2, pageSize: 10 });
    } finally {
      vi.restoreAllMocks();
    }
  });
  it("counts at least the page's own browsers when the read that would count them fails", async () => {
    const { account, owner, session } = await ownedAgentSession();
    // A fault the emulator does not make: upstream fails the page of 100 that counts them.
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname.endsWith("/browsers") && url.searchParams.get("pageSize") === "100") {
        return Response.json({ detail: "Internal Server Error" }, { status: 500 });
      }
      return real(input, init);
    });
    try {
      const full = await expectJson<{ items: Obj[]; totalItems: number }>(
        await asTenant(owner.key, `/api/v3/browsers?agentSessionId=${session.id}&pageSize=1`, {
          env: account.env,
        }),
        200,
      );
      expect(full).toMatchObject({ items: [{ agentSessionId: session.id }], totalItems: 1 });
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe("profiles through the gateway", () => {
  it("creates, renames, searches, lists and deletes a profile", async () => {
    const t = await newTenant();
    const p = await expectJson<Obj>(
      await asTenant(t.key, "/api/v3/profiles", { body: { name: "alice", userId: "u-1" } }),
      201,
    );
    await expectJson(await asTenant(t.key, "/api/v3/profiles", { body: { name: "bob" } }), 201);
    const renamed = await expectJson<Obj>(
      await asTenant(t.key, `/api/v3/profiles/${p.id}`, { method: "PATCH", body: { name: "alicia" } }),
      200,
    );
    expect(renamed.name).toBe("alicia");

    const all = await expectJson(await asTenant(t.key, "/api/v3/profiles"), 200);
    expect(ProfileListResponse.safeParse(all).success, JSON.stringify(all)).toBe(true);
    expect(all).toMatchObject({ totalItems: 2, pageNumber: 1, pageSize: 10 });
    const found = await expectJson(await asTenant(t.key, "/api/v3/profiles?query=ALIC"), 200);
    expect(found).toMatchObject({ totalItems: 1, items: [{ id: p.id, name: "alicia" }] });

    expect((await asTenant(t.key, `/api/v3/profiles/${p.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await asTenant(t.key, `/api/v3/profiles/${p.id}`)).status).toBe(404);
    expect(await expectJson(await asTenant(t.key, "/api/v3/profiles"), 200)).toMatchObject({ totalItems: 1 });
  });
});

describe("workspaces through the gateway", () => {
  it("creates a workspace, uploads a file through the presigned URL, lists it and deletes it", async () => {
    const t = await newTenant();
    const w = await expectJson<Obj>(
      await asTenant(t.key, "/api/v3/workspaces", { body: { name: "data" } }),
      201,
    );
    const upload = await expectJson<{ files: { uploadUrl: string; path: string }[] }>(
      await asTenant(t.key, `/api/v3/workspaces/${w.id}/files/upload?prefix=uploads/`, {
        body: { files: [{ name: "a.csv", contentType: "text/csv", size: 5 }] },
      }),
      200,
    );
    const target = upload.files[0];
    expect(target?.path).toBe("uploads/a.csv");
    const put = await fetch(String(target?.uploadUrl), {
      method: "PUT",
      headers: { "Content-Type": "text/csv" },
      body: "a,b\n1",
    });
    expect(put.ok).toBe(true);

    const files = await expectJson<{ files: { path: string; size: number }[] }>(
      await asTenant(t.key, `/api/v3/workspaces/${w.id}/files`),
      200,
    );
    expect(files.files).toMatchObject([{ path: "uploads/a.csv", size: 5 }]);
    const size = await expectJson(await asTenant(t.key, `/api/v3/workspaces/${w.id}/size`), 200);
    expect(size).toMatchObject({ sizeBytes: 5 });

    const del = await asTenant(t.key, `/api/v3/workspaces/${w.id}/files?path=uploads/a.csv`, {
      method: "DELETE",
    });
    expect(del.status).toBe(204);
    const list = await expectJson(await asTenant(t.key, "/api/v3/workspaces"), 200);
    expect(WorkspaceListResponse.safeParse(list).success, JSON.stringify(list)).toBe(true);
    expect(list).toMatchObject({ totalItems: 1, items: [{ id: w.id, name: "data" }] });
    const renamed = await expectJson(
      await asTenant(t.key, `/api/v3/workspaces/${w.id}`, { method: "PATCH", body: { name: "d2" } }),
      200,
    );
    expect(renamed).toMatchObject({ name: "d2" });
    expect((await asTenant(t.key, `/api/v3/workspaces/${w.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await asTenant(t.key, `/api/v3/workspaces/${w.id}`)).status).toBe(404);
  });
});

describe("billing", () => {
  it("answers the tenant's own account view, never the org's upstream balance", async () => {
    const t = await newTenant();
    const mine = await expectJson<Record<string, unknown>>(
      await asTenant(t.key, "/api/v3/billing/account"),
      200,
    );
    expect(AccountView.safeParse(mine).success, JSON.stringify(mine)).toBe(true);
    expect(mine.projectId).toBe(t.tenantId);

    const upstream = (await (
      await fetch(`${env.UPSTREAM_URL}/billing/account`, {
        headers: { "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY },
      })
    ).json()) as Record<string, unknown>;
    expect(mine.totalCreditsBalanceUsd).not.toBe(upstream.totalCreditsBalanceUsd);
    expect(mine.projectId).not.toBe(upstream.projectId);
  });
});
