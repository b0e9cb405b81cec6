/**
 * The gateway and its emulator on this machine, with no network and no prompts: what `npm start`
 * and `npm run bench` both run. The emulator runs in this process; the gateway under `wrangler dev`
 * (workerd), on local D1 migrated first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { EmulatorOptions } from "../emulator/src/config";
import { startEmulator } from "../emulator/src/server";

export interface StackOptions {
  port: number;
  emulatorPort: number;
  emulator: Omit<EmulatorOptions, "port">;
  adminToken: string;
  /** Where local D1 lives (wrangler's default `.wrangler/state` when unset). */
  persistTo?: string;
  logLevel?: string;
  /** Further worker vars, e.g. LOG_LEVEL. */
  vars?: Record<string, string>;
  /** A SQL file run against local D1 once it is migrated, before the gateway starts (bench data). */
  seedFile?: string;
  /** Another wrangler config for the gateway (the benchmark's, which counts D1 calls). */
  config?: string;
  /** Keep wrangler's migration tables off the terminal (printed only if a step fails): tests. */
  quiet?: boolean;
  /**
   * Serve without wrangler dev's devtools link (scripts/serve-worker.ts), as Cloudflare runs a
   * worker: the benchmark. Default false: `wrangler dev` itself, as `npm start` runs it.
   */
  withoutDevtools?: boolean;
}

export interface Stack {
  gatewayUrl: string;
  emulatorUrl: string;
  adminToken: string;
  /** A JSON call to the admin API; throws unless it succeeds. */
  admin<T>(path: string, body: unknown, method?: string): Promise<T>;
  /**
   * Fires the worker's cron trigger once (the reconciler), which `wrangler dev` never does by
   * itself; throws unless the handler ran. Not for a stack served `withoutDevtools`.
   */
  fireCron(): Promise<void>;
  stop(): Promise<void>;
  /** Settles when wrangler exits on its own, with its exit code. */
  exited: Promise<number>;
  /** The gateway's process group (wrangler and its workerd). */
  pid: number;
}

// Wrangler and Miniflare must not call home, and `d1 migrations apply` must not prompt.
const quietEnv = {
  ...process.env,
  CI: "true",
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  WRANGLER_HIDE_BANNER: "true",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
};

