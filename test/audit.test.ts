import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../src/lib/crypto";
import { auditStatement } from "../src/store/audit";
import {
  deliverToHook,
  ADMIN_TOKEN,
  adminPost,
  asTenant,
  EMULATOR,
  emuTask,
  expectJson,
  gateway,
  newTenant,
  putPolicy,
  storeFailingOn,
} from "./helpers";

interface Entry {
  id: string;
  at: string;
  actor: string;
  tokenName: string | null;
  action: string;
  target: { type: string; id: string };
  orgId: string | null;
  tenantId: string | null;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  requestId: string | null;
  code: string | null;
  count: number | null;
}

interface Page {
  items: Entry[];
  nextCursor: string | null;
}

const admin = (path: string, method = "GET", body?: unknown, headers: Record<string, string> = {}) =>
  gateway(`/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** The log's entries matching `query`, every page of them, newest first. */
async function auditLog(query: Record<string, string>): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ ...query, pageSize: "100", ...(cursor ? { cursor } : {}) });
    const page: Page = await expectJson<Page>(await admin(`/audit?${params}`), 200);
    entries.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return entries;
}

/** The one entry of `action` on `targetId`; fails when there is none or more than one. */
async function entryOf(orgId: string, action: string, targetId: string): Promise<Entry> {
  const found = (await auditLog({ orgId, action })).filter((e) => e.target.id === targetId);
  expect(found, `${action} of ${targetId}`).toHaveLength(1);
  return found[0] as Entry;
}

describe("audit entries of orgs and tenants", () => {
  it("records creating, renaming, suspending, resuming and deleting an org and a tenant, with before and after", async () => {
    const asAlice = { "X-Actor": "alice@example.com", "X-Request-Id": `req-${crypto.randomUUID()}` };
    const org = await expectJson<{ id: string; createdAt: string }>(
      await admin("/orgs", "POST", { name: "Acme" }, asAlice),
      201,
    );
    const tenant = await expectJson<{ id: string; createdAt: string }>(
      await admin(`/orgs/${org.id}/tenants`, "POST", { name: "Team A" }),
      201,
    );
    await expectJson(await admin(`/orgs/${org.id}`, "PATCH", { name: "Acme Inc" }), 200);
    await expectJson(await admin(`/tenants/${tenant.id}`, "PATCH", { name: "Team B" }), 200);
    await expectJson(await admin(`/tenants/${tenant.id}/suspend`, "POST", { stopSessions: true }), 200);
    await expectJson(await admin(`/tenants/${tenant.id}/resume`, "POST"), 200);
    await expectJson(await admin(`/orgs/${org.id}/suspend`, "POST"), 200);
    await expectJson(await admin(`/orgs/${org.id}/resume`, "POST"), 200);
    expect((await admin(`/tenants/${tenant.id}`, "DELETE")).status).toBe(204);
    expect((await admin(`/orgs/${org.id}`, "DELETE")).status).toBe(204);

    const log = await auditLog({ orgId: org.id });
    expect(log.map((e) => e.action)).toEqual([
      "org.delete",
      "tenant.delete",
      "org.resume",
      "org.suspend",
      "tenant.resume",
      "tenant.suspend",
      "tenant.rename",
      "org.rename",
      "tenant.create",
      "org.create",
    ]);
    const orgView = {
      id: org.id,
      name: "Acme",
      createdAt: org.createdAt,
      suspended: false,
      upstream: "deployment",
    };
    const tenantView = {
      id: tenant.id,
      orgId: org.id,
      name: "Team A",
      createdAt: tenant.createdAt,
      suspended: false,
    };
    const byAction = Object.fromEntries(log.map((e) => [e.action, e]));
    expect(byAction["org.create"]).toMatchObject({
      actor: "alice@example.com",
      tokenName: "admin",
      target: { type: "org", id: org.id },
      orgId: org.id,
      tenantId: null,
      before: null,
      after: orgView,
      requestId: asAlice["X-Request-Id"],
      code: null,
      count: null,
    });
    expect(byAction["org.create"]?.id).toMatch(/^aud_[0-9a-f]{32}$/);
    expect(byAction["tenant.create"]).toMatchObject({
      actor: "admin",
      tokenName: "admin",
      target: { type: "tenant", id: tenant.id },
      orgId: org.id,
      tenantId: tenant.id,
      before: null,
      after: tenantView,
    });
    expect(byAction["org.rename"]).toMatchObject({
      before: orgView,
      after: { ...orgView, name: "Acme Inc" },
    });
    const renamed = { ...tenantView, name: "Team B" };
    expect(byAction["tenant.rename"]).toMatchObject({ before: tenantView, after: renamed });
    expect(byAction["tenant.suspend"]).toMatchObject({
      before: renamed,
      after: { ...renamed, suspended: true, stopSessions: true },
    });
    expect(byAction["tenant.resume"]).toMatchObject({
      before: { ...renamed, suspended: true },
      after: renamed,
    });
    const orgRenamed = { ...orgView, name: "Acme Inc" };
    expect(byAction["org.suspend"]).toMatchObject({
      before: orgRenamed,
      after: { ...orgRenamed, suspended: true, stopSessions: false },
    });
    expect(byAction["org.resume"]).toMatchObject({
      before: { ...orgRenamed, suspended: true },
      after: orgRenamed,
    });
    expect(byAction["tenant.delete"]).toMatchObject({ before: renamed, after: null });
    expect(byAction["org.delete"]).toMatchObject({ before: orgRenamed, after: null });
    // Each entry's time is when it was made.
    const times = log.map((e) => e.at);
    expect([...times].sort().reverse()).toEqual(times);
    expect(Date.parse(times[0] as string)).toBeGreaterThanOrEqual(Date.parse(org.createdAt));
  });

  it("records nothing for a change that did not happen: unknown, invalid, or refused while live", async () => {
    const t = await newTenant();
    const unknown = crypto.randomUUID();
    expect((await admin(`/orgs/${unknown}`, "PATCH", { name: "x" })).status).toBe(404);
    expect((await admin(`/tenants/${unknown}/suspend`, "POST")).status).toBe(404);
    expect((await admin(`/orgs/${t.orgId}`, "PATCH", { name: "" })).status).toBe(422);
    // The deletion's statement finds the tenant live and changes nothing: its entry is not written.
    const s = await expectJson<{ id: string }>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("busy", { steps: 1, outcome: "hang" }) },
      }),
      200,
    );
    expect((await admin(`/tenants/${t.tenantId}`, "DELETE")).status).toBe(409);
    await asTenant(t.key, `/api/v3/sessions/${s.id}/stop`, { body: { strategy: "session" } });
    const rows = await env.DB.prepare(
      "SELECT action FROM audit_log WHERE target_id IN (?, ?, ?) ORDER BY seq",
    )
      .bind(unknown, t.orgId, t.tenantId)
      .all<{ action: string }>();
    expect(rows.results.map((r) => r.action)).toEqual(["org.create", "tenant.create"]);
  });
});

/** Every stored column of every audit row of an org, as one string, to search for secrets in. */
async function storedRowsOf(orgId: string): Promise<string> {
  const { results } = await env.DB.prepare("SELECT * FROM audit_log WHERE org_id = ?").bind(orgId).all();
  expect(results.length).toBeGreaterThan(0);
  return JSON.stringify(results);
}

interface KeyView {
  id: string;
  key: string;
  prefix: string;
  name: string;
  scope: string;
  createdAt: string;
  expiresAt: string | null;
}

describe("audit entries of keys, policies, hooks, alerts and redeliveries", () => {
  it("records issuing, rotating and revoking a key with before and after, never a key or its hash", async () => {
    const t = await newTenant();
    const issued = await expectJson<KeyView>(
      await admin(`/tenants/${t.tenantId}/keys`, "POST", { name: "ci", scope: "read-only" }),
      201,
    );
    const rotated = await expectJson<KeyView>(
      await admin(`/keys/${issued.id}/rotate`, "POST", { graceSeconds: 600 }),
      201,
    );
    expect((await admin(`/keys/${rotated.id}`, "DELETE")).status).toBe(204);
    expect((await admin(`/keys/${rotated.id}`, "DELETE")).status).toBe(404);
    // A revoked key is not rotated, and its failed rotation records nothing.
    expect((await admin(`/keys/${rotated.id}/rotate`, "POST")).status).toBe(404);
    expect(
      (await auditLog({ tenantId: t.tenantId }))
        .filter((e) => e.target.id === rotated.id)
        .map((e) => e.action),
    ).toEqual(["key.revoke"]);

    const { key: _, ...issuedView } = issued;
    const issue = await entryOf(t.orgId, "key.issue", issued.id);
    expect(issue).toMatchObject({
      target: { type: "key", id: issued.id },
      orgId: t.orgId,
      tenantId: t.tenantId,
      before: null,
      after: { ...issuedView, lastUsedAt: null, revokedAt: null },
    });
    // The visible prefix identifies the key in the log; the rest of it is nowhere.
    expect(issue.after?.prefix).toBe(issued.prefix);
    const rotation = await entryOf(t.orgId, "key.rotate", issued.id);
    const { key: __, ...rotatedView } = rotated;
    expect(rotation.before).toEqual({ ...issuedView, lastUsedAt: null, revokedAt: null });
    expect(rotation.after).toEqual({
      ...issuedView,
      lastUsedAt: null,
      revokedAt: null,
      expiresAt: expect.any(String),
      replacedBy: { ...rotatedView, lastUsedAt: null, revokedAt: null },
    });
    const graceEnds = Date.parse(rotation.after?.expiresAt as string) - Date.parse(rotated.createdAt);
    expect(graceEnds).toBe(600_000);
    const revocation = await entryOf(t.orgId, "key.revoke", rotated.id);
    expect(revocation.before).toMatchObject({ id: rotated.id, revokedAt: null });
    expect(revocation.after).toMatchObject({ id: rotated.id, revokedAt: expect.any(String) });
    // The revoked key's revokedAt is the one the key has.
    const { keys } = await expectJson<{ keys: { id: string; revokedAt: string }[] }>(
      await admin(`/tenants/${t.tenantId}/keys`),
      200,
    );
    expect(revocation.after?.revokedAt).toBe(keys.find((k) => k.id === rotated.id)?.revokedAt);

    const stored = await storedRowsOf(t.orgId);
    const served = await (await admin(`/audit?orgId=${t.orgId}&pageSize=100`)).text();
    for (const key of [t.key, issued.key, rotated.key]) {
      for (const text of [stored, served]) {
        expect(text).not.toContain(key);
        expect(text).not.toContain(key.slice(0, 20));
        expect(text).not.toContain(await sha256Hex(key));
      }
    }
    expect(stored).not.toMatch(/key_hash|keyHash/);
  });

  it("records a policy put with the document it replaced and the new one", async () => {
    const t = await newTenant();
    const first = { allowedModels: ["bu-mini", "bu-max"], requestsPerMinute: 30 };
    const second = { allowedModels: ["bu-mini"] };
    await expectJson(await admin(`/orgs/${t.orgId}/policy`, "PUT", first), 200);
    await expectJson(await admin(`/orgs/${t.orgId}/policy`, "PUT", second), 200);
    await expectJson(await admin(`/tenants/${t.tenantId}/policy`, "PUT", { requestsPerMinute: 5 }), 200);
    // A document that widens the org's is refused, and records nothing.
    expect(
      (await admin(`/tenants/${t.tenantId}/policy`, "PUT", { allowedModels: ["bu-ultra"] })).status,
    ).toBe(422);
    const puts = await auditLog({ orgId: t.orgId, action: "policy.put" });
    expect(puts.map((e) => [e.target, e.tenantId, e.before, e.after])).toEqual([
      [{ type: "tenant", id: t.tenantId }, t.tenantId, null, { requestsPerMinute: 5 }],
      [{ type: "org", id: t.orgId }, null, first, second],
      [{ type: "org", id: t.orgId }, null, null, first],
    ]);
  });

  it("records creating, changing, suspending, rotating and deleting a hook, never its secret", async () => {
    const t = await newTenant();
    const hook = await expectJson<{ id: string; secret: string; createdAt: string; updatedAt: string }>(
      await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
        name: "orders",
        task: "Look up {{ref}}",
        options: { model: "bu-mini" },
      }),
      201,
    );
    await expectJson(await admin(`/hooks/${hook.id}`, "PATCH", { name: "orders v2", suspended: true }), 200);
    const rotated = await expectJson<{ secret: string }>(
      await admin(`/hooks/${hook.id}/rotate-secret`, "POST"),
      200,
    );
    expect((await admin(`/hooks/${hook.id}`, "DELETE")).status).toBe(204);

    const view = {
      id: hook.id,
      orgId: t.orgId,
      tenantId: t.tenantId,
      name: "orders",
      task: "Look up {{ref}}",
      options: { model: "bu-mini" },
      callbackUrl: null,
      suspended: false,
      createdAt: hook.createdAt,
      updatedAt: hook.updatedAt,
    };
    const log = await auditLog({ orgId: t.orgId, tenantId: t.tenantId });
    expect(log.filter((e) => e.target.type === "hook").map((e) => e.action)).toEqual([
      "hook.delete",
      "hook.rotate_secret",
      "hook.update",
      "hook.create",
    ]);
    const byAction = Object.fromEntries(log.map((e) => [e.action, e]));
    expect(byAction["hook.create"]).toMatchObject({
      target: { type: "hook", id: hook.id },
      orgId: t.orgId,
      tenantId: t.tenantId,
      before: null,
      after: { ...view, secret: "[redacted]" },
    });
    const changed = { ...view, name: "orders v2", suspended: true, updatedAt: expect.any(String) };
    expect(byAction["hook.update"]).toMatchObject({ before: view, after: changed });
    expect(byAction["hook.rotate_secret"]).toMatchObject({
      before: { secret: "[redacted]" },
      after: { secret: "[redacted]", previousSecretUntil: expect.any(String) },
    });
    expect(byAction["hook.delete"]).toMatchObject({
      before: { name: "orders v2", suspended: true },
      after: null,
    });

    const stored = await storedRowsOf(t.orgId);
    const served = await (await admin(`/audit?orgId=${t.orgId}&pageSize=100`)).text();
    for (const text of [stored, served]) {
      expect(text).not.toContain("whsec_");
      expect(text).not.toContain(hook.secret.slice(6, 26));
      expect(text).not.toContain(rotated.secret.slice(6, 26));
    }
  });

  it("records putting, changing, rotating and deleting an org's alerts, never their secret", async () => {
    const t = await newTenant();
    const created = await expectJson<{ secret: string; createdAt: string }>(
      await admin(`/orgs/${t.orgId}/alerts`, "PUT", { url: "https://alerts.example.com/a" }),
      200,
    );
    await expectJson(
      await admin(`/orgs/${t.orgId}/alerts`, "PUT", {
        url: "https://alerts.example.com/b",
        thresholds: [90, 25],
      }),
      200,
    );
    const rotated = await expectJson<{ secret: string }>(
      await admin(`/orgs/${t.orgId}/alerts/rotate-secret`, "POST"),
      200,
    );
    expect((await admin(`/orgs/${t.orgId}/alerts`, "DELETE")).status).toBe(204);
    expect((await admin(`/orgs/${t.orgId}/alerts`, "DELETE")).status).toBe(404);

    const log = (await auditLog({ orgId: t.orgId })).filter((e) => e.action.startsWith("alert."));
    expect(log.map((e) => e.action)).toEqual([
      "alert.delete",
      "alert.rotate_secret",
      "alert.put",
      "alert.put",
    ]);
    const [deleted, rotation, changed, first] = log as [Entry, Entry, Entry, Entry];
    const a = {
      orgId: t.orgId,
      url: "https://alerts.example.com/a",
      thresholds: [50, 80, 100],
      createdAt: created.createdAt,
    };
    expect(first).toMatchObject({
      target: { type: "org", id: t.orgId },
      tenantId: null,
      before: null,
      after: { ...a, updatedAt: created.createdAt, secret: "[redacted]" },
    });
    expect(changed.before).toEqual({ ...a, updatedAt: created.createdAt });
    expect(changed.after).toEqual({
      ...a,
      url: "https://alerts.example.com/b",
      thresholds: [25, 90],
      updatedAt: expect.any(String),
    });
    expect(rotation).toMatchObject({ before: { secret: "[redacted]" }, after: { secret: "[redacted]" } });
    expect(deleted).toMatchObject({ before: { url: "https://alerts.example.com/b" }, after: null });
    const stored = await storedRowsOf(t.orgId);
    expect(stored).not.toContain("whsec_");
    expect(stored).not.toContain(created.secret.slice(6, 26));
    expect(stored).not.toContain(rotated.secret.slice(6, 26));
  });

  it("records a redelivery with the event's state before and after", async () => {
    const t = await newTenant();
    const eventId = `evt_${crypto.randomUUID().replaceAll("-", "")}`;
    const at = new Date().toISOString();
    await env.DB.prepare(
      `INSERT INTO events (id, type, org_id, tenant_id, url, body, state, attempts, next_attempt_at, created_at)
       VALUES (?, 'session.finished', ?, ?, ?, '{}', 'failed', 8, ?, ?)`,
    )
      .bind(eventId, t.orgId, t.tenantId, `${EMULATOR}/_emulator/inbox/audit-${eventId}`, at, at)
      .run();
    expect((await admin(`/deliveries/${eventId}/redeliver`, "POST")).status).toBe(202);
    expect(await entryOf(t.orgId, "event.redeliver", eventId)).toMatchObject({
      target: { type: "event", id: eventId },
      tenantId: t.tenantId,
      before: { state: "failed", attempts: 8 },
      after: { state: "pending", attempts: 8 },
    });
  });

  it("auditStatement writes an entry only after a statement that changed a row, and redacts what it is handed", async () => {
    const t = await newTenant();
    const db = env.DB;
    const entry = (name: string) =>
      auditStatement(db, {
        actor: "ops@example.com",
        tokenName: "admin",
        requestId: `req-${name}`,
        action: "org.rename",
        target: { type: "org", id: t.orgId },
        orgId: t.orgId,
        tenantId: null,
        before: { name: "old" },
        after: {
          name,
          upstream: { apiKey: "bu_0123456789abcdef0123", webhookSecret: "plain words" },
          note: "signed with whsec_c2VjcmV0c2VjcmV0",
        },
      });
    await db.batch([
      db.prepare("UPDATE orgs SET name = 'nothing' WHERE id = ?").bind(crypto.randomUUID()),
      entry("missed"),
    ]);
    await db.batch([db.prepare("UPDATE orgs SET name = 'made' WHERE id = ?").bind(t.orgId), entry("made")]);
    const renames = await auditLog({ orgId: t.orgId, action: "org.rename" });
    expect(renames.map((e) => [e.requestId, e.after])).toEqual([
      [
        "req-made",
        { name: "made", upstream: { apiKey: "[redacted]", webhookSecret: "[redacted]" }, note: "[redacted]" },
      ],
    ]);
  });
});

describe("X-Actor", () => {
  it("is recorded as given, and a bad one is 422 with nothing changed", async () => {
    const name = "Jane Doe <jane@example.com> (on-call #42)";
    const org = await expectJson<{ id: string }>(
      await admin("/orgs", "POST", { name: "actor" }, { "X-Actor": name }),
      201,
    );
    expect((await entryOf(org.id, "org.create", org.id)).actor).toBe(name);
    for (const bad of ["x".repeat(201), "tab\there", "bell\u0007"]) {
      const res = await admin(`/orgs/${org.id}`, "PATCH", { name: "changed" }, { "X-Actor": bad });
      const body = await expectJson<{ code: string; detail: { loc: string[] }[] }>(res, 422);
      expect(body.code).toBe("validation_error");
      expect(body.detail[0]?.loc).toEqual(["header", "X-Actor"]);
    }
    expect(await expectJson(await admin(`/orgs/${org.id}`), 200)).toMatchObject({ name: "actor" });
    expect((await auditLog({ orgId: org.id })).map((e) => e.action)).toEqual(["org.create"]);
    // 200 characters is the most it takes.
    const longest = "y".repeat(200);
    await expectJson(await admin(`/orgs/${org.id}`, "PATCH", { name: "long" }, { "X-Actor": longest }), 200);
    expect((await entryOf(org.id, "org.rename", org.id)).actor).toBe(longest);
  });
});

describe("GET /admin/v1/audit", () => {
  it("pages newest first with an opaque cursor, and filters by org, tenant, action and time", async () => {
    const org = (await adminPost("/admin/v1/orgs", { name: "paged" })).id as string;
    const tenants: string[] = [];
    for (const name of ["a", "b", "c"]) {
      tenants.push((await adminPost(`/admin/v1/orgs/${org}/tenants`, { name })).id as string);
    }
    for (const [i, id] of tenants.entries()) {
      await expectJson(await admin(`/tenants/${id}`, "PATCH", { name: `renamed ${i}` }), 200);
    }
    const all = await auditLog({ orgId: org });
    expect(all).toHaveLength(7);
    expect(all.map((e) => e.action)).toEqual([
      ...Array(3).fill("tenant.rename"),
      ...Array(3).fill("tenant.create"),
      "org.create",
    ]);
    expect(all.slice(0, 3).map((e) => e.target.id)).toEqual([...tenants].reverse());

    // Pages of 3: 3, 3, 1, each following on from the last, the last without a cursor.
    const pages: Page[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ orgId: org, pageSize: "3", ...(cursor ? { cursor } : {}) });
      const page: Page = await expectJson<Page>(await admin(`/audit?${params}`), 200);
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.map((p) => p.items.length)).toEqual([3, 3, 1]);
    expect(pages.flatMap((p) => p.items.map((e) => e.id))).toEqual(all.map((e) => e.id));
    expect(pages[0]?.nextCursor).not.toContain(org);

    const second = tenants[1] as string;
    expect((await auditLog({ tenantId: second })).map((e) => e.action)).toEqual([
      "tenant.rename",
      "tenant.create",
    ]);
    expect((await auditLog({ orgId: org, action: "tenant.create" })).map((e) => e.target.id)).toEqual(
      [...tenants].reverse(),
    );
    // `from` includes its instant, `to` excludes its own.
    const oldestRename = all[2] as Entry;
    const newestCreate = all[3] as Entry;
    const since = await auditLog({ orgId: org, from: oldestRename.at });
    expect(since.map((e) => e.id)).toEqual(all.filter((e) => e.at >= oldestRename.at).map((e) => e.id));
    expect(since.map((e) => e.id)).toContain(oldestRename.id);
    const until = await auditLog({ orgId: org, to: newestCreate.at });
    expect(until.map((e) => e.id)).toEqual(all.filter((e) => e.at < newestCreate.at).map((e) => e.id));
    expect(until.map((e) => e.id)).not.toContain(newestCreate.id);
    // An offset is read as the instant it names.
    const at = new Date(oldestRename.at);
    const local = new Date(at.getTime() + 2 * 3600_000).toISOString().replace("Z", "+02:00");
    expect((await auditLog({ orgId: org, from: local })).map((e) => e.id)).toEqual(since.map((e) => e.id));
  });

  it("answers 422 validation_error for a bad filter or cursor", async () => {
    for (const query of [
      "orgId=nope",
      "tenantId=1",
      "action=org.explode",
      "from=yesterday",
      "to=2026-13-01T00:00:00Z",
      "from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
      "cursor=bm90LWEtY3Vyc29y",
      "cursor=%%%",
      "pageSize=0",
      "pageSize=101",
    ]) {
      const body = await expectJson<{ code: string; detail: unknown[] }>(await admin(`/audit?${query}`), 422);
      expect(body.code, query).toBe("validation_error");
      expect(Array.isArray(body.detail), query).toBe(true);
    }
  });

  it("refuses a tenant's key and a missing or wrong admin token with 401", async () => {
    const t = await newTenant();
    for (const headers of [
      { Authorization: `Bearer ${t.key}` },
      { "X-Browser-Use-API-Key": t.key },
      { Authorization: "Bearer not-the-token" },
      {} as Record<string, string>,
    ]) {
      const res = await gateway("/admin/v1/audit", { headers });
      expect(await expectJson(res, 401), JSON.stringify(Object.keys(headers))).toMatchObject({
        code: "admin_unauthorized",
      });
    }
  });
});

/** Starts in a fresh clock minute when this one is nearly over, so a test's refusals share one. */
async function inOneMinute(): Promise<void> {
  const left = 60 - (Math.floor(Date.now() / 1000) % 60);
  if (left < 8) await new Promise((r) => setTimeout(r, left * 1000 + 100));
}

/** How many rows a tenant's holds, resources and usage have: what a refused request must not write. */
async function writesOf(tenantId: string) {
  const count = (table: string) =>
    env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?`)
      .bind(tenantId)
      .first<number>("n");
  return { holds: await count("holds"), resources: await count("resources"), usage: await count("usage") };
}

