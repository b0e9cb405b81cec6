export interface Org {
  id: string;
  name: string;
  createdAt: string;
}

export interface Tenant {
  id: string;
  orgId: string;
  name: string;
  createdAt: string;
}

interface OrgRow {
  id: string;
  name: string;
  created_at: string;
}

interface TenantRow extends OrgRow {
  org_id: string;
}

const toOrg = (row: OrgRow): Org => ({ id: row.id, name: row.name, createdAt: row.created_at });
const toTenant = (row: TenantRow): Tenant => ({
  id: row.id,
  orgId: row.org_id,
  name: row.name,
  createdAt: row.created_at,
});

export async function createOrg(db: D1Database, name: string): Promise<Org> {
  const row = await db
    .prepare("INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?) RETURNING *")
    .bind(crypto.randomUUID(), name, new Date().toISOString())
    .first<OrgRow>();
  return toOrg(row as OrgRow);
}

export async function getOrg(db: D1Database, id: string): Promise<Org | null> {
  const row = await db.prepare("SELECT * FROM orgs WHERE id = ?").bind(id).first<OrgRow>();
  return row ? toOrg(row) : null;
}

/** Creates a tenant under an existing org; null when the org does not exist. */
export async function createTenant(db: D1Database, orgId: string, name: string): Promise<Tenant | null> {
  const row = await db
    .prepare(
      `INSERT INTO tenants (id, org_id, name, created_at)
       SELECT ?, id, ?, ? FROM orgs WHERE id = ? RETURNING *`,
    )
    .bind(crypto.randomUUID(), name, new Date().toISOString(), orgId)
    .first<TenantRow>();
  return row ? toTenant(row) : null;
}

export async function getTenant(db: D1Database, id: string): Promise<Tenant | null> {
  const row = await db.prepare("SELECT * FROM tenants WHERE id = ?").bind(id).first<TenantRow>();
  return row ? toTenant(row) : null;
}
