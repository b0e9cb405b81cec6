import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { openHold, settleIfEnded } from "../src/budget/holds";
import { enqueueEvents } from "../src/events/deliver";
import { createLogger } from "../src/lib/log";
import { reconcile } from "../src/reconciler/run";
import { effectivePolicy } from "../src/policy/effective";
import {
  admin,
  asTenant,
  emulatorTruth,
  emuTask,
  eventInbox,
  eventually,
  expectJson,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  startSession,
  storeFailingOn,
} from "./helpers";

const log = createLogger({ test: "alerts" });

interface Alert {
  type: string;
  data: {
    orgId: string;
    tenantId: string | null;
    scope: string;
    periodKey: string;
    thresholdPercent: number;
    capUsd: string;
    spentUsd: string;
    heldUsd: string;
    remainingUsd: string;
  };
}

/** A session's figures when it has cost $1 of inference and nothing else. */
const ONE_DOLLAR_OF_LLM = {
  inputTokens: 0,
  outputTokens: 0,
  proxyUsedMicroMb: 0,
  llmCostMicros: 1_000_000,
  proxyCostMicros: 0,
  browserCostMicros: 0,
  totalCostMicros: 1_000_000,
};

describe("budget alerts", () => {
  it("shows the secret on the first PUT only, and defaults the thresholds", async () => {
    const t = await newTenant();
    const first = await expectJson<{ secret?: string; thresholds: number[] }>(
      await admin(`/orgs/${t.orgId}/alerts`, "PUT", { url: "https://alerts.example.com/in" }),
      200,
    );
    expect(first.secret).toMatch(/^whsec_/);
    expect(first.thresholds).toEqual([50, 80, 100]);
    const second = await expectJson(
      await admin(`/orgs/${t.orgId}/alerts`, "PUT", {
        url: "https://alerts.example.com/new",
        thresholds: [90, 25],
      }),
      200,
    );
    expect(second).not.toHaveProperty("secret");
    expect(second).toMatchObject({ url: "https://alerts.example.com/new", thresholds: [25, 90] });
    expect(await expectJson(await admin(`/orgs/${t.orgId}/alerts`), 200)).not.toHaveProperty("secret");
    const { secret } = await expectJson<{ secret: string }>(
      await admin(`/orgs/${t.orgId}/alerts/rotate-secret`, "POST"),
      200,
    );
    expect(secret).not.toBe(first.secret);
    expect((await admin(`/orgs/${t.orgId}/alerts`, "DELETE")).status).toBe(204);
    expect((await admin(`/orgs/${t.orgId}/alerts`)).status).toBe(404);
    expect(
      (await admin(`/orgs/${crypto.randomUUID()}/alerts`, "PUT", { url: "https://x.example.com" })).status,
    ).toBe(404);
  });

  it("fires each threshold once, however many settlements cross it at once, signed with the org's secret", async () => {
    const t = await newTenant();
    const box = eventInbox(`alerts-${crypto.randomUUID()}`);
    const { secret } = await expectJson<{ secret: string }>(
      await admin(`/orgs/${t.orgId}/alerts`, "PUT", { url: box.url }),
      200,
    );
    await putPolicy("tenants", t.tenantId, {
      budget: { capUsd: "0.1", period: "none" },
      defaultTaskCostUsd: "0.01",
    });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push((await startSession(t, { task: emuTask(`t${i}`, { steps: 1, cost: "0.01" }) })).id);
    await eventually(async () => {
      const truth = await emulatorTruth();
      return ids.every((id) => truth.find((s) => s.id === id)?.status === "stopped") ? true : undefined;
    });
    // Ten settlements at once, each seen by its own read.
    await Promise.all(ids.map((id) => asTenant(t.key, `/api/v3/sessions/${id}`)));
    const received = await eventually(async () => {
      const r = await box.received();
      return r.length >= 3 ? r : undefined;
    });
    await new Promise((r) => setTimeout(r, 1500)); // and no more come
    const alerts = (await box.received()).map((r) => new Webhook(secret).verify(r.body, r.headers) as Alert);
    expect(alerts.map((a) => a.data.thresholdPercent).sort((a, b) => a - b)).toEqual([50, 80, 100]);
    expect(received.length).toBe(3);
    expect(received.every((r) => /"thresholdPercent":\d+,/.test(r.body))).toBe(true);
    const last = alerts.find((a) => a.data.thresholdPercent === 100);
    expect(last).toMatchObject({
      type: "budget.threshold_crossed",
      data: {
        orgId: t.orgId,
        tenantId: t.tenantId,
        scope: "tenant",
        periodKey: "none",
        capUsd: "0.1",
        heldUsd: "0",
      },
    });
    const deliveries = await expectJson<{ deliveries: { state: string }[] }>(
      await admin(`/orgs/${t.orgId}/alerts/deliveries`),
      200,
    );
    expect(deliveries.deliveries).toHaveLength(3);
  });

  it("fires again in the next period", async () => {
    const t = await newTenant();
    const box = eventInbox(`alerts-${crypto.randomUUID()}`);
    await admin(`/orgs/${t.orgId}/alerts`, "PUT", { url: box.url, thresholds: [100] });
    const policy = effectivePolicy(null, { budget: { capUsd: "1", period: "month" } });
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "month" } });
    for (const month of ["2026-11-15T12:00:00Z", "2026-12-15T12:00:00Z"]) {
      const session = crypto.randomUUID();
      await openHold(
        env.DB,
        t,
        policy,
        { kind: "session", resourceId: session, requestedMicros: 1_000_000, exact: false, addsLive: false },
        new Date(month),
      );
      const figures = ONE_DOLLAR_OF_LLM;
      const moved = await settleIfEnded(
        env.DB,
        log,
        { kind: "session", id: session, owner: t, status: "stopped", final: true, figures },
        new Date().toISOString(),
      );
      expect(moved?.events).toHaveLength(1);
      await enqueueEvents(env, log, moved?.events ?? []);
    }
    const periods = await eventually(async () => {
      const r = await box.received();
      return r.length === 2 ? r.map((x) => (JSON.parse(x.body) as Alert).data.periodKey) : undefined;
    });
    expect(periods.sort()).toEqual(["month:2026-11", "month:2026-12"]);
  });

  it("makes a threshold's alert with the settlement that crosses it, so a stop between them loses none", async () => {
    const t = await newTenant();
    const box = eventInbox(`alerts-${crypto.randomUUID()}`);
    await admin(`/orgs/${t.orgId}/alerts`, "PUT", { url: box.url, thresholds: [100] });
    const policy = effectivePolicy(null, { budget: { capUsd: "1", period: "none" } });
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "none" } });
    const session = crypto.randomUUID();
    await openHold(env.DB, t, policy, {
      kind: "session",
      resourceId: session,
      requestedMicros: 1_000_000,
      exact: false,
      addsLive: false,
    });
    const figures = ONE_DOLLAR_OF_LLM;
    // The settlement is written; the isolate stops before anything else (nothing is handed to the queue).
    expect(
      await settleIfEnded(
        env.DB,
        log,
        { kind: "session", id: session, owner: t, status: "stopped", final: true, figures },
        new Date().toISOString(),
      ),
    ).not.toBeNull();
    // The budget is spent: nothing more will settle in it. The reconciler sends what is owed.
    await reconcile(env, log, { orgId: t.orgId, now: new Date(Date.now() + 120_000) });
    const [alert] = await eventually(async () => {
      const r = await box.received();
      return r.length > 0 ? r : undefined;
    });
    expect((JSON.parse(alert?.body ?? "{}") as Alert).data).toMatchObject({
      scope: "tenant",
      thresholdPercent: 100,
      spentUsd: "1",
    });
  });

  it("makes the alerts a lost create's charge in full crosses with that charge, or neither", async () => {
    const account = await newUpstreamAccount();
    const t = await newTenant();
    const box = eventInbox(`alerts-${crypto.randomUUID()}`);
    await admin(`/orgs/${t.orgId}/alerts`, "PUT", { url: box.url, thresholds: [100] });
    const policy = effectivePolicy(null, { budget: { capUsd: "1", period: "none" } });
    await putPolicy("tenants", t.tenantId, { budget: { capUsd: "1", period: "none" } });
    // A create whose answer was lost, and of which nothing is found for a day: charged in full.
    await openHold(env.DB, t, policy, {
      kind: "session",
      resourceId: null,
      requestedMicros: 1_000_000,
      exact: false,
      addsLive: true,
    });
    const dayLater = { orgId: t.orgId, now: new Date(Date.now() + 25 * 60 * 60_000) };
    // D1 refuses the alert's insert on the first pass.
    const noAlerts = storeFailingOn(/'budget.threshold_crossed'/, account.env);
    await reconcile(noAlerts, log, dayLater).catch(() => undefined);
    await reconcile(account.env, log, dayLater);
    const [alert] = await eventually(async () => {
      const r = await box.received();
      return r.length > 0 ? r : undefined;
    });
    expect((JSON.parse(alert?.body ?? "{}") as Alert).data).toMatchObject({
      thresholdPercent: 100,
      spentUsd: "1",
    });
  });
});
