import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { canonicalJson, pythonCanonicalJson, readCanonical } from "../src/lib/canonical-json";
import { toMicros } from "../src/lib/money";
import { verifySignature } from "../src/routes/upstream-webhooks";
import { getCounter } from "../src/store/budgets";
import { recordCreatedStatement } from "../src/store/resources";
import vectors from "./fixtures/webhook-signatures.json";
import {
  asTenant,
  countRoundTrips,
  hmacHex,
  emulatorTruth,
  emuTask,
  eventually,
  expectJson,
  gateway,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  storeFailingOn,
  startSession,
  type TestTenant,
  type UpstreamAccount,
} from "./helpers";

const secret = env.BROWSER_USE_WEBHOOK_SECRET as string;

/** Posts `body` signed as Browser Use does, with WebCrypto here rather than the gateway's helpers. */
async function deliver(body: string, options: { timestamp?: number; secret?: string; signed?: string } = {}) {
  return gateway("/webhooks/browser-use", await signedDelivery(body, options));
}

async function signedDelivery(
  body: string,
  options: { timestamp?: number; secret?: string; signed?: string } = {},
): Promise<RequestInit> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const signature = await hmacHex(options.secret ?? secret, `${timestamp}.${options.signed ?? body}`);
  return {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-Browser-Use-Timestamp": timestamp,
      "X-Browser-Use-Signature": signature,
    },
    body,
  };
}

const statusUpdate = (sessionId: string, status: string, at = new Date().toISOString()) =>
  JSON.stringify({
    payload: { metadata: {}, session_id: sessionId, status, task_id: crypto.randomUUID() },
    timestamp: at,
    type: "agent.task.status_update",
  });

/**
 * A session made on `account` straight and recorded as `t`'s, which this isolate never saw (as
 * when another isolate made it).
 */
async function recordedUnseen(account: UpstreamAccount, t: TestTenant, body: unknown) {
  const made = await fetch(`${account.env.UPSTREAM_URL}/sessions`, {
    method: "POST",
    headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const s = await expectJson<{ id: string; status: string; createdAt: string }>(made, 200);
  await recordCreatedStatement(env.DB, "session", s.id, t, s, s.status).run();
  return s;
}

async function holdStates(t: TestTenant): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT state FROM holds WHERE tenant_id = ?")
    .bind(t.tenantId)
    .all<{ state: string }>();
  return results.map((r) => r.state);
}

/** A tenant whose task has ended upstream (read there, not through the gateway) and still holds. */
async function endedButHeld(): Promise<{ t: TestTenant; id: string; billed: number }> {
  const t = await newTenant();
  await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "none" }, maxTaskCostUsd: "0.2" });
  const s = await startSession(t, { task: emuTask("hooked", { steps: 1, cost: "0.01" }) });
  const billed = await eventually(async () => {
    const truth = (await emulatorTruth()).find((x) => x.id === s.id);
    return truth?.status === "stopped" ? toMicros(String(truth.totalCostUsd)) : undefined;
  });
  expect(await holdStates(t)).toEqual(["open"]);
  return { t, id: s.id, billed };
}

