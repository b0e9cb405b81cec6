import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { onAccountSql } from "../src/store/upstreams";
import { listWatched } from "../src/store/reconcile";

// The reconciler's watch list reads three index ranges (live rows, open holds, rows the ledger has
// not booked: migration 0024's `booked`, kept by triggers). Here it is held to the query it
// replaced, which read every session and browser ever recorded, over rows of every case written in
// every order, and over rows written before 0024 and after it.

const OLD_WATCHED = `SELECT r.kind, r.id FROM resources r
  WHERE r.kind IN ('session', 'browser') AND ${onAccountSql("r.org_id", "?2")} AND (
    (r.deleted_at IS NULL AND r.kind = 'session' AND r.status IN ('created', 'idle', 'running'))
    OR (r.deleted_at IS NULL AND r.kind = 'browser' AND r.status = 'active')
    OR EXISTS (SELECT 1 FROM holds h WHERE h.kind = r.kind AND h.resource_id = r.id AND h.state = 'open')
    OR (r.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM usage u WHERE u.kind = r.kind AND u.id = r.id)))
  ORDER BY coalesce(r.checked_at, '') ASC, r.view_at ASC LIMIT ?1`;

const AT = "2026-01-01T00:00:00.000Z";

/** Which schema rows are written to: before migration 0024, or with its `booked` flag. */
type Schema = "before 0024" | "current";

/** A row as recordCreatedStatement writes it: with `booked` 0 where the schema has the flag. */
function resource(
  db: D1Database,
  schema: Schema,
  org: string,
  kind: string,
  id: string,
  status: string | null,
  deleted = false,
) {
  const [column, value] = schema === "current" ? [", booked", ", 0"] : ["", ""];
  return db
    .prepare(
      `INSERT INTO resources (kind, id, org_id, tenant_id, created_at, status, view, view_at, deleted_at${column})
       VALUES (?1, ?2, ?3, 'ten-' || ?3, ?4, ?5, '{}', ?4, ?6${value}) ON CONFLICT (kind, id) DO NOTHING`,
    )
    .bind(kind, id, org, AT, status, deleted ? AT : null);
}
function usage(db: D1Database, org: string, kind: string, id: string) {
  // As recordUsageStatements writes it: an upsert.
  return db
    .prepare(
      `INSERT INTO usage (kind, id, org_id, tenant_id, updated_at) VALUES (?1, ?2, ?3, 'ten-' || ?3, ?4)
       ON CONFLICT (kind, id) DO UPDATE SET model = coalesce(excluded.model, model)`,
    )
    .bind(kind, id, org, AT);
}
function hold(db: D1Database, org: string, kind: string, id: string, state: "open" | "settled") {
  return db
    .prepare(
      `INSERT INTO holds (id, kind, resource_id, org_id, tenant_id, org_period, tenant_period, amount_micros, state,
         created_at) VALUES (?1, ?2, ?3, ?4, 'ten-' || ?4, 'p', 'p', 0, ?5, ?6)`,
    )
    .bind(crypto.randomUUID(), kind, id, org, state, AT);
}

/** Rows of every case; returns the ids the old rule watches. */
async function writeCases(db: D1Database, org: string, schema: Schema = "current"): Promise<string[]> {
  const id = () => crypto.randomUUID();
  const c = {
    live: id(),
    bookedEnded: id(),
    unbookedEnded: id(),
    deletedHeld: id(),
    deletedUnbooked: id(),
    usageFirst: id(),
    usageThenReRecorded: id(),
    deletedBrowserActive: id(),
    profile: id(),
    nullStatus: id(),
    settledBooked: id(),
    bookedHeld: id(),
    browserStopped: id(),
    liveBrowserBooked: id(),
    deletedBookedHeldBrowser: id(),
  };
  // Written one statement at a time and in batches, each order of resource and usage row.
  await db.batch([resource(db, schema, org, "session", c.live, "running")]);
  await db.batch([
    resource(db, schema, org, "session", c.bookedEnded, "stopped"),
    usage(db, org, "session", c.bookedEnded),
  ]);
  await resource(db, schema, org, "session", c.unbookedEnded, "stopped").run();
  await db.batch([
    resource(db, schema, org, "session", c.deletedHeld, "stopped", true),
    hold(db, org, "session", c.deletedHeld, "open"),
  ]);
  await resource(db, schema, org, "session", c.deletedUnbooked, "stopped", true).run();
  await usage(db, org, "session", c.usageFirst).run();
  await resource(db, schema, org, "session", c.usageFirst, "stopped").run();
  await usage(db, org, "session", c.usageThenReRecorded).run();
  await resource(db, schema, org, "session", c.usageThenReRecorded, "stopped").run();
  await resource(db, schema, org, "session", c.usageThenReRecorded, "running").run(); // a repeat: DO NOTHING
  await usage(db, org, "session", c.usageThenReRecorded).run(); // an upsert's DO UPDATE
  await resource(db, schema, org, "browser", c.deletedBrowserActive, "active", true).run();
  await resource(db, schema, org, "profile", c.profile, null).run();
  await resource(db, schema, org, "session", c.nullStatus, null).run();
  await db.batch([
    resource(db, schema, org, "session", c.settledBooked, "stopped"),
    usage(db, org, "session", c.settledBooked),
    hold(db, org, "session", c.settledBooked, "settled"),
  ]);
  await db.batch([
    usage(db, org, "session", c.bookedHeld),
    resource(db, schema, org, "session", c.bookedHeld, "stopped"),
    hold(db, org, "session", c.bookedHeld, "open"),
  ]);
  await resource(db, schema, org, "browser", c.browserStopped, "stopped").run();
  await db.batch([
    resource(db, schema, org, "browser", c.liveBrowserBooked, "active"),
    usage(db, org, "browser", c.liveBrowserBooked),
  ]);
  await db.batch([
    usage(db, org, "browser", c.deletedBookedHeldBrowser),
    resource(db, schema, org, "browser", c.deletedBookedHeldBrowser, "stopped", true),
    hold(db, org, "browser", c.deletedBookedHeldBrowser, "open"),
  ]);
  return [
    c.live,
    c.unbookedEnded,
    c.deletedHeld,
    c.nullStatus,
    c.bookedHeld,
    c.browserStopped,
    c.liveBrowserBooked,
    c.deletedBookedHeldBrowser,
  ].sort();
}

