/** What the benchmark reads besides latency: workerd CPU time, D1 calls, the bundle's size. */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { gzipSync } from "node:zlib";

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_S = 100;

/**
 * CPU time (ms) used so far by the workerd processes in a process group: a `wrangler dev` started
 * in its own group (local-stack.ts) runs its worker in one workerd there. Linux only (`/proc`).
 */
export function workerdCpuMs(processGroup: number): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces, so split after its closing parenthesis.
    const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (!comm.startsWith("workerd") || Number(fields[2]) !== processGroup) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / TICKS_PER_S;
}

export interface D1Counts {
  statements: number;
  roundTrips: number;
  /** D1's own execution time of the statements answered so far (`meta.duration`). */
  d1Ms: number;
  /** The rows D1 read for the statements answered so far (`meta.rows_read`: what D1 bills). */
  rowsRead: number;
  /** Calls to a key's rate counter (a Durable Object) so far. */
  rateCounterCalls: number;
  /** Browser Use's status webhooks received so far. */
  webhooks: number;
  /** Lines the gateway has logged so far (console.log and console.error). */
  logLines: number;
}

/** The benchmark gateway's D1, rate-counter, webhook and log-line counts so far (bench/gateway-entry.ts). */
export async function d1Counts(gatewayUrl: string): Promise<D1Counts> {
  return (await (await fetch(`${gatewayUrl}/__bench/d1`)).json()) as D1Counts;
}

/** The deployed bundle's size, raw and gzip, from `wrangler deploy --dry-run --minify`. */
export function bundleSize(): { rawBytes: number; gzipBytes: number } {
  const outdir = ".wrangler/bench-bundle";
  rmSync(outdir, { recursive: true, force: true });
  const built = spawnSync("npx", ["wrangler", "deploy", "--dry-run", "--minify", "--outdir", outdir], {
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true" },
    stdio: "ignore",
  });
  if (built.status !== 0) throw new Error("wrangler deploy --dry-run failed");
  const code = readFileSync(`${outdir}/index.js`);
  rmSync(outdir, { recursive: true, force: true });
  return { rawBytes: code.byteLength, gzipBytes: gzipSync(code, { level: 9 }).byteLength };
}
