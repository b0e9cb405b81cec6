/**
 * `npm run bench`: what the gateway costs on top of calling Browser Use through a bare pass-through
 * worker (bench/bare), both built and served as `wrangler dev` does but without its devtools link
 * (scripts/serve-worker.ts), on the same emulator, measured on this machine.
 * Each scenario runs interleaved (bare, gateway, bare, gateway: BENCH_ROUNDS rounds, default 2) for
 * BENCH_SECONDS each (default 5) with BENCH_CONNECTIONS connections (default 10), so a noisy machine
 * shifts both alike; BENCH_SCENARIOS (words, comma-separated) runs only the scenarios named by one. The gateway
 * runs as deployed: Browser Use's status webhooks on, logging at LOG_LEVEL (default `info`), and
 * its D1 and rate-counter calls counted (bench/gateway-entry.ts). First it measures the runtime
 * itself on the gateway's workerd (measureRuntime), so each scenario can show the share of its CPU
 * that local D1 and Durable Objects take. Then usage reports over a seeded ledger of
 * BENCH_USAGE_EVENTS cost events (default a million; 0 skips it), the fleet scenario (bench/fleet.ts:
 * BENCH_FLEET_CLIENTS SDK-like clients, default 200, over BENCH_FLEET_TENANTS tenants, default 20,
 * for BENCH_FLEET_SECONDS, default 30; 0 clients skips it), and the bundle's size.
 * Prints Markdown tables and writes the figures as JSON to bench/last-run.json.
 * Loopback only; every run is bounded in time.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { randomUUID } from "node:crypto";
import { signWebhook, statusUpdateBody } from "../emulator/src/webhooks";
import { createTenant, type Stack, startStack, startWrangler, type Worker } from "../scripts/local-stack";
import { benchFleet, type FleetResult } from "./fleet";
import { CALLS_PER_PROBE, PROBES } from "./probes";
import { bundleSize, d1Counts, workerdCpuMs } from "./measure";
import { benchUsageReports, usageSeed } from "./usage";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
// Which scenarios run: those whose name holds one of these words (all when unset).
const ONLY = (process.env.BENCH_SCENARIOS ?? "")
  .split(",")
  .map((word) => word.trim().toLowerCase())
  .filter(Boolean);
const LOG_LEVEL = process.env.LOG_LEVEL ?? "info";
const USAGE_EVENTS = Number(process.env.BENCH_USAGE_EVENTS ?? 1_000_000);
const FLEET = {
  clients: Number(process.env.BENCH_FLEET_CLIENTS ?? 200),
  tenants: Number(process.env.BENCH_FLEET_TENANTS ?? 20),
  seconds: Number(process.env.BENCH_FLEET_SECONDS ?? 30),
};
const EMULATOR_KEY = "bu_emulator_bench_key";
const BARE_KEY = "bu_emulator_bench_bare_key";
const WEBHOOK_SECRET = "bench-webhook-secret";
const PERSIST = ".wrangler/bench";
const SEED_FILE = ".wrangler/bench-usage-seed.sql";
// The gateway's own wrangler.toml with the counting entry point in place of src/index.ts.
const GATEWAY_CONFIG = ".bench.wrangler.toml";

interface Target {
  name: "bare" | "gateway";
  url: string;
  pid: number;
}

interface Scenario {
  name: string;
  path: (target: Target) => string;
  method?: "GET" | "POST";
  headers: (target: Target) => Record<string, string>;
  body?: string;
  /**
   * A path below the v3 base that the gateway's worker also relays as the bare worker does
   * (PROBES.relay), interleaved with the two: the floor of the gateway's own workerd, bundle and
   * bindings for this request, so that what the gateway costs above it is its code.
   */
  relayPath?: string;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  failed: number;
  cpuMsPerRequest: number;
  statementsPerRequest: number | null;
  roundTripsPerRequest: number | null;
  d1MsPerRequest: number | null;
  rowsReadPerRequest: number | null;
  rateCounterCallsPerRequest: number | null;
  webhooksPerRequest: number | null;
  logLinesPerRequest: number | null;
}

