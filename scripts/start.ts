/**
 * `npm start`: the whole thing on one machine, with no network and no prompts.
 * 1. the Browser Use emulator on EMULATOR_PORT (8788),
 * 2. local D1 migrated,
 * 3. the gateway under `wrangler dev` on PORT (8787), its upstream pointed at the emulator,
 * 4. a demo org, tenant and key, created through the admin API (reused on the next start),
 * 5. the reconciler's cron fired every minute, which wrangler dev does not do by itself.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { emulatorOptionsFromEnv } from "../emulator/src/env-options";
import { startEmulator } from "../emulator/src/server";

const PORT = Number(process.env.PORT ?? 8787);
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 8788);
const EMULATOR = emulatorOptionsFromEnv(process.env);
const ADMIN_TOKEN = process.env.ADMIN_TOKEN ?? "dev-admin-token";
const DEMO_FILE = ".wrangler/demo-tenant.json";
const GATEWAY = `http://127.0.0.1:${PORT}`;
const DEMO_POLICY = {
  budget: { capUsd: "25.00", period: "month" },
  maxTaskCostUsd: "2.00",
  defaultTaskCostUsd: "0.50",
};

// Wrangler and Miniflare must not call home, and `d1 migrations apply` must not prompt.
const quietEnv = {
  ...process.env,
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

const children: ChildProcess[] = [];

async function main() {
  const emulator = await startEmulator({ ...EMULATOR, port: EMULATOR_PORT });
  console.log(`emulator  http://127.0.0.1:${emulator.port}/api/v3  (key ${EMULATOR.apiKey})`);

  await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local"]);

  const gateway = spawn(
    "npx",
    [
      "wrangler",
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(PORT),
      "--log-level",
      process.env.WRANGLER_LOG_LEVEL ?? "warn",
      "--show-interactive-dev-session=false",
      "--var",
      `UPSTREAM_URL:http://127.0.0.1:${emulator.port}/api/v3`,
      "--var",
      `BROWSER_USE_API_KEY:${EMULATOR.apiKey}`,
      "--var",
      `ADMIN_TOKEN:${ADMIN_TOKEN}`,
    ],
    { stdio: "inherit", env: quietEnv },
  );
  children.push(gateway);
  gateway.on("exit", (code) => shutdown(code ?? 1));

  await waitForHealth();
  // wrangler dev does not fire cron triggers; fire the reconciler's each minute, as Cloudflare would.
  setInterval(() => {
    fetch(`${GATEWAY}/cdn-cgi/handler/scheduled`).catch(() => undefined);
  }, 60_000).unref();
  const demo = await demoTenant();
  console.log(`
gateway   ${GATEWAY}   (GET /healthz)
admin     Authorization: Bearer ${ADMIN_TOKEN}
demo      org ${demo.orgId} (budget $25/month, tasks held at $0.50 unless they ask), tenant ${demo.tenantId}
demo key  ${demo.key}

Try it:
  curl -s ${GATEWAY}/api/v3/sessions -H 'X-Browser-Use-API-Key: ${demo.key}' \\
    -H 'Content-Type: application/json' -d '{"task": "Find the top story on Hacker News"}'
`);
}

interface Demo {
  orgId: string;
  tenantId: string;
  key: string;
}

/** The demo tenant from the last start if its key still works, else a new one. */
async function demoTenant(): Promise<Demo> {
  if (existsSync(DEMO_FILE)) {
    const saved = JSON.parse(readFileSync(DEMO_FILE, "utf8")) as Demo;
    const probe = await fetch(`${GATEWAY}/api/v3/billing/account`, {
      headers: { "X-Browser-Use-API-Key": saved.key },
    });
    if (probe.ok) return saved;
  }
  const org = await admin<{ id: string }>("/admin/v1/orgs", { name: "Demo org" });
  // A budget to see holds at work: every task is held and capped at $0.50 unless it asks for less.
  await admin(`/admin/v1/orgs/${org.id}/policy`, DEMO_POLICY, "PUT");
  const tenant = await admin<{ id: string }>(`/admin/v1/orgs/${org.id}/tenants`, { name: "Demo tenant" });
  const key = await admin<{ key: string }>(`/admin/v1/tenants/${tenant.id}/keys`, { name: "demo" });
  const demo = { orgId: org.id, tenantId: tenant.id, key: key.key };
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(DEMO_FILE, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return demo;
}

async function admin<T>(path: string, body: unknown, method = "POST"): Promise<T> {
  const res = await fetch(GATEWAY + path, {
    method,
    headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`seeding failed: ${method} ${path} answered ${res.status}`);
  return (await res.json()) as T;
}

async function waitForHealth(): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${GATEWAY}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the gateway did not become healthy on ${GATEWAY} within 60 s`);
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: "inherit", env: quietEnv });
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} failed`)),
    );
  });
}

function shutdown(code: number): never {
  for (const child of children) child.kill("SIGTERM");
  process.exit(code);
}

process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  shutdown(1);
});
