import type { AuditOf } from "./audit";
import { liveResource } from "./resources";

interface Named {
  id: string;
  name: string;
  createdAt: string;
  suspended: boolean;
}

export interface Org extends Named {
  /** Whether it has a Browser Use account of its own (else it uses the deployment's). */
  ownUpstream: boolean;
}

export interface Tenant extends Named {
  orgId: string;
}

/** Orgs and tenants share the lifecycle columns; `table` is one of two fixed names, never input. */
export type OwnerTable = "orgs" | "tenants";

interface NamedRow {
  id: string;
  name: string;
  created_at: string;
  suspended_at: string | null;
}

interface OrgRow extends NamedRow {
  own_upstream?: number;
}

interface TenantRow extends NamedRow {
  org_id: string;
}

const toNamed = (row: NamedRow): Named => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
  suspended: row.suspended_at !== null,
});
const toOrg = (row: OrgRow): Org => ({ ...toNamed(row), ownUpstream: row.own_upstream === 1 });
const toTenant = (row: TenantRow): Tenant => ({ ...toNamed(row), orgId: row.org_id });

// An org's columns, with whether it has an upstream account of its own.
const ORG_COLUMNS = "*, EXISTS (SELECT 1 FROM org_upstreams u WHERE u.org_id = orgs.id) AS own_upstream";

/** Creates an org, and its audit entry in the same transaction. */
export async function createOrg(db: D1Database, name: string, audit: AuditOf<Org>): Promise<Org> {
  const org: Org = {
    id: crypto.randomUUID(),
    name,
    createdAt: new Date().toISOString(),
    suspended: false,
    ownUpstream: false,
  };
  await db.batch([
    db
      .prepare("INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)")
      .bind(org.id, org.name, org.createdAt),
    audit(org),
  ]);
  return org;
}

/** An org that is not deleted. */
export async function getOrg(db: D1Database, id: string): Promise<Org | null> {
  const row = await db
    .prepare(`SELECT ${ORG_COLUMNS} FROM orgs WHERE id = ? AND deleted_at IS NULL`)
    .bind(id)
    .first<OrgRow>();
  return row ? toOrg(row) : null;
}

/** Creates a tenant under an existing org that is not deleted (null when there is none), and its audit entry. */
export async function createTenant(
  db: D1Database,
  orgId: string,
  name: string,
  audit: AuditOf<Tenant>,
): Promise<Tenant | null> {
  const tenant: Tenant = {
    id: crypto.randomUUID(),
    orgId,
    name,
    createdAt: new Date().toISOString(),
    suspended: false,
  };
  const [insert] = await db.batch([
    db
      .prepare(
        `INSERT INTO tenants (id, org_id, name, created_at)
         SELECT ?, id, ?, ? FROM orgs WHERE id = ? AND deleted_at IS NULL`,
      )
      .bind(tenant.id, name, tenant.createdAt, orgId),
    audit(tenant),
  ]);
  return (insert?.meta.changes ?? 0) > 0 ? tenant : null;
}

/** A tenant that is not deleted (nor its org). */
export async function getTenant(db: D1Database, id: string): Promise<Tenant | null> {
  return readTenant(await getTenantStatement(db, id).all());
}

/** getTenant's query, for a batch with others; its result goes to readTenant. */
export function getTenantStatement(db: D1Database, id: string): D1PreparedStatement {
  return db
    .prepare(
      `SELECT t.* FROM tenants t JOIN orgs o ON o.id = t.org_id
       WHERE t.id = ? AND t.deleted_at IS NULL AND o.deleted_at IS NULL`,
    )
    .bind(id);
}

/** The tenant getTenantStatement found, or null. */
export function readTenant(result: D1Result | undefined): Tenant | null {
  const row = result?.results[0] as TenantRow | undefined;
  return row ? toTenant(row) : null;
}

export interface Page {
  offset: number;
  limit: number;
  /** Only those whose name contains this, case-insensitively. */
  name?: string;
}