async function oldWatched(db: D1Database, org: string): Promise<string[]> {
  const { results } = await db.prepare(OLD_WATCHED).bind(10_000, org).all<{ id: string }>();
  return results.map((r) => r.id).sort();
}

describe("the reconciler's watch list", () => {
  it("watches exactly what the old query watched, whichever row came first", async () => {
    const org = `org-${crypto.randomUUID()}`;
    const expected = await writeCases(env.DB, org);
    expect(await oldWatched(env.DB, org)).toEqual(expected);
    const watched = (await listWatched(env.DB, 10_000, org)).map((w) => w.id).sort();
    expect(watched).toEqual(expected);
  });

  it("backfills booked over rows written before 0024, and the triggers keep it after", async () => {
    const db = env.STEPWISE_DB;
    const at = env.TEST_MIGRATIONS.findIndex((m) => m.name.startsWith("0024"));
    await applyD1Migrations(db, env.TEST_MIGRATIONS.slice(0, at));
    const org = "org-stepwise";
    const before = await writeCases(db, org, "before 0024");
    expect(await oldWatched(db, org)).toEqual(before);
    await applyD1Migrations(db, env.TEST_MIGRATIONS);
    expect((await listWatched(db, 10_000, org)).map((w) => w.id).sort()).toEqual(before);
    // And rows written after it, beside the old ones.
    const org2 = "org-stepwise-2";
    const after = await writeCases(db, org2);
    expect((await listWatched(db, 10_000, org2)).map((w) => w.id).sort()).toEqual(after);
    expect(await oldWatched(db, org2)).toEqual(after);
  });
});

describe("a list's total under filters", () => {
  it("counts what the filters leave, on a page and past its end", async () => {
    const { listOwned } = await import("../src/store/resources");
    const org = `org-${crypto.randomUUID()}`;
    const tenant = `ten-${org}`;
    const rows: [string, string, Record<string, string>][] = [
      ["active", "stopped", { a: "1" }],
      ["active", "active", { a: "1", b: "x" }],
      ["active", "active", { a: "2" }],
      ["stopped", "stopped", { a: "1", b: "x" }],
      ["active", "active", { b: "x" }],
    ];
    await env.DB.batch(
      rows.map(([status, , metadata], i) =>
        env.DB.prepare(
          `INSERT INTO resources (kind, id, org_id, tenant_id, created_at, status, view, view_at)
           VALUES ('browser', ?1, ?2, ?3, ?4, ?5, json_object('id', ?1, 'status', ?5, 'metadata', json(?6)), ?4)`,
        ).bind(
          crypto.randomUUID(),
          org,
          tenant,
          `2026-01-01T00:00:0${i}.000Z`,
          status,
          JSON.stringify(metadata),
        ),
      ),
    );
    const cases = [
      [{ status: ["active"] }, 4],
      [{ status: ["active"], metadata: [{ key: "a", value: "1" }] }, 2],
      [{ metadata: [{ key: "b" }] }, 3],
      [{ metadata: [{ key: "b" }, { key: "a", value: "1" }] }, 2],
      [{ status: ["stopped"], metadata: [{ key: "b", value: "x" }] }, 1],
      [{ status: ["active", "stopped"] }, 5],
    ] as const;
    for (const [filters, n] of cases) {
      for (const [offset, limit] of [
        [0, 1],
        [0, 10],
        [1, 1],
        [10, 10],
      ] as const) {
        const { items, total } = await listOwned(env.DB, "browser", tenant, {
          offset,
          limit,
          ...(filters as object),
        });
        expect(total, JSON.stringify({ filters, offset })).toBe(n);
        expect(items.length).toBe(Math.max(0, Math.min(limit, n - offset)));
      }
    }
  });
});
