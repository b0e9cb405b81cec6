/**
 * A chaos run, the same in `npm run chaos` and in `npm test` (test/chaos.test.ts): a fleet of orgs
 * and tenants with small caps, a seeded mixed load while upstream injects faults and the
 * reconciler runs as its cron would, then faults off, everything ended, the reconciler run until
 * it has nothing left to do, and the audit (audit.ts). Prints nothing; `chaosTable` renders it.
 */
import { fromMicros } from "../src/lib/money";
import { type Check, type Ledger, type Truth, audit } from "./audit";
import { type ChaosOrg, createFleet } from "./fleet";
import { count, jsonOf, type LoadRecord, newLoadRecord, outcomeOf, runLoad } from "./load";
import type { ChaosTarget } from "./target";

/** The emulator's fault rates during the load (its documented controls, POST /_emulator/faults). */
export const DEFAULT_FAULTS = {
  error500Rate: 0.04,
  error429Rate: 0.04,
  dropRate: 0.03,
  dropAfterRate: 0.04,
  malformedRate: 0.03,
  slowRate: 0.1,
  slowMs: 300,
};

export interface ChaosOptions {
  seed: number;
  durationMs: number;
  clients: number;
  /** How often the reconciler runs during the load (the cron's minute, shortened). */
  reconcileEveryMs: number;
  faults?: typeof DEFAULT_FAULTS;
}

export interface ChaosResult {
  seed: number;
  durationMs: number;
  ok: boolean;
  checks: Check[];
  orgs: ChaosOrg[];
  /** The sessions made straight on the account, which no tenant started. */
  rogue: Set<string>;
  load: LoadRecord;
  faults: Record<string, number>;
  upstreamRequests: number;
  ledger: Ledger;
  passes: { duringLoad: number; windDown: number };
}

/** Reconciler passes after the load, at most, before the run gives up on it going quiet. */
const MAX_WIND_DOWN_PASSES = 40;
/**
 * After the load, time moves on in steps of a reconciler pass (the cron's minute, doubled) on
 * both sides: upstream's clock, and the time each pass runs as. Thirty minutes in all: past
 * upstream's idle timeout (15) and every orphaned hold's release (15), so what nobody stopped
 * ends by itself, and the reconciler acts at each step as its cron would have.
 */
export const PASS_STEP_MS = 2 * 60_000;
const WIND_DOWN_STEPS = 15;

