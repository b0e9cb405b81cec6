import type { PolicyDocument } from "../policy/document";

export type PolicyScope = "org" | "tenant";

interface PolicyRow {
  scope: PolicyScope;
  document: string;
}

/** The table a scope's id must exist in; fixed names, never built from input. */
const OWNER_TABLE: Record<PolicyScope, string> = { org: "orgs", tenant: "tenants" };

// Documents were validated when stored. They are not re-validated on read, so a document
// stored under an older schema still loads rather than failing every request of its tenant.
/** A stored document's JSON as a document (for queries that read documents beside other rows). */
export const parsePolicyDocument = (json: string): PolicyDocument => JSON.parse(json) as PolicyDocument;
const toDocument = (row: PolicyRow): PolicyDocument => parsePolicyDocument(row.document);

/** The org's and the tenant's documents as stored (their JSON text), null where a scope has none. */
export interface StoredPolicies {
  org: string | null;
  tenant: string | null;
}

/**
 * The org's and the tenant's documents, in one query; null where a scope has none. `stored` is
 * their text as read, which an admission compares with what is stored then (see admitHold).
 */
export async function getPolicies(
  db: D1Database,
  orgId: string,
  tenantId: string,
): Promise<{ org: PolicyDocument | null; tenant: PolicyDocument | null; stored: StoredPolicies }> {
  const { results } = await db
    .prepare(
      `SELECT scope, document FROM policies
       WHERE (scope = 'org' AND scope_id = ?) OR (scope = 'tenant' AND scope_id = ?)`,
    )
    .bind(orgId, tenantId)
    .all<PolicyRow>();
  const find = (scope: PolicyScope) => results.find((r) => r.scope === scope);
  const [org, tenant] = [find("org"), find("tenant")];
  return {
    org: org ? toDocument(org) : null,
    tenant: tenant ? toDocument(tenant) : null,
    stored: { org: org?.document ?? null, tenant: tenant?.document ?? null },
  };
}

/** A scope's stored document; null when it has none (or does not exist). */
export async function getPolicy(
  db: D1Database,
  scope: PolicyScope,
  id: string,
): Promise<PolicyDocument | null> {
  const row = await db
    .prepare("SELECT scope, document FROM policies WHERE scope = ? AND scope_id = ?")
    .bind(scope, id)
    .first<PolicyRow>();
  return row ? toDocument(row) : null;
}

/**
 * Replaces a scope's document, with its audit entry. False, with nothing stored, when the org or
 * tenant does not exist: the existence check and the write are one statement.
 */
export async function putPolicy(
  db: D1Database,
  scope: PolicyScope,
  id: string,
  doc: PolicyDocument,
  audit: D1PreparedStatement,
): Promise<boolean> {
  const [res] = await db.batch([
    db
      .prepare(
        `INSERT INTO policies (scope, scope_id, document, updated_at)
       SELECT ?, id, ?, ? FROM ${OWNER_TABLE[scope]} WHERE id = ?
       ON CONFLICT (scope, scope_id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at
       RETURNING scope_id`,
      )
      .bind(scope, JSON.stringify(doc), new Date().toISOString(), id),
    audit,
  ]);
  return (res?.results.length ?? 0) > 0;
}