async function measure(target: Target, scenario: Scenario): Promise<Sample> {
  const cpuBefore = workerdCpuMs(target.pid);
  const d1Before = target.name === "gateway" ? await d1Counts(target.url) : null;
  const result = await autocannon({
    url: target.url + scenario.path(target),
    method: scenario.method ?? "GET",
    headers: scenario.headers(target),
    body: scenario.body,
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  // After-response work (ledger writes) finishes just after the last answer.
  await new Promise((r) => setTimeout(r, 500));
  const requests = Math.max(1, result.requests.total);
  const d1After = target.name === "gateway" ? await d1Counts(target.url) : null;
  const per = (a: number, b: number) => Math.round(((a - b) / requests) * 100) / 100;
  const perMs = (a: number, b: number) => Math.round(((a - b) / requests) * 1000) / 1000;
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    failed: result.non2xx + result.errors + result.timeouts,
    cpuMsPerRequest: per(workerdCpuMs(target.pid), cpuBefore),
    statementsPerRequest: d1After && d1Before ? per(d1After.statements, d1Before.statements) : null,
    roundTripsPerRequest: d1After && d1Before ? per(d1After.roundTrips, d1Before.roundTrips) : null,
    d1MsPerRequest: d1After && d1Before ? perMs(d1After.d1Ms, d1Before.d1Ms) : null,
    rowsReadPerRequest: d1After && d1Before ? per(d1After.rowsRead, d1Before.rowsRead) : null,
    rateCounterCallsPerRequest:
      d1After && d1Before ? per(d1After.rateCounterCalls, d1Before.rateCounterCalls) : null,
    webhooksPerRequest: d1After && d1Before ? per(d1After.webhooks, d1Before.webhooks) : null,
    logLinesPerRequest: d1After && d1Before ? per(d1After.logLines, d1Before.logLines) : null,
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;
const mean = (xs: number[]) => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 100) / 100;
const meanOf = (samples: Sample[], key: keyof Sample) =>
  samples[0]?.[key] === null ? null : mean(samples.map((s) => Number(s[key])));

async function main() {
  rmSync(PERSIST, { recursive: true, force: true });
  writeFileSync(
    GATEWAY_CONFIG,
    readFileSync("wrangler.toml", "utf8").replace(/^main = .*$/m, 'main = "bench/gateway-entry.ts"'),
  );
  if (USAGE_EVENTS > 0) writeFileSync(SEED_FILE, usageSeed(USAGE_EVENTS));
  const gatewayPort = Number(process.env.BENCH_PORT ?? 8797);
  let stack: Stack | undefined;
  let bare: Worker | undefined;
  try {
    const seeding = performance.now();
    stack = await startStack({
      port: gatewayPort,
      emulatorPort: Number(process.env.BENCH_EMULATOR_PORT ?? 8798),
      config: GATEWAY_CONFIG,
      seedFile: USAGE_EVENTS > 0 ? SEED_FILE : undefined,
      // Long steps: sessions stay running, so every read is a live one; no credit or slot runs out.
      // Status changes are told to the gateway by webhook, as Browser Use does once configured.
      emulator: {
        apiKey: EMULATOR_KEY,
        stepMs: 3_600_000,
        creditsUsd: "1000000000",
        concurrencyLimit: 1_000_000,
        webhookUrl: `http://127.0.0.1:${gatewayPort}/webhooks/browser-use`,
        webhookSecret: WEBHOOK_SECRET,
      },
      adminToken: "bench-admin-token",
      persistTo: PERSIST,
      logLevel: "error",
      withoutDevtools: true,
      vars: { LOG_LEVEL, BROWSER_USE_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    const seeded = Math.round((performance.now() - seeding) / 1000);
    // The bare worker's account is a project of its own on the same emulator, with the same
    // settings but no webhook: its sessions' status changes must not reach (and load) the gateway.
    const project = await fetch(`${stack.emulatorUrl}/_emulator/projects`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ apiKey: BARE_KEY }),
    });
    if (project.status !== 201)
      throw new Error(`the bare worker's emulator project answered ${project.status}`);
    bare = await startWrangler({
      port: Number(process.env.BENCH_BARE_PORT ?? 8799),
      args: ["--config", "bench/bare/wrangler.toml"],
      logLevel: "error",
      withoutDevtools: true,
      vars: { UPSTREAM_URL: `${stack.emulatorUrl}/api/v3`, BROWSER_USE_API_KEY: BARE_KEY },
    });
    const targets: Target[] = [
      { name: "bare", url: bare.url, pid: bare.pid },
      { name: "gateway", url: stack.gatewayUrl, pid: stack.pid },
    ];
    const { scenarios, polledSession } = await prepareScenarios(stack, bare.url);

    const runtime = await measureRuntime(targets[1] as Target, polledSession);
    const rows = [];
    const chosen = scenarios.filter(
      (s) => ONLY.length === 0 || ONLY.some((word) => s.name.toLowerCase().includes(word)),
    );
    for (const scenario of chosen) {
      const samples: Record<Target["name"], Sample[]> = { bare: [], gateway: [] };
      const relayed: Sample[] = [];
      const relay: Scenario | null = scenario.relayPath
        ? { name: "relay", path: () => PROBES.relay + scenario.relayPath, headers: () => ({}) }
        : null;
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of targets) samples[target.name].push(await measure(target, scenario));
        if (relay) relayed.push(await measure(targets[1] as Target, relay));
      }
      const [b, g] = [samples.bare, samples.gateway];
      const bareCpu = meanOf(b, "cpuMsPerRequest") ?? 0;
      const gatewayCpu = meanOf(g, "cpuMsPerRequest") ?? 0;
      // What D1 and the rate counters cost workerd here because they run in its process.
      const localStoresCpuMs = round2(
        (meanOf(g, "roundTripsPerRequest") ?? 0) * runtime.d1RoundTripCpuMs +
          (meanOf(g, "d1MsPerRequest") ?? 0) +
          (meanOf(g, "rateCounterCallsPerRequest") ?? 0) * runtime.rateCounterCallCpuMs,
      );
      // What writing its log lines costs workerd here, where they go down a pipe to wrangler.
      const logCpuMs = round2((meanOf(g, "logLinesPerRequest") ?? 0) * runtime.logLineCpuMs);
      rows.push({
        scenario: scenario.name,
        bareRps: meanOf(b, "rps"),
        gatewayRps: meanOf(g, "rps"),
        ratio: Math.round(((meanOf(g, "rps") ?? 0) / Math.max(1, meanOf(b, "rps") ?? 1)) * 100) / 100,
        bareP50: meanOf(b, "p50"),
        gatewayP50: meanOf(g, "p50"),
        bareP99: meanOf(b, "p99"),
        gatewayP99: meanOf(g, "p99"),
        bareCpuMs: meanOf(b, "cpuMsPerRequest"),
        gatewayCpuMs: meanOf(g, "cpuMsPerRequest"),
        relayedRps: relay ? meanOf(relayed, "rps") : null,
        relayedCpuMs: relay ? meanOf(relayed, "cpuMsPerRequest") : null,
        d1Statements: meanOf(g, "statementsPerRequest"),
        d1RoundTrips: meanOf(g, "roundTripsPerRequest"),
        d1Ms: meanOf(g, "d1MsPerRequest"),
        d1RowsRead: meanOf(g, "rowsReadPerRequest"),
        rateCounterCalls: meanOf(g, "rateCounterCallsPerRequest"),
        webhooks: meanOf(g, "webhooksPerRequest"),
        logLines: meanOf(g, "logLinesPerRequest"),
        localStoresCpuMs,
        logCpuMs,
        cpuRatio: round2(bareCpu / gatewayCpu),
        cpuRatioLessLocalStores: round2(bareCpu / (gatewayCpu - localStoresCpuMs)),
        cpuRatioLessLocalStoresAndLogs: round2(bareCpu / (gatewayCpu - localStoresCpuMs - logCpuMs)),
        failed: [...b, ...g, ...relayed].reduce((n, s) => n + s.failed, 0),
      });
    }
    const fleet = FLEET.clients > 0 ? await benchFleet(stack, FLEET) : null;
    const usage = USAGE_EVENTS > 0 ? await benchUsageReports(stack) : [];
    const bundle = bundleSize();
    const run = {
      at: new Date().toISOString(),
      secondsPerRun: SECONDS,
      rounds: ROUNDS,
      connections: CONNECTIONS,
      logLevel: LOG_LEVEL,
      runtime,
      scenarios: rows,
      fleet,
      usageReports: { events: USAGE_EVENTS, seededAndStartedS: seeded, reports: usage },
      bundle,
    };
    writeFileSync("bench/last-run.json", `${JSON.stringify(run, null, 2)}\n`);
    console.log(markdown(run));
  } finally {
    await bare?.stop();
    await stack?.stop();
    rmSync(PERSIST, { recursive: true, force: true });
    rmSync(SEED_FILE, { force: true });
    rmSync(GATEWAY_CONFIG, { force: true });
  }
}