describe("Browser Use's status webhook", () => {
  it("settles a task the moment upstream says it ended, once however often it says so", async () => {
    const { t, id, billed } = await endedButHeld();
    expect(await expectJson(await deliver(statusUpdate(id, "stopped")), 200)).toEqual({ received: true });
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
    await expectJson(await deliver(statusUpdate(id, "stopped")), 200);
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
  });

  it("looks up a session's owner once, not on every event of it", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    // Made upstream and recorded as the tenant's, but never seen by this isolate (as when another
    // isolate made it).
    const s = await recordedUnseen(account, t, { task: emuTask("watched", { steps: 2, stepMs: 60_000 }) });
    const trips = async () => {
      const delivery = await signedDelivery(statusUpdate(s.id, "running", s.createdAt));
      const { res, onPath, after } = await countRoundTrips("/webhooks/browser-use", delivery, account.env);
      expect(await expectJson(res, 200)).toEqual({ received: true });
      return [...onPath, ...after].flat();
    };
    expect((await trips()).filter((sql) => sql.includes("FROM resources"))).not.toEqual([]);
    expect(await trips()).toEqual([]); // and the event tells of nothing the read did not show
  });

  it("reads a session for an event only when it may tell of something not yet booked", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const reads = async () =>
      (await account.control<{ requests: Record<string, number> }>("GET", "/stats")).requests[
        "GET /sessions/{id}"
      ] ?? 0;
    const s = await expectJson<{ id: string; status: string; createdAt: string }>(
      await asTenant(t.key, "/api/v3/sessions", {
        body: { task: emuTask("hinted", { steps: 2, stepMs: 60_000 }) },
        env: account.env,
      }),
      200,
    );
    expect(s.status).toBe("running");
    const event = async (status: string, at: string) => {
      const delivery = await signedDelivery(statusUpdate(s.id, status, at));
      const { res, onPath, after } = await countRoundTrips("/webhooks/browser-use", delivery, account.env);
      expect(await expectJson(res, 200)).toEqual({ received: true });
      return [...onPath, ...after].flat();
    };
    const before = await reads();
    // What the create set off: the session ran from its creation, as its answer already showed.
    expect(await event("running", s.createdAt)).toEqual([]);
    expect(await event("created", s.createdAt)).toEqual([]);
    expect(await reads()).toBe(before);
    // Running again after this isolate last saw it: read.
    await event("running", new Date(Date.now() + 1_000).toISOString());
    expect(await reads()).toBe(before + 1);
    // An event that may end a task is always read, however old.
    await event("idle", s.createdAt);
    expect(await reads()).toBe(before + 2);
  });

  it("lets a new session's first event wait for its create in flight here, not look it up before it is recorded", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    // The session is made at once, its answer comes a second later: Browser Use's event first.
    await account.control("POST", "/faults", { next: ["late:1000"] });
    const creating = asTenant(t.key, "/api/v3/sessions", {
      body: { task: emuTask("raced", { steps: 2, stepMs: 60_000 }) },
      env: account.env,
    });
    const made = await eventually(async () => (await account.truth()).sessions[0]);
    const delivery = await signedDelivery(statusUpdate(made.id, "running", String(made.createdAt)));
    const { res, onPath, after } = await countRoundTrips("/webhooks/browser-use", delivery, account.env);
    expect(await expectJson(res, 200)).toEqual({ received: true });
    // Waited for the create, whose answer booked all the event tells of: no lookup, no read.
    expect([...onPath, ...after].flat()).toEqual([]);
    expect(await expectJson<{ id: string }>(await creating, 200)).toMatchObject({ id: made.id });
    const { requests } = await account.control<{ requests: Record<string, number> }>("GET", "/stats");
    expect(requests["GET /sessions/{id}"] ?? 0).toBe(0);
  });

  it("answers 503 when the store cannot say whose the session is, so the event is sent again", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    // Recorded as the tenant's, never seen by this isolate, and stopped upstream since.
    const s = await recordedUnseen(account, t, {});
    await fetch(`${account.env.UPSTREAM_URL}/sessions/${s.id}/stop`, {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": account.key, "Content-Type": "application/json" },
      body: JSON.stringify({ strategy: "session" }),
    });
    const event = statusUpdate(s.id, "stopped");
    const broken = storeFailingOn(/SELECT org_id, tenant_id FROM resources/, account.env);
    const res = await gateway("/webhooks/browser-use", await signedDelivery(event), broken);
    expect(res.status).toBe(503);
    const stored = async () =>
      env.DB.prepare("SELECT status FROM resources WHERE kind = 'session' AND id = ?")
        .bind(s.id)
        .first<string>("status");
    expect(s.status).not.toBe("stopped");
    expect(await stored()).toBe(s.status);
    // Sent again with the store back: acted on.
    expect((await gateway("/webhooks/browser-use", await signedDelivery(event), account.env)).status).toBe(
      200,
    );
    expect(await stored()).toBe("stopped");
  });

  it("refuses a wrong secret, a stale timestamp, a changed byte or no signature with 401, and acts on none", async () => {
    const { t, id } = await endedButHeld();
    const event = statusUpdate(id, "stopped");
    const refusals = [
      await deliver(event, { secret: "not-the-secret" }),
      await deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 301 }),
      await deliver(event.replace('"stopped"', '"stoppee"'), { signed: event }),
      await gateway("/webhooks/browser-use", { method: "POST", body: event }),
    ];
    for (const res of refusals)
      expect(await expectJson(res, 401)).toMatchObject({ code: "invalid_signature" });
    expect(await holdStates(t)).toEqual(["open"]);
  });

  it("refuses a body nested 20,000 deep with 401 before parsing it, and a signed one too deep with 413", async () => {
    const deep = `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`;
    const unsigned = await gateway("/webhooks/browser-use", {
      method: "POST",
      headers: {
        "X-Browser-Use-Timestamp": String(Math.floor(Date.now() / 1000)),
        "X-Browser-Use-Signature": "00",
      },
      body: deep,
    });
    expect(await expectJson(unsigned, 401)).toMatchObject({ code: "invalid_signature" });
    expect(await expectJson(await deliver(deep), 413)).toMatchObject({ code: "body_too_large" });
  });

  it("accepts what Browser Use signs: the raw body, Python's canonical JSON, or only the payload", async () => {
    const { t, id, billed } = await endedButHeld();
    const event = statusUpdate(id, "stopped");
    // Sent with Python's default spacing and an é, signed over the canonical form of only its payload.
    const spaced = JSON.stringify(JSON.parse(event), null, 1).replace(
      '"metadata": {}',
      '"metadata": {"note": "caf\\u00e9"}',
    );
    const payload = readCanonical(spaced).members.get("payload") as string;
    expect(await expectJson(await deliver(spaced, { signed: payload }), 200)).toEqual({ received: true });
    expect(await getCounter(env.DB, "tenant", t.tenantId, "none")).toMatchObject({
      heldMicros: 0,
      spentMicros: billed,
    });
  });
});

