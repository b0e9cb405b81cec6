/**
 * The mixed load of a chaos run: a few clients at once, each drawing its next operation and its
 * parameters from a PRNG seeded with the run's seed and its number, for a bounded time. Tasks
 * (some kept alive, some with their own `maxCostUsd`), follow-ups on kept-alive sessions,
 * sessions without a task, browsers (with proxy traffic billed on them through the emulator),
 * reads, lists, stops, deletes, creates retried with the same `Idempotency-Key`, and clients that
 * hang up before the answer. Every answer is counted by operation and outcome.
 */
import { seededRandom } from "../emulator/src/seeded-random";
import type { ChaosTenant } from "./fleet";
import type { ChaosTarget } from "./target";

export type Outcome = string;

/** What the load did and saw. */
export interface LoadRecord {
  /** Answers by operation and outcome: `{"task": {"200": 12, "402": 3, "hung-up": 1}}`. */
  outcomes: Record<string, Record<Outcome, number>>;
  /** Every session and browser id a gateway answer named, by tenant. */
  sessions: Map<string, Set<string>>;
  browsers: Map<string, Set<string>>;
  /** Proxy traffic billed on each browser (through the emulator): when, and how many MB. */
  traffic: Map<string, { at: number; mb: number }[]>;
  /** When each reconciler pass during the load started (the passes bound a browser's traffic). */
  passes: number[];
  /**
   * Creates of sessions without a task, alike, by two tenants of one org, whose answers were lost
   * (before the load): the reconciler cannot give them to either, and must stop them.
   */
  lostTwins: number;
}

export function newLoadRecord(): LoadRecord {
  return {
    outcomes: {},
    sessions: new Map(),
    browsers: new Map(),
    traffic: new Map(),
    passes: [],
    lostTwins: 0,
  };
}

