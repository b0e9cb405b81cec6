declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    STEPWISE_DB: D1Database;
    BROWSER_USE_API_KEY: string;
    ADMIN_TOKEN: string;
    BROWSER_USE_WEBHOOK_SECRET: string;
    FUZZ_RUNS: string;
    FUZZ_SEED: string;
  }
}
