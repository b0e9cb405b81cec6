/**
 * The audit at the end of a chaos run: every figure the gateway keeps, against the emulator's own
 * records (its truth) and the run's own log of what it did. Money is integer micro-USD throughout,
 * read from upstream's decimal strings, never through a float.
 */
import { PROXY_MICROS_PER_MB } from "../emulator/src/pricing";
import { toMicros } from "../src/lib/money";
import type { ChaosOrg, ChaosTenant } from "./fleet";
import { type LoadRecord, markerOf } from "./load";
import type { ChaosTarget } from "./target";

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** A session or browser as the emulator knows it (GET /_emulator/sessions). */
export interface TruthObject {
  id: string;
  status: string;
  [field: string]: unknown;
}

export interface Truth {
  sessions: (TruthObject & { tasks: string[] })[];
  browsers: TruthObject[];
}

/** The dollar figures of the run, for its table. */
export interface Ledger {
  billedMicros: number;
  bookedMicros: number;
  chargedMicros: number;
  unattributedMicros: number;
  chargedInFull: { count: number; micros: number };
  holds: Record<string, number>;
  objects: { sessions: number; browsers: number; unattributed: number };
  largestOvershoot: { scope: string; overshootMicros: number; boundMicros: number } | null;
}

type Figures = Record<string, number>;

/** An amount upstream sent as a decimal string (absent: 0); anything else is a finding, not a guess. */
function money(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v !== "string")
    throw new Error(`upstream sent ${JSON.stringify(v)} where a decimal string belongs`);
  return toMicros(v);
}
const tokens = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) ? v : 0);

/** What upstream billed for a session or browser, in the ledger's columns. */
function truthFigures(kind: "session" | "browser", o: TruthObject): Figures {
  if (kind === "session") {
    return {
      input_tokens: tokens(o.totalInputTokens),
      output_tokens: tokens(o.totalOutputTokens),
      proxy_used_micro_mb: money(o.proxyUsedMb),
      llm_cost_micros: money(o.llmCostUsd),
      proxy_cost_micros: money(o.proxyCostUsd),
      browser_cost_micros: money(o.browserCostUsd),
      total_cost_micros: money(o.totalCostUsd),
    };
  }
  const proxy = money(o.proxyCost);
  const browser = money(o.browserCost);
  return {
    proxy_used_micro_mb: money(o.proxyUsedMb),
    proxy_cost_micros: proxy,
    browser_cost_micros: browser,
    total_cost_micros: proxy + browser,
  };
}

/**
 * How much time outside any hold a live session may cost past a used-up cap: its idle rate
 * ($0.06 an hour) until a pass stops it, three wind-down steps of 2 minutes at the most (one to be
 * old enough to be found if its create's answer was lost, one to be read, one to be stopped).
 */
const IDLE_PAST_CAP_MICROS = 3 * 2 * 1_000;

/** The cost of one step a task's directive asks for (`cost=0.01`), 0 when it names none. */
const stepCost = (text: string) => {
  const m = /\bcost=(\d+(?:\.\d+)?)/.exec(text);
  return m?.[1] ? toMicros(m[1]) : 0;
};

/**
 * The most proxy traffic billed on one browser between two reconciler passes that could see it
 * (two neighbouring intervals between passes during the load), in micro-USD: how far past its
 * hold a browser may run before a pass stops it.
 */
function trafficWindowMicros(bursts: { at: number; mb: number }[], passes: number[]): number {
  const byInterval = new Map<number, number>();
  for (const b of bursts) {
    const interval = passes.filter((p) => p <= b.at).length;
    byInterval.set(interval, (byInterval.get(interval) ?? 0) + b.mb);
  }
  let most = 0;
  for (const [i, mb] of byInterval) most = Math.max(most, mb + (byInterval.get(i + 1) ?? 0));
  return most * PROXY_MICROS_PER_MB;
}

interface UsageRow {
  [column: string]: string | number;
  id: string;
  kind: string;
  org_id: string;
  tenant_id: string;
}

