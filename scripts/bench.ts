/**
 * `npm run bench`: how much the gateway costs on top of Browser Use, measured on this machine.
 * Starts the emulator and the gateway (`wrangler dev`, local D1 in a throwaway folder) on their own
 * ports, then drives each scenario with autocannon over loopback for BENCH_SECONDS (default 5) with
 * BENCH_CONNECTIONS (default 10) connections, and prints requests per second and latency. The
 * emulator answered directly is the baseline: the difference is the gateway (auth, ownership,
 * policy, budget holds, the ledger) plus workerd's own overhead in local dev.
 * Loopback only; every run is bounded in time.
 */
import { rmSync } from "node:fs";
import autocannon from "autocannon";
import { createTenant, startStack } from "./local-stack";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const EMULATOR_KEY = "bu_emulator_bench_key";
const PERSIST = ".wrangler/bench";

interface Scenario {
  name: string;
  url: string;
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
}

async function main() {
  rmSync(PERSIST, { recursive: true, force: true });
  const stack = await startStack({
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
  } finally {
    await stack.stop();
    rmSync(PERSIST, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