/** What a pass's reports show it did: `refreshed 3, adopted 1`. */
const busyWith = (reports: object[]) => {
  const sums = new Map<string, number>();
  for (const r of reports)
    for (const [k, n] of Object.entries(r)) sums.set(k, (sums.get(k) ?? 0) + Number(n));
  return [...sums]
    .filter(([, n]) => n !== 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
};

/** Whether a pass's reports (counts of what it did) show it did nothing. */
const nothingDone = (reports: object[]) => reports.every((r) => Object.values(r).every((n) => n === 0));

export async function runChaos(target: ChaosTarget, options: ChaosOptions): Promise<ChaosResult> {
  const started = Date.now();
  const orgs = await createFleet(target, `${options.seed}-${started}`);
  const tenants = orgs.flatMap((o) => o.tenants);
  const load = newLoadRecord();

  // Sessions no tenant started: made straight on the account, before any fault.
  const rogue = new Set<string>();
  for (const body of [{ task: "rogue [emu steps=2 cost=0.003 stepMs=50]" }, { keepAlive: true }]) {
    const res = await target.upstream("POST", "/sessions", body);
    if (!res.ok) throw new Error(`a session outside the gateway answered ${res.status}`);
    rogue.add(((await res.json()) as { id: string }).id);
  }

  load.lostTwins = await loseTwinCreates(target, orgs, load);

  await target.emulator("POST", "/faults", { ...(options.faults ?? DEFAULT_FAULTS), seed: options.seed });
  let loadDone = false;
  let reconcilerFailures = 0;
  const ticker = (async () => {
    while (!loadDone) {
      await new Promise((r) => setTimeout(r, options.reconcileEveryMs));
      if (loadDone) break;
      load.passes.push(Date.now());
      await target.reconcile(new Date()).catch(() => reconcilerFailures++);
    }
  })();
  await runLoad(target, tenants, options, load);
  loadDone = true;
  await ticker;
  await target.emulator("DELETE", "/faults");
  await target.drain();

  reconcilerFailures += await windDown(target, orgs, load, rogue);
  let windDownPasses = 0;
  let quiet = false;
  let busy = "";
  while (!quiet && windDownPasses < MAX_WIND_DOWN_PASSES) {
    windDownPasses++;
    let reports: object[] = [];
    try {
      reports = await target.reconcile(new Date(Date.now() + WIND_DOWN_STEPS * PASS_STEP_MS));
    } catch {
      reconcilerFailures++;
      continue;
    }
    const [open] = await target.sql<{ n: number }>("SELECT count(*) AS n FROM holds WHERE state = 'open'");
    quiet = nothingDone(reports) && open?.n === 0;
    busy = busyWith(reports);
  }
  if (!quiet) busy += `; ${await stillLive(target)}`;
  const quietCheck: Check = {
    name: "reconciler ran dry",
    ok: quiet && reconcilerFailures === 0,
    detail: `${quiet ? "quiet" : `still busy (${busy})`} after ${windDownPasses} passes; ${reconcilerFailures} passes threw`,
  };

  const truth = await target.emulator<Truth>("GET", "/sessions");
  const audited = await audit(target, orgs, load, rogue, truth);
  const checks = [quietCheck, ...audited.checks];
  const stats = await target.emulator<{ requests: Record<string, number>; faults: Record<string, number> }>(
    "GET",
    "/stats",
  );
  return {
    seed: options.seed,
    durationMs: Date.now() - started,
    ok: checks.every((c) => c.ok),
    checks,
    orgs,
    rogue,
    load,
    faults: stats.faults,
    upstreamRequests: Object.values(stats.requests).reduce((a, b) => a + b, 0),
    ledger: audited.ledger,
    passes: { duringLoad: load.passes.length, windDown: WIND_DOWN_STEPS + windDownPasses },
  };
}

/** What D1 still counts as live, against what upstream says of it: why a reconciler stays busy. */
async function stillLive(target: ChaosTarget): Promise<string> {
  const rows = await target.sql<{ kind: string; id: string; status: string }>(
    `SELECT kind, id, status FROM resources
      WHERE (kind = 'session' AND status IN ('created', 'idle', 'running')) OR (kind = 'browser' AND status = 'active')`,
  );
  const truth = await target.emulator<Truth>("GET", "/sessions");
  const upstream = new Map([...truth.sessions, ...truth.browsers].map((o) => [o.id, o.status]));
  const listed = rows
    .slice(0, 5)
    .map((r) => `${r.kind} ${r.id} ${r.status} (upstream ${upstream.get(r.id)})`);
  return `live in D1: ${listed.join(", ") || "none"}`;
}

/**
 * Two tenants of one org create a session without a task each, alike, and both answers are lost
 * after upstream acted (the emulator's `drop-after`): lost creates the reconciler cannot tell
 * apart, whose sessions it must stop (no one can be given them) and whose slot-only holds it must
 * charge the costliest of them. Returns how many of the two were lost (502).
 */
async function loseTwinCreates(target: ChaosTarget, orgs: ChaosOrg[], load: LoadRecord): Promise<number> {
  const [a, b] = orgs.find((o) => o.tenants.length >= 2)?.tenants ?? [];
  if (!a || !b) return 0;
  await target.emulator("POST", "/faults", { next: ["drop-after", "drop-after"] });
  let lost = 0;
  for (const t of [a, b]) {
    const res = await target.gateway("/api/v3/sessions", {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" },
      body: "{}",
    });
    if (res === "hung-up") continue;
    count(load, "twin lost create", outcomeOf(res.status, jsonOf(await res.text())));
    if (res.status === 502) lost++;
  }
  return lost;
}

/**
 * Ends everything: each session and browser the load knows of is stopped through the gateway
 * (their answers count like any other), the outside sessions through upstream, and time moves on
 * pass by pass so what nobody knows of (lost creates) is found, idles out or times out.
 */
async function windDown(
  target: ChaosTarget,
  orgs: ChaosOrg[],
  load: LoadRecord,
  rogue: Set<string>,
): Promise<number> {
  let failures = 0;
  for (const t of orgs.flatMap((o) => o.tenants)) {
    const headers = { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" };
    const stops = [
      ...[...(load.sessions.get(t.tenantId) ?? [])].map((id) => ({
        path: `/api/v3/sessions/${id}/stop`,
        method: "POST",
        body: { strategy: "session" },
      })),
      ...[...(load.browsers.get(t.tenantId) ?? [])].map((id) => ({
        path: `/api/v3/browsers/${id}`,
        method: "PATCH",
        body: { action: "stop" },
      })),
    ];
    for (const stop of stops) {
      const res = await target.gateway(stop.path, {
        method: stop.method,
        headers,
        body: JSON.stringify(stop.body),
      });
      if (res !== "hung-up") {
        count(load, "wind-down stop", outcomeOf(res.status, jsonOf(await res.text())));
      }
    }
  }
  for (const id of rogue)
    await (await target.upstream("POST", `/sessions/${id}/stop`, { strategy: "session" })).body?.cancel();
  await target.drain();
  for (let step = 1; step <= WIND_DOWN_STEPS; step++) {
    await target.emulator("POST", "/clock", { advanceMs: PASS_STEP_MS });
    await target.reconcile(new Date(Date.now() + step * PASS_STEP_MS)).catch(() => failures++);
  }
  return failures;
}

const usd = (micros: number) => `$${fromMicros(micros)}`;

/** The run as text: what it did, what upstream did to it, the money, and each check. */
export function chaosTable(r: ChaosResult): string {
  const lines: string[] = [];
  const columns = ["2xx", "402", "409", "429", "other 4xx", "502", "503", "504", "500", "hung-up", "other"];
  const classify = (outcome: string) => {
    const status = Number.parseInt(outcome, 10);
    if (Number.isNaN(status)) return outcome === "hung-up" ? "hung-up" : "other";
    if (status < 300) return "2xx";
    if (["402", "409", "429", "502", "503", "504", "500"].includes(String(status))) return String(status);
    return status < 500 ? "other 4xx" : "other";
  };
  lines.push(
    `chaos run: seed ${r.seed}, ${(r.durationMs / 1000).toFixed(1)} s, ${r.ok ? "PASSED" : "FAILED"}`,
  );
  lines.push("");
  lines.push(`| operation | ${columns.join(" | ")} |`);
  lines.push(`| --- | ${columns.map(() => "---").join(" | ")} |`);
  const totals: Record<string, number> = {};
  for (const [op, outcomes] of Object.entries(r.load.outcomes).sort()) {
    const row: Record<string, number> = {};
    for (const [outcome, n] of Object.entries(outcomes)) {
      const column = op === "traffic" ? (outcome === "billed" ? "2xx" : "other") : classify(outcome);
      row[column] = (row[column] ?? 0) + n;
      totals[column] = (totals[column] ?? 0) + n;
    }
    lines.push(`| ${op} | ${columns.map((c) => row[c] ?? 0).join(" | ")} |`);
  }
  lines.push(`| **all** | ${columns.map((c) => totals[c] ?? 0).join(" | ")} |`);
  lines.push("");
  const faults = Object.entries(r.faults)
    .sort()
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  const l = r.ledger;
  const fiveHundreds = new Map<string, number>();
  for (const outcomes of Object.values(r.load.outcomes)) {
    for (const [outcome, n] of Object.entries(outcomes)) {
      if (/^5\d\d /.test(outcome)) fiveHundreds.set(outcome, (fiveHundreds.get(outcome) ?? 0) + n);
    }
  }
  const rows: [string, string][] = [
    ["gateway 5xx by code", [...fiveHundreds].map(([k, n]) => `${k} ${n}`).join(", ") || "none"],
    ["upstream requests", String(r.upstreamRequests)],
    ["faults injected", faults || "none"],
    ["reconciler passes", `${r.passes.duringLoad} during the load, ${r.passes.windDown} after`],
    [
      "sessions / browsers upstream",
      `${l.objects.sessions} / ${l.objects.browsers} (${l.objects.unattributed} unattributed)`,
    ],
    [
      "holds",
      `${l.holds.opened} opened: ${l.holds.settled} settled, ${l.holds.released} released, ${l.holds.open} open`,
    ],
    ["billed by upstream", usd(l.billedMicros)],
    ["booked in the ledger", usd(l.bookedMicros)],
    ["charged to tenants", usd(l.chargedMicros)],
    ["unattributed", usd(l.unattributedMicros)],
    [
      "charged in full (lost creates not told apart)",
      `${l.chargedInFull.count} holds, ${usd(l.chargedInFull.micros)}`,
    ],
    [
      "largest overshoot / bound",
      l.largestOvershoot
        ? `${l.largestOvershoot.scope}: ${usd(l.largestOvershoot.overshootMicros)} / ${usd(l.largestOvershoot.boundMicros)}`
        : "no caps",
    ],
  ];
  lines.push("| figure | value |", "| --- | --- |", ...rows.map(([k, v]) => `| ${k} | ${v} |`));
  lines.push("");
  lines.push("| check | result | detail |", "| --- | --- | --- |");
  for (const c of r.checks) lines.push(`| ${c.name} | ${c.ok ? "ok" : "FAILED"} | ${c.detail} |`);
  return lines.join("\n");
}