export async function audit(
  target: ChaosTarget,
  orgs: ChaosOrg[],
  load: LoadRecord,
  rogue: Set<string>,
  truth: Truth,
): Promise<{ checks: Check[]; ledger: Ledger }> {
  const checks: Check[] = [];
  const tenants = orgs.flatMap((o) => o.tenants);
  const tenantById = new Map(tenants.map((t) => [t.tenantId, t]));

  // 1. No request was answered 500, nor any 5xx the API does not document.
  const bad: string[] = [];
  for (const [op, outcomes] of Object.entries(load.outcomes)) {
    for (const [outcome, n] of Object.entries(outcomes)) {
      const status = Number.parseInt(outcome, 10);
      if (status >= 500 && ![502, 503, 504].includes(status)) bad.push(`${op} ${outcome} ×${n}`);
    }
  }
  checks.push({ name: "no 500 answered", ok: bad.length === 0, detail: bad.join(", ") || "none" });

  // 2. Nothing held: no open hold, nothing in any counter's held.
  const holdRows = await target.sql<{ state: string; unattached: number; n: number; micros: number }>(
    `SELECT state, resource_id IS NULL AS unattached, count(*) AS n, coalesce(sum(coalesce(settled_micros, 0)), 0) AS micros
       FROM holds GROUP BY state, resource_id IS NULL`,
  );
  const holds: Record<string, number> = { opened: 0, open: 0, settled: 0, released: 0 };
  let chargedInFull = { count: 0, micros: 0 };
  for (const r of holdRows) {
    holds.opened = (holds.opened ?? 0) + r.n;
    holds[r.state] = (holds[r.state] ?? 0) + r.n;
    if (r.state === "settled" && r.unattached) chargedInFull = { count: r.n, micros: r.micros };
  }
  const counters = await target.sql<{ scope: string; scope_id: string; held: number; spent: number }>(
    `SELECT scope, scope_id, sum(held_micros) AS held, sum(spent_micros) AS spent
       FROM budget_counters GROUP BY scope, scope_id`,
  );
  const heldAnywhere = counters.filter((c) => c.held !== 0);
  checks.push({
    name: "no hold open",
    ok: (holds.open ?? 0) === 0 && heldAnywhere.length === 0,
    detail: `${holds.open ?? 0} open, ${heldAnywhere.length} counters holding money`,
  });

  // 3. Every session's and browser's figures in the ledger are upstream's, to the micro-dollar.
  const usage = await target.sql<UsageRow>(
    `SELECT kind, id, org_id, tenant_id, status, final, updated_at, input_tokens, output_tokens, proxy_used_micro_mb,
            llm_cost_micros, proxy_cost_micros, browser_cost_micros, total_cost_micros FROM usage`,
  );
  const usageById = new Map(usage.map((u) => [`${u.kind}:${u.id}`, u]));
  const bill = new Map<string, number>();
  const mismatches: string[] = [];
  const objects = [
    ...truth.sessions.map((o) => ["session", o] as const),
    ...truth.browsers.map((o) => ["browser", o] as const),
  ];
  for (const [kind, o] of objects) {
    const want = truthFigures(kind, o);
    bill.set(o.id, want.total_cost_micros ?? 0);
    const row = usageById.get(`${kind}:${o.id}`);
    if (!row) {
      mismatches.push(`${kind} ${o.id} not in the ledger`);
      continue;
    }
    for (const [column, value] of Object.entries(want)) {
      if (row[column] !== value)
        mismatches.push(`${kind} ${o.id} ${column}: ledger ${row[column]}, upstream ${value}`);
    }
  }
  checks.push({
    name: "ledger = upstream, per object",
    ok: mismatches.length === 0,
    detail: mismatches.length === 0 ? `${objects.length} objects agree` : mismatches.slice(0, 5).join("; "),
  });

  // 4. Each tenant's charges are upstream's bill for its objects, plus holds charged in full.
  const owned = await target.sql<{ kind: string; id: string; tenant_id: string }>(
    "SELECT kind, id, tenant_id FROM resources WHERE kind IN ('session', 'browser') AND tenant_id <> ''",
  );
  // A hold that reserved nothing (a session without a task) is charged at most the costliest
  // object of its group (docs/governance.md): `unreserved` counts those, `unreservedMicros` is
  // what they were charged.
  const fullHolds = await target.sql<{
    tenant_id: string;
    micros: number;
    unreserved: number;
    unreservedMicros: number;
  }>(
    `SELECT tenant_id, coalesce(sum(settled_micros), 0) AS micros,
        sum(amount_micros = 0) AS unreserved,
        coalesce(sum(CASE WHEN amount_micros = 0 THEN settled_micros ELSE 0 END), 0) AS unreservedMicros
       FROM holds WHERE state = 'settled' AND resource_id IS NULL GROUP BY tenant_id`,
  );
  const fullByTenant = new Map(fullHolds.map((h) => [h.tenant_id, h.micros]));
  const spentOf = (scope: string, id: string) =>
    counters.find((c) => c.scope === scope && c.scope_id === id)?.spent ?? 0;
  const ownedBy = (t: ChaosTenant) => owned.filter((r) => r.tenant_id === t.tenantId);
  const wrong: string[] = [];
  for (const t of tenants) {
    const billed =
      ownedBy(t).reduce((n, r) => n + (bill.get(r.id) ?? 0), 0) + (fullByTenant.get(t.tenantId) ?? 0);
    const spent = spentOf("tenant", t.tenantId);
    if (spent !== billed) wrong.push(`${t.name}: booked ${spent}, billed ${billed}`);
  }
  for (const o of orgs) {
    const sum = o.tenants.reduce((n, t) => n + spentOf("tenant", t.tenantId), 0);
    if (spentOf("org", o.orgId) !== sum)
      wrong.push(`${o.name}: org booked ${spentOf("org", o.orgId)}, tenants ${sum}`);
  }
  checks.push({
    name: "booked = billed, per tenant and org",
    ok: wrong.length === 0,
    detail: wrong.join("; ") || `${tenants.length} tenants, ${orgs.length} orgs agree`,
  });

  // 5. Unattributed spend is the sessions no tenant started; a tenant's object is booked
  // unattributed only where lost creates of several tenants could not be told apart (and their
  // holds were charged in full instead, one that reserved nothing no more than the costliest such
  // object); only such objects are marked unclaimed (1: stopped by the reconciler; 2: their group
  // held more objects than creates, so some may be someone else's, and they were left running).
  const unattributed = usage.filter((u) => u.tenant_id === "");
  const unattributedIds = new Set(unattributed.map((u) => u.id));
  const rogueMissed = [...rogue].filter((id) => !unattributedIds.has(id));
  const ambiguous = unattributed.filter((u) => !rogue.has(u.id));
  const rogueBilled = [...rogue].reduce((n, id) => n + (bill.get(id) ?? 0), 0);
  const unattributedMicros = unattributed.reduce((n, u) => n + Number(u.total_cost_micros), 0);
  const ambiguousMicros = ambiguous.reduce((n, u) => n + (bill.get(u.id) ?? 0), 0);
  const unclaimed = await target.sql<{ kind: string; id: string; tenant_id: string; unclaimed: number }>(
    "SELECT kind, id, tenant_id, unclaimed FROM resources WHERE unclaimed > 0",
  );
  const unclaimedIds = new Set(unclaimed.map((r) => r.id));
  // What several tenants' lost creates alike made (an outside session may be among them).
  const costliestAmbiguous = Math.max(0, ...unclaimed.map((r) => bill.get(r.id) ?? 0));
  const overCharged = fullHolds.filter((h) => h.unreservedMicros > h.unreserved * costliestAmbiguous);
  const wronglyUnclaimed = [
    ...unclaimed.filter((r) => r.tenant_id !== "" || !unattributedIds.has(r.id)).map((r) => r.id),
    ...ambiguous.filter((u) => !unclaimedIds.has(u.id)).map((u) => u.id),
  ];
  checks.push({
    name: "unattributed = sessions no tenant started",
    ok:
      rogueMissed.length === 0 &&
      ambiguous.length <= chargedInFull.count &&
      unattributedMicros === rogueBilled + ambiguousMicros &&
      overCharged.length === 0 &&
      wronglyUnclaimed.length === 0,
    detail: `unattributed ${unattributedMicros}, outside sessions billed ${rogueBilled}; ${ambiguous.length} tenant objects unattributed against ${chargedInFull.count} holds charged in full; ${unclaimed.length} unclaimed${rogueMissed.length ? `; outside sessions booked to a tenant: ${rogueMissed.join(", ")}` : ""}${overCharged.length ? `; holds of nothing charged past the costliest object: ${overCharged.map((h) => h.tenant_id).join(", ")}` : ""}${wronglyUnclaimed.length ? `; tenant objects unattributed but not unclaimed, or unclaimed but owned: ${wronglyUnclaimed.join(", ")}` : ""}`,
  });

  const truthSession = new Map(truth.sessions.map((s) => [s.id, s]));
  const truthBrowser = new Map(truth.browsers.map((b) => [b.id, b]));

  // 6. What no one can be given was stopped by the reconciler, not left to idle out: every
  // unclaimed object ended `stopped` (nothing else knows the twins' ids to stop them), and the
  // twin creates the run lost did leave unclaimed objects.
  const notStopped = unclaimed.filter((r) => {
    if (r.unclaimed !== 1) return false; // maybe someone else's: never stopped
    const seen = r.kind === "session" ? truthSession.get(r.id) : truthBrowser.get(r.id);
    return seen?.status !== "stopped";
  });
  checks.push({
    name: "objects no one can be given, stopped",
    ok: notStopped.length === 0 && unclaimed.length >= load.lostTwins,
    detail: `${unclaimed.length} unclaimed of ${load.lostTwins} twin creates lost${notStopped.length ? `; not stopped: ${notStopped.map((r) => r.id).join(", ")}` : ""}`,
  });

  // 7. No tenant was handed an object another sent: every task text and browser tag is its owner's.
  const foreign: string[] = [];
  for (const r of owned) {
    const t = tenantById.get(r.tenant_id);
    if (!t) continue;
    const texts =
      r.kind === "session"
        ? (truthSession.get(r.id)?.tasks ?? [])
        : [String((truthBrowser.get(r.id)?.metadata as Record<string, unknown> | undefined)?.chaos ?? "")];
    if (texts.some((text) => !text.startsWith(`${markerOf(t)} `)))
      foreign.push(`${r.kind} ${r.id} (${t.name})`);
  }
  checks.push({
    name: "every object its sender's",
    ok: foreign.length === 0,
    detail: foreign.slice(0, 5).join(", ") || `${owned.length} owned objects`,
  });

  // 8. No scope booked more than its cap plus what docs/governance.md lets pass: one step per
  // task, a session's time outside any hold until a pass stops it, a browser's traffic between
  // two reconciler passes, and, for a hold that reserved nothing among several tenants' lost
  // creates alike, the costliest of their objects.
  const unreservedOf = (tenantIds: string[]) =>
    fullHolds.filter((h) => tenantIds.includes(h.tenant_id)).reduce((n, h) => n + h.unreserved, 0) *
    costliestAmbiguous;
  const boundOf = (rows: { kind: string; id: string }[], tenantIds: string[]) =>
    rows.reduce((n, r) => {
      if (r.kind === "session") {
        const s = truthSession.get(r.id);
        if (!s) return n;
        return n + s.tasks.reduce((m, text) => m + stepCost(text), 0) + IDLE_PAST_CAP_MICROS;
      }
      return n + trafficWindowMicros(load.traffic.get(r.id) ?? [], load.passes);
    }, unreservedOf(tenantIds));
  const scopes = [
    ...tenants.map((t) => ({
      scope: `tenant ${t.name}`,
      cap: t.capMicros,
      spent: spentOf("tenant", t.tenantId),
      rows: ownedBy(t),
      tenantIds: [t.tenantId],
    })),
    ...orgs.map((o) => ({
      scope: `org ${o.name}`,
      cap: o.capMicros,
      spent: spentOf("org", o.orgId),
      rows: o.tenants.flatMap(ownedBy),
      tenantIds: o.tenants.map((t) => t.tenantId),
    })),
  ];
  let largest: Ledger["largestOvershoot"] = null;
  const over: string[] = [];
  for (const s of scopes) {
    if (s.cap === null) continue;
    const overshoot = Math.max(0, s.spent - s.cap);
    const bound = boundOf(s.rows, s.tenantIds);
    if (overshoot > bound) over.push(`${s.scope}: ${overshoot} past its cap, bound ${bound}`);
    if (!largest || overshoot > largest.overshootMicros)
      largest = { scope: s.scope, overshootMicros: overshoot, boundMicros: bound };
  }
  checks.push({
    name: "no cap passed beyond the documented overshoot",
    ok: over.length === 0,
    detail:
      over.join("; ") ||
      (largest
        ? `largest: ${largest.scope} ${largest.overshootMicros} µ$ past its cap, bound ${largest.boundMicros} µ$`
        : "no caps"),
  });

  return {
    checks,
    ledger: {
      billedMicros: [...bill.values()].reduce((a, b) => a + b, 0),
      bookedMicros: usage.reduce((n, u) => n + Number(u.total_cost_micros), 0),
      chargedMicros: tenants.reduce((n, t) => n + spentOf("tenant", t.tenantId), 0),
      unattributedMicros,
      chargedInFull,
      holds,
      objects: {
        sessions: truth.sessions.length,
        browsers: truth.browsers.length,
        unattributed: unattributed.length,
      },
      largestOvershoot: largest,
    },
  };
}
