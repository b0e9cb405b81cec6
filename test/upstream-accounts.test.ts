import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Bindings } from "../src/env";
import { hmacSha256Hex } from "../src/lib/crypto";
import { createLogger } from "../src/lib/log";
import { toMicros } from "../src/lib/money";
import { reconcileEveryAccount } from "../src/reconciler/accounts";
import { reconcile } from "../src/reconciler/run";
import { auditStatement } from "../src/store/audit";
import { getCounter } from "../src/store/budgets";
import { deleteOrgUpstream, findOrgUpstream, putOrgUpstream } from "../src/store/upstreams";
import { forgetUpstream, openCredentials, orgAccountFor, withCredentials } from "../src/upstream/accounts";
import {
  admin,
  asTenant,
  EMULATOR,
  emulatorTruth,
  emuTask,
  eventually,
  expectJson,
  gateway,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  type SessionView,
  type TestTenant,
  type UpstreamAccount,
} from "./helpers";

const log = createLogger({ test: "upstream-accounts" });

/** A tenant of an org that has its own Browser Use account (a fresh emulator project). */
async function tenantOnOwnAccount(): Promise<{ t: TestTenant; account: UpstreamAccount; secret: string }> {
  const account = await newUpstreamAccount();
  const t = await newTenant();
  const secret = `whsec-${crypto.randomUUID()}`;
  const res = await admin(`/orgs/${t.orgId}/upstream`, "PUT", { apiKey: account.key, webhookSecret: secret });
  expect(res.status).toBe(204);
  return { t, account, secret };
}

/**
 * A create of `t` on its org's account whose answer is lost: upstream makes the session, and the
 * create's hold stays open, tied to nothing, until the reconciler finds the session there.
 */
async function loseACreate(t: TestTenant, account: UpstreamAccount): Promise<void> {
  await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
  await account.control("POST", "/faults", { next: ["drop-after"] });
  const lost = await asTenant(t.key, "/api/v3/sessions", {
    body: { task: emuTask("lost", { steps: 50, stepMs: 60_000 }), maxCostUsd: "1" },
  });
  expect(lost.status).toBe(502);
  await lost.body?.cancel();
}

/** An audit entry of a move of `orgId` by the test itself (actor `test`), for the store's move functions. */
const moveAudit = (orgId: string) =>
  auditStatement(env.DB, {
    actor: "test",
    tokenName: "test",
    requestId: crypto.randomUUID(),
    action: "upstream.put",
    target: { type: "org", id: orgId },
    orgId,
    tenantId: null,
    before: null,
    after: null,
  });

const startTask = async (t: TestTenant, text: string, d: Parameters<typeof emuTask>[1] = {}) =>
  expectJson<SessionView>(
    await asTenant(t.key, "/api/v3/sessions", { body: { task: emuTask(text, d) } }),
    200,
  );