/**
 * The scenarios, each with a tenant of its own: the SDK's poll of a running session, a list of ten
 * running sessions, an admission (a task under a budget hold), the account read, and the poll
 * again under a `requestsPerMinute` policy. The bare worker gets the same requests, on sessions of
 * its own project made the same way.
 */
async function prepareScenarios(
  stack: Stack,
  bareUrl: string,
): Promise<{ scenarios: Scenario[]; polledSession: string }> {
  const policy = { budget: { capUsd: "1000000", period: "month" }, maxTaskCostUsd: "0.01" };
  const tenant = async (name: string, tenantPolicy?: unknown) => {
    const t = await createTenant(stack, { org: `bench ${name}`, tenant: name }, policy);
    if (tenantPolicy) await stack.admin(`/admin/v1/tenants/${t.tenantId}/policy`, tenantPolicy, "PUT");
    return t;
  };
  const start = async (url: string, key: string) => {
    const res = await fetch(`${url}/api/v3/sessions`, {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": key, "Content-Type": "application/json" },
      body: JSON.stringify({ task: "bench [emu outcome=hang]" }),
    });
    if (res.status !== 200) throw new Error(`creating a bench session answered ${res.status}`);
    return ((await res.json()) as { id: string }).id;
  };
  // The same sessions for both: one made through the gateway, one on the bare worker's project.
  const sessionsOf = async (key: string, count = 1) => {
    const made = { bare: [] as string[], gateway: [] as string[] };
    for (let i = 0; i < count; i++) {
      made.gateway.push(await start(stack.gatewayUrl, key));
      made.bare.push(await start(bareUrl, key));
    }
    return made;
  };
  const poller = await tenant("poll");
  const polled = await sessionsOf(poller.key);
  const lister = await tenant("list");
  await sessionsOf(lister.key, 10);
  const admitted = await tenant("admission");
  const limited = await tenant("rate", { requestsPerMinute: 1_000_000 });
  const limitedSession = await sessionsOf(limited.key);
  const as = (key: string) => () => ({ "X-Browser-Use-API-Key": key });
  const scenarios: Scenario[] = [
    {
      name: "poll GET /sessions/{id}",
      path: (t) => `/api/v3/sessions/${polled[t.name][0]}`,
      headers: as(poller.key),
      relayPath: `/sessions/${polled.gateway[0]}`,
    },
    { name: "list GET /sessions (10)", path: () => "/api/v3/sessions?page_size=10", headers: as(lister.key) },
    {
      name: "admission POST /sessions",
      path: () => "/api/v3/sessions",
      method: "POST",
      headers: () => ({ "X-Browser-Use-API-Key": admitted.key, "Content-Type": "application/json" }),
      body: JSON.stringify({ task: "bench [emu outcome=hang]" }),
    },
    { name: "GET /billing/account", path: () => "/api/v3/billing/account", headers: as(poller.key) },
    {
      name: "poll with requestsPerMinute",
      path: (t) => `/api/v3/sessions/${limitedSession[t.name][0]}`,
      headers: as(limited.key),
    },
  ];
  return { scenarios, polledSession: polled.gateway[0] as string };
}

