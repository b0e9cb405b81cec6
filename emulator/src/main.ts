/**
 * `npm run emulator`: the emulator as a standalone server, configured from the environment
 * (see env-options.ts), on PORT (8788).
 */
import { DEV_KEY, emulatorOptionsFromEnv, intEnv } from "./env-options";
import { startEmulator } from "./server";

const options = emulatorOptionsFromEnv(process.env);
const running = await startEmulator({ ...options, port: intEnv(process.env, "PORT") ?? 8788 });

// The key itself is printed only when it is the public default.
const keyNote = options.apiKey === DEV_KEY ? `API key ${DEV_KEY}` : "API key from EMULATOR_API_KEY";
console.log(`Browser Use v3 emulator listening on ${running.url}/api/v3 (${keyNote})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    running.close().finally(() => process.exit(0));
  });
}
