import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { configDefaults, defineConfig } from "vitest/config";

const EMULATOR_KEY = "bu_emulator_test_key";

export default defineConfig({
  test: {
    // The gateway logs a JSON line per request; show logs only for a failing test.
    silent: "passed-only",
    projects: [
      {
        // The emulator and the official SDK run on Node, as a user's would.
        test: {
          name: "emulator",
          include: ["emulator/test/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
        },
      },
      {
        // Checks that need Node (the OpenAPI 3.1 validator reads its schemas from disk).
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        // The gateway runs inside workerd with real D1, talking to the emulator over HTTP.
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // A second, empty database beside the gateway's: test/migrations.test.ts and watch-list.test.ts apply the
              // migrations to it one at a time, with rows in place, as a deployed database gets them.
              d1Databases: { STEPWISE_DB: "stepwise" },
              bindings: {
                UPSTREAM_URL: `http://127.0.0.1:${inject("emulatorPort")}/api/v3`,
                BROWSER_USE_API_KEY: EMULATOR_KEY,
                ADMIN_TOKEN: "test-admin-token",
                BROWSER_USE_WEBHOOK_SECRET: "test-webhook-secret",
                // Seals orgs' own upstream keys (32 bytes, base64); tests only.
                UPSTREAM_KEY_ENCRYPTION_KEY: "dGVzdC1vbmx5LXVwc3RyZWFtLXNlYWxpbmcta2V5LTE=",
                // Callbacks go to receivers on this machine in tests.
                ALLOW_PRIVATE_CALLBACKS: "true",
                // Retries a second apart, so a test sees a receiver's third attempt.
                EVENT_RETRY_SCHEDULE_S: "1,1,1",
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
                // test/fuzz.test.ts: runs per route family (npm run fuzz), and a seed to replay.
                FUZZ_RUNS: process.env.FUZZ_RUNS ?? "",
                FUZZ_SEED: process.env.FUZZ_SEED ?? "",
              },
            },
          })),
        ],
        test: {
          name: "gateway",
          include: ["test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, "test/browser/**", "test/node/**"],
          globalSetup: ["./test/build-api-docs.setup.ts", "./test/global-setup.ts"],
          setupFiles: ["./test/apply-migrations.ts"],
          provide: { emulatorKey: EMULATOR_KEY },
          testTimeout: 30_000,
        },
      },
      {
        // The dashboard in headless Chromium (playwright-core driving Debian's chromium), against
        // the gateway started as `npm start` starts it: emulator, local D1, `wrangler dev`.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          globalSetup: ["./test/browser/global-setup.ts"],
          testTimeout: 30_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