/** What the runtime costs workerd, in ms: see measureRuntime. */
interface RuntimeCosts {
  nothingCpuMs: number;
  d1RoundTripCpuMs: number;
  rateCounterCallCpuMs: number;
  logLineCpuMs: number;
  webhookCpuMs: number;
}

/**
 * What the runtime costs workerd, measured on the gateway's process in this run (interleaved
 * twice): a request that does nothing; one local D1 round trip, one call to a rate counter (a
 * local Durable Object) and one request log line, each a tenth of what ten of them in a row add to
 * that (bench/probes.ts); and one status webhook, a signed `running` event for a running session
 * (what a create sets off), whole. Local D1 and Durable Objects run in workerd's own process, so their work lands in the
 * worker's CPU here; on Cloudflare they run elsewhere and the worker only waits for them.
 */
async function measureRuntime(gateway: Target, sessionId: string): Promise<RuntimeCosts> {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const event = statusUpdateBody({ sessionId, taskId: randomUUID(), status: "running", at: Date.now() });
  const probe = (path: string): Scenario => ({ name: path, path: () => path, headers: () => ({}) });
  const probes: Scenario[] = [
    probe(PROBES.nothing),
    probe(PROBES.d1RoundTrips),
    probe(PROBES.rateCounterCalls),
    probe(PROBES.logLines),
    {
      name: "status webhook",
      path: () => "/webhooks/browser-use",
      method: "POST",
      headers: () => ({
        "Content-Type": "application/json",
        "X-Browser-Use-Timestamp": timestamp,
        "X-Browser-Use-Signature": signWebhook(WEBHOOK_SECRET, timestamp, event),
      }),
      body: JSON.stringify(event),
    },
  ];
  const cpu: number[][] = probes.map(() => []);
  for (let round = 0; round < 2; round++)
    for (const [i, p] of probes.entries()) {
      const sample = await measure(gateway, p);
      if (sample.failed > 0) throw new Error(`the runtime probe ${p.name} failed ${sample.failed} times`);
      cpu[i]?.push(sample.cpuMsPerRequest);
    }
  const [nothing, roundTrips, counterCalls, logLines, webhook] = cpu.map(mean) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    nothingCpuMs: nothing,
    d1RoundTripCpuMs: round2((roundTrips - nothing) / CALLS_PER_PROBE),
    rateCounterCallCpuMs: round2((counterCalls - nothing) / CALLS_PER_PROBE),
    logLineCpuMs: round2((logLines - nothing) / CALLS_PER_PROBE),
    webhookCpuMs: webhook,
  };
}

