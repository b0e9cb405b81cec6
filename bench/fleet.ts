/**
 * The fleet scenario of `npm run bench`: many SDK-like clients at once. Each client runs tasks one
 * after another through the gateway, polling its task every 2 s as the official SDK does, until
 * the task ends; clients start spread over one task's length, as clients that come and go do
 * (started within two seconds, tasks of one length kept them in step: admissions came in waves of
 * all the clients at once). After BENCH_FLEET_SECONDS no new
 * task starts and the running ones are polled to their end (bounded). Reports D1 statements, round
 * trips and D1 execution time per second and per task over its whole life (admission, polls,
 * status webhooks, settlement), workerd's CPU, latencies, and whether the gateway kept up: every
 * request answered 200 and the polls kept to their 2 s rhythm (p99 under a second).
 */
import { createTenant, type Stack } from "../scripts/local-stack";
import { d1Counts, workerdCpuMs } from "./measure";

const POLL_EVERY_MS = 2_000;
/** Five steps of two seconds: a task lives about ten seconds, so a client polls it five times or so. */
const TASK = "fleet [emu steps=5 stepMs=2000 cost=0.001]";
const TASK_MS = 5 * 2_000;
const ENDED = new Set(["stopped", "idle", "error", "timed_out"]);
/** How long running tasks may take to end once no new one starts. */
const DRAIN_MS = 30_000;

export interface FleetResult {
  clients: number;
  tenants: number;
  seconds: number;
  tasksStarted: number;
  tasksFinished: number;
  polls: number;
  failed: number;
  /** The failures by what each was: its status, or "no answer". */
  failedAs: string;
  createP50: number;
  createP99: number;
  pollP50: number;
  pollP99: number;
  requestsPerS: number;
  d1StatementsPerS: number;
  d1RoundTripsPerS: number;
  /** D1's execution time per wall-clock second (ms/s): the share of one database's time it used. */
  d1MsPerS: number;
  d1StatementsPerTask: number;
  d1RowsReadPerTask: number;
  d1RoundTripsPerTask: number;
  workerdCpuPercent: number;
  /**
   * This process's CPU (the emulator and the clients run in it): near 100%, the harness itself
   * is the limit, and late answers say as much of it as of the gateway.
   */
  harnessCpuPercent: number;
  keptUp: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0);
}

export async function benchFleet(
  stack: Stack,
  options: { clients: number; tenants: number; seconds: number },
): Promise<FleetResult> {
  const policy = { budget: { capUsd: "1000000", period: "month" }, maxTaskCostUsd: "0.01" };
  const keys: string[] = [];
  for (let i = 0; i < options.tenants; i++) {
    keys.push((await createTenant(stack, { org: `fleet ${i}`, tenant: `fleet ${i}` }, policy)).key);
  }
  const createMs: number[] = [];
  const pollMs: number[] = [];
  let started = 0;
  let finished = 0;
  let failed = 0;
  // Each failure by what it was: the status answered, or "no answer" (a timeout, a refused connection).
  const failures = new Map<string, number>();
  const fail = (status: number | null) => {
    failed++;
    const what = status === null ? "no answer" : String(status);
    failures.set(what, (failures.get(what) ?? 0) + 1);
  };

  const timed = async (path: string, key: string, init: RequestInit = {}) => {
    const at = performance.now();
    try {
      const res = await fetch(stack.gatewayUrl + path, {
        ...init,
        headers: { "X-Browser-Use-API-Key": key, "Content-Type": "application/json" },
        signal: AbortSignal.timeout(10_000),
      });
      const body = (await res.json()) as { id?: string; status?: string };
      return {
        ok: res.status === 200,
        status: res.status as number | null,
        body,
        ms: performance.now() - at,
      };
    } catch {
      return { ok: false, status: null, body: {}, ms: performance.now() - at };
    }
  };

  const begun = performance.now();
  const stopStartingAt = begun + options.seconds * 1000;
  const giveUpAt = stopStartingAt + DRAIN_MS;
  const client = async (key: string) => {
    await sleep(Math.random() * TASK_MS);
    while (performance.now() < stopStartingAt) {
      const created = await timed("/api/v3/sessions", key, {
        method: "POST",
        body: JSON.stringify({ task: TASK }),
      });
      createMs.push(created.ms);
      if (!created.ok || !created.body.id) {
        fail(created.status);
        await sleep(POLL_EVERY_MS);
        continue;
      }
      started++;
      for (;;) {
        await sleep(POLL_EVERY_MS);
        if (performance.now() > giveUpAt) return;
        const polled = await timed(`/api/v3/sessions/${created.body.id}`, key);
        pollMs.push(polled.ms);
        if (!polled.ok) fail(polled.status);
        else if (ENDED.has(String(polled.body.status))) {
          finished++;
          break;
        }
      }
    }
  };

  const cpuBefore = workerdCpuMs(stack.pid);
  const harnessBefore = process.cpuUsage();
  const d1Before = await d1Counts(stack.gatewayUrl);
  await Promise.all(
    Array.from({ length: options.clients }, (_, i) => client(keys[i % keys.length] as string)),
  );
  // The last settlements and webhooks land just after the last answer.
  await sleep(1_000);
  const d1After = await d1Counts(stack.gatewayUrl);
  const wallS = (performance.now() - begun) / 1000;
  const cpuMs = workerdCpuMs(stack.pid) - cpuBefore;
  const harness = process.cpuUsage(harnessBefore);

  createMs.sort((a, b) => a - b);
  pollMs.sort((a, b) => a - b);
  const perS = (n: number) => Math.round(n / wallS);
  const perTask = (n: number) => Math.round((n / Math.max(1, finished)) * 10) / 10;
  const statements = d1After.statements - d1Before.statements;
  const roundTrips = d1After.roundTrips - d1Before.roundTrips;
  const pollP99 = percentile(pollMs, 99);
  return {
    clients: options.clients,
    tenants: options.tenants,
    seconds: Math.round(wallS),
    tasksStarted: started,
    tasksFinished: finished,
    polls: pollMs.length,
    failed,
    failedAs:
      [...failures]
        .sort()
        .map(([what, n]) => `${what}: ${n}`)
        .join(", ") || "-",
    createP50: percentile(createMs, 50),
    createP99: percentile(createMs, 99),
    pollP50: percentile(pollMs, 50),
    pollP99,
    requestsPerS: perS(createMs.length + pollMs.length),
    d1StatementsPerS: perS(statements),
    d1RoundTripsPerS: perS(roundTrips),
    d1MsPerS: Math.round(((d1After.d1Ms - d1Before.d1Ms) / wallS) * 10) / 10,
    d1StatementsPerTask: perTask(statements),
    d1RowsReadPerTask: perTask(d1After.rowsRead - d1Before.rowsRead),
    d1RoundTripsPerTask: perTask(roundTrips),
    workerdCpuPercent: Math.round((cpuMs / (wallS * 1000)) * 100),
    harnessCpuPercent: Math.round(((harness.user + harness.system) / 1000 / (wallS * 1000)) * 100),
    keptUp: failed === 0 && finished === started && pollP99 < 1_000,
  };
}
