/**
 * A session's `output` is whatever its task's agent returned: with an `outputSchema`, JSON whose
 * numbers Browser Use writes as Python does, in full (an int past 2^53) and in Python's form (a
 * float's `10.0`). The hook's `session.finished` callback and the tenant's reads must carry them
 * exactly as upstream wrote them, though the gateway parses, stores and re-serialises the view.
 */
import { env } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  asTenant,
  emulatorTruth,
  emuTask,
  eventInbox,
  eventually,
  expectJson,
  newTenant,
  type Received,
  type SessionView,
  startSession,
} from "./helpers";
import { admin, deliverTo, receivedAtLeast } from "./hook-helpers";

/** An output no double keeps: an int past 2^53, more digits than a double holds, Python's float forms. */
const OUTPUT =
  '{"orderId":12345678901234567890,"ratio":0.1000000000000000055511,"price":10.0,"tiny":1e-07,' +
  '"huge":1e+16,"lines":[{"sku":9007199254740993,"qty":2}],"note":"as written"}';

/** The body exactly as it was sent, after checking its signature as a receiver would. */
function verifiedText(got: Received | undefined, secret: string): string {
  new Webhook(secret).verify(got?.body as string, got?.headers as Record<string, string>);
  return got?.body as string;
}

describe("a session's output with numbers a double does not keep", () => {
  it("reaches the callback and the tenant's get and list exactly as upstream wrote it", async () => {
    const t = await newTenant();
    const box = eventInbox();
    const hook = await expectJson<{ id: string; secret: string }>(
      await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
        name: "quote",
        task: emuTask("Quote order {{ref}}", { steps: 1, cost: "0.01", outputJson: OUTPUT }),
        options: { outputSchema: { type: "object" } },
        callbackUrl: box.url,
      }),
      201,
    );
    const { sessionId } = await expectJson<{ sessionId: string }>(
      await deliverTo(env, hook, "msg_exact_ended", { ref: "R-1" }),
      202,
    );
    // The tenant polls it to its end (which books the final view and makes the event).
    const text = await eventually(async () => {
      const res = await asTenant(t.key, `/api/v3/sessions/${sessionId}`);
      const body = await res.text();
      return (JSON.parse(body) as SessionView).status === "stopped" ? body : undefined;
    });
    expect.soft(text).toContain(`"output":${OUTPUT},`);

    const [got] = await receivedAtLeast(box);
    const event = verifiedText(got, hook.secret);
    expect.soft(event).toContain(`"output":${OUTPUT},`);
    // The figures are booked as ever: decimal strings, the counts JSON integers.
    expect(JSON.parse(event).data).toMatchObject({
      reason: "ended",
      totalCostUsd: "0.01",
      status: "stopped",
    });
    expect(event).toMatch(/"totalInputTokens":\d+,/);

    // A list is the gateway's own (its stored view of a session that ended), re-serialised.
    const list = await asTenant(t.key, "/api/v3/sessions");
    expect(list.status).toBe(200);
    expect.soft(await list.text()).toContain(`"output":${OUTPUT},`);
  });

  it("reaches the tenant's list of its live sessions as upstream's list gave it, and is stored so", async () => {
    const t = await newTenant();
    const body = {
      task: emuTask("Quote", { steps: 1, cost: "0.001", outputJson: OUTPUT }),
      outputSchema: { type: "object" },
      keepAlive: true,
    };
    const ids = [(await startSession(t, body)).id, (await startSession(t, body)).id];
    // Idle with their output, as upstream has them; the gateway has not read them since.
    await eventually(async () => {
      const truth = await emulatorTruth();
      return ids.every((id) => truth.find((s) => s.id === id)?.status === "idle") ? true : undefined;
    });
    // Last seen long ago, so the list asks upstream's list for both.
    await env.DB.prepare("UPDATE resources SET view_at = '2026-01-01T00:00:00.000Z' WHERE tenant_id = ?")
      .bind(t.tenantId)
      .run();
    const list = await asTenant(t.key, "/api/v3/sessions");
    expect(list.status).toBe(200);
    expect((await list.text()).split(`"output":${OUTPUT},`)).toHaveLength(3);
    // The views the list booked keep the text, for the next list and a callback made from them.
    const { results } = await env.DB.prepare("SELECT view FROM resources WHERE tenant_id = ?")
      .bind(t.tenantId)
      .all<{ view: string }>();
    expect(results.map((r) => r.view.includes(`"output":${OUTPUT},`))).toEqual([true, true]);
  });

  it("keeps number text through the SQLite JSON functions the events are made with", async () => {
    // The event of an ended session binds the output's text to json(); a gone one's reads the
    // stored view's output with ->. Both must write the numbers as the text had them.
    const row = await env.DB.prepare("SELECT json(?1) AS bound, json_object('output', ?1 -> '$') AS read")
      .bind(OUTPUT)
      .first<{ bound: string; read: string }>();
    expect(row).toEqual({ bound: OUTPUT, read: `{"output":${OUTPUT}}` });
  });
});
