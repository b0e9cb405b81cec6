import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { createLogger } from "../src/lib/log";
import { toMicros } from "../src/lib/money";
import { reconcile } from "../src/reconciler/run";
import {
  asTenant,
  countRoundTrips,
  emuTask,
  expectJson,
  newTenant,
  newUpstreamAccount,
  storeFailingOn,
  type TestTenant,
  type UpstreamAccount,
} from "./helpers";

// An agent session's own browser (GET /browsers?agentSessionId=, README "Ownership"): its
// session's owner may get it, stop it and list its downloads; everyone else gets 404.
type Obj = Record<string, unknown>;
const log = createLogger({ test: "agent-browsers" });

/** A session of `t`'s with a task that runs until stopped, and its own browser as the gateway lists it. */
async function sessionWithBrowser(t: TestTenant, account: UpstreamAccount) {
  const session = await expectJson<Obj & { id: string }>(
    await asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("Runs on", { outcome: "hang", stepMs: 3_600_000 }) },
      env: account.env,
    }),
    200,
  );
  const listed = await expectJson<{ items: (Obj & { id: string })[] }>(
    await asTenant(t.key, `/api/v3/browsers?agentSessionId=${session.id}`, { env: account.env }),
    200,
  );
  const browser = listed.items[0];
  if (!browser) throw new Error(`no browser listed for ${session.id}: ${JSON.stringify(listed)}`);
  return { session, browser };
}

/** Upstream's answer to a call made with the account's own key, straight to the emulator. */
async function upstream(account: UpstreamAccount, path: string): Promise<Obj> {
  const res = await fetch(`${account.env.UPSTREAM_URL}${path}`, {
    headers: { "X-Browser-Use-API-Key": account.key },
  });
  return expectJson<Obj>(res, 200);
}

/** What the gateway answers a tenant for each /browsers/{id} call, status and detail. */
async function callsOn(key: string, id: string, account: UpstreamAccount) {
  const answer = async (res: Response) => {
    const body = (await res.json()) as Obj;
    return { status: res.status, detail: body.detail, code: body.code };
  };
  const opts = { env: account.env };
  return {
    get: await answer(await asTenant(key, `/api/v3/browsers/${id}`, opts)),
    downloads: await answer(await asTenant(key, `/api/v3/browsers/${id}/downloads`, opts)),
    stop: await answer(
      await asTenant(key, `/api/v3/browsers/${id}`, { ...opts, method: "PATCH", body: { action: "stop" } }),
    ),
  };
}

const NOT_FOUND = { status: 404, detail: "Session not found", code: "not_found" };

