/**
 * `npm start`: the whole thing on one machine, with no network and no prompts.
 * 1. the Browser Use emulator on EMULATOR_PORT (8788),
 * 2. local D1 migrated,
 * 3. the gateway under `wrangler dev` on PORT (8787), its upstream pointed at the emulator,
 * 4. a demo org, tenant and key, created through the admin API (reused on the next start),
 * 5. the reconciler's cron fired every minute, which wrangler dev does not do by itself,
 * 6. the emulator's status webhooks sent to the gateway, so tasks settle as soon as they end,
 * 7. a demo hook for the demo tenant, whose callbacks go to an emulator inbox that prints them,
 *    and a signed curl that starts its task.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { emulatorOptionsFromEnv } from "../emulator/src/env-options";
import { DEMO_FILE, type Demo, readDemo, signedDelivery } from "./demo";
import { createTenant, type Stack, startStack } from "./local-stack";

// A budget to see holds at work: every task is held and capped at $0.50 unless it asks for less.
const DEMO_POLICY = {
  budget: { capUsd: "25.00", period: "month" },
  maxTaskCostUsd: "2.00",
  defaultTaskCostUsd: "0.50",
};

/** The demo hook's task: an order number from the delivery, three emulated steps. */
const DEMO_HOOK = {
  name: "Demo: check an order",
  task: "Check the status of order {{order.id}} [emu steps=3]",
};

async function main() {
  const port = Number(process.env.PORT ?? 8787);
  const adminToken = process.env.ADMIN_TOKEN ?? "dev-admin-token";
  // The emulator tells the gateway when a task ends, as Browser Use does, signed with this secret.
  const webhookSecret = process.env.EMULATOR_WEBHOOK_SECRET || "dev-webhook-secret";
  const emulator = {
    ...emulatorOptionsFromEnv(process.env),
    webhookUrl: process.env.EMULATOR_WEBHOOK_URL || `http://127.0.0.1:${port}/webhooks/browser-use`,
    webhookSecret,
  };
  const stack = await startStack({
    port,
    emulatorPort: Number(process.env.EMULATOR_PORT ?? 8788),
    emulator,
    adminToken,
    logLevel: process.env.WRANGLER_LOG_LEVEL,
    vars: {
      BROWSER_USE_WEBHOOK_SECRET: webhookSecret,
      ALLOW_PRIVATE_CALLBACKS: "true",
      // `info` (a line per request) unless the environment says otherwise.
      LOG_LEVEL: process.env.LOG_LEVEL || "info",
      // Seals orgs' own Browser Use keys in local D1: a fixed key for local use only (base64 of
      // "local-dev-only-not-a-secret-key!"); a deployment sets its own secret.
      UPSTREAM_KEY_ENCRYPTION_KEY:
        process.env.UPSTREAM_KEY_ENCRYPTION_KEY || "bG9jYWwtZGV2LW9ubHktbm90LWEtc2VjcmV0LWtleSE=",
    },
  });
  const shutdown = (code: number) => stack.stop().finally(() => process.exit(code));
  process.on("SIGINT", () => shutdown(0));
  process.on("SIGTERM", () => shutdown(0));
  stack.exited.then((code) => shutdown(code));

  // wrangler dev does not fire cron triggers; fire the reconciler's each minute, as Cloudflare would,
  // and say so when it could not run.
  setInterval(() => {
    stack
      .fireCron()
      .catch((err: unknown) => console.error(`reconciler: ${err instanceof Error ? err.message : err}`));
  }, 60_000).unref();

  const demo = await demoTenant(stack);
  const hook = await demoHook(stack, demo);
  const delivery = signedDelivery(hook.secret, { order: { id: "A-1001" } });
  console.log(`
emulator  ${stack.emulatorUrl}/api/v3   (key ${emulator.apiKey})
gateway   ${stack.gatewayUrl}   (GET /healthz)
dashboard ${stack.gatewayUrl}/dashboard/   (sign in with the admin token or the demo key)
admin     Authorization: Bearer ${adminToken}
demo      org ${demo.orgId} (budget $25/month, tasks held at $0.50 unless they ask), tenant ${demo.tenantId}
demo key  ${demo.key}

Try it:
  curl -s ${stack.gatewayUrl}/api/v3/sessions -H 'X-Browser-Use-API-Key: ${demo.key}' \\
    -H 'Content-Type: application/json' -d '{"task": "Find the top story on Hacker News"}'

A signed webhook starts a task (signed now, good for five minutes; \`npm run demo:hook\` sends a fresh one),
and its result callback is printed here as "inbox demo-callbacks" when the task ends:
  curl -s ${stack.gatewayUrl}/hooks/${hook.id} -H 'Content-Type: application/json' \\
    -H 'webhook-id: ${delivery.headers["webhook-id"]}' -H 'webhook-timestamp: ${delivery.headers["webhook-timestamp"]}' \\
    -H 'webhook-signature: ${delivery.headers["webhook-signature"]}' -d '${delivery.body}'
`);
}

/** The demo hook from the last start if it still exists, else a new one (saved with the tenant). */
async function demoHook(stack: Stack, demo: Demo): Promise<{ id: string; secret: string }> {
  const callbackUrl = `${stack.emulatorUrl}/_emulator/inbox/demo-callbacks`;
  await fetch(`${callbackUrl}/config`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ print: true }),
  });
  if (demo.hook) {
    const probe = await fetch(`${stack.gatewayUrl}/admin/v1/hooks/${demo.hook.id}`, {
      headers: { Authorization: `Bearer ${stack.adminToken}` },
    });
    if (probe.ok) return demo.hook;
  }
  const created = await stack.admin<{ id: string; secret: string }>(
    `/admin/v1/tenants/${demo.tenantId}/hooks`,
    {
      ...DEMO_HOOK,
      callbackUrl,
    },
  );
  demo.hook = { id: created.id, secret: created.secret };
  writeFileSync(DEMO_FILE, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return demo.hook;
}

/** The demo tenant from the last start if its key still works, else a new one. */
async function demoTenant(stack: Stack): Promise<Demo> {
  const saved = readDemo();
  if (saved) {
    const probe = await fetch(`${stack.gatewayUrl}/api/v3/billing/account`, {
      headers: { "X-Browser-Use-API-Key": saved.key },
    });
    if (probe.ok) return saved;
  }
  const demo = await createTenant(stack, { org: "Demo org", tenant: "Demo tenant" }, DEMO_POLICY);
  mkdirSync(".wrangler", { recursive: true });
  writeFileSync(DEMO_FILE, JSON.stringify(demo, null, 2), { mode: 0o600 });
  return demo;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
