import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countedD1 } from "../bench/counted-d1";
import { createLogger } from "../src/lib/log";
import { reconcile } from "../src/reconciler/run";
import { listWatched } from "../src/store/reconcile";
import {
  ADMIN_TOKEN,
  countRoundTrips,
  emuTask,
  expectJson,
  newTenant,
  putPolicy,
  startSession,
  type TestTenant,
} from "./helpers";

// D1 runs one query at a time per database: a read whose cost grows with a tenant's or the
// deployment's whole history, rather than with what it needs, stalls every tenant. These hold the
// reads of what is live, of the watch list, of a redelivery and of an org's report to the rows
// they need, by D1's own count of rows read (what it bills).

const HISTORY = 300;

/** `n` ended sessions of the tenant's as D1 keeps them once booked, a view of about 3 KB each. */
async function endedSessions(t: TestTenant, n = HISTORY): Promise<void> {
  await env.DB.batch([
    env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
       INSERT INTO resources (kind, id, org_id, tenant_id, created_at, status, view, view_at)
       SELECT 'session', lower(hex(randomblob(16))), ?1, ?2, '2026-01-01T00:00:00.000Z', 'stopped',
         json_object('status', 'stopped', 'output', printf('%.3000c', 'x')), '2026-01-01T00:00:00.000Z'
       FROM n`,
    ).bind(t.orgId, t.tenantId, n),
    env.DB.prepare(
      `INSERT INTO usage (kind, id, org_id, tenant_id, status, final, updated_at)
       SELECT kind, id, org_id, tenant_id, status, 1, view_at FROM resources
       WHERE tenant_id = ? AND status = 'stopped' ON CONFLICT DO NOTHING`,
    ).bind(t.tenantId),
  ]);
}

const adminHeaders = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * `db` with the rows its `raw()` reads told to `onRows`: D1 gives raw() no meta, so each such
 * statement is run once more with all() for its rows_read (a report reads its rows raw).
 */
function rawCounted(db: D1Database, onRows: (rows: number) => void): D1Database {
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const wrapped = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values)),
      first: (column?: string) => (column ? statement.first(column) : statement.first()),
      run: () => statement.run(),
      all: () => statement.all(),
      raw: async (options?: { columnNames?: boolean }) => {
        onRows((await statement.all()).meta.rows_read);
        return options?.columnNames ? statement.raw({ columnNames: true }) : statement.raw();
      },
    };
    real.set(wrapped, statement);
    return wrapped as unknown as D1PreparedStatement;
  };
  return {
    prepare: (sql: string) => wrap(db.prepare(sql)),
    batch: (statements: D1PreparedStatement[]) => db.batch(statements.map((s) => real.get(s) ?? s)),
    exec: (sql: string) => db.exec(sql),
    withSession: () => db.withSession(),
    dump: () => db.dump(),
  } as unknown as D1Database;
}

describe("what is live, of a tenant with a long history", () => {
  it("is counted for the account read on the index's ranges, not from every ended session", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key };
    await startSession(t, {});
    await endedSessions(t);
    const { res, rowsRead } = await countRoundTrips("/api/v3/billing/account", { headers });
    expect(await expectJson(res, 200)).toMatchObject({ activeSessionCount: 1 });
    expect(rowsRead).toBeLessThan(HISTORY / 2);
  });

  it("is counted for an admission under a concurrency limit reading the live rows only", async () => {
    const t = await newTenant();
    await putPolicy("orgs", t.orgId, { maxConcurrentSessions: 50 });
    await putPolicy("tenants", t.tenantId, { maxConcurrentSessions: 5 });
    await startSession(t, {});
    await endedSessions(t);
    const { res, rowsRead } = await countRoundTrips("/api/v3/sessions", {
      method: "POST",
      headers: { "X-Browser-Use-API-Key": t.key, "Content-Type": "application/json" },
      body: JSON.stringify({ task: emuTask("one more", { steps: 1 }) }),
    });
    await expectJson(res, 200);
    // The org's and the tenant's counts, each of the few live rows (and the open holds).
    expect(rowsRead).toBeLessThan(HISTORY / 2);
  });

  it("is listed on the dashboard for the tenant, its org and everyone from the live rows alone", async () => {
    const t = await newTenant();
    const live = await startSession(t, {});
    await endedSessions(t);
    for (const query of [`tenantId=${t.tenantId}`, `orgId=${t.orgId}`, ""]) {
      const { res, rowsRead } = await countRoundTrips(`/admin/v1/live?${query}`, { headers: adminHeaders });
      const { items } = await expectJson<{ items: { id: string }[] }>(res, 200);
      expect(items.map((i) => i.id)).toContain(live.id);
      expect(rowsRead, query).toBeLessThan(HISTORY / 2);
    }
  });
});

describe("the reconciler's watch list", () => {
  it("reads what it watches (live, held, never booked), not every session ever recorded", async () => {
    const t = await newTenant();
    const live = await startSession(t, {});
    await endedSessions(t);
    // One recorded (as recordCreatedStatement does, not booked yet) and never booked (its booking
    // failed): watched, however final it is.
    const unbooked = crypto.randomUUID();
    await env.DB.prepare(
      `INSERT INTO resources (kind, id, org_id, tenant_id, created_at, status, view, view_at, booked)
       VALUES ('session', ?, ?, ?, '2026-01-01T00:00:00.000Z', 'stopped', '{}', '2026-01-01T00:00:00.000Z', 0)`,
    )
      .bind(unbooked, t.orgId, t.tenantId)
      .run();
    let rowsRead = 0;
    const db = countedD1(env.DB, { answered: (_sql, _ms, rows) => (rowsRead += rows) });
    const watched = await listWatched(db, 1_000);
    const ids = watched.filter((w) => w.tenantId === t.tenantId).map((w) => w.id);
    expect(ids.sort()).toEqual([live.id.toLowerCase(), unbooked].sort());
    expect(rowsRead).toBeLessThan(HISTORY / 2);
  });

  it("forgets expired idempotency keys reading those, not every key", async () => {
    const t = await newTenant();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO idempotency_keys (tenant_id, key, request_hash, claim_token, state, status, body, created_at)
       SELECT ?1, 'key-' || i, 'h', lower(hex(randomblob(16))), 'done', 200, printf('%.3000c', 'x'),
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now') FROM n`,
    )
      .bind(t.tenantId, HISTORY)
      .run();
    let rowsRead = 0;
    const DB = countedD1(env.DB, {
      answered: (sql, _ms, rows) => {
        if (sql.some((s) => s.includes("DELETE FROM idempotency_keys WHERE created_at"))) rowsRead += rows;
      },
    });
    await reconcile({ ...env, DB }, createLogger({ requestId: "test" }));
    // The keys are fresh: none is past its time, and none is read to find that out.
    expect(rowsRead).toBeLessThan(HISTORY / 2);
    const { n } = (await env.DB.prepare("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<{ n: number }>()) ?? { n: 0 };
    expect(n).toBe(HISTORY);
  });
});

