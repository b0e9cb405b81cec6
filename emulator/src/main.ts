/**
 * `npm run emulator`: the emulator as a standalone server, configured from the environment.
 *   PORT (8788), EMULATOR_API_KEY (bu_emulator_dev_key), EMULATOR_STEP_MS (1000),
 *   EMULATOR_IDLE_TIMEOUT_MS (900000), EMULATOR_WEBHOOK_URL, EMULATOR_WEBHOOK_SECRET
 */
import { startEmulator } from "./server";

const DEV_KEY = "bu_emulator_dev_key";

function intEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

const apiKey = process.env.EMULATOR_API_KEY || DEV_KEY;
const running = await startEmulator({
  apiKey,
  port: intEnv("PORT") ?? 8788,
  stepMs: intEnv("EMULATOR_STEP_MS"),
  idleTimeoutMs: intEnv("EMULATOR_IDLE_TIMEOUT_MS"),
  webhookUrl: process.env.EMULATOR_WEBHOOK_URL || undefined,
  webhookSecret: process.env.EMULATOR_WEBHOOK_SECRET || undefined,
  log: (line) => console.warn(line),
});

// The key itself is printed only when it is the public default.
const keyNote = apiKey === DEV_KEY ? `API key ${DEV_KEY}` : "API key from EMULATOR_API_KEY";
console.log(`Browser Use v3 emulator listening on ${running.url}/api/v3 (${keyNote})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    running.close().finally(() => process.exit(0));
  });
}
