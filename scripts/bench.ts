/**
 * `npm run bench`: how much the gateway costs on top of Browser Use, measured on this machine.
 * Starts the emulator and the gateway (`wrangler dev`, local D1 in a throwaway folder) on their own
 * ports, then drives each scenario with autocannon over loopback for BENCH_SECONDS (default 5) with
 * BENCH_CONNECTIONS (default 10) connections, and prints requests per second and latency. The
 * emulator answered directly is the baseline: the difference is the gateway (auth, ownership,
 * policy, budget holds, the ledger) plus workerd's own overhead in local dev.
 * Then usage reports: local D1 is seeded with BENCH_USAGE_EVENTS (default a million) cost events
 * across a thousand tenants in ten orgs, and a month's report by tenant and day is timed.
 * Loopback only; every run is bounded in time.
 */
import { rmSync, writeFileSync } from "node:fs";
import autocannon from "autocannon";
import { createTenant, type Stack, startStack } from "./local-stack";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const EMULATOR_KEY = "bu_emulator_bench_key";
const PERSIST = ".wrangler/bench";
const USAGE_EVENTS = Number(process.env.BENCH_USAGE_EVENTS ?? 1_000_000);
const USAGE_RUNS = 20;
const SEED_FILE = ".wrangler/bench-usage-seed.sql";
const benchOrg = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/**
 * A ledger as a busy deployment books it: sessions of 20 cost events ten seconds apart (a step
 * booked as it is seen), one starting every 101 s from 1 October 2026, round-robin over a thousand
 * tenants in ten orgs. A million events run to 28 November. Every insert goes through the
 * roll-up trigger, as a real booking does.
 */
function usageSeed(events: number): string {
  return `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${events - 1})
INSERT INTO cost_events (kind, id, org_id, tenant_id, at, status, input_tokens, output_tokens,
  proxy_used_micro_mb, llm_cost_micros, proxy_cost_micros, browser_cost_micros, total_cost_micros)
SELECT 'session', 'bench-' || (i / 20), printf('00000000-0000-4000-8000-%012d', (i / 20) % 1000 / 100),
  'bench-tenant-' || ((i / 20) % 1000),
  strftime('%Y-%m-%dT%H:%M:%fZ', '2026-10-01', '+' || ((i / 20) * 101 + (i % 20) * 10) || ' seconds'),
  'running', 1200, 150, 400, 1800, 320, 600, 2720
FROM n;
`;
}

/** Times sequential GETs of a report; its rows and the latency percentiles. */
async function timeReport(stack: Stack, query: string) {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < USAGE_RUNS; i++) {
    const started = performance.now();
    const res = await fetch(`${stack.gatewayUrl}/admin/v1/usage?${query}`, {
      headers: { Authorization: `Bearer ${stack.adminToken}` },
    });
    if (!res.ok) throw new Error(`usage report answered ${res.status}`);
    const text = await res.text();
    rows = query.includes("format=csv") ? text.split("\r\n").length - 2 : JSON.parse(text).rows.length;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0);
  return { rows, "p50 ms": at(0.5), "p99 ms": at(0.99), "min ms": Math.round(times[0] ?? 0) };
}

interface Scenario {
  name: string;
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
}