describe("admin reads over a long history", () => {
  it("finds the event a redelivery names by its delivery's webhook-id on an index", async () => {
    const t = await newTenant();
    const at = new Date().toISOString();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?4)
       INSERT INTO events (id, type, org_id, tenant_id, hook_id, delivery_id, url, body, state, attempts,
         next_attempt_at, created_at, delivered_at)
       SELECT 'evt_' || lower(hex(randomblob(16))), 'session.finished', ?1, ?2, 'hook-history', 'msg_' || i,
         'https://example.com/cb', '{}', 'delivered', 1, ?3, ?3, ?3 FROM n`,
    )
      .bind(t.orgId, t.tenantId, at, HISTORY)
      .run();
    const { res, rowsRead } = await countRoundTrips(`/admin/v1/deliveries/msg_${HISTORY - 7}/redeliver`, {
      method: "POST",
      headers: adminHeaders,
    });
    expect(res.status).toBe(202);
    expect(rowsRead).toBeLessThan(HISTORY / 2);
  });

  it("reports an org's or a tenant's usage from its own roll-ups of the days asked for", async () => {
    const t = await newTenant();
    const other = await newTenant();
    const bucket = `${new Date().toISOString().slice(0, 14)}00`;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?4)
       INSERT INTO usage_buckets (bucket, org_id, tenant_id, key_id, model, country, sessions, total_cost_micros)
       SELECT ?1, ?2, ?3, 'key-' || i, '', '', 1, 1000 FROM n`,
    )
      .bind(bucket, other.orgId, other.tenantId, HISTORY)
      .run();
    await env.DB.prepare(
      `INSERT INTO usage_buckets (bucket, org_id, tenant_id, key_id, model, country, sessions, total_cost_micros)
       VALUES (?, ?, ?, '', '', '', 2, 5000)`,
    )
      .bind(bucket, t.orgId, t.tenantId)
      .run();
    // And the tenant's own history, long before the report's days.
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?3)
       INSERT INTO usage_buckets (bucket, org_id, tenant_id, key_id, model, country, sessions, total_cost_micros)
       SELECT '2025-01-01T00:00', ?1, ?2, 'key-' || i, '', '', 1, 1000 FROM n`,
    )
      .bind(t.orgId, t.tenantId, HISTORY)
      .run();
    for (const query of [`orgId=${t.orgId}`, `tenantId=${t.tenantId}&groupBy=tenant`]) {
      let rawRowsRead = 0;
      const DB = rawCounted(env.DB, (rows) => (rawRowsRead += rows));
      const { res, rowsRead } = await countRoundTrips(
        `/admin/v1/usage?${query}`,
        { headers: adminHeaders },
        { ...env, DB },
      );
      expect(await expectJson(res, 200)).toMatchObject({ totals: { sessions: 2, totalCostUsd: "0.005" } });
      expect(rowsRead + rawRowsRead, query).toBeLessThan(HISTORY / 2);
    }
  });

  it("counts an org's deliveries on an index, not with a hook's and a tenant's row for each", async () => {
    const t = await newTenant();
    const at = new Date().toISOString();
    const hookId = crypto.randomUUID();
    await env.DB.batch([
      env.DB.prepare(
        `INSERT INTO hooks (id, org_id, tenant_id, name, task, options, secret, created_at, updated_at)
         VALUES (?1, ?2, ?3, 'orders', 'do it', '{}', 'whsec_x', ?4, ?4)`,
      ).bind(hookId, t.orgId, t.tenantId, at),
      env.DB.prepare(
        `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?5)
         INSERT INTO hook_deliveries (hook_id, delivery_id, org_id, tenant_id, claim_token, state, status, body,
           created_at)
         SELECT ?1, 'msg_' || i, ?2, ?3, lower(hex(randomblob(16))), 'done', 202, '{}', ?4 FROM n`,
      ).bind(hookId, t.orgId, t.tenantId, at, HISTORY),
    ]);
    const { res, rowsRead } = await countRoundTrips(`/admin/v1/orgs/${t.orgId}/deliveries?pageSize=10`, {
      headers: adminHeaders,
    });
    expect(await expectJson(res, 200)).toMatchObject({ totalItems: HISTORY });
    // The index's entries once (the total the API returns), and the page.
    expect(rowsRead).toBeLessThan(HISTORY + 50);
  });

  it("rotates a key looking up its own tenant, not every tenant of the deployment", async () => {
    const t = await newTenant();
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
       INSERT INTO tenants (id, org_id, name, created_at)
       SELECT lower(hex(randomblob(16))), ?1, 'tenant ' || i, '2026-01-01T00:00:00.000Z' FROM n`,
    )
      .bind(t.orgId, HISTORY)
      .run();
    const { res, rowsRead } = await countRoundTrips(`/admin/v1/keys/${t.keyId}/rotate`, {
      method: "POST",
      headers: { ...adminHeaders, "Content-Type": "application/json" },
      body: JSON.stringify({}),
    });
    await expectJson(res, 201);
    expect(rowsRead).toBeLessThan(HISTORY / 2);
  });
});

// Last in the file: statistics stay for every test after this one.
describe("with the planner's statistics (ANALYZE, which PRAGMA optimize runs, as D1 recommends)", () => {
  it("still reads what is live and what the watch list watches from the live rows", async () => {
    const t = await newTenant();
    const headers = { "X-Browser-Use-API-Key": t.key };
    const live = await startSession(t, {});
    await endedSessions(t);
    await env.DB.exec("ANALYZE");
    const { res, rowsRead } = await countRoundTrips("/api/v3/billing/account", { headers });
    expect(await expectJson(res, 200)).toMatchObject({ activeSessionCount: 1 });
    expect(rowsRead).toBeLessThan(HISTORY / 2);
    let watchRows = 0;
    const db = countedD1(env.DB, { answered: (_sql, _ms, rows) => (watchRows += rows) });
    expect((await listWatched(db, 1_000)).map((w) => w.id)).toContain(live.id.toLowerCase());
    expect(watchRows).toBeLessThan(HISTORY / 2);
  });
});