describe("an agent session's own browser", () => {
  it("answers get and downloads for its session's owner as upstream does", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const { session, browser } = await sessionWithBrowser(owner, account);
    await account.control("POST", `/browsers/${browser.id}/downloads`, {
      path: "out.csv",
      content: "a,b",
      contentType: "text/csv",
    });

    const got = await expectJson<Obj>(
      await asTenant(owner.key, `/api/v3/browsers/${browser.id}`, { env: account.env }),
      200,
    );
    expect(got).toEqual(await upstream(account, `/browsers/${browser.id}`));
    expect(got).toMatchObject({ id: browser.id, agentSessionId: session.id, status: "active" });
    const files = await expectJson<{ files: Obj[] }>(
      await asTenant(owner.key, `/api/v3/browsers/${browser.id}/downloads?includeUrls=true`, {
        env: account.env,
      }),
      200,
    );
    expect(files.files.map((f) => [f.path, f.size])).toEqual([["out.csv", 3]]);
    expect(await (await fetch(String(files.files[0]?.url))).text()).toBe("a,b");
  });

  it("is 404 to every other tenant, as an unknown id, listed under the session's id or not", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const [owner, other] = [await newTenant(), await newTenant()];
    const { session, browser } = await sessionWithBrowser(owner, account);
    // Naming the owner's session in the list gains the other tenant nothing.
    const theirs = await expectJson<Obj>(
      await asTenant(other.key, `/api/v3/browsers?agentSessionId=${session.id}`, { env: account.env }),
      200,
    );
    expect(theirs).toMatchObject({ items: [], totalItems: 0 });
    const unknown = await callsOn(other.key, crypto.randomUUID(), account);
    expect(unknown).toEqual({ get: NOT_FOUND, downloads: NOT_FOUND, stop: NOT_FOUND });
    expect(await callsOn(other.key, browser.id, account)).toEqual(unknown);
    // Nothing reached it: it still runs, and so does its session.
    expect(await upstream(account, `/browsers/${browser.id}`)).toMatchObject({ status: "active" });
  });

  it("stays 404 to a tenant whose list upstream padded with another tenant's session's browser", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const [owner, other] = [await newTenant(), await newTenant()];
    // The other tenant's session's browser, which the gateway has never listed to anyone.
    const theirs = await expectJson<Obj>(
      await asTenant(other.key, "/api/v3/sessions", { body: {}, env: account.env }),
      200,
    );
    const { items } = (await upstream(account, `/browsers?agentSessionId=${theirs.id}`)) as { items: Obj[] };
    const othersBrowser = { id: String(items[0]?.id) };
    const mine = await expectJson<Obj & { id: string }>(
      await asTenant(owner.key, "/api/v3/sessions", { body: {}, env: account.env }),
      200,
    );
    // A fault the emulator does not make: upstream ignores the filter and answers the account's
    // whole list, the other tenant's session's browser (a real one) beside the owner's.
    const real = globalThis.fetch;
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!url.pathname.endsWith("/browsers") || !url.searchParams.has("agentSessionId")) {
        return real(input, init);
      }
      url.searchParams.delete("agentSessionId");
      return real(url, init);
    });
    try {
      const listed = await expectJson<{ items: Obj[] }>(
        await asTenant(owner.key, `/api/v3/browsers?agentSessionId=${mine.id}`, { env: account.env }),
        200,
      );
      expect(listed.items.map((b) => b.agentSessionId)).toEqual([mine.id]);
    } finally {
      vi.restoreAllMocks();
    }
    expect(await callsOn(owner.key, othersBrowser.id, account)).toEqual({
      get: NOT_FOUND,
      downloads: NOT_FOUND,
      stop: NOT_FOUND,
    });
    expect(await upstream(account, `/browsers/${othersBrowser.id}`)).toMatchObject({ status: "active" });
  });

  it("is 404 once its session is deleted, even while upstream still answers for the browser", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    // One browser read before the delete (this isolate remembers whose session it is), one only listed.
    const read = await sessionWithBrowser(owner, account);
    await expectJson(
      await asTenant(owner.key, `/api/v3/browsers/${read.browser.id}`, { env: account.env }),
      200,
    );
    const listed = await sessionWithBrowser(owner, account);
    for (const { session } of [read, listed]) {
      const deleted = await asTenant(owner.key, `/api/v3/sessions/${session.id}`, {
        method: "DELETE",
        env: account.env,
      });
      expect(deleted.status).toBe(204);
    }
    // Browser Use does not say it forgets a deleted session's browser (the emulator does): the
    // gateway's 404 must not rest on it, nor reach upstream at all.
    const real = globalThis.fetch;
    const upstreamCalls: string[] = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const browser = [read.browser, listed.browser].find((b) => url.pathname.includes(`/browsers/${b.id}`));
      if (!browser) return real(input, init);
      upstreamCalls.push(url.pathname);
      return Response.json({ ...browser, status: "stopped" });
    });
    try {
      for (const { browser } of [read, listed]) {
        expect(await callsOn(owner.key, browser.id, account)).toEqual({
          get: NOT_FOUND,
          downloads: NOT_FOUND,
          stop: NOT_FOUND,
        });
      }
    } finally {
      vi.restoreAllMocks();
    }
    expect(upstreamCalls).toEqual([]);
  });

  it("holds, books and counts nothing of its own, is in no list of the tenant's, and the reconciler leaves it be", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const { browser } = await sessionWithBrowser(owner, account);
    await expectJson(await asTenant(owner.key, `/api/v3/browsers/${browser.id}`, { env: account.env }), 200);
    const report = await reconcile(account.env, log, { orgId: owner.orgId });
    expect(report.failures).toBe(0);
    const rows = await env.DB.prepare(
      `SELECT (SELECT count(*) FROM holds WHERE tenant_id = ?1) AS holds,
              (SELECT count(*) FROM resources WHERE tenant_id = ?1) AS resources,
              (SELECT count(*) FROM usage WHERE id = ?2) AS usage`,
    )
      .bind(owner.tenantId, browser.id)
      .first();
    expect(rows).toEqual({ holds: 1, resources: 1, usage: 0 });
    const tenantAccount = await expectJson<Obj>(
      await asTenant(owner.key, "/api/v3/billing/account", { env: account.env }),
      200,
    );
    expect(tenantAccount.activeSessionCount).toBe(1);
    const listed = await expectJson<Obj>(
      await asTenant(owner.key, "/api/v3/browsers", { env: account.env }),
      200,
    );
    expect(listed).toMatchObject({ items: [], totalItems: 0 });
    expect(await upstream(account, `/browsers/${browser.id}`)).toMatchObject({ status: "active" });
  });

  it("stops for its session's owner, which ends the session and settles the session's hold, once", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const { session, browser } = await sessionWithBrowser(owner, account);
    const stopped = await expectJson<Obj>(
      await asTenant(owner.key, `/api/v3/browsers/${browser.id}`, {
        method: "PATCH",
        body: { action: "stop" },
        env: account.env,
      }),
      200,
    );
    expect(stopped).toMatchObject({ id: browser.id, status: "stopped", agentSessionId: session.id });
    const truth = (await account.truth()).sessions.find((s) => s.id === session.id);
    expect(truth?.status).toBe("stopped");
    const holds = async () =>
      (
        await env.DB.prepare("SELECT resource_id, state, settled_micros FROM holds WHERE tenant_id = ?")
          .bind(owner.tenantId)
          .all()
      ).results;
    // Settled by the stop's own read of the session, before any reconciler pass.
    expect(await holds()).toEqual([
      { resource_id: session.id, state: "settled", settled_micros: toMicros(String(truth?.totalCostUsd)) },
    ]);
    await reconcile(account.env, log, { orgId: owner.orgId });
    expect(await holds()).toHaveLength(1);
    const booked = await env.DB.prepare(
      "SELECT kind, id, CAST(total_cost_micros AS INTEGER) AS total FROM usage WHERE tenant_id = ?",
    )
      .bind(owner.tenantId)
      .all();
    expect(booked.results).toEqual([
      { kind: "session", id: session.id, total: toMicros(String(truth?.totalCostUsd)) },
    ]);
  });

  it("leaves the session's hold to the reconciler when the read after the stop fails", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const { session, browser } = await sessionWithBrowser(owner, account);
    // The stop goes through; both tries of the session's read after it answer 500.
    await account.control("POST", "/faults", { next: ["ok", "500", "500"] });
    const stopped = await asTenant(owner.key, `/api/v3/browsers/${browser.id}`, {
      method: "PATCH",
      body: { action: "stop" },
      env: account.env,
    });
    expect(await expectJson(stopped, 200)).toMatchObject({ status: "stopped" });
    const state = async () =>
      env.DB.prepare("SELECT state FROM holds WHERE resource_id = ?").bind(session.id).first<string>("state");
    expect(await state()).toBe("open");
    await reconcile(account.env, log, { orgId: owner.orgId });
    expect(await state()).toBe("settled");
  });

  it("still lists it when its record fails, and records it on the next list", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const session = await expectJson<Obj>(
      await asTenant(owner.key, "/api/v3/sessions", { body: {}, env: account.env }),
      200,
    );
    const path = `/api/v3/browsers?agentSessionId=${session.id}`;
    const failing = storeFailingOn(/INSERT INTO agent_browsers/, account.env);
    const listed = await expectJson<{ items: Obj[] }>(await asTenant(owner.key, path, { env: failing }), 200);
    const id = String(listed.items[0]?.id);
    expect(listed.items).toMatchObject([{ agentSessionId: session.id }]);
    expect((await asTenant(owner.key, `/api/v3/browsers/${id}`, { env: account.env })).status).toBe(404);
    await expectJson(await asTenant(owner.key, path, { env: account.env }), 200);
    await expectJson(await asTenant(owner.key, `/api/v3/browsers/${id}`, { env: account.env }), 200);
  });

  it("writes nothing when a list shows a browser it has recorded already", async () => {
    const account = await newUpstreamAccount({ agentBrowsers: true });
    const owner = await newTenant();
    const { session, browser } = await sessionWithBrowser(owner, account);
    const again = await countRoundTrips(
      `/api/v3/browsers?agentSessionId=${session.id}`,
      { headers: { "X-Browser-Use-API-Key": owner.key } },
      account.env,
    );
    expect(await expectJson(again.res, 200)).toMatchObject({ items: [{ id: browser.id }] });
    expect([...again.onPath, ...again.after].flat().filter((sql) => /agent_browsers/.test(sql))).toEqual([]);
  });
});
