import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { callbackUrlProblem } from "../src/hooks/callback-url";
import { renderTask } from "../src/hooks/template";
import { createLogger } from "../src/lib/log";
import { reconcile } from "../src/reconciler/run";
import {
  ADMIN_TOKEN,
  countRoundTrips,
  deliverToHook,
  asTenant,
  emulatorTruth,
  eventually,
  expectJson,
  gateway,
  newTenant,
  putPolicy,
  type SessionView,
  storeFailingOn,
} from "./helpers";
import { admin, cappedHookOnAccount, deliverTo, type HookView, newHook } from "./hook-helpers";

/** Posts `payload` to a hook, signed with `secret` by the standardwebhooks library (the sender's side). */
function deliver(
  hookId: string,
  secret: string,
  payload: unknown,
  options: { id?: string; at?: Date; raw?: string; headers?: Record<string, string> } = {},
) {
  return deliverToHook({ id: hookId, secret }, options.raw ?? JSON.stringify(payload), options);
}

const order = { order: { id: "A-1001" }, customer: { name: "Ada" } };

async function holdCount(tenantId: string): Promise<number> {
  return (
    (await env.DB.prepare("SELECT count(*) AS n FROM holds WHERE tenant_id = ?")
      .bind(tenantId)
      .first<number>("n")) ?? -1
  );
}

describe("hooks through the admin API", () => {
  it("creates a hook with its secret shown once, lists, reads, changes and deletes it", async () => {
    const t = await newTenant();
    const hook = await newHook(t, { options: { model: "bu-mini" }, callbackUrl: "https://example.com/done" });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(hook).toMatchObject({
      tenantId: t.tenantId,
      options: { model: "bu-mini" },
      callbackUrl: "https://example.com/done",
    });
    const read = await expectJson<HookView>(await admin(`/hooks/${hook.id}`), 200);
    expect(read).not.toHaveProperty("secret");
    const listed = await expectJson<{ hooks: HookView[] }>(await admin(`/tenants/${t.tenantId}/hooks`), 200);
    expect(listed.hooks.map((h) => h.id)).toEqual([hook.id]);
    expect(JSON.stringify(listed)).not.toContain(hook.secret);
    const changed = await expectJson<HookView>(
      await admin(`/hooks/${hook.id}`, "PATCH", { name: "renamed" }),
      200,
    );
    expect(changed).toMatchObject({ name: "renamed", task: hook.task, suspended: false });
    // Suspended, it answers deliveries as an unknown hook does, until resumed.
    await expectJson(await admin(`/hooks/${hook.id}`, "PATCH", { suspended: true }), 200);
    expect((await deliver(hook.id, hook.secret, order)).status).toBe(404);
    await expectJson(await admin(`/hooks/${hook.id}`, "PATCH", { suspended: false }), 200);
    expect((await deliver(hook.id, hook.secret, order)).status).toBe(202);
    expect((await admin(`/hooks/${hook.id}`, "DELETE")).status).toBe(204);
    expect((await admin(`/hooks/${hook.id}`)).status).toBe(404);
    expect(await expectJson(await deliver(hook.id, hook.secret, order), 404)).toMatchObject({
      code: "not_found",
    });
  });

  it("refuses options a hook may not fix, a profile of another tenant, and callbacks to private places", async () => {
    const t = await newTenant();
    const other = await newTenant();
    const profile = await expectJson<{ id: string }>(
      await asTenant(other.key, "/api/v3/profiles", { body: {} }),
      201,
    );
    const create = (fields: Record<string, unknown>, bindings = env) =>
      admin(`/tenants/${t.tenantId}/hooks`, "POST", { name: "x", task: "t", ...fields }, bindings);
    expect((await create({ options: { keepAlive: true } })).status).toBe(422);
    expect((await create({ options: { maxCostUsd: -1 } })).status).toBe(422);
    expect(await expectJson(await create({ options: { profileId: profile.id } }), 404)).toMatchObject({
      detail: "Profile not found",
    });
    const production = { ...env, ALLOW_PRIVATE_CALLBACKS: "false" };
    for (const url of ["http://example.com/x", "https://127.0.0.1/x", "https://localhost/x"]) {
      expect((await create({ callbackUrl: url }, production)).status, url).toBe(422);
    }
    expect((await create({ callbackUrl: "https://hooks.example.com/x" }, production)).status).toBe(201);
  });
});

