import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";

// A deployed database gets each migration over the rows it already holds; the suite's own database
// gets them all before any row exists. Here they are applied one at a time to a database of their
// own (STEPWISE_DB), with rows written between, so that a backfill is seen to fill what it should.
const db = env.STEPWISE_DB;
const upTo = (name: string) => {
  const at = env.TEST_MIGRATIONS.findIndex((m) => m.name.startsWith(name));
  if (at < 0) throw new Error(`no migration ${name}`);
  return env.TEST_MIGRATIONS.slice(0, at);
};
const the = (name: string) => env.TEST_MIGRATIONS.filter((m) => m.name.startsWith(name));

describe("migrations over existing rows", () => {
  it("0023 gives every hook delivery made before it its hook's org", async () => {
    await applyD1Migrations(db, upTo("0023"));
    const at = "2026-11-30T00:00:00.000Z";
    await db.batch([
      db
        .prepare("INSERT INTO orgs (id, name, created_at) VALUES ('org-a', 'a', ?1), ('org-b', 'b', ?1)")
        .bind(at),
      db
        .prepare(
          "INSERT INTO tenants (id, org_id, name, created_at) VALUES ('ten-a', 'org-a', 'a', ?1), ('ten-b', 'org-b', 'b', ?1)",
        )
        .bind(at),
      ...[
        ["hook-a", "org-a", "ten-a"],
        ["hook-b", "org-b", "ten-b"],
      ].map(([id, org, tenant]) =>
        db
          .prepare(
            `INSERT INTO hooks (id, org_id, tenant_id, name, task, options, secret, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?1, 'task', '{}', 'secret', ?4, ?4)`,
          )
          .bind(id, org, tenant, at),
      ),
      ...[
        ["hook-a", "d1", "ten-a"],
        ["hook-a", "d2", "ten-a"],
        ["hook-b", "d3", "ten-b"],
      ].map(([hook, delivery, tenant]) =>
        db
          .prepare(
            `INSERT INTO hook_deliveries (hook_id, delivery_id, tenant_id, claim_token, state, created_at)
             VALUES (?1, ?2, ?3, 'token', 'done', ?4)`,
          )
          .bind(hook, delivery, tenant, at),
      ),
    ]);
    await applyD1Migrations(db, the("0023"));
    const { results } = await db
      .prepare("SELECT delivery_id, org_id FROM hook_deliveries ORDER BY delivery_id")
      .all<{ delivery_id: string; org_id: string | null }>();
    expect(results).toEqual([
      { delivery_id: "d1", org_id: "org-a" },
      { delivery_id: "d2", org_id: "org-a" },
      { delivery_id: "d3", org_id: "org-b" },
    ]);
    // And the rest apply over it.
    await applyD1Migrations(db, env.TEST_MIGRATIONS);
  });
});
