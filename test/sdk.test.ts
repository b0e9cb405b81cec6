import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import worker from "../src/index";
import { GATEWAY, emuTask, newTenant } from "./helpers";
import { expectDocumented } from "./response-conformance";

// The SDK reads process.env for optional credentials; workerd without nodejs_compat has no `process`.
(globalThis as { process?: unknown }).process ??= { env: {} };
const { BrowserUse, BrowserUseError } = await import("browser-use-sdk/v3");

type Client = InstanceType<typeof BrowserUse>;

/**
 * Requests the SDK sends to the gateway's host go to the gateway's fetch handler in this isolate;
 * everything else (the gateway's own calls to the emulator, the upload PUTs) goes out for real.
 */
beforeAll(() => {
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    if (!req.url.startsWith(GATEWAY)) return realFetch(req);
    const ctx = createExecutionContext();
    const res = await worker.fetch(req, env, ctx);
    await waitOnExecutionContext(ctx);
    await expectDocumented(req, res);
    return res;
  });
});
afterAll(() => vi.restoreAllMocks());

/** The comparable part of a session: everything but ids, times and URLs. */
function comparable(s: Record<string, unknown>) {
  const {
    id: _i,
    createdAt: _c,
    updatedAt: _u,
    liveUrl: _l,
    screenshotUrl: _s,
    recordingUrls: _r,
    ...rest
  } = s;
  return rest;
}

/** One scenario, run the same way against any base URL and key. */
async function scenario(client: Client) {
  const plain = await client.run(emuTask("Plain task", { steps: 2, cost: "0.004" }), { interval: 25 });
  const Schema = z.object({ title: z.string(), stars: z.number() });
  const structured = await client.run(
    emuTask("Structured", { steps: 1, cost: "0.002" }), // The SDK bundles its own zod copy; the schema crosses copies at run time without trouble.
    { schema: Schema as never, interval: 25 },
  );
  const kept = await client.run(emuTask("Keep me", { steps: 1, cost: "0.001" }), {
    keepAlive: true,
    interval: 25,
  });
  const follow = await client.run(emuTask("Follow up", { steps: 1, cost: "0.001" }), {
    sessionId: kept.id,
    interval: 25,
  });
  const stopped = await client.sessions.stop(kept.id, { strategy: "session" });
  const messages = await client.sessions.messages(kept.id, { limit: 2 });
  const older = await client.sessions.messages(kept.id, { before: messages.messages[0]?.id, limit: 100 });
  const profile = await client.profiles.create({ name: "sdk" });
  const workspace = await client.workspaces.create({ name: "sdk" });
  const browser = await client.browsers.create({ timeout: 10 });
  const browserStopped = await client.browsers.stop(browser.id);
  let missing: unknown;
  try {
    await client.sessions.get(crypto.randomUUID());
  } catch (err) {
    missing = err;
  }
  return {
    plain: comparable(plain as unknown as Record<string, unknown>),
    structured: { output: structured.output, status: structured.status },
    follow: comparable(follow as unknown as Record<string, unknown>),
    stopped: stopped.status,
    messageCount: messages.messages.length + older.messages.length,
    hasMore: messages.hasMore,
    profileName: profile.name,
    workspaceName: workspace.name,
    browser: { status: browserStopped.status, charged: browser.browserCost },
    missing:
      missing instanceof BrowserUseError
        ? [missing.statusCode, (missing.detail as { detail: string }).detail]
        : missing,
  };
}

describe("the official SDK", () => {
  it("runs the same scenario through the gateway as against Browser Use itself, with identical results", async () => {
    const t = await newTenant();
    const direct = await scenario(
      new BrowserUse({ apiKey: env.BROWSER_USE_API_KEY, baseUrl: env.UPSTREAM_URL }),
    );
    const viaGateway = await scenario(new BrowserUse({ apiKey: t.key, baseUrl: `${GATEWAY}/api/v3` }));
    expect(viaGateway).toEqual(direct);
    expect(direct.structured.output).toEqual({ title: expect.any(String), stars: expect.any(Number) });
    expect(direct.missing).toEqual([404, "Session not found"]);
  });

  it("lists through the gateway only what this tenant made", async () => {
    const t = await newTenant();
    const client = new BrowserUse({ apiKey: t.key, baseUrl: `${GATEWAY}/api/v3` });
    await client.sessions.create({});
    const list = await client.sessions.list();
    expect(list.total).toBe(1);
    const account = await client.billing.account();
    expect(account.projectId).toBe(t.tenantId);
  });
});