describe("a signed delivery", () => {
  it("starts the hook's task as its tenant and answers 202 with the session and delivery ids", async () => {
    const t = await newTenant();
    const hook = await newHook(t, { options: { model: "bu-mini" } });
    const res = await deliver(hook.id, hook.secret, order, { id: "msg_first" });
    const answer = await expectJson<{ sessionId: string; deliveryId: string }>(res, 202);
    expect(answer.deliveryId).toBe("msg_first");
    const upstream = await eventually(async () => {
      const s = (await emulatorTruth()).find((x) => x.id === answer.sessionId);
      return s?.status === "stopped" ? s : undefined;
    });
    expect(upstream).toMatchObject({ model: "bu-mini", title: "Check order A-1001 for Ada" });
    // It is the tenant's session like any other.
    expect(
      (await expectJson<SessionView>(await asTenant(t.key, `/api/v3/sessions/${answer.sessionId}`), 200)).id,
    ).toBe(answer.sessionId);
  });

  it("starts one session for the same webhook-id sent twice, one after the other or at once", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "5", period: "none" },
      defaultTaskCostUsd: "0.1",
    });
    const hook = await newHook(t);
    const first = await expectJson(await deliver(hook.id, hook.secret, order, { id: "msg_twice" }), 202);
    const again = await deliver(hook.id, hook.secret, order, { id: "msg_twice" });
    expect(await expectJson(again, 200)).toEqual(first);
    const [a, b] = await Promise.all([
      deliver(hook.id, hook.secret, order, { id: "msg_at_once" }),
      deliver(hook.id, hook.secret, order, { id: "msg_at_once" }),
    ]);
    const answers = [await a.json(), await b.json()];
    expect([a.status, b.status].sort()).toEqual([200, 202]);
    expect(answers[0]).toEqual(answers[1]);
    expect(await holdCount(t.tenantId)).toBe(2);
  });

  it("is admitted as the tenant would be: the same refusals, holding nothing", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "0.005", period: "none" } });
    const hook = await newHook(t);
    expect(await expectJson(await deliver(hook.id, hook.secret, order), 402)).toMatchObject({
      code: "budget_exceeded",
      scope: "tenant",
    });
    await putPolicy("tenants", t.tenantId, { allowedModels: ["bu-mini"] });
    expect(await expectJson(await deliver(hook.id, hook.secret, order), 403)).toMatchObject({
      code: "model_not_allowed",
    });
    expect(await holdCount(t.tenantId)).toBe(0);
    // A refused delivery may be sent again once the policy allows it.
    await putPolicy("tenants", t.tenantId, {});
    const id = "msg_retried";
    await putPolicy("tenants", t.tenantId, { allowedModels: ["bu-mini"] });
    expect((await deliver(hook.id, hook.secret, order, { id })).status).toBe(403);
    await putPolicy("tenants", t.tenantId, {});
    expect((await deliver(hook.id, hook.secret, order, { id })).status).toBe(202);
  });

  it("answers 422 template_value_missing when the body lacks a placeholder's scalar value", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    for (const payload of [
      { order: { id: "A" } },
      { order: { id: { nested: true } }, customer: { name: "x" } },
    ]) {
      const res = await deliver(hook.id, hook.secret, payload);
      expect(await expectJson(res, 422), JSON.stringify(payload)).toMatchObject({
        code: "template_value_missing",
      });
    }
    expect(await holdCount(t.tenantId)).toBe(0);
  });

  it("refuses bodies as elsewhere: too large 413, not JSON 415, too deep or malformed 422", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    expect(
      (await deliver(hook.id, hook.secret, null, { raw: JSON.stringify({ x: "y".repeat(300_000) }) })).status,
    ).toBe(413);
    const typed = await deliver(hook.id, hook.secret, order, { headers: { "Content-Type": "text/plain" } });
    expect(typed.status).toBe(415);
    expect(
      (await deliver(hook.id, hook.secret, null, { raw: `${"[".repeat(100)}${"]".repeat(100)}` })).status,
    ).toBe(422);
    expect((await deliver(hook.id, hook.secret, null, { raw: "{not json" })).status).toBe(422);
  });

  it("verifies a body that begins with a byte order mark over the bytes sent, and reads the JSON after it", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    // Some senders write UTF-8 with a BOM; they sign exactly what they send.
    const res = await deliver(hook.id, hook.secret, null, { raw: `\uFEFF${JSON.stringify(order)}` });
    expect(await expectJson(res, 202)).toHaveProperty("sessionId");
  });
});