async function main() {
  rmSync(PERSIST, { recursive: true, force: true });
  writeFileSync(SEED_FILE, usageSeed(USAGE_EVENTS));
  const seeding = performance.now();
  const stack = await startStack({
    seedFile: USAGE_EVENTS > 0 ? SEED_FILE : undefined,
    port: Number(process.env.BENCH_PORT ?? 8797),
    emulatorPort: Number(process.env.BENCH_EMULATOR_PORT ?? 8798),
    // Long steps: sessions stay running, so every read is a live one; no credit or slot runs out.
    emulator: {
      apiKey: EMULATOR_KEY,
      stepMs: 3_600_000,
      creditsUsd: "1000000000",
      concurrencyLimit: 1_000_000,
    },
    adminToken: "bench-admin-token",
    persistTo: PERSIST,
    logLevel: "error",
    // wrangler dev relays every worker log line to its own process, which halves throughput here;
    // deployed, logs cost far less. BENCH_LOG_LEVEL=info measures with the line per request.
    vars: { LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn" },
  });
  const seeded = Math.round((performance.now() - seeding) / 1000);
  try {
    const t = await createTenant(
      stack,
      { org: "bench", tenant: "bench" },
      {
        budget: { capUsd: "1000000", period: "month" },
        maxTaskCostUsd: "0.01",
      },
    );
    const tenant = { "X-Browser-Use-API-Key": t.key };
    const json = { ...tenant, "Content-Type": "application/json" };
    const created = await fetch(`${stack.gatewayUrl}/api/v3/sessions`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ task: "bench [emu outcome=hang]" }),
    });
    const session = (await created.json()) as { id: string };

    const scenarios: Scenario[] = [
      {
        name: "emulator direct: GET /sessions/{id} (baseline)",
        url: `${stack.emulatorUrl}/api/v3/sessions/${session.id}`,
        headers: { "X-Browser-Use-API-Key": EMULATOR_KEY },
      },
      { name: "gateway: GET /healthz (D1 read)", url: `${stack.gatewayUrl}/healthz` },
      {
        name: "gateway: GET /api/v3/sessions/{id}",
        url: `${stack.gatewayUrl}/api/v3/sessions/${session.id}`,
        headers: tenant,
      },
      {
        name: "gateway: GET /api/v3/billing/account",
        url: `${stack.gatewayUrl}/api/v3/billing/account`,
        headers: tenant,
      },
      {
        name: "gateway: POST /api/v3/sessions with a task (budget hold)",
        url: `${stack.gatewayUrl}/api/v3/sessions`,
        method: "POST",
        headers: json,
        body: JSON.stringify({ task: "bench [emu outcome=hang]" }),
      },
    ];

    const rows = [];
    for (const s of scenarios) {
      const result = await autocannon({
        url: s.url,
        method: s.method ?? "GET",
        headers: s.headers,
        body: s.body,
        connections: CONNECTIONS,
        duration: SECONDS,
      });
      rows.push({
        scenario: s.name,
        "req/s": Math.round(result.requests.average),
        "p50 ms": result.latency.p50,
        "p99 ms": result.latency.p99,
        "non-2xx": result.non2xx,
        errors: result.errors + result.timeouts,
      });
    }
    const logs = process.env.BENCH_LOG_LEVEL ?? "warn";
    console.log(
      `\n${SECONDS} s per scenario, ${CONNECTIONS} connections, loopback, wrangler dev, LOG_LEVEL=${logs}:\n`,
    );
    console.table(rows);

    if (USAGE_EVENTS > 0) {
      const month = "from=2026-11-01&to=2026-11-30&groupBy=tenant,day";
      console.log(
        `\nUsage reports over ${USAGE_EVENTS} cost events (seeded and the gateway started in ${seeded} s), ${USAGE_RUNS} sequential requests each:\n`,
      );
      console.table([
        {
          report: "November by tenant and day, one org",
          ...(await timeReport(stack, `${month}&orgId=${benchOrg(3)}`)),
        },
        { report: "November by tenant and day, every org", ...(await timeReport(stack, month)) },
        {
          report: "November by tenant and day, every org, CSV",
          ...(await timeReport(stack, `${month}&format=csv`)),
        },
        {
          report: "November by tenant and day, one org, New York days",
          ...(await timeReport(stack, `${month}&orgId=${benchOrg(3)}&timeZone=America/New_York`)),
        },
        {
          report: "November by org, every org",
          ...(await timeReport(stack, "from=2026-11-01&to=2026-11-30&groupBy=org")),
        },
      ]);
    }
  } finally {
    await stack.stop();
    rmSync(PERSIST, { recursive: true, force: true });
    rmSync(SEED_FILE, { force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
