/**
 * Emulator options from environment variables, shared by `npm run emulator` and `npm start`:
 *   EMULATOR_API_KEY (bu_emulator_dev_key), EMULATOR_STEP_MS (1000), EMULATOR_IDLE_TIMEOUT_MS (900000),
 *   EMULATOR_WEBHOOK_URL, EMULATOR_WEBHOOK_SECRET. The port is the caller's choice.
 */
import type { EmulatorOptions } from "./config";

export const DEV_KEY = "bu_emulator_dev_key";

export function emulatorOptionsFromEnv(env: NodeJS.ProcessEnv): Omit<EmulatorOptions, "port"> {
  return {
    apiKey: env.EMULATOR_API_KEY || DEV_KEY,
    stepMs: intEnv(env, "EMULATOR_STEP_MS"),
    idleTimeoutMs: intEnv(env, "EMULATOR_IDLE_TIMEOUT_MS"),
    webhookUrl: env.EMULATOR_WEBHOOK_URL || undefined,
    webhookSecret: env.EMULATOR_WEBHOOK_SECRET || undefined,
    log: (line) => console.warn(line),
  };
}

/** A non-negative integer variable, or undefined when unset. */
export function intEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}