describe("delivery signatures", () => {
  it("refuses a missing, malformed, wrong, stale, future, truncated or changed signature with 401", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    const body = JSON.stringify(order);
    const now = new Date();
    const good = new Webhook(hook.secret).sign("msg_sig", now, body);
    const post = (headers: Record<string, string>, sent = body) =>
      gateway(`/hooks/${hook.id}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...headers },
        body: sent,
      });
    const base = { "webhook-id": "msg_sig", "webhook-timestamp": String(Math.floor(now.getTime() / 1000)) };
    const wrong = new Webhook(`whsec_${btoa("another secret entirely")}`).sign("msg_sig", now, body);
    const refusals: [string, Promise<Response>][] = [
      ["missing", post({ ...base })],
      ["malformed", post({ ...base, "webhook-signature": "not a signature" })],
      ["wrong secret", post({ ...base, "webhook-signature": wrong })],
      // Half a minute past the five-minute window: a second gone by before the check (a slow
      // run) must not bring a future timestamp back inside it.
      ["stale", deliver(hook.id, hook.secret, order, { at: new Date(now.getTime() - 330_000) })],
      ["future", deliver(hook.id, hook.secret, order, { at: new Date(now.getTime() + 330_000) })],
      ["truncated", post({ ...base, "webhook-signature": good.slice(0, -4) })],
      ["body changed by one byte", post({ ...base, "webhook-signature": good }, body.replace("Ada", "Adb"))],
      ["another id", post({ ...base, "webhook-id": "msg_other", "webhook-signature": good })],
    ];
    for (const [what, res] of refusals) {
      expect(await expectJson(await res, 401), what).toMatchObject({ code: "invalid_signature" });
    }
    expect(await holdCount(t.tenantId)).toBe(0);
    // Several signatures in the header: one that verifies is enough.
    const several = await post({ ...base, "webhook-signature": `v1,bm9wZQ== ${wrong} ${good}` });
    expect(several.status).toBe(202);
  });

  it("keeps verifying a rotated secret for its grace period, then no longer", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    const { secret } = await expectJson<{ secret: string }>(
      await admin(`/hooks/${hook.id}/rotate-secret`, "POST"),
      200,
    );
    expect(secret).not.toBe(hook.secret);
    expect((await deliver(hook.id, secret, order)).status).toBe(202);
    expect((await deliver(hook.id, hook.secret, order)).status).toBe(202);
    await env.DB.prepare("UPDATE hooks SET previous_secret_until = ? WHERE id = ?")
      .bind(new Date(Date.now() - 1000).toISOString(), hook.id)
      .run();
    expect((await deliver(hook.id, hook.secret, order)).status).toBe(401);
    expect((await deliver(hook.id, secret, order)).status).toBe(202);
  });
});

describe("templates", () => {
  it("inserts a number as the delivery wrote it, however many digits it has", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    // An order id past 2^53, as many systems send them: a double would round it.
    const raw = '{"order": {"id": 1234567890123456789}, "customer": {"name": 1.50}}';
    const { sessionId } = await expectJson<{ sessionId: string }>(
      await deliverToHook(hook, raw, { id: "msg_big_number" }),
      202,
    );
    const made = await eventually(async () => {
      const s = (await emulatorTruth()).find((x) => x.id === sessionId);
      return s?.status === "stopped" ? s : undefined;
    });
    expect(made.title).toBe("Check order 1234567890123456789 for 1.50");
  });

  it("inserts values as text in one pass, by own properties only", () => {
    expect(renderTask("{{a.b}} and {{ n }} and {{flag}}", { a: { b: "{{n}}" }, n: 5, flag: false })).toEqual({
      task: "{{n}} and 5 and false",
    });
    expect(renderTask("{{items.1.sku}}", { items: [{ sku: "x" }, { sku: "y" }] })).toEqual({ task: "y" });
    expect(renderTask("{{__proto__.polluted}} {{constructor.name}}", {})).toEqual({
      missing: ["__proto__.polluted", "constructor.name"],
    });
    expect(renderTask("{{a}}", { a: null })).toEqual({ missing: ["a"] });
  });
});

describe("callback URLs", () => {
  it("refuses every private, loopback, link-local and metadata address form", () => {
    const refused = [
      "http://example.com/x",
      "https://localhost/x",
      "https://api.localhost/x",
      "https://printer.local/x",
      "https://metadata.google.internal/x",
      "https://intranet/x",
      "https://127.0.0.1/x",
      "https://127.1/x",
      "https://2130706433/x",
      "https://0x7f000001/x",
      "https://0177.0.0.1/x",
      "https://10.1.2.3/x",
      "https://172.20.0.1/x",
      "https://192.168.1.1/x",
      "https://169.254.169.254/latest/meta-data",
      "https://100.64.0.1/x",
      "https://0.0.0.0/x",
      "https://[::1]/x",
      "https://[::]/x",
      "https://[fd00::1]/x",
      "https://[fe80::1]/x",
      "https://[::ffff:127.0.0.1]/x",
      "https://[::ffff:a9fe:a9fe]/x",
      "https://localhost./x",
      "https://metadata.google.internal./x",
      "https://[::ffff:0:127.0.0.1]/x",
      "https://[2002:7f00:1::]/x",
      "https://[64:ff9b::a9fe:a9fe]/x",
      "https://[fec0::1]/x",
      "https://user:pass@example.com/x",
      "ftp://example.com/x",
      "not a url",
    ];
    for (const url of refused) expect(callbackUrlProblem(url, false), url).not.toBeNull();
    for (const url of [
      "https://example.com/hook",
      "https://8.8.8.8/x",
      "https://[2606:4700::1111]/x",
      "https://[2002:808:808::]/x",
    ]) {
      expect(callbackUrlProblem(url, false), url).toBeNull();
    }
    expect(callbackUrlProblem("http://127.0.0.1:9000/x", true)).toBeNull();
  });
});

describe("an org's deliveries, as an operator sees them", () => {
  interface OrgDeliveries {
    deliveries: {
      deliveryId: string;
      hookId: string;
      hookName: string;
      tenantId: string;
      tenantName: string;
    }[];
    totalItems: number;
  }
  const orgDeliveries = async (orgId: string, query = "") =>
    expectJson<OrgDeliveries>(await admin(`/orgs/${orgId}/deliveries${query}`), 200);

  it("lists every hook's deliveries of the org's tenants newest first, one page at a time, and no other org's", async () => {
    const a = await newTenant();
    const b = await newTenant(a.orgId);
    const stranger = await newTenant();
    const [hookA, hookB, gone, theirs] = [
      await newHook(a, { name: "orders-a" }),
      await newHook(b, { name: "orders-b" }),
      await newHook(b, { name: "deleted" }),
      await newHook(stranger),
    ];
    for (const [hook, id] of [
      [hookA, "msg_org_1"],
      [hookB, "msg_org_2"],
      [gone, "msg_org_3"],
      [hookA, "msg_org_4"],
      [theirs, "msg_org_5"],
    ] as const) {
      await expectJson(await deliver(hook.id, hook.secret, order, { id }), 202);
      // Received in this order, a millisecond apart at least.
      await new Promise((r) => setTimeout(r, 5));
    }
    expect((await admin(`/hooks/${gone.id}`, "DELETE")).status).toBe(204);

    const all = await orgDeliveries(a.orgId);
    expect(all.totalItems).toBe(3);
    expect(all.deliveries.map((d) => [d.deliveryId, d.hookName, d.tenantId])).toEqual([
      ["msg_org_4", "orders-a", a.tenantId],
      ["msg_org_2", "orders-b", b.tenantId],
      ["msg_org_1", "orders-a", a.tenantId],
    ]);
    expect(all.deliveries[0]).toMatchObject({
      hookId: hookA.id,
      tenantName: expect.stringMatching(/^tenant-/),
    });
    // The page, its total and the org in one round trip (the callbacks' attempts would be a second:
    // none has a callback here).
    const counted = await countRoundTrips(`/admin/v1/orgs/${a.orgId}/deliveries`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(counted.res.status).toBe(200);
    expect(counted.onPath.map((trip) => trip.length)).toEqual([3]);
    const second = await orgDeliveries(a.orgId, "?pageSize=2&pageNumber=2");
    expect(second).toMatchObject({ totalItems: 3, pageNumber: 2, pageSize: 2 });
    expect(second.deliveries.map((d) => d.deliveryId)).toEqual(["msg_org_1"]);
    expect((await orgDeliveries(stranger.orgId)).deliveries.map((d) => d.deliveryId)).toEqual(["msg_org_5"]);
    expect(await expectJson(await admin(`/orgs/${crypto.randomUUID()}/deliveries`), 404)).toMatchObject({
      detail: "Org not found",
    });
  });
});

describe("deliveries, as a sender sees them", () => {
  it("answers a repeat of an answered delivery with its answer, even past a rate limit", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { requestsPerMinute: 1 });
    const hook = await newHook(t);
    const first = await expectJson(await deliver(hook.id, hook.secret, order, { id: "msg_rated" }), 202);
    expect(await expectJson(await deliver(hook.id, hook.secret, order, { id: "msg_rated" }), 200)).toEqual(
      first,
    );
    expect(await expectJson(await deliver(hook.id, hook.secret, order), 429)).toMatchObject({
      code: "rate_limited",
    });
  });

  it("refuses a task that comes out empty, an unknown hook id of any form, and a timestamp written oddly", async () => {
    const t = await newTenant();
    const hook = await newHook(t, { task: "{{note}}" });
    expect(await expectJson(await deliver(hook.id, hook.secret, { note: "  " }), 422)).toMatchObject({
      code: "template_value_missing",
    });
    expect((await deliver("not-a-uuid", hook.secret, order)).status).toBe(404);
    const now = new Date();
    const ts = String(Math.floor(now.getTime() / 1000));
    const res = await deliverToHook(hook, JSON.stringify({ note: "x" }), {
      id: "msg_ts",
      at: now,
      headers: { "webhook-timestamp": `0${ts}` },
    });
    expect(await expectJson(res, 401)).toMatchObject({ code: "invalid_signature" });
    expect(await holdCount(t.tenantId)).toBe(0);
  });

  it("never starts a second session for a delivery whose answer was lost, and ties it to its session once found", async () => {
    const { account, t, hook } = await cappedHookOnAccount();
    await account.control("POST", "/faults", { next: ["drop-after"] });
    const sendLost = () => deliverTo(account.env, hook, "msg_lost");
    expect((await sendLost()).status).toBe(502);
    expect(await expectJson(await sendLost(), 409)).toMatchObject({ code: "idempotency_conflict" });
    await reconcile(account.env, createLogger({ test: "hooks" }), {
      orgId: t.orgId,
      now: new Date(Date.now() + 180_000),
    });
    const [made] = (await account.truth()).sessions;
    expect(await expectJson(await sendLost(), 200)).toEqual({ sessionId: made?.id, deliveryId: "msg_lost" });
    expect((await account.truth()).sessions).toHaveLength(1);
  });
});

describe("a delivery whose store fails after upstream started its task", () => {
  async function deliveryRow(hookId: string, deliveryId: string) {
    return env.DB.prepare(
      "SELECT state, session_id AS sessionId FROM hook_deliveries WHERE hook_id = ? AND delivery_id = ?",
    )
      .bind(hookId, deliveryId)
      .first<{ state: string; sessionId: string | null }>();
  }

  it("still knows its session when only the write of its answer failed", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    // The task is recorded and held; then D1 drops the write that stores the delivery's answer.
    const blip = storeFailingOn(/UPDATE hook_deliveries SET state = 'done'/);
    const res = await deliverToHook(hook, JSON.stringify(order), { id: "msg_answer_lost", env: blip });
    const { sessionId } = await expectJson<{ sessionId: string }>(res, 202);
    // Its callback and a repeat's answer both need the delivery to name its session.
    expect(await deliveryRow(hook.id, "msg_answer_lost")).toEqual({ state: "done", sessionId });
    expect(
      await expectJson(await deliver(hook.id, hook.secret, order, { id: "msg_answer_lost" }), 200),
    ).toEqual({ sessionId, deliveryId: "msg_answer_lost" });
  });

  it("is tied to its session by the reconciler when no write after upstream's answer was made", async () => {
    const { account, t, hook } = await cappedHookOnAccount();
    // D1 goes away once the create has left: neither the session's record nor the answer is written.
    const outage = storeFailingOn(/INSERT INTO resources|UPDATE hook_deliveries/, account.env);
    const res = await deliverToHook(hook, JSON.stringify(order), { id: "msg_all_lost", env: outage });
    const { sessionId } = await expectJson<{ sessionId: string }>(res, 202);
    await reconcile(account.env, createLogger({ test: "hooks" }), {
      orgId: t.orgId,
      now: new Date(Date.now() + 180_000),
    });
    expect(await deliveryRow(hook.id, "msg_all_lost")).toEqual({ state: "done", sessionId });
    expect((await account.truth()).sessions.map((s) => s.id)).toEqual([sessionId]);
  });
});

describe("a delivery that certainly started nothing, whatever it was answered", () => {
  it("runs when sent again once the reconciler has found upstream made nothing of its 5xx", async () => {
    const { account, t, hook } = await cappedHookOnAccount();
    await account.control("POST", "/faults", { next: ["500"] });
    const send = () => deliverTo(account.env, hook, "msg_upstream_500");
    expect(await expectJson(await send(), 502)).toMatchObject({ code: "upstream_bad_response" });
    // Its outcome is not known yet: not run again.
    expect(await expectJson(await send(), 409)).toMatchObject({ code: "idempotency_conflict" });
    // The reconciler's listings show nothing was made, and the hold is released.
    await reconcile(account.env, createLogger({ test: "hooks" }), {
      orgId: t.orgId,
      now: new Date(Date.now() + 20 * 60_000),
    });
    expect((await account.truth()).sessions).toHaveLength(0);
    const { sessionId } = await expectJson<{ sessionId: string }>(await send(), 202);
    expect((await account.truth()).sessions.map((s) => s.id)).toEqual([sessionId]);
  });

  it("runs when sent again after its request was cut off before anything was held", async () => {
    const t = await newTenant();
    const hook = await newHook(t);
    // D1 fails after the claim: nothing is held, and the claim cannot be let go either.
    const blip = storeFailingOn(
      /INSERT INTO holds|DELETE FROM hook_deliveries WHERE hook_id = \? AND delivery_id = \? AND state/,
    );
    const first = await deliverToHook(hook, JSON.stringify(order), { id: "msg_never_held", env: blip });
    expect(await expectJson(first, 503)).toMatchObject({ code: "budget_unavailable" });
    // Long after, the sender tries again.
    await env.DB.prepare("UPDATE hook_deliveries SET created_at = ? WHERE hook_id = ? AND delivery_id = ?")
      .bind(new Date(Date.now() - 10 * 60_000).toISOString(), hook.id, "msg_never_held")
      .run();
    await expectJson(await deliver(hook.id, hook.secret, order, { id: "msg_never_held" }), 202);
    expect(await holdCount(t.tenantId)).toBe(1);
  });
});