describe("refusals by policy and budget", () => {
  it("collapse into one row per tenant, code and minute, with a count, and write nothing else", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { allowedModels: ["bu-mini"], allowKeepAlive: false });
    await inOneMinute();
    const refused: { code: string; requestId: string }[] = [];
    for (const body of [
      ...Array(5).fill({ task: "t", model: "bu-max" }),
      { task: "t", model: "bu-mini", keepAlive: true },
      { task: "t", model: "bu-mini", keepAlive: true },
    ]) {
      refused.push(await expectJson(await asTenant(t.key, "/api/v3/sessions", { body }), 403));
    }
    const rows = await auditLog({ tenantId: t.tenantId, action: "refusal" });
    expect(rows.map((e) => [e.code, e.count])).toEqual([
      ["keep_alive_not_allowed", 2],
      ["model_not_allowed", 5],
    ]);
    expect(rows[1]).toMatchObject({
      id: expect.stringMatching(/^aud_/),
      actor: "gateway",
      tokenName: null,
      action: "refusal",
      target: { type: "tenant", id: t.tenantId },
      orgId: t.orgId,
      tenantId: t.tenantId,
      before: null,
      after: null,
      // The minute's first refusal names the row.
      requestId: refused[0]?.requestId,
    });
    expect(await writesOf(t.tenantId)).toEqual({ holds: 0, resources: 0, usage: 0 });
    // Filters find them like any entry; another tenant's refusals are its own rows.
    expect((await auditLog({ orgId: t.orgId, action: "refusal" })).map((e) => e.id)).toEqual(
      rows.map((e) => e.id),
    );
    const other = await newTenant(t.orgId);
    await expectJson(
      await asTenant(other.key, "/api/v3/sessions", { body: { task: "t", model: "bu-max" } }),
      403,
    );
    expect((await auditLog({ tenantId: other.tenantId, action: "refusal" })).map((e) => e.count)).toEqual([
      1,
    ]);
    expect((await auditLog({ tenantId: t.tenantId, action: "refusal" })).map((e) => e.count)).toEqual([2, 5]);
  });

  it("counts a budget's 402, a rate limit's 429 and a hook delivery's refusal; not a bad key, a bad body or a read-only key", async () => {
    const poor = await newTenant();
    await putPolicy("tenants", poor.tenantId, { budget: { capUsd: "0.005", period: "none" } });
    const limited = await newTenant(poor.orgId);
    await putPolicy("tenants", limited.tenantId, { requestsPerMinute: 1 });
    await inOneMinute();
    expect(
      await expectJson(await asTenant(poor.key, "/api/v3/sessions", { body: { task: "too poor" } }), 402),
    ).toMatchObject({ code: "budget_exceeded" });
    await expectJson(await asTenant(limited.key, "/api/v3/billing/account"), 200);
    for (let i = 0; i < 3; i++) await expectJson(await asTenant(limited.key, "/api/v3/billing/account"), 429);

    const hooked = await newTenant(poor.orgId);
    await putPolicy("tenants", hooked.tenantId, { allowedModels: ["bu-mini"] });
    const hook = await expectJson<{ id: string; secret: string }>(
      await admin(`/tenants/${hooked.tenantId}/hooks`, "POST", {
        name: "h",
        task: "t",
        options: { model: "bu-max" },
      }),
      201,
    );
    const delivered = await deliverToHook(hook, "{}", { id: "msg_refused" });
    expect(await expectJson(delivered, 403)).toMatchObject({ code: "model_not_allowed" });

    // Not refusals by policy: no key, a bad body, a read-only key's attempt to change something.
    const readOnly = await expectJson<{ key: string }>(
      await admin(`/tenants/${poor.tenantId}/keys`, "POST", { scope: "read-only" }),
      201,
    );
    expect((await asTenant("bugw_nope", "/api/v3/sessions")).status).toBe(401);
    expect((await asTenant(poor.key, "/api/v3/sessions", { body: { task: 7 } })).status).toBe(422);
    expect((await asTenant(readOnly.key, "/api/v3/sessions", { body: { task: "t" } })).status).toBe(403);

    const refusals = await auditLog({ orgId: poor.orgId, action: "refusal" });
    expect(refusals.map((e) => [e.tenantId, e.code, e.count])).toEqual([
      [hooked.tenantId, "model_not_allowed", 1],
      [limited.tenantId, "rate_limited", 3],
      [poor.tenantId, "budget_exceeded", 1],
    ]);
  });

  it("keeps the refusal's 4xx when the audit write fails, and records nothing", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { allowedModels: ["bu-mini"] });
    const failing = storeFailingOn(/audit_log/);
    const res = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: "t", model: "bu-max" },
      env: failing,
    });
    expect(await expectJson(res, 403)).toMatchObject({ code: "model_not_allowed" });
    expect(await auditLog({ tenantId: t.tenantId, action: "refusal" })).toEqual([]);
    // The same refusal with the store answering is counted: the failure was the only difference.
    await expectJson(
      await asTenant(t.key, "/api/v3/sessions", { body: { task: "t", model: "bu-max" } }),
      403,
    );
    expect((await auditLog({ tenantId: t.tenantId, action: "refusal" })).map((e) => e.count)).toEqual([1]);
  });
});