export interface LoadOptions {
  seed: number;
  durationMs: number;
  clients: number;
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const between = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** The marker every task text of a tenant carries, so the audit can tell who sent what. */
export const markerOf = (tenant: { name: string }) => `chaos:${tenant.name}`;

const OPERATIONS = [
  ["task", 22],
  ["follow-up", 10],
  ["empty-session", 5],
  ["browser", 8],
  ["traffic", 6],
  ["read", 12],
  ["list", 5],
  ["stop", 6],
  ["stop-browser", 4],
  ["delete", 4],
  ["retry", 8],
] as const;
type Operation = (typeof OPERATIONS)[number][0];
const WEIGHT = OPERATIONS.reduce((n, [, w]) => n + w, 0);

function drawOperation(rng: Rng): Operation {
  let r = rng() * WEIGHT;
  for (const [op, w] of OPERATIONS) {
    if (r < w) return op;
    r -= w;
  }
  return "task";
}

/** Runs `clients` clients against `tenants` until `durationMs` has passed. */
export async function runLoad(
  target: ChaosTarget,
  tenants: ChaosTenant[],
  options: LoadOptions,
  record: LoadRecord,
): Promise<void> {
  const deadline = Date.now() + options.durationMs;
  await Promise.all(
    Array.from({ length: options.clients }, (_, i) =>
      client(target, tenants, seededRandom(options.seed * 1_000 + i + 1), deadline, record, i),
    ),
  );
}

async function client(
  target: ChaosTarget,
  tenants: ChaosTenant[],
  rng: Rng,
  deadline: number,
  record: LoadRecord,
  number: number,
): Promise<void> {
  let n = 0;
  while (Date.now() < deadline) {
    const tenant = pick(rng, tenants);
    const op = drawOperation(rng);
    await operation(target, tenant, op, rng, record, `${number}.${n++}`);
  }
}

/** A JSON answer's body, or null when it is none. */
export function jsonOf(text: string): Record<string, unknown> | null {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** An answer as the run counts it: its status, a replay marked, a 5xx with its error code. */
export function outcomeOf(status: number, body: Record<string, unknown> | null, replayed = false): Outcome {
  if (replayed) return `${status} replayed`;
  return status >= 500 && typeof body?.code === "string" ? `${status} ${body.code}` : String(status);
}

/** Counts one answer (or hang-up) of `op`. */
export function count(record: LoadRecord, op: string, outcome: Outcome): void {
  const byOutcome = record.outcomes[op] ?? {};
  byOutcome[outcome] = (byOutcome[outcome] ?? 0) + 1;
  record.outcomes[op] = byOutcome;
}

const remember = (ids: Map<string, Set<string>>, tenant: ChaosTenant, id: string) => {
  const set = ids.get(tenant.tenantId) ?? new Set<string>();
  set.add(id);
  ids.set(tenant.tenantId, set);
};

const known = (ids: Map<string, Set<string>>, tenant: ChaosTenant) => [...(ids.get(tenant.tenantId) ?? [])];

/** A task text with the emulator's directive: 1 to 4 steps of a fixed cost each, short steps. */
function taskText(rng: Rng, tenant: ChaosTenant, name: string): string {
  const cost = pick(rng, ["0.002", "0.005", "0.008", "0.01"]);
  return `${markerOf(tenant)} ${name} [emu steps=${between(rng, 1, 4)} cost=${cost} stepMs=${between(rng, 40, 150)}]`;
}

async function send(
  target: ChaosTarget,
  record: LoadRecord,
  op: string,
  tenant: ChaosTenant,
  method: string,
  path: string,
  body: unknown,
  options: { hangUpAfterMs?: number; idempotencyKey?: string } = {},
): Promise<{ status: Outcome; body: Record<string, unknown> | null; replayed: boolean }> {
  const headers: Record<string, string> = { "X-Browser-Use-API-Key": tenant.key };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  let res: Response | "hung-up";
  try {
    res = await target.gateway(
      path,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
      options.hangUpAfterMs,
    );
  } catch {
    count(record, op, "network-error");
    return { status: "network-error", body: null, replayed: false };
  }
  if (res === "hung-up") {
    count(record, op, "hung-up");
    return { status: "hung-up", body: null, replayed: false };
  }
  const text = await res.text();
  const replayed = res.headers.get("Idempotent-Replayed") === "true";
  const parsed = jsonOf(text);
  count(record, op, outcomeOf(res.status, parsed, replayed));
  return { status: String(res.status), body: parsed, replayed };
}

async function operation(
  target: ChaosTarget,
  tenant: ChaosTenant,
  op: Operation,
  rng: Rng,
  record: LoadRecord,
  name: string,
): Promise<void> {
  // One create in ten is sent by a client that goes away before the answer.
  const hangUp = () => (rng() < 0.1 ? { hangUpAfterMs: between(rng, 1, 60) } : {});
  const sessions = known(record.sessions, tenant);
  const browsers = known(record.browsers, tenant);
  const created = (
    kind: "session" | "browser",
    r: { status: Outcome; body: Record<string, unknown> | null },
  ) => {
    if ((r.status === "200" || r.status === "201") && typeof r.body?.id === "string") {
      remember(kind === "session" ? record.sessions : record.browsers, tenant, r.body.id);
    }
  };
  switch (op) {
    case "task": {
      const body: Record<string, unknown> = { task: taskText(rng, tenant, name), model: "bu-mini" };
      if (rng() < 0.3) body.keepAlive = true;
      if (rng() < 0.3) body.maxCostUsd = pick(rng, ["0.01", "0.02", "0.05"]);
      created("session", await send(target, record, op, tenant, "POST", "/api/v3/sessions", body, hangUp()));
      return;
    }
    case "follow-up": {
      if (sessions.length === 0) return;
      const body = { task: taskText(rng, tenant, name), sessionId: pick(rng, sessions), model: "bu-mini" };
      await send(target, record, op, tenant, "POST", "/api/v3/sessions", body, hangUp());
      return;
    }
    case "empty-session":
      created(
        "session",
        await send(
          target,
          record,
          op,
          tenant,
          "POST",
          "/api/v3/sessions",
          { keepAlive: true, model: "bu-mini" },
          hangUp(),
        ),
      );
      return;
    case "browser": {
      const body = { timeout: between(rng, 1, 4), metadata: { chaos: `${markerOf(tenant)} ${name}` } };
      created("browser", await send(target, record, op, tenant, "POST", "/api/v3/browsers", body, hangUp()));
      return;
    }
    case "traffic": {
      // Proxy bandwidth billed on a live browser, as its page loads would be.
      if (browsers.length === 0) return;
      const id = pick(rng, browsers);
      const mb = between(rng, 1, 4);
      try {
        await target.emulator("POST", `/browsers/${id}/traffic`, { proxyMb: String(mb) });
        const bursts = record.traffic.get(id) ?? [];
        bursts.push({ at: Date.now(), mb });
        record.traffic.set(id, bursts);
        count(record, op, "billed");
      } catch {
        count(record, op, "not active");
      }
      return;
    }
    case "read":
      if (rng() < 0.7 && sessions.length > 0) {
        await send(target, record, op, tenant, "GET", `/api/v3/sessions/${pick(rng, sessions)}`, undefined);
      } else if (browsers.length > 0) {
        await send(target, record, op, tenant, "GET", `/api/v3/browsers/${pick(rng, browsers)}`, undefined);
      }
      return;
    case "list":
      await send(
        target,
        record,
        op,
        tenant,
        "GET",
        pick(rng, ["/api/v3/sessions", "/api/v3/browsers"]),
        undefined,
      );
      return;
    case "stop": {
      if (sessions.length === 0) return;
      const body = { strategy: pick(rng, ["task", "session"]) };
      await send(target, record, op, tenant, "POST", `/api/v3/sessions/${pick(rng, sessions)}/stop`, body);
      return;
    }
    case "stop-browser":
      if (browsers.length === 0) return;
      await send(target, record, op, tenant, "PATCH", `/api/v3/browsers/${pick(rng, browsers)}`, {
        action: "stop",
      });
      return;
    case "delete":
      if (sessions.length === 0) return;
      await send(target, record, op, tenant, "DELETE", `/api/v3/sessions/${pick(rng, sessions)}`, undefined);
      return;
    case "retry": {
      // A create sent twice with one Idempotency-Key: after the first answer, or while it runs.
      const body = { task: taskText(rng, tenant, name), model: "bu-mini" };
      const key = `chaos-${name}`;
      const path = "/api/v3/sessions";
      if (rng() < 0.5) {
        created(
          "session",
          await send(target, record, op, tenant, "POST", path, body, { idempotencyKey: key }),
        );
        created(
          "session",
          await send(target, record, op, tenant, "POST", path, body, { idempotencyKey: key }),
        );
      } else {
        const both = await Promise.all([
          send(target, record, op, tenant, "POST", path, body, { idempotencyKey: key }),
          send(target, record, op, tenant, "POST", path, body, { idempotencyKey: key }),
        ]);
        for (const r of both) created("session", r);
      }
      return;
    }
  }
}
