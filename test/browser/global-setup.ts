/**
 * The browser tests' gateway, started as `npm start` starts it (scripts/local-stack.ts): the
 * emulator, local D1 migrated (in a fresh temporary directory), and the gateway under `wrangler dev`
 * serving the dashboard from its static assets. Runs in Node, once for the browser project.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type Stack, startStack } from "../../scripts/local-stack";

const ADMIN_TOKEN = "browser-test-admin-token";
const WEBHOOK_SECRET = "browser-test-webhook-secret";

/** A server bound to a port the system picked, on loopback. */
function bound(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server));
  });
}

/**
 * Two distinct ports nothing listens on now. Both stay bound until both are picked: a port closed
 * before the next was picked could be handed out again, and the emulator and the gateway would
 * then race for it ("Address already in use").
 */
async function twoFreePorts(): Promise<[number, number]> {
  const servers = [await bound(), await bound()];
  const [a, b] = servers.map((server) => {
    const address = server.address();
    return typeof address === "object" && address ? address.port : 0;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return [a ?? 0, b ?? 0];
}

/** The stack on two free ports; another process may take one before wrangler binds it: try again. */
async function startOnFreePorts(persistTo: string): Promise<Stack> {
  for (let attempt = 1; ; attempt++) {
    const [port, emulatorPort] = await twoFreePorts();
    try {
      return await startStack({
        port,
        emulatorPort,
        persistTo,
        adminToken: ADMIN_TOKEN,
        logLevel: "error",
        quiet: true,
        emulator: {
          apiKey: "bu_browser_test_key",
          stepMs: 100,
          webhookUrl: `http://127.0.0.1:${port}/webhooks/browser-use`,
          webhookSecret: WEBHOOK_SECRET,
          log: () => undefined,
        },
        vars: {
          BROWSER_USE_WEBHOOK_SECRET: WEBHOOK_SECRET,
          ALLOW_PRIVATE_CALLBACKS: "true",
          // A failing callback gives up after two quick retries, so a test sees it failed.
          EVENT_RETRY_SCHEDULE_S: "1,1",
          LOG_LEVEL: "error",
        },
      });
    } catch (err) {
      if (attempt === 3) throw err;
    }
  }
}

export default async function setup(project: TestProject) {
  const persistTo = mkdtempSync(join(tmpdir(), "gateway-browser-"));
  const stack = await startOnFreePorts(persistTo);
  project.provide("gatewayUrl", stack.gatewayUrl);
  project.provide("emulatorUrl", stack.emulatorUrl);
  project.provide("adminToken", ADMIN_TOKEN);
  return async () => {
    await stack.stop();
    await stack.exited;
    rmSync(persistTo, { recursive: true, force: true });
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    gatewayUrl: string;
    emulatorUrl: string;
    adminToken: string;
  }
}