function markdown(run: {
  at: string;
  secondsPerRun: number;
  rounds: number;
  connections: number;
  logLevel: string;
  runtime: RuntimeCosts;
  scenarios: Record<string, unknown>[];
  fleet: FleetResult | null;
  usageReports: { events: number; seededAndStartedS: number; reports: Record<string, unknown>[] };
  bundle: { rawBytes: number; gzipBytes: number };
}): string {
  const table = (rows: Record<string, unknown>[]) => {
    const columns = Object.keys(rows[0] ?? {});
    return [
      `| ${columns.join(" | ")} |`,
      `| ${columns.map(() => "---").join(" | ")} |`,
      ...rows.map((r) => `| ${columns.map((c) => String(r[c] ?? "")).join(" | ")} |`),
    ].join("\n");
  };
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  return [
    `\n${run.at}: ${run.secondsPerRun} s per run, bare and gateway interleaved ${run.rounds} times, ${run.connections} connections, LOG_LEVEL=${run.logLevel}, status webhooks on. CPU is workerd's per request (ms); D1 is per gateway request.\n`,
    `The runtime itself, on the gateway's workerd: a request that does nothing costs ${run.runtime.nothingCpuMs} ms, one local D1 round trip ${run.runtime.d1RoundTripCpuMs} ms more, one call to a rate counter (a local Durable Object) ${run.runtime.rateCounterCallCpuMs} ms more, one log line ${run.runtime.logLineCpuMs} ms more, a status webhook ${run.runtime.webhookCpuMs} ms. \`localStoresCpuMs\` is a request's D1 round trips and rate-counter calls at those prices plus D1's own SQL time (\`d1Ms\`), which land in workerd's CPU only when served locally; \`logCpuMs\` its log lines (\`logLines\`, its webhooks' included) at theirs; \`cpuRatio\` is bare/gateway CPU, \`cpuRatioLessLocalStores\` the same without the stores' share and \`cpuRatioLessLocalStoresAndLogs\` without the logs' too (the bare worker logs nothing); \`webhooks\` the status webhooks a request set off; \`relayedRps\` and \`relayedCpuMs\` are the same request relayed by the bare worker's code run in the gateway's worker, interleaved with the two (the poll): what the gateway's workerd, bundle and bindings cost a request that does no more than the bare worker does, so that the gateway's CPU above it is its code.\n`,
    table(run.scenarios),
    run.fleet
      ? `\nFleet: ${run.fleet.clients} clients over ${run.fleet.tenants} tenants, each running ten-second tasks one after another and polling every 2 s, for ${run.fleet.seconds} s:\n\n${table([{ ...run.fleet }])}`
      : "",
    run.usageReports.events > 0
      ? `\nUsage reports over ${run.usageReports.events} cost events (seeded and started in ${run.usageReports.seededAndStartedS} s), November 2026, 20 sequential requests each:\n\n${table(run.usageReports.reports)}`
      : "",
    `\nBundle: ${kib(run.bundle.rawBytes)} raw, ${kib(run.bundle.gzipBytes)} gzip (\`wrangler deploy --dry-run --minify\`).`,
  ].join("\n");
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
