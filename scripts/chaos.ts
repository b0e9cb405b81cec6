/**
 * `npm run chaos [-- --seed N --seconds S --clients C]`: the chaos run (chaos/run.ts) against the
 * gateway under `wrangler dev` on a fresh local D1, with the emulator as its upstream (status
 * webhooks on). Prints its seed and its table; exits 1 when any check fails. The same seed draws
 * the same operations per client and the same faults for the same order of upstream requests;
 * how the clients interleave still depends on timing.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { chaosTable, runChaos } from "../chaos/run";
import type { ChaosTarget } from "../chaos/target";
import { type Stack, startStack } from "./local-stack";

const { values } = parseArgs({
  options: {
    seed: { type: "string" },
    seconds: { type: "string", default: process.env.CHAOS_SECONDS ?? "30" },
    clients: { type: "string", default: process.env.CHAOS_CLIENTS ?? "6" },
  },
});
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const EMULATOR_KEY = "bu_emulator_chaos_key";
const WEBHOOK_SECRET = "chaos-webhook-secret";
const PERSIST = ".wrangler/chaos";
// The gateway's own wrangler.toml with the chaos entry point (chaos/gateway-entry.ts).
const CONFIG = ".chaos.wrangler.toml";

function httpTarget(stack: Stack): ChaosTarget {
  const json = async <T>(res: Response, what: string): Promise<T> => {
    if (!res.ok) throw new Error(`${what} answered ${res.status}: ${await res.text()}`);
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const key = { "X-Browser-Use-API-Key": EMULATOR_KEY, "Content-Type": "application/json" };
  const post = (path: string, body: unknown) =>
    fetch(stack.gatewayUrl + path, { method: "POST", body: JSON.stringify(body) });
  return {
    adminToken: stack.adminToken,
    async gateway(path, init, hangUpAfterMs) {
      if (hangUpAfterMs === undefined) return fetch(stack.gatewayUrl + path, init);
      const client = new AbortController();
      const timer = setTimeout(() => client.abort(), hangUpAfterMs);
      try {
        return await fetch(stack.gatewayUrl + path, { ...init, signal: client.signal });
      } catch (err) {
        if (client.signal.aborted) return "hung-up";
        throw err;
      } finally {
        clearTimeout(timer);
      }
    },
    async emulator<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${stack.emulatorUrl}/_emulator${path}`, {
        method,
        headers: key,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return json<T>(res, `${method} /_emulator${path}`);
    },
    upstream: (method, path, body) =>
      fetch(`${stack.emulatorUrl}/api/v3${path}`, {
        method,
        headers: key,
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    reconcile: async (now) =>
      json<object[]>(await post("/__chaos/reconcile", { now: now.toISOString() }), "a reconciler pass"),
    sql: async <T>(query: string, ...binds: (string | number)[]) =>
      json<T[]>(await post("/__chaos/sql", { query, binds }), "a read of D1"),
    // A hung-up request's work goes on in waitUntil, and answered ones write after the response:
    // nothing tells a client when that is done, so wait a little.
    drain: () => new Promise((r) => setTimeout(r, 2_000)),
  };
}

async function main(): Promise<boolean> {
  rmSync(PERSIST, { recursive: true, force: true });
  writeFileSync(
    CONFIG,
    readFileSync("wrangler.toml", "utf8").replace(/^main = .*$/m, 'main = "chaos/gateway-entry.ts"'),
  );
  const port = Number(process.env.CHAOS_PORT ?? 8794);
  let stack: Stack | undefined;
  try {
    console.log(`chaos: seed ${seed} (repeat with npm run chaos -- --seed ${seed})`);
    stack = await startStack({
      port,
      emulatorPort: Number(process.env.CHAOS_EMULATOR_PORT ?? 8795),
      config: CONFIG,
      emulator: {
        apiKey: EMULATOR_KEY,
        stepMs: 100,
        creditsUsd: "1000000",
        concurrencyLimit: 1_000_000,
        idleBrowserBilling: true,
        webhookUrl: `http://127.0.0.1:${port}/webhooks/browser-use`,
        webhookSecret: WEBHOOK_SECRET,
        log: () => undefined,
      },
      adminToken: "chaos-admin-token",
      persistTo: PERSIST,
      // Clients that hang up make workerd log each unwritable answer; the audit is what counts.
      logLevel: process.env.CHAOS_LOG_LEVEL ?? "none",
      vars: { LOG_LEVEL: "error", BROWSER_USE_WEBHOOK_SECRET: WEBHOOK_SECRET },
    });
    const result = await runChaos(httpTarget(stack), {
      seed,
      durationMs: Number(values.seconds) * 1000,
      clients: Number(values.clients),
      reconcileEveryMs: 5_000,
    });
    console.log(chaosTable(result));
    return result.ok;
  } finally {
    await stack?.stop();
    rmSync(PERSIST, { recursive: true, force: true });
    rmSync(CONFIG, { force: true });
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