describe("signatures against vectors from Python's json module", () => {
  const nowMs = Number(vectors.timestamp) * 1000;

  it.each(vectors.cases.map((c) => [c.name, c] as const))("verifies %s", async (_, vector) => {
    await expect(
      verifySignature(vectors.secret, vectors.timestamp, vector.signature, vector.body, nowMs),
    ).resolves.toBeUndefined();
    // One byte of what was signed changed, or of the signature, and it no longer verifies.
    const changed = vector.body.replace("3f2e1d0c", "3f2e1d0d");
    expect(changed).not.toBe(vector.body);
    await expect(
      verifySignature(vectors.secret, vectors.timestamp, vector.signature, changed, nowMs),
    ).rejects.toMatchObject({
      code: "invalid_signature",
    });
    const flipped = (vector.signature[0] === "0" ? "1" : "0") + vector.signature.slice(1);
    await expect(
      verifySignature(vectors.secret, vectors.timestamp, flipped, vector.body, nowMs),
    ).rejects.toMatchObject({
      code: "invalid_signature",
    });
  });

  it("writes the canonical form exactly as Python does: floats, escapes and code point order", () => {
    for (const vector of vectors.cases.filter(
      (c) => !c.name.startsWith("payload") && !c.name.startsWith("raw"),
    )) {
      expect(pythonCanonicalJson(vector.body), vector.name).toBe(vector.canonical);
    }
  });

  it("signs JavaScript values the same way (the emulator's side)", () => {
    // Python 3 prints this for {"b":1,"a":{"d":"é","c":[1,2]},"z":None,"y":True}.
    expect(canonicalJson({ b: 1, a: { d: "é", c: [1, 2] }, z: null, y: true })).toBe(
      '{"a":{"c":[1,2],"d":"\\u00e9"},"b":1,"y":true,"z":null}',
    );
  });
});
