import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as z from "zod";
import worker from "../src/index";
import type { Bindings } from "../src/env";
import { GATEWAY, type UpstreamAccount, emuTask, newTenant, newUpstreamAccount, putPolicy } from "./helpers";
import { expectDocumented } from "./response-conformance";

// The SDK reads process.env for optional credentials; workerd without nodejs_compat has no `process`.
(globalThis as { process?: unknown }).process ??= { env: {} };
const { BrowserUse, BrowserUseError } = await import("browser-use-sdk/v3");

type Client = InstanceType<typeof BrowserUse>;

/** The gateway's env for a tenant's key, where a test gives that tenant an upstream account of its own. */
const upstreamOf = new Map<string, Bindings>();

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
    const res = await worker.fetch(
      req,
      upstreamOf.get(req.headers.get("X-Browser-Use-API-Key") ?? "") ?? env,
      ctx,
    );
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

/**
 * What two runs of the same calls can share: every id the run made is replaced by its name (so
 * lists still show which object is where), any other uuid, time or URL by a placeholder.
 */
function stable(value: unknown, names: Map<string, string>): unknown {
  if (typeof value === "string") {
    if (names.has(value)) return names.get(value);
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return "<uuid>";
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return "<time>";
    if (/^(https?|wss?):\/\//.test(value)) return "<url>";
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => stable(v, names));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stable(v, names)]));
  }
  return value;
}

/**
 * A call's refusal as the SDK surfaces it: status, message and the parsed body, less the `code` and
 * `requestId` the gateway adds to an error it answers itself (README, Errors: a documented difference).
 */
async function refusal(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    if (!(err instanceof BrowserUseError)) throw err;
    const { code: _c, requestId: _r, ...detail } = err.detail as Record<string, unknown>;
    return { status: err.statusCode, message: err.message, detail };
  }
  throw new Error("expected a BrowserUseError");
}

/**
 * Every method of the v3 client not in `scenario`, called the same way against any base URL and
 * key; `upstream` is the emulator account behind the client, for what only a control can make
 * happen (a browser's downloads).
 */
