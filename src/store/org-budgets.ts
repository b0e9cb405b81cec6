import type { PolicyDocument } from "../policy/document";
import { type Page, TENANT_ORDER, TENANT_PAGE_IDS, TENANTS_OF_ORG } from "./orgs";
import { parsePolicyDocument } from "./policies";

/** What a page of an org's tenants' budgets is made from, read in one transaction. */
export interface OrgBudgetRows {
  /** The org's policy document, and its alert target's thresholds (empty without one). */
  orgPolicy: PolicyDocument | null;
  thresholds: number[];
  /** The page's tenants, in the tenant list's order, each with its own document. */
  tenants: { id: string; name: string; policy: PolicyDocument | null }[];
  /** How many tenants the whole list has. */
  total: number;
  /** The org's and the page's tenants' counters under any of the asked period keys (for readCounters). */
  counters: unknown[];
}

/**
 * One page of an org's tenants with everything their budgets are worked out from: the org's and
 * each tenant's policy, the alert thresholds, and the counters under `periodKeys` (the keys that
 * may be current; which one is each scope's depends on its policy, read in the same batch). Four
 * statements in one batch, whatever the page size. Null when the org does not exist or is deleted.
 */
export async function readOrgBudgets(
  db: D1Database,
  orgId: string,
  page: Page,
  periodKeys: string[],
): Promise<OrgBudgetRows | null> {
  const filter = [orgId, page.name ?? null] as const;
  const [org, tenants, count, counters] = await db.batch([
    db
      .prepare(
        `SELECT (SELECT document FROM policies WHERE scope = 'org' AND scope_id = o.id) AS policy,
           (SELECT thresholds FROM alert_targets WHERE org_id = o.id) AS thresholds
         FROM orgs o WHERE o.id = ?1 AND o.deleted_at IS NULL`,
      )
      .bind(orgId),
    db
      .prepare(
        `SELECT id, name, (SELECT document FROM policies WHERE scope = 'tenant' AND scope_id = tenants.id) AS policy
         FROM tenants ${TENANTS_OF_ORG} ${TENANT_ORDER} LIMIT ?3 OFFSET ?4`,
      )
      .bind(...filter, page.limit, page.offset),
    db.prepare(`SELECT count(*) AS total FROM tenants ${TENANTS_OF_ORG}`).bind(...filter),
    db
      .prepare(
        `SELECT scope, scope_id, period_key, held_micros, spent_micros, overshoot_micros FROM budget_counters
         WHERE period_key IN (SELECT value FROM json_each(?5))
           AND ((scope = 'org' AND scope_id = ?1) OR (scope = 'tenant' AND scope_id IN (${TENANT_PAGE_IDS})))`,
      )
      .bind(...filter, page.limit, page.offset, JSON.stringify(periodKeys)),
  ]);
  const orgRow = org?.results[0] as { policy: string | null; thresholds: string | null } | undefined;
  if (!orgRow) return null;
  const document = (json: string | null) => (json === null ? null : parsePolicyDocument(json));
  return {
    orgPolicy: document(orgRow.policy),
    thresholds: orgRow.thresholds === null ? [] : (JSON.parse(orgRow.thresholds) as number[]),
    tenants: ((tenants?.results ?? []) as { id: string; name: string; policy: string | null }[]).map((t) => ({
      id: t.id,
      name: t.name,
      policy: document(t.policy),
    })),
    total: ((count?.results ?? [])[0] as { total: number } | undefined)?.total ?? 0,
    counters: counters?.results ?? [],
  };
}
