/**
 * A worker served as `wrangler dev` serves it, but with no devtools link: the benchmark's way of
 * running a worker (bench/run.ts). `wrangler dev` always attaches an inspector to workerd and turns
 * on its Runtime and Network domains, so that every `console.log` and every fetch is also sent to
 * wrangler as a devtools event, which Cloudflare's runtime does not do. Wrangler's own
 * `unstable_startWorker` with `dev.inspector: false` is the same build, runtime and bindings
 * without that. Usage: `tsx scripts/serve-worker.ts '<json>'` with { config, port, persistTo?,
 * vars, logLevel? }; stops on SIGTERM.
 */
import { unstable_startWorker } from "wrangler";

interface ServeOptions {
  config: string;
  port: number;
  persistTo?: string;
  vars: Record<string, string>;
  logLevel?: "debug" | "info" | "log" | "warn" | "error" | "none";
}

const options = JSON.parse(process.argv[2] ?? "{}") as ServeOptions;
const worker = await unstable_startWorker({
  config: options.config,
  bindings: Object.fromEntries(
    Object.entries(options.vars).map(([name, value]) => [name, { type: "plain_text", value }]),
  ),
  dev: {
    inspector: false,
    watch: false,
    liveReload: false,
    logLevel: options.logLevel ?? "warn",
    persist: options.persistTo,
    server: { hostname: "127.0.0.1", port: options.port },
  },
});
await worker.ready;
const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