export async function startStack(options: StackOptions): Promise<Stack> {
  const emulator = await startEmulator({ ...options.emulator, port: options.emulatorPort });
  const persist = options.persistTo ? ["--persist-to", options.persistTo] : [];
  const config = options.config ? ["--config", options.config] : [];
  const quiet = options.quiet ?? false;
  await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", ...persist], quiet);
  if (options.seedFile) {
    await run(
      "npx",
      ["wrangler", "d1", "execute", "DB", "--local", ...persist, "--file", options.seedFile],
      quiet,
    );
  }
  let gateway: Worker;
  try {
    gateway = await startWrangler({
      port: options.port,
      args: [...config, ...persist],
      withoutDevtools: options.withoutDevtools,
      logLevel: options.logLevel,
      vars: {
        UPSTREAM_URL: `${emulator.url}/api/v3`,
        BROWSER_USE_API_KEY: options.emulator.apiKey,
        ADMIN_TOKEN: options.adminToken,
        ...options.vars,
      },
    });
  } catch (err) {
    await emulator.close();
    throw err;
  }
  return {
    gatewayUrl: gateway.url,
    emulatorUrl: emulator.url,
    adminToken: options.adminToken,
    exited: gateway.exited,
    pid: gateway.pid,
    async stop() {
      await gateway.stop();
      await emulator.close();
    },
    fireCron: () => fireCron(gateway.url),
    async admin<T>(path: string, body: unknown, method = "POST"): Promise<T> {
      const res = await fetch(gateway.url + path, {
        method,
        headers: { Authorization: `Bearer ${options.adminToken}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}`);
      return (await res.json()) as T;
    },
  };
}

/** A worker under `wrangler dev`: where it listens, and how to stop it. */
export interface Worker {
  url: string;
  /** The process group of wrangler and its workerd (for CPU accounting). */
  pid: number;
  stop(): Promise<void>;
  exited: Promise<number>;
}

/**
 * Runs a worker under `wrangler dev` on loopback with `vars`, in its own process group, and waits
 * until its `/healthz` answers. `args` go to wrangler as they are (`--config`, `--persist-to`).
 * `withoutDevtools` serves it through scripts/serve-worker.ts instead (same build and runtime, no
 * devtools link).
 */
export async function startWrangler(options: {
  port: number;
  args?: string[];
  vars: Record<string, string>;
  logLevel?: string;
  withoutDevtools?: boolean;
}): Promise<Worker> {
  const url = `http://127.0.0.1:${options.port}`;
  const logLevel = options.logLevel ?? "warn";
  const command = options.withoutDevtools
    ? [
        "tsx",
        "scripts/serve-worker.ts",
        JSON.stringify({
          ...serveFlags(options.args ?? []),
          port: options.port,
          vars: options.vars,
          logLevel,
        }),
      ]
    : [
        "wrangler",
        "dev",
        ...(options.args ?? []),
        "--ip",
        "127.0.0.1",
        "--port",
        String(options.port),
        "--log-level",
        logLevel,
        "--show-interactive-dev-session=false",
        // `/__scheduled` runs the worker's scheduled handler (fireCron). Miniflare's own
        // `/cdn-cgi/handler/scheduled` cannot: with `[assets]` it reaches the assets router, which
        // has no scheduled handler and answers 500 "exception".
        "--test-scheduled",
        ...Object.entries(options.vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
      ];
  // Its own process group, so stopping it stops npx, wrangler and workerd together.
  const wrangler: ChildProcess = spawn("npx", command, { stdio: "inherit", env: quietEnv, detached: true });
  const exited = new Promise<number>((resolve) => wrangler.on("exit", (code) => resolve(code ?? 1)));
  let exitCode: number | null = null;
  exited.then((code) => {
    exitCode = code;
  });
  const stop = async () => {
    if (wrangler.exitCode === null && wrangler.pid) {
      try {
        process.kill(-wrangler.pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
  };
  try {
    await waitForHealth(url, () => exitCode);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: wrangler.pid ?? 0, stop, exited };
}

/** Runs the scheduled handler of a worker under `wrangler dev --test-scheduled` once. */
export async function fireCron(url: string): Promise<void> {
  const res = await fetch(`${url}/__scheduled`);
  const text = await res.text();
  if (!res.ok) throw new Error(`the cron trigger answered ${res.status}: ${text.slice(0, 200)}`);
}

/** The `--config` and `--persist-to` of wrangler's flags, as serve-worker.ts takes them. */
function serveFlags(args: string[]): { config: string; persistTo?: string } {
  const flag = (name: string) => {
    const at = args.indexOf(name);
    return at === -1 ? undefined : args[at + 1];
  };
  return { config: flag("--config") ?? "wrangler.toml", persistTo: flag("--persist-to") };
}

/** An org, a tenant and a key, with the org's policy set when given. */
export async function createTenant(
  stack: Stack,
  names: { org: string; tenant: string },
  orgPolicy?: unknown,
): Promise<{ orgId: string; tenantId: string; key: string }> {
  const org = await stack.admin<{ id: string }>("/admin/v1/orgs", { name: names.org });
  if (orgPolicy) await stack.admin(`/admin/v1/orgs/${org.id}/policy`, orgPolicy, "PUT");
  const tenant = await stack.admin<{ id: string }>(`/admin/v1/orgs/${org.id}/tenants`, {
    name: names.tenant,
  });
  const key = await stack.admin<{ key: string }>(`/admin/v1/tenants/${tenant.id}/keys`, { name: "local" });
  return { orgId: org.id, tenantId: tenant.id, key: key.key };
}

/**
 * Waits until `url` answers `/healthz`; fails at once when the process serving it has exited
 * (`exitCode`), e.g. because its port was taken, rather than after the whole minute.
 */
async function waitForHealth(url: string, exitCode: () => number | null): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const code = exitCode();
    if (code !== null) throw new Error(`the worker exited (${code}) before ${url} answered /healthz`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the worker did not become healthy on ${url} within 60 s`);
}

function run(command: string, args: string[], quiet = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: quiet ? "pipe" : "inherit", env: quietEnv });
    const output: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk));
    child.on("exit", (code) => {
      if (code === 0) return resolve();
      if (quiet) process.stderr.write(Buffer.concat(output));
      reject(new Error(`${command} ${args.join(" ")} failed`));
    });
  });
}