/** One page of the orgs that are not deleted, by name, and how many there are. */
export async function listOrgs(db: D1Database, page: Page): Promise<{ items: Org[]; total: number }> {
  const where = "WHERE deleted_at IS NULL AND (?1 IS NULL OR instr(lower(name), lower(?1)) > 0)";
  const [rows, count] = await db.batch([
    db
      .prepare(`SELECT ${ORG_COLUMNS} FROM orgs ${where} ORDER BY name COLLATE NOCASE, id LIMIT ?2 OFFSET ?3`)
      .bind(page.name ?? null, page.limit, page.offset),
    db.prepare(`SELECT count(*) AS total FROM orgs ${where}`).bind(page.name ?? null),
  ]);
  return {
    items: ((rows?.results ?? []) as OrgRow[]).map(toOrg),
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}

/**
 * The filter of an org's tenant list (of tenants, unaliased): ?1 the org, ?2 a part of the name or
 * null. With TENANT_ORDER and `LIMIT ?3 OFFSET ?4`, a page of it; every list of an org's tenants
 * pages by these, so their pages hold the same tenants.
 */
export const TENANTS_OF_ORG =
  "WHERE org_id = ?1 AND deleted_at IS NULL AND (?2 IS NULL OR instr(lower(name), lower(?2)) > 0)";
/** The order of an org's tenant list: by name in any case, then id. */
export const TENANT_ORDER = "ORDER BY name COLLATE NOCASE, id";
/** The ids of a page of an org's tenants (binds as TENANTS_OF_ORG, then ?3 limit, ?4 offset). */
export const TENANT_PAGE_IDS = `SELECT id FROM tenants ${TENANTS_OF_ORG} ${TENANT_ORDER} LIMIT ?3 OFFSET ?4`;

/** A page of an org's tenants, each with the rows of it that a per-tenant list shows. */
export interface TenantPageOf<Row> {
  tenants: { id: string; name: string; rows: Row[] }[];
  /** How many tenants the whole list has. */
  total: number;
}

/**
 * One page of an org's tenants as listTenants pages them, each with its rows of what `rowsOf`
 * selects: a statement over `tenant_id IN (${pageIds})` (binding ?1 to ?4 as TENANT_PAGE_IDS does),
 * whose order each tenant's rows keep. Four statements (the org, the page, its count, the rows) in
 * one batch whatever the page size, so they are one round trip and one snapshot. Null when the org
 * does not exist or is deleted.
 */
export async function tenantPageWith<Row extends { tenant_id: string }>(
  db: D1Database,
  orgId: string,
  page: Page,
  rowsOf: (pageIds: string) => string,
): Promise<TenantPageOf<Row> | null> {
  const filter = [orgId, page.name ?? null] as const;
  const [org, tenants, count, rows] = await db.batch([
    db.prepare("SELECT 1 AS found FROM orgs WHERE id = ?1 AND deleted_at IS NULL").bind(orgId),
    db
      .prepare(`SELECT id, name FROM tenants ${TENANTS_OF_ORG} ${TENANT_ORDER} LIMIT ?3 OFFSET ?4`)
      .bind(...filter, page.limit, page.offset),
    db.prepare(`SELECT count(*) AS total FROM tenants ${TENANTS_OF_ORG}`).bind(...filter),
    db.prepare(rowsOf(TENANT_PAGE_IDS)).bind(...filter, page.limit, page.offset),
  ]);
  if ((org?.results ?? []).length === 0) return null;
  const byTenant = new Map<string, Row[]>();
  for (const row of (rows?.results ?? []) as Row[]) {
    const own = byTenant.get(row.tenant_id);
    if (own) own.push(row);
    else byTenant.set(row.tenant_id, [row]);
  }
  return {
    tenants: ((tenants?.results ?? []) as { id: string; name: string }[]).map((t) => ({
      id: t.id,
      name: t.name,
      rows: byTenant.get(t.id) ?? [],
    })),
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}

/** One page of an org's tenants that are not deleted, by name, and how many there are. */
export async function listTenants(
  db: D1Database,
  orgId: string,
  page: Page,
): Promise<{ items: Tenant[]; total: number }> {
  const [rows, count] = await db.batch([
    db
      .prepare(`SELECT * FROM tenants ${TENANTS_OF_ORG} ${TENANT_ORDER} LIMIT ?3 OFFSET ?4`)
      .bind(orgId, page.name ?? null, page.limit, page.offset),
    db.prepare(`SELECT count(*) AS total FROM tenants ${TENANTS_OF_ORG}`).bind(orgId, page.name ?? null),
  ]);
  return {
    items: ((rows?.results ?? []) as TenantRow[]).map(toTenant),
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
  };
}

/** Renames an org or tenant that is not deleted (false when there is none), with its audit entry. */
export async function rename(
  db: D1Database,
  table: OwnerTable,
  id: string,
  name: string,
  audit: D1PreparedStatement,
): Promise<boolean> {
  const [update] = await db.batch([
    db.prepare(`UPDATE ${table} SET name = ? WHERE id = ? AND deleted_at IS NULL`).bind(name, id),
    audit,
  ]);
  return (update?.meta.changes ?? 0) > 0;
}

/**
 * Suspends (with `stops`: as a kill switch, whose live sessions and browsers the reconciler stops)
 * or resumes an org or tenant that is not deleted (false when there is none), with its audit entry.
 */
export async function setSuspended(
  db: D1Database,
  table: OwnerTable,
  id: string,
  suspension: { suspended: boolean; stops: boolean },
  audit: D1PreparedStatement,
): Promise<boolean> {
  const update = db
    .prepare(
      `UPDATE ${table} SET suspended_at = CASE WHEN ?1 = 1 THEN coalesce(suspended_at, ?2) ELSE NULL END,
         suspension_stops = CASE WHEN ?1 = 1 THEN max(suspension_stops, ?4) ELSE 0 END
       WHERE id = ?3 AND deleted_at IS NULL`,
    )
    .bind(suspension.suspended ? 1 : 0, new Date().toISOString(), id, suspension.stops ? 1 : 0);
  const [res] = await db.batch([update, audit]);
  return (res?.meta.changes ?? 0) > 0;
}

// Live: a session or browser that may still cost money, or a hold still open.
const LIVE = (column: "org_id" | "tenant_id") => `
  EXISTS (SELECT 1 FROM resources WHERE ${column} = ?1 AND deleted_at IS NULL
    AND ${liveResource()})
  OR EXISTS (SELECT 1 FROM holds WHERE ${column} = ?1 AND state = 'open')`;

/**
 * Deletes an org or tenant (softly: its ledger stays for reports) unless anything of it is live.
 * "gone" when there was none to delete. `audit` is written with the deletion, and only with it.
 */
export async function deleteOwner(
  db: D1Database,
  table: OwnerTable,
  id: string,
  audit: D1PreparedStatement,
): Promise<"deleted" | "live" | "gone"> {
  const column = table === "orgs" ? "org_id" : "tenant_id";
  const [update, , exists] = await db.batch([
    db
      .prepare(
        `UPDATE ${table} SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL AND NOT (${LIVE(column)})`,
      )
      .bind(id, new Date().toISOString()),
    audit,
    db.prepare(`SELECT 1 AS found FROM ${table} WHERE id = ? AND deleted_at IS NULL`).bind(id),
  ]);
  if ((update?.meta.changes ?? 0) > 0) return "deleted";
  return (exists?.results ?? []).length > 0 ? "live" : "gone";
}