async function sweep(client: Client, upstream: UpstreamAccount) {
  const names = new Map<string, string>();
  const named = <T extends { id: string }>(name: string, view: T) => {
    names.set(view.id, name);
    return view;
  };
  const out: Record<string, unknown> = {};

  // Sessions: list pages (the SDK's own `page`/`page_size`), delete, and run's message iterator.
  const idle = named("session:idle", await client.sessions.create({}));
  const done = named(
    "session:done",
    await client.run(emuTask("Listed", { steps: 2, cost: "0.002" }), { interval: 25 }),
  );
  const iterated: unknown[] = [];
  const run = client.run(emuTask("Iterated", { steps: 2, cost: "0.001" }), { interval: 25 });
  for await (const m of run) iterated.push({ role: m.role, type: m.type, data: m.data });
  named("session:iterated", run.result as { id: string });
  out.iterated = { messages: iterated, result: run.result };
  // A list serves what the gateway saw of an item in the last 5 s as it was then (README,
  // Ownership): reading the idle session first makes both lists show it as it is now.
  await client.sessions.get(idle.id);
  out.sessionPages = [
    await client.sessions.list({ page: 1, page_size: 2 }),
    await client.sessions.list({ page: 2, page_size: 2 }),
  ];
  out.recording = await client.sessions.waitForRecording(done.id, { timeout: 1, interval: 1 });
  out.idleStopped = await client.sessions.stop(idle.id);
  out.deleted = await client.sessions.delete(done.id);
  out.deletedRead = await refusal(client.sessions.get(done.id));
  out.sessionsLeft = await client.sessions.list();

  // Browsers: pages, filters, get, update, stop, downloads.
  const red = named("browser:red", await client.browsers.create({ timeout: 5, metadata: { team: "red" } }));
  named("browser:blue", await client.browsers.create({ timeout: 5, metadata: { team: "blue" } }));
  out.browserPages = [
    await client.browsers.list({ pageSize: 1, pageNumber: 1 }),
    await client.browsers.list({ pageSize: 1, pageNumber: 2 }),
    await client.browsers.list({ metadata: ["team=red"] }),
    await client.browsers.list({ metadata: ["team"] }),
  ];
  for (const [path, content] of [
    ["report.pdf", "%PDF-1"],
    ["data/export.csv", "a,b"],
  ]) {
    await upstream.control("POST", `/browsers/${red.id}/downloads`, {
      path,
      content,
      contentType: "text/csv",
    });
  }
  out.browserRead = await client.browsers.get(red.id);
  out.browserUpdated = await client.browsers.update(red.id, { action: "stop" });
  out.browserFiltered = [
    await client.browsers.list({ filterBy: "active" }),
    await client.browsers.list({ filterBy: "stopped" }),
  ];
  const firstDownloads = await client.browsers.downloads(red.id, { limit: 1, includeUrls: true });
  out.downloads = [
    firstDownloads,
    await client.browsers.downloads(red.id, { limit: 1, cursor: firstDownloads.nextCursor ?? undefined }),
    await (await fetch(firstDownloads.files[0]?.url ?? "")).text(),
  ];
  // An agent session's own browser, where Browser Use lists them, under its session's filter.
  await upstream.control("POST", "/config", { agentBrowsers: true });
  out.agentBrowsers = await client.browsers.list({ agentSessionId: idle.id });
  // The browser a live session of the caller's runs in: read, its downloads, and stopped, which
  // stops its session too.
  const working = named("session:working", await client.sessions.create({}));
  const [ownBrowser] = (await client.browsers.list({ agentSessionId: working.id })).items;
  if (!ownBrowser) throw new Error("no browser listed for a live session");
  const own = named("browser:working", ownBrowser).id;
  await upstream.control("POST", `/browsers/${own}/downloads`, {
    path: "agent.txt",
    content: "done",
    contentType: "text/plain",
  });
  out.agentBrowser = {
    read: await client.browsers.get(own),
    downloads: await client.browsers.downloads(own, { includeUrls: true }),
    stopped: await client.browsers.stop(own),
    session: (await client.sessions.get(working.id)).status,
  };
  await upstream.control("POST", "/config", { agentBrowsers: false });
  out.browserUnknown = await refusal(client.browsers.get(crypto.randomUUID()));

  // Profiles: list (with the SDK's `page`/`page_size`, which the API ignores), search, get, update, delete.
  const alpha = named("profile:alpha", await client.profiles.create({ name: "alpha", userId: "u-1" }));
  const beta = named("profile:beta", await client.profiles.create({ name: "beta" }));
  // With no argument the SDK sends no body at all (and no Content-Type).
  out.bare = [
    named("profile:bare", await client.profiles.create()),
    named("workspace:bare", await client.workspaces.create()),
  ];
  out.profilePages = [
    await client.profiles.list(),
    await client.profiles.list({ query: "alp" }),
    await client.profiles.list({ page: 2, page_size: 1 }),
  ];
  // A session in the caller's profile and workspace; its hanging task stopped alone, then its messages after a cursor.
  const homed = await client.sessions.create({
    task: emuTask("Hang on", { outcome: "hang", stepMs: 3_600_000 }),
    profileId: alpha.id,
    workspaceId: named("workspace:home", await client.workspaces.create({ name: "home" })).id,
    keepAlive: true,
  });
  named("session:homed", homed);
  out.homed = homed;
  out.taskStopped = await client.sessions.stop(homed.id, { strategy: "task" });
  const [firstMessage] = (await client.sessions.messages(homed.id, { after: null, limit: 1 })).messages;
  out.messagesAfter = await client.sessions.messages(homed.id, { after: firstMessage?.id, limit: 100 });
  out.profileRead = await client.profiles.get(alpha.id);
  out.profileUpdated = await client.profiles.update(alpha.id, { name: "gamma" });
  out.profileDeleted = await client.profiles.delete(beta.id);
  out.profileGone = await refusal(client.profiles.get(beta.id));
  out.profilesLeft = await client.profiles.list();

  // Workspaces: pages, get, update, uploads, files (prefix, shallow, cursor, URLs), size, deletes.
  const one = named("workspace:one", await client.workspaces.create({ name: "one" }));
  const two = named("workspace:two", await client.workspaces.create({ name: "two" }));
  out.workspacePages = [
    await client.workspaces.list({ pageSize: 1, pageNumber: 1 }),
    await client.workspaces.list({ pageSize: 1, pageNumber: 2 }),
  ];
  out.workspaceRead = await client.workspaces.get(one.id);
  out.workspaceUpdated = await client.workspaces.update(one.id, { name: "uno" });
  const upload = await client.workspaces.uploadFiles(
    one.id,
    {
      files: [
        { name: "a.txt", contentType: "text/plain", size: 5 },
        { name: "b.csv", contentType: "text/csv", size: 3 },
      ],
    },
    { prefix: "in/" },
  );
  out.upload = upload;
  for (const [i, body] of ["hello", "1,2"].entries()) {
    const file = upload.files[i];
    const put = await fetch(file?.uploadUrl ?? "", {
      method: "PUT",
      headers: { "Content-Type": i === 0 ? "text/plain" : "text/csv" },
      body,
    });
    expect(put.status, await put.text()).toBeLessThan(300);
  }
  const firstPage = await client.workspaces.files(one.id, { prefix: "in/", limit: 1, includeUrls: true });
  out.files = [
    firstPage,
    await client.workspaces.files(one.id, { prefix: "in/", limit: 1, cursor: firstPage.nextCursor }),
    await client.workspaces.files(one.id, { shallow: true }),
  ];
  const listed = await client.workspaces.files(one.id, { includeUrls: true });
  out.fileBytes = await Promise.all(
    listed.files.map(async (f) => [f.path, await (await fetch(f.url ?? "")).text()]),
  );
  out.size = await client.workspaces.size(one.id);
  out.fileDeleted = await client.workspaces.deleteFile(one.id, "in/a.txt");
  out.filesLeft = await client.workspaces.files(one.id);
  out.sizeLeft = await client.workspaces.size(one.id);
  out.workspaceDeleted = await client.workspaces.delete(two.id);
  out.workspaceGone = await refusal(client.workspaces.get(two.id));
  out.workspacesLeft = await client.workspaces.list();

  // The SDK's file helpers (node:fs in workerd: /tmp is writable and per request).
  const local = `/tmp/sdk-${crypto.randomUUID()}`;
  mkdirSync(local, { recursive: true });
  writeFileSync(`${local}/notes.md`, "# notes");
  out.uploaded = await client.workspaces.upload(one.id, `${local}/notes.md`, { prefix: "up/" });
  const downloaded = await client.workspaces.download(one.id, "up/notes.md", { to: `${local}/get/notes.md` });
  out.downloaded = readFileSync(downloaded, "utf8");
  const all = await client.workspaces.downloadAll(one.id, { to: `${local}/all` });
  out.downloadedAll = all.map((path) => [path.slice(local.length), readFileSync(path, "utf8")]);

  // Every call on an id no one has: what it answers, refusal or not.
  const nobody = crypto.randomUUID();
  const outcome = (call: Promise<unknown>) =>
    call.then(
      (value) => ({ value }),
      () => refusal(call),
    );
  out.unknownIds = {
    sessionStop: await outcome(client.sessions.stop(nobody)),
    sessionDelete: await outcome(client.sessions.delete(nobody)),
    sessionMessages: await outcome(client.sessions.messages(nobody)),
    browserUpdate: await outcome(client.browsers.update(nobody, { action: "stop" })),
    browserDownloads: await outcome(client.browsers.downloads(nobody)),
    profileUpdate: await outcome(client.profiles.update(nobody, { name: "x" })),
    profileDelete: await outcome(client.profiles.delete(nobody)),
    workspaceUpdate: await outcome(client.workspaces.update(nobody, { name: "x" })),
    workspaceDelete: await outcome(client.workspaces.delete(nobody)),
    workspaceFiles: await outcome(client.workspaces.files(nobody)),
    workspaceDeleteFile: await outcome(client.workspaces.deleteFile(nobody, "a.txt")),
    workspaceSize: await outcome(client.workspaces.size(nobody)),
    workspaceUpload: await outcome(
      client.workspaces.uploadFiles(nobody, {
        files: [{ name: "a.txt", contentType: "text/plain", size: 1 }],
      }),
    ),
    fileOfWorkspace: await outcome(client.workspaces.deleteFile(one.id, "never/there.txt")),
  };
  // Pages past the end, and the largest page.
  out.pastTheEnd = [
    await client.sessions.list({ page: 50, page_size: 100 }),
    await client.browsers.list({ pageNumber: 50, pageSize: 100 }),
    await client.profiles.list({ query: "nobody-has-this" }),
    await client.workspaces.list({ pageNumber: 50, pageSize: 100 }),
  ];

  // Validation: upstream's 422 list, as the SDK hands it over.
  out.invalidQuery = await refusal(client.sessions.messages(idle.id, { limit: 1000 }));
  out.invalidBody = await refusal(client.profiles.create({ name: "x".repeat(101) }));
  out.invalidPath = await refusal(client.workspaces.get("not-a-uuid"));
  return stable(out, names);
}