describe("an org's own Browser Use account", () => {
  it("takes everything of its tenants, next to an org on the deployment's account", async () => {
    const { t, account } = await tenantOnOwnAccount();
    const neighbour = await newTenant();
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "own" });
    expect(await expectJson(await admin(`/orgs/${neighbour.orgId}`), 200)).toMatchObject({
      upstream: "deployment",
    });

    const own = await startTask(t, "on its own account", { steps: 1 });
    const theirs = await startTask(neighbour, "on the deployment's", { steps: 1 });
    expect((await account.truth()).sessions.map((s) => s.id)).toEqual([own.id]);
    const deployment = (await emulatorTruth()).map((s) => s.id);
    expect(deployment).toContain(theirs.id);
    expect(deployment).not.toContain(own.id);
    // Reads, lists and stops of the org go to its account too.
    expect((await expectJson<SessionView>(await asTenant(t.key, `/api/v3/sessions/${own.id}`), 200)).id).toBe(
      own.id,
    );
    const list = await expectJson<{ sessions: SessionView[] }>(
      await asTenant(t.key, "/api/v3/sessions"),
      200,
    );
    expect(list.sessions.map((s) => s.id)).toEqual([own.id]);
    const browser = await expectJson<SessionView>(
      await asTenant(t.key, "/api/v3/browsers", { body: { timeout: 5 } }),
      201,
    );
    expect((await account.truth()).browsers.map((b) => b.id)).toEqual([browser.id]);
    await expectJson(
      await asTenant(t.key, `/api/v3/browsers/${browser.id}`, { method: "PATCH", body: { action: "stop" } }),
      200,
    );
    expect((await account.truth()).browsers[0]?.status).toBe("stopped");
  });

  it("keeps the key sealed: never answered, stored only encrypted, and bound to its org", async () => {
    const { t, account, secret } = await tenantOnOwnAccount();
    const org = await admin(`/orgs/${t.orgId}`);
    const text = await org.text();
    expect(text).not.toContain(account.key);
    const row = await env.DB.prepare("SELECT * FROM org_upstreams WHERE org_id = ?").bind(t.orgId).first();
    const stored = JSON.stringify(row);
    expect(stored).not.toContain(account.key);
    expect(stored).not.toContain(secret);
    expect(String(row?.api_key_sealed)).toMatch(/^v1\./);

    // The change is in the audit log, which names the account but never holds its key or secret.
    const audit = await expectJson<{ items: Record<string, unknown>[] }>(
      await admin(`/audit?orgId=${t.orgId}&action=upstream.put`),
      200,
    );
    expect(audit.items).toHaveLength(1);
    expect(audit.items[0]).toMatchObject({
      target: { type: "org", id: t.orgId },
      before: { upstream: "deployment" },
      after: { upstream: "own", apiKey: "[redacted]", webhookSecret: "[redacted]" },
    });
    const logged = JSON.stringify(
      await env.DB.prepare("SELECT * FROM audit_log WHERE org_id = ?").bind(t.orgId).all(),
    );
    expect(logged).not.toContain(account.key);
    expect(logged).not.toContain(secret);

    // The sealed key copied to another org opens for no one: that org's calls are refused, and
    // never fall back to the deployment's account.
    const other = await newTenant();
    await env.DB.prepare(
      `INSERT INTO org_upstreams (org_id, api_key_sealed, webhook_secret_sealed, created_at, updated_at)
       VALUES (?, ?, NULL, ?, ?)`,
    )
      .bind(other.orgId, row?.api_key_sealed, "2026-12-01T00:00:00Z", "2026-12-01T00:00:00Z")
      .run();
    const before = (await emulatorTruth()).length;
    const refused = await asTenant(other.key, "/api/v3/sessions", { body: { task: "moved key" } });
    const body = await expectJson(refused, 502);
    expect(body).toMatchObject({ code: "upstream_unauthorized" });
    expect(JSON.stringify(body)).not.toContain(account.key);
    expect((await emulatorTruth()).length).toBe(before);
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE tenant_id = ? AND state = 'open'")
        .bind(other.tenantId)
        .first("n"),
    ).toBe(0);
  });

  it("refuses a key Browser Use refuses, a bad body, an unknown org, and storing without a master key", async () => {
    const t = await newTenant();
    const refused = await admin(`/orgs/${t.orgId}/upstream`, "PUT", { apiKey: "bu_not_a_real_key_anywhere" });
    expect(await expectJson(refused, 422)).toMatchObject({ code: "validation_error" });
    for (const body of [{}, { apiKey: "" }, { apiKey: "has space" }, { apiKey: "bu_x", extra: 1 }]) {
      expect((await admin(`/orgs/${t.orgId}/upstream`, "PUT", body)).status, JSON.stringify(body)).toBe(422);
    }
    const account = await newUpstreamAccount();
    expect(
      (await admin(`/orgs/${crypto.randomUUID()}/upstream`, "PUT", { apiKey: account.key })).status,
    ).toBe(404);
    const unsealed: Bindings = { ...(env as Bindings), UPSTREAM_KEY_ENCRYPTION_KEY: undefined };
    const res = await admin(`/orgs/${t.orgId}/upstream`, "PUT", { apiKey: account.key }, unsealed);
    expect(await expectJson(res, 503)).toMatchObject({ code: "encryption_not_configured" });
    expect(
      await env.DB.prepare("SELECT count(*) AS n FROM org_upstreams WHERE org_id = ?")
        .bind(t.orgId)
        .first("n"),
    ).toBe(0);
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "deployment" });
    // A tenant key on the admin route is no admin.
    expect(
      (
        await asTenant(t.key, `/admin/v1/orgs/${t.orgId}/upstream`, {
          method: "PUT",
          body: { apiKey: account.key },
        })
      ).status,
    ).toBe(401);
  });

  it("answers 502 upstream_unauthorized to an org whose key Browser Use stops taking; other orgs go on", async () => {
    const { t, account } = await tenantOnOwnAccount();
    const neighbour = await newTenant();
    const revoked = await fetch(`${EMULATOR}/_emulator/projects`, {
      method: "DELETE",
      headers: { "X-Browser-Use-API-Key": account.key },
    });
    expect(revoked.status).toBe(204);
    const res = await asTenant(t.key, "/api/v3/sessions", { body: { task: "after the key went" } });
    expect(await expectJson(res, 502)).toMatchObject({ code: "upstream_unauthorized" });
    expect((await asTenant(t.key, `/api/v3/sessions/${crypto.randomUUID()}`)).status).toBe(404);
    await startTask(neighbour, "still fine", { steps: 1 });
  });

  it("moves only when nothing live would be lost: 409 while live elsewhere, and back to the deployment's", async () => {
    const t = await newTenant();
    const running = await startTask(t, "long", { steps: 50, stepMs: 60_000 });
    const account = await newUpstreamAccount();
    const moving = await admin(`/orgs/${t.orgId}/upstream`, "PUT", { apiKey: account.key });
    expect(await expectJson(moving, 409)).toMatchObject({ code: "conflict" });
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "deployment" });
    // The deployment's own key sees what is live: the same account, so the move is allowed.
    expect(
      (await admin(`/orgs/${t.orgId}/upstream`, "PUT", { apiKey: env.BROWSER_USE_API_KEY })).status,
    ).toBe(204);
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "own" });
    expect((await asTenant(t.key, `/api/v3/sessions/${running.id}`)).status).toBe(200);
    await expectJson(
      await asTenant(t.key, `/api/v3/sessions/${running.id}/stop`, { body: { strategy: "session" } }),
      200,
    );

    const other = await tenantOnOwnAccount();
    await startTask(other.t, "live on its own", { steps: 50, stepMs: 60_000 });
    expect((await admin(`/orgs/${other.t.orgId}/upstream`, "DELETE")).status).toBe(409);
    const [live] = (await other.account.truth()).sessions;
    await expectJson(
      await asTenant(other.t.key, `/api/v3/sessions/${live?.id}/stop`, { body: { strategy: "session" } }),
      200,
    );
    expect((await admin(`/orgs/${other.t.orgId}/upstream`, "DELETE")).status).toBe(204);
    expect(await expectJson(await admin(`/orgs/${other.t.orgId}`), 200)).toMatchObject({
      upstream: "deployment",
    });
    expect((await admin(`/orgs/${other.t.orgId}/upstream`, "DELETE")).status).toBe(204);
    // One entry: the second DELETE changed nothing.
    const deletions = await expectJson<{ items: Record<string, unknown>[] }>(
      await admin(`/audit?orgId=${other.t.orgId}&action=upstream.delete`),
      200,
    );
    expect(deletions.items.map((e) => [e.before, e.after])).toEqual([
      [{ upstream: "own" }, { upstream: "deployment" }],
    ]);
    const next = await startTask(other.t, "back on the deployment's", { steps: 1 });
    expect((await emulatorTruth()).map((s) => s.id)).toContain(next.id);
  });

  it("does not move while a create's outcome is unknown: its session, on the old account, would never be found", async () => {
    const { t, account } = await tenantOnOwnAccount();
    // Once the org moved, the reconciler would look for the lost create's session on the other
    // account, release the hold as having made nothing, and what the session cost would be charged
    // to no budget.
    await loseACreate(t, account);
    expect((await account.truth()).sessions).toHaveLength(1);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({ heldMicros: 1_000_000 });
    const moving = await admin(`/orgs/${t.orgId}/upstream`, "DELETE");
    expect(await expectJson(moving, 409)).toMatchObject({ code: "conflict" });
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "own" });
    // The write itself refuses, not only the check before it: a create that takes its hold between
    // the two cannot be left on an account the org has left. And nothing is audited.
    const quietOnly = { whenNothingToLose: true };
    expect(await deleteOrgUpstream(env.DB, t.orgId, moveAudit(t.orgId), quietOnly)).toBe("busy");
    const sealed = { orgId: t.orgId, apiKeySealed: "x", webhookSecretSealed: null };
    expect(await putOrgUpstream(env.DB, sealed, moveAudit(t.orgId), quietOnly)).toBe("busy");
    expect(
      await env.DB.prepare(
        "SELECT count(*) AS n FROM org_upstreams WHERE org_id = ? AND api_key_sealed = 'x'",
      )
        .bind(t.orgId)
        .first("n"),
    ).toBe(0);
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "own" });
    const audited = await env.DB.prepare(
      "SELECT count(*) AS n FROM audit_log WHERE org_id = ? AND actor = 'test'",
    )
      .bind(t.orgId)
      .first("n");
    expect(audited).toBe(0);
  });

  it("changes the same account's credentials while a create's outcome is unknown: nothing can be lost", async () => {
    const { t, account } = await tenantOnOwnAccount();
    await loseACreate(t, account);
    // The same key with a new webhook secret: the same project, so the reconciler still finds the
    // lost create's session where it looks.
    const res = await admin(`/orgs/${t.orgId}/upstream`, "PUT", {
      apiKey: account.key,
      webhookSecret: `whsec-${crypto.randomUUID()}`,
    });
    expect(res.status).toBe(204);
  });

  it("refuses, in the move's own write, a move to another account once something of the org is live", async () => {
    const t = await newTenant();
    // Nothing was live when the move was judged; since then a create made a session, recorded
    // live with its hold tied to it. The write must still refuse: on the new account the session
    // would be read as gone and what it spends never booked.
    const s = await startTask(t, "slipped in", { steps: 50, stepMs: 60_000 });
    expect(s.status).not.toBe("stopped");
    const sealed = { orgId: t.orgId, apiKeySealed: "x", webhookSecretSealed: null };
    expect(await putOrgUpstream(env.DB, sealed, moveAudit(t.orgId), { whenNothingToLose: true })).toBe(
      "busy",
    );
    expect(await expectJson(await admin(`/orgs/${t.orgId}`), 200)).toMatchObject({ upstream: "deployment" });
  });

  it("sends a create to the account the org is on now, though this isolate still remembers the one it moved from", async () => {
    const { t, account } = await tenantOnOwnAccount();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
    // This isolate now remembers the org's own account.
    const before = await startTask(t, "before the move", { steps: 1 });
    expect((await account.truth()).sessions.map((s) => s.id)).toEqual([before.id]);
    await eventually(async () =>
      (await asTenant(t.key, `/api/v3/sessions/${before.id}`).then((r) => r.json() as Promise<SessionView>))
        .status === "stopped"
        ? true
        : undefined,
    );
    // Another isolate moves the org back to the deployment's account: D1 says so at once, while
    // this isolate's memory of the account lasts up to 30 s more.
    await env.DB.prepare("DELETE FROM org_upstreams WHERE org_id = ?").bind(t.orgId).run();
    const after = await startTask(t, "after the move", { steps: 1 });
    // On the old account it would be read as gone from the new one, and its cost never booked.
    expect((await account.truth()).sessions.map((s) => s.id)).toEqual([before.id]);
    expect((await emulatorTruth()).map((s) => s.id)).toContain(after.id);
    // And the isolate now reads the org's calls from the account it is on.
    const read = await expectJson<SessionView>(await asTenant(t.key, `/api/v3/sessions/${after.id}`), 200);
    expect(read.id).toBe(after.id);
  });

  /**
   * An org on an account of its own that another isolate moves back to the deployment's; `made`
   * then makes something there. This isolate, as a third one that has not seen the move, still
   * remembers the org's own account (read while it was stored), for up to 30 s.
   */
  async function movedElsewhereMeanwhile<T>(made: (t: TestTenant) => Promise<T>) {
    const { t, account } = await tenantOnOwnAccount();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
    const own = await env.DB.prepare("SELECT * FROM org_upstreams WHERE org_id = ?")
      .bind(t.orgId)
      .first<Record<string, unknown>>();
    await env.DB.prepare("DELETE FROM org_upstreams WHERE org_id = ?").bind(t.orgId).run();
    const thing = await made(t);
    const columns = Object.keys(own ?? {});
    await env.DB.prepare(
      `INSERT INTO org_upstreams (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
    )
      .bind(...columns.map((k) => own?.[k] ?? null))
      .run();
    forgetUpstream(t.orgId);
    await orgAccountFor(env, t.orgId, log);
    await env.DB.prepare("DELETE FROM org_upstreams WHERE org_id = ?").bind(t.orgId).run();
    return { t, account, thing };
  }

  it("does not take a session made on the account the org is on now as gone when an isolate that remembers the old one reads it", async () => {
    const {
      t,
      account,
      thing: task,
    } = await movedElsewhereMeanwhile((t) => startTask(t, "after the move", { steps: 50, stepMs: 60_000 }));
    expect((await emulatorTruth()).map((s) => s.id)).toContain(task.id);
    expect((await account.truth()).sessions).toEqual([]);
    // The tenant polls its running session there: the old account does not know it, but it is not gone.
    const read = await asTenant(t.key, `/api/v3/sessions/${task.id}`);
    expect(read.status).toBe(200);
    expect((await read.json<SessionView>()).id).toBe(task.id);
    const hold = await env.DB.prepare("SELECT state FROM holds WHERE kind = 'session' AND resource_id = ?")
      .bind(task.id)
      .first<{ state: string }>();
    expect(hold?.state).toBe("open");
    const record = await env.DB.prepare("SELECT deleted_at FROM resources WHERE kind = 'session' AND id = ?")
      .bind(task.id)
      .first<{ deleted_at: string | null }>();
    expect(record?.deleted_at).toBeNull();
    await expectJson(
      await asTenant(t.key, `/api/v3/sessions/${task.id}/stop`, { body: { strategy: "session" } }),
      200,
    );
  });

  it("takes a follow-up to a session made on the account the org is on now, from an isolate that remembers the old one", async () => {
    const { t, thing: idle } = await movedElsewhereMeanwhile(async (t) => {
      const made = await expectJson<SessionView>(
        await asTenant(t.key, "/api/v3/sessions", { body: {} }),
        200,
      );
      // Booted (idle, ready for a task) before the stale isolate reads it.
      await eventually(async () => {
        const read = await expectJson<SessionView>(await asTenant(t.key, `/api/v3/sessions/${made.id}`), 200);
        return read.status === "idle" ? true : undefined;
      });
      return made;
    });
    const followUp = await asTenant(t.key, "/api/v3/sessions", {
      body: { sessionId: idle.id, task: emuTask("a follow-up after the move", { steps: 1 }) },
    });
    expect(followUp.status, await followUp.clone().text()).toBe(200);
    expect((await followUp.json<SessionView>()).id).toBe(idle.id);
  });

  for (const to of ["the deployment's", "another of its own"] as const) {
    it(`does not take a session as gone in a pass over the account its org has just moved from, to ${to}`, async () => {
      const { t } = await tenantOnOwnAccount();
      await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
      // reconcileEveryAccount reads every org's account before its first pass; the org's comes later.
      const sealed = await findOrgUpstream(env.DB, t.orgId);
      if (!sealed) throw new Error("the org has no account of its own");
      const credentials = await openCredentials(env, sealed, log);
      // Meanwhile the org moves (nothing of it is live), and a task starts on the account it is on now.
      const next = to === "another of its own" ? await newUpstreamAccount() : null;
      const moved = next
        ? await admin(`/orgs/${t.orgId}/upstream`, "PUT", { apiKey: next.key })
        : await admin(`/orgs/${t.orgId}/upstream`, "DELETE");
      expect(moved.status).toBe(204);
      const task = await startTask(t, "after the move", { steps: 50, stepMs: 60_000 });
      if (next) expect((await next.truth()).sessions.map((s) => s.id)).toEqual([task.id]);
      const report = await reconcile(withCredentials(env, credentials), log, {
        orgId: t.orgId,
        accountSetAt: sealed.setAt,
      });
      // The old account does not know the session: it is not gone, its hold still open.
      expect(report.gone).toBe(0);
      const hold = await env.DB.prepare("SELECT state FROM holds WHERE kind = 'session' AND resource_id = ?")
        .bind(task.id)
        .first<{ state: string }>();
      expect(hold?.state).toBe("open");
      expect((await asTenant(t.key, `/api/v3/sessions/${task.id}`)).status).toBe(200);
      await expectJson(
        await asTenant(t.key, `/api/v3/sessions/${task.id}/stop`, { body: { strategy: "session" } }),
        200,
      );
    });
  }

  it("makes a profile or workspace on the account the org is on now, though this isolate remembers the old one", async () => {
    const { t, account } = await tenantOnOwnAccount();
    const listed = async (path: string) => {
      const res = await fetch(`${account.env.UPSTREAM_URL}${path}`, {
        headers: { "X-Browser-Use-API-Key": account.key },
      });
      return (await expectJson<{ items: { id: string }[] }>(res, 200)).items.map((i) => i.id);
    };
    // This isolate now remembers the org's own account.
    const before = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/profiles", { body: { name: "before the move" } }),
      201,
    );
    expect(await listed("/profiles")).toEqual([before.id]);
    // Another isolate moves the org back to the deployment's account.
    await env.DB.prepare("DELETE FROM org_upstreams WHERE org_id = ?").bind(t.orgId).run();
    const profile = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/profiles", { body: { name: "after the move" } }),
      201,
    );
    const workspace = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/workspaces", { body: { name: "after the move" } }),
      201,
    );
    // Made on the old account, they would be read as gone from the new one: the tenant's, lost.
    expect(await listed("/profiles")).toEqual([before.id]);
    expect(await listed("/workspaces")).toEqual([]);
    expect((await asTenant(t.key, `/api/v3/profiles/${profile.id}`)).status).toBe(200);
    expect((await asTenant(t.key, `/api/v3/workspaces/${workspace.id}`)).status).toBe(200);
  });

  it("is what the reconciler reads and stops with, and the deployment's pass leaves it alone", async () => {
    const { t, account } = await tenantOnOwnAccount();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
    const s = await startTask(t, "ends unseen", { steps: 1, cost: "0.01" });
    const billed = await eventually(async () => {
      const truth = (await account.truth()).sessions[0];
      return truth?.status === "stopped" ? toMicros(String(truth.totalCostUsd)) : undefined;
    });
    await reconcileEveryAccount(env, log, { accounts: 100 });
    const row = await env.DB.prepare(
      "SELECT status, deleted_at FROM resources WHERE kind = 'session' AND id = ?",
    )
      .bind(s.id)
      .first();
    expect(row).toEqual({ status: "stopped", deleted_at: null });
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });

    // A kill switch stops what runs on the org's own account.
    const live = await startTask(t, "runs on", { steps: 50, stepMs: 60_000 });
    const suspended = await admin(`/orgs/${t.orgId}/suspend`, "POST", { stopSessions: true });
    expect(await expectJson(suspended, 200)).toMatchObject({ stopped: 1 });
    expect((await account.truth()).sessions.find((x) => x.id === live.id)?.status).toBe("stopped");
  });
});

describe("an org's own Browser Use webhooks", () => {
  async function deliver(orgId: string, secret: string, sessionId: string) {
    const body = JSON.stringify({
      type: "agent.task.status_update",
      timestamp: new Date().toISOString(),
      payload: { session_id: sessionId, status: "stopped" },
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    return gateway(`/webhooks/browser-use/${orgId}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "X-Browser-Use-Timestamp": timestamp,
        "X-Browser-Use-Signature": await hmacSha256Hex(secret, `${timestamp}.${body}`),
      },
      body,
    });
  }

  it("settle the org's task at /webhooks/browser-use/{orgId}, verified with the org's secret", async () => {
    const { t, account, secret } = await tenantOnOwnAccount();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "5", period: "none" } });
    const s = await startTask(t, "hooked", { steps: 1, cost: "0.01" });
    const billed = await eventually(async () => {
      const truth = (await account.truth()).sessions[0];
      return truth?.status === "stopped" ? toMicros(String(truth.totalCostUsd)) : undefined;
    });
    // The deployment's secret, or the org's at the deployment's receiver, is no signature for it.
    expect((await deliver(t.orgId, env.BROWSER_USE_WEBHOOK_SECRET as string, s.id)).status).toBe(401);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({ spentMicros: 0 });
    expect(await expectJson(await deliver(t.orgId, secret, s.id), 200)).toEqual({ received: true });
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
  });

  it("ignore another org's session, and do not exist for an org without an account or secret of its own", async () => {
    const { t, secret } = await tenantOnOwnAccount();
    const stranger = await newTenant();
    const theirs = await startTask(stranger, "not yours", { steps: 1 });
    expect(await expectJson(await deliver(t.orgId, secret, theirs.id), 200)).toEqual({ received: true });
    expect((await deliver(stranger.orgId, secret, theirs.id)).status).toBe(404);
    expect((await deliver(crypto.randomUUID(), secret, theirs.id)).status).toBe(404);
    expect((await deliver("not-an-org", secret, theirs.id)).status).toBe(404);
    const noSecret = await newTenant();
    const account = await newUpstreamAccount();
    expect((await admin(`/orgs/${noSecret.orgId}/upstream`, "PUT", { apiKey: account.key })).status).toBe(
      204,
    );
    expect((await deliver(noSecret.orgId, secret, theirs.id)).status).toBe(404);
  });
});
