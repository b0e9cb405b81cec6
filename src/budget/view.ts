import { fromMicros, toMicros } from "../lib/money";
import { type BudgetPolicy, type EffectivePolicy, effectivePolicy } from "../policy/effective";
import type { BudgetScope, BudgetScopeReport } from "../schemas/gateway";
import { getAlertTarget } from "../store/alerts";
import { type CounterKey, type CounterView, getCounters, readCounters, type Scope } from "../store/budgets";
import { readOrgBudgets } from "../store/org-budgets";
import type { Page } from "../store/orgs";
import { periodKey, periodKeysCurrentAnywhere } from "./period";

/** One budget scope as a tenant sees it (the schema is /gateway/v1/budget's, in schemas/gateway). */
export type ScopeView = BudgetScope;

/** The caller's budgets now: org and tenant, each with cap, period, spent, held and remaining. */
export async function budgetView(
  db: D1Database,
  ids: { orgId: string; tenantId: string },
  policy: EffectivePolicy,
  now = new Date(),
): Promise<BudgetView> {
  const scopes = budgetScopes(ids, policy, now);
  return budgetViewOf(scopes, await getCounters(db, scopes));
}

/** The org's and the tenant's budget now, and the counters they are kept in (for a batch of reads). */
export type BudgetScopes = (CounterKey & { budget: BudgetPolicy | null })[];

export function budgetScopes(
  ids: { orgId: string; tenantId: string },
  policy: EffectivePolicy,
  now = new Date(),
): BudgetScopes {
  const budgets: { scope: Scope; scopeId: string; budget: BudgetPolicy | null }[] = [
    { scope: "org", scopeId: ids.orgId, budget: policy.orgBudget },
    { scope: "tenant", scopeId: ids.tenantId, budget: policy.tenantBudget },
  ];
  return budgets.map((s) => ({
    ...s,
    periodKey: s.budget ? periodKey(s.budget.period, s.budget.timeZone, now) : "none",
  }));
}

export interface BudgetView {
  scopes: ScopeView[];
  /** The least any capped scope has left; null when none is capped. */
  remainingMicros: number | null;
}

/** budgetView from counters already read (countersStatement of the same scopes). */
export function budgetViewOf(scopes: BudgetScopes, counters: CounterView[]): BudgetView {
  const views = scopes.map(({ scope, budget, periodKey: key }, i) => {
    const counter = counters[i] ?? { heldMicros: 0, spentMicros: 0, overshootMicros: 0 };
    const remaining = budget
      ? Math.max(0, budget.capMicros - counter.heldMicros - counter.spentMicros)
      : null;
    const view: ScopeView = {
      scope,
      capUsd: budget ? fromMicros(budget.capMicros) : null,
      period: budget?.period ?? "none",
      timeZone: budget?.timeZone ?? "UTC",
      periodKey: key,
      spentUsd: fromMicros(counter.spentMicros),
      heldUsd: fromMicros(counter.heldMicros),
      overshootUsd: fromMicros(counter.overshootMicros),
      remainingUsd: remaining === null ? null : fromMicros(remaining),
    };
    return { view, remaining };
  });
  const capped = views.map((v) => v.remaining).filter((r): r is number => r !== null);
  return { scopes: views.map((v) => v.view), remainingMicros: capped.length ? Math.min(...capped) : null };
}

/** A scope as the budget endpoints show it: its view and the alert thresholds its spend reached. */
export type ScopeReport = BudgetScopeReport;

/**
 * The caller's budgets as `GET /gateway/v1/budget` and `GET /admin/v1/tenants/{id}/budget` answer:
 * budgetView's scopes with the thresholds crossed (see budgetReportOf).
 */
export async function budgetReport(
  db: D1Database,
  ids: { orgId: string; tenantId: string },
  policy: EffectivePolicy,
  now = new Date(),
): Promise<{ scopes: ScopeReport[] }> {
  const [view, target] = await Promise.all([budgetView(db, ids, policy, now), getAlertTarget(db, ids.orgId)]);
  return budgetReportOf(view, policy, target?.thresholds ?? []);
}

/**
 * A budget view with the org's alert `thresholds` and those each scope's spend has reached, judged
 * as alerts judge them (spent × 100 ≥ cap × threshold, in micro-USD), so the dashboard shows what
 * the alerts announced. Every budget endpoint answers through it, so none can judge differently.
 */
export function budgetReportOf(
  view: BudgetView,
  policy: EffectivePolicy,
  thresholds: number[],
): { scopes: ScopeReport[] } {
  const caps = { org: policy.orgBudget?.capMicros, tenant: policy.tenantBudget?.capMicros };
  return {
    scopes: view.scopes.map((scope) => {
      const cap = caps[scope.scope];
      const spent = toMicros(scope.spentUsd);
      return {
        ...scope,
        alertThresholds: thresholds,
        thresholdsCrossed: cap === undefined ? [] : thresholds.filter((t) => spent * 100 >= cap * t),
      };
    }),
  };
}

/** One tenant of an org's budget page: its id, its name and its scopes as budgetReport shows them. */
export interface TenantBudgetReport {
  tenantId: string;
  name: string;
  scopes: ScopeReport[];
}

/**
 * A page of an org's tenants, each with its budgets exactly as budgetReport reports them, worked
 * out for the whole page at once: one D1 batch reads the documents, thresholds and counters
 * (under every period key current somewhere now), and each tenant's own keys pick its counters.
 * Policies are read fresh, not from the per-isolate cache. Null when the org is not there.
 */
export async function orgBudgetPage(
  db: D1Database,
  orgId: string,
  page: Page,
  now = new Date(),
): Promise<{ items: TenantBudgetReport[]; total: number } | null> {
  const rows = await readOrgBudgets(db, orgId, page, periodKeysCurrentAnywhere(now));
  if (!rows) return null;
  const items = rows.tenants.map((tenant) => {
    const policy = effectivePolicy(rows.orgPolicy, tenant.policy);
    const scopes = budgetScopes({ orgId, tenantId: tenant.id }, policy, now);
    const view = budgetViewOf(scopes, readCounters(scopes, rows.counters));
    return { tenantId: tenant.id, name: tenant.name, ...budgetReportOf(view, policy, rows.thresholds) };
  });
  return { items, total: rows.total };
}