/**
 * The keys of a value and the type of each, all the way down: a shape two accounts can share. A
 * string and null are one type, `string | null`, as AccountView's nullable fields declare them.
 */
function shapeOf(value: unknown): unknown {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => [k, shapeOf(v)]),
    );
  }
  return value === null || typeof value === "string" ? "string | null" : typeof value;
}

/**
 * The SDK's billing call and its 429 handling. It retries a 429 itself (after 1 s, 2 s, 4 s; it
 * does not read `Retry-After`) and otherwise throws BrowserUseError: `faults` queues upstream's
 * 429 for the account behind the client, so both sides meet the same refusal; `capAt` sets the
 * concurrency limit (upstream's, or the tenant's policy) to what is live now.
 */
async function limits(
  options: { apiKey: string; baseUrl: string },
  faults: (next: string[]) => Promise<unknown>,
  capAt: (live: number) => Promise<unknown>,
) {
  const client = new BrowserUse(options);
  const once = new BrowserUse({ ...options, maxRetries: 0 });
  const twice = new BrowserUse({ ...options, maxRetries: 1 });
  const profile = await client.profiles.create({ name: "limits" });
  await faults(["429"]);
  const refused = await refusal(once.profiles.get(profile.id));
  // The retry waits a second: one of them, on the create that holds money, is enough.
  await faults(["429"]);
  // It hangs, so it is still live when the limit is set at the live count and a browser is refused.
  const created = await twice.sessions.create({
    task: emuTask("After a 429", { outcome: "hang", stepMs: 3_600_000 }),
  });
  // AccountView's live count, which both answer though SDK 3.11.3's type does not declare it.
  const { activeSessionCount } = (await client.billing.account()) as { activeSessionCount?: number };
  await capAt(activeSessionCount ?? Number.NaN);
  const full = await refusal(once.browsers.create({ timeout: 5 }));
  return {
    // At the concurrency limit, upstream's or the gateway's own: the same status and a reason,
    // worded by whoever refused (README, Errors: the gateway's `concurrency_limit`).
    full: { status: full.status, message: typeof full.message },
    // The gateway's account is the tenant's budget in AccountView's shape (README, Billing): the
    // figures differ by design, the keys and their types may not.
    account: shapeOf(await client.billing.account()),
    refused,
    created: created.status,
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

  it("answers every other method of the client as Browser Use itself does", async () => {
    const t = await newTenant();
    const [direct, behind] = await Promise.all([newUpstreamAccount(), newUpstreamAccount()]);
    upstreamOf.set(t.key, behind.env);
    const fromUpstream = await sweep(
      new BrowserUse({ apiKey: direct.key, baseUrl: env.UPSTREAM_URL }),
      direct,
    );
    const viaGateway = await sweep(new BrowserUse({ apiKey: t.key, baseUrl: `${GATEWAY}/api/v3` }), behind);
    expect(viaGateway).toEqual(fromUpstream);
    expect((fromUpstream as { agentBrowser: unknown }).agentBrowser).toMatchObject({
      read: { id: "browser:working", agentSessionId: "session:working", status: "active" },
      downloads: { files: [{ path: "agent.txt", size: 4 }] },
      stopped: { status: "stopped" },
      session: "stopped",
    });
    const upstreamLimits = await limits(
      { apiKey: direct.key, baseUrl: env.UPSTREAM_URL },
      (next) => direct.control("POST", "/faults", { next }),
      (live) => direct.control("POST", "/config", { concurrencyLimit: live }),
    );
    const gatewayLimits = await limits(
      { apiKey: t.key, baseUrl: `${GATEWAY}/api/v3` },
      (next) => behind.control("POST", "/faults", { next }),
      (live) => putPolicy("tenants", t.tenantId, { maxConcurrentSessions: live }),
    );
    expect(gatewayLimits).toEqual(upstreamLimits);
    expect([upstreamLimits.refused.status, upstreamLimits.full.status]).toEqual([429, 429]);
  });
});
