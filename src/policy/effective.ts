import { fromMicros, toMicros } from "../lib/money";
import type { BuModel, ProxyCountryCode } from "../v3/schemas/common";
import type { ValidationIssue } from "../v3/validation";
import type { EffectivePolicy as EffectivePolicyView } from "../schemas/admin";
import type { BudgetPeriod, PolicyBudget, PolicyDocument } from "./document";
import type { StoredPolicies } from "../store/policies";

/** A budget scope's cap, in micro-USD, and how it resets. */
export interface BudgetPolicy {
  capMicros: number;
  period: BudgetPeriod;
  timeZone: string;
}

/**
 * What a tenant may do: its org's policy narrowed by its own. Money in integer micro-USD; a
 * null list or ceiling means "no restriction"; an empty set allows nothing.
 */
export interface EffectivePolicy {
  /** The org's and the tenant's budgets are separate scopes; each holds only its own document's. */
  orgBudget: BudgetPolicy | null;
  tenantBudget: BudgetPolicy | null;
  maxTaskCostMicros: number | null;
  /** The hold when a task names no maxCostUsd; never above maxTaskCostMicros. */
  defaultTaskCostMicros: number | null;
  /** Below this a hold is refused; null leaves the floor to the budget code. */
  minHoldMicros: number | null;
  allowedCountries: ReadonlySet<ProxyCountryCode> | null;
  /** Injected when a request names no proxy country; always inside allowedCountries. */
  defaultCountry: ProxyCountryCode | null;
  allowNoProxy: boolean;
  allowedModels: ReadonlySet<BuModel> | null;
  allowKeepAlive: boolean;
  /** Account-wide upstream features, off unless the org turns them on and the tenant keeps them. */
  allowSkills: boolean;
  allowScheduledTasks: boolean;
  /** `useOwnKey`: the LLM provider bills the account's own key, outside every figure the ledger books. */
  allowOwnKey: boolean;
  maxIdleMinutes: number | null;
  /** Live sessions and browsers per tenant (the tighter of both documents)... */
  maxConcurrentSessions: number | null;
  /** ...and across the whole org, from the org's document alone. */
  orgMaxConcurrentSessions: number | null;
  requestsPerMinute: number | null;
  maxBrowserTimeoutMinutes: number | null;
  /** Proxy spend held for a proxied browser on top of its time; past it the browser is stopped. */
  browserProxyAllowanceMicros: number;
  /**
   * The documents this policy was made from, as stored when it was read (loadEffectivePolicy): an
   * admission holds only while they are still what is stored, so no hold is taken under a policy
   * an admin has replaced meanwhile. Absent for a policy built from documents in hand.
   */
  stored?: StoredPolicies;
}

/** A proxied browser's proxy allowance when no document sets one: $0.10, about 10 MB at $10/GB. */
export const DEFAULT_BROWSER_PROXY_ALLOWANCE_MICROS = 100_000;

/**
 * Combines the org's and the tenant's documents. The tenant can only narrow: allowlists
 * intersect, ceilings take the minimum, the minimum hold the maximum, permissions AND (unset
 * means allowed). A default is the tenant's if set, else the org's, but must satisfy the
 * combined limits: a task-cost default is capped at the combined ceiling, and a country default
 * outside the combined allowlist gives way to the other scope's default, then to the first
 * allowed country in alphabetical order. Checked per request because an org may narrow its
 * policy after its tenants' documents were stored.
 */
export function effectivePolicy(org: PolicyDocument | null, tenant: PolicyDocument | null): EffectivePolicy {
  const o = org ?? {};
  const t = tenant ?? {};
  const maxTaskCostMicros = minOf(micros(o.maxTaskCostUsd), micros(t.maxTaskCostUsd));
  const defaultTask = micros(t.defaultTaskCostUsd) ?? micros(o.defaultTaskCostUsd);
  const allowedCountries = intersect(o.allowedCountries, t.allowedCountries);
  return {
    orgBudget: budget(o.budget),
    tenantBudget: budget(t.budget),
    maxTaskCostMicros,
    defaultTaskCostMicros:
      defaultTask === null ? null : Math.min(defaultTask, maxTaskCostMicros ?? defaultTask),
    minHoldMicros: maxOf(micros(o.minHoldUsd), micros(t.minHoldUsd)),
    allowedCountries,
    defaultCountry: defaultCountry([t.defaultCountry, o.defaultCountry], allowedCountries),
    allowNoProxy: allowNoProxy(
      o.allowNoProxy,
      t.allowNoProxy,
      allowedCountries,
      o.allowedCountries !== undefined,
    ),
    allowedModels: intersect(o.allowedModels, t.allowedModels),
    allowKeepAlive: (o.allowKeepAlive ?? true) && (t.allowKeepAlive ?? true),
    allowSkills: o.allowSkills === true && t.allowSkills !== false,
    allowScheduledTasks: o.allowScheduledTasks === true && t.allowScheduledTasks !== false,
    allowOwnKey: o.allowOwnKey === true && t.allowOwnKey !== false,
    maxIdleMinutes: minOf(o.maxIdleMinutes, t.maxIdleMinutes),
    maxConcurrentSessions: minOf(o.maxConcurrentSessions, t.maxConcurrentSessions),
    orgMaxConcurrentSessions: o.maxConcurrentSessions ?? null,
    requestsPerMinute: minOf(o.requestsPerMinute, t.requestsPerMinute),
    maxBrowserTimeoutMinutes: minOf(o.maxBrowserTimeoutMinutes, t.maxBrowserTimeoutMinutes),
    browserProxyAllowanceMicros:
      minOf(micros(o.browserProxyAllowanceUsd), micros(t.browserProxyAllowanceUsd)) ??
      DEFAULT_BROWSER_PROXY_ALLOWANCE_MICROS,
  };
}

/**
 * Whether `null` (no proxy) may be sent. Never where either scope says false; where proxy countries
 * are restricted, only where a scope that restricts them says true, since a request without a
 * proxy leaves from no country at all: where the org restricts countries only the org can turn it
 * on (a tenant's true, stored while the org restricted none, must not outlast the org's change);
 * where only the tenant does, the tenant's true suffices. Elsewhere, as upstream allows it.
 */
function allowNoProxy(
  org: boolean | undefined,
  tenant: boolean | undefined,
  countries: ReadonlySet<string> | null,
  orgRestrictsCountries: boolean,
) {
  if (org === false || tenant === false) return false;
  return countries === null || org === true || (tenant === true && !orgRestrictsCountries);
}

const CEILINGS = [
  "maxIdleMinutes",
  "maxConcurrentSessions",
  "requestsPerMinute",
  "maxBrowserTimeoutMinutes",
] as const;

/**
 * Every field where `tenant` would widen its org's policy, as 422 issues (`type: "policy_widens"`).
 * Empty when the org has no document. A tenant field the org leaves unset never widens.
 */
export function narrowingIssues(org: PolicyDocument | null, tenant: PolicyDocument): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const widens = (loc: (string | number)[], input: unknown, msg: string) =>
    issues.push({ type: "policy_widens", loc: ["body", ...loc], msg, input });
  // These are off unless the org turns them on, so a tenant cannot turn them on by itself.
  for (const field of ["allowSkills", "allowScheduledTasks", "allowOwnKey"] as const) {
    if (tenant[field] === true && org?.[field] !== true) {
      widens([field], true, `${field} cannot be true unless the org's ${field} is true`);
    }
  }
  if (!org) return issues;

  for (const [field, orgList] of [
    ["allowedCountries", org.allowedCountries],
    ["allowedModels", org.allowedModels],
  ] as const) {
    const allowed = new Set<string>(orgList ?? []);
    (orgList ? (tenant[field] ?? []) : []).forEach((value, index) => {
      if (!allowed.has(value)) widens([field, index], value, `'${value}' is not in the org's ${field}`);
    });
  }
  if (
    org.allowedCountries &&
    tenant.defaultCountry &&
    !org.allowedCountries.includes(tenant.defaultCountry)
  ) {
    widens(
      ["defaultCountry"],
      tenant.defaultCountry,
      `'${tenant.defaultCountry}' is not in the org's allowedCountries`,
    );
  }

  const orgMaxTask = micros(org.maxTaskCostUsd);
  for (const field of ["maxTaskCostUsd", "defaultTaskCostUsd"] as const) {
    const amount = micros(tenant[field]);
    if (orgMaxTask !== null && amount !== null && amount > orgMaxTask) {
      widens([field], tenant[field], `${field} is above the org's maxTaskCostUsd (${org.maxTaskCostUsd})`);
    }
  }
  const orgAllowance = micros(org.browserProxyAllowanceUsd);
  const allowance = micros(tenant.browserProxyAllowanceUsd);
  if (orgAllowance !== null && allowance !== null && allowance > orgAllowance) {
    widens(
      ["browserProxyAllowanceUsd"],
      tenant.browserProxyAllowanceUsd,
      `browserProxyAllowanceUsd is above the org's (${org.browserProxyAllowanceUsd})`,
    );
  }
  const orgMinHold = micros(org.minHoldUsd);
  const minHold = micros(tenant.minHoldUsd);
  if (orgMinHold !== null && minHold !== null && minHold < orgMinHold) {
    widens(["minHoldUsd"], tenant.minHoldUsd, `minHoldUsd is below the org's minHoldUsd (${org.minHoldUsd})`);
  }
  for (const field of CEILINGS) {
    const ceiling = org[field];
    const value = tenant[field];
    if (ceiling !== undefined && value !== undefined && value > ceiling) {
      widens([field], value, `${field} is above the org's ${field} (${ceiling})`);
    }
  }
  if (org.allowKeepAlive === false && tenant.allowKeepAlive === true) {
    widens(["allowKeepAlive"], true, "allowKeepAlive cannot be true where the org's allowKeepAlive is false");
  }
  // Where the org restricts countries, no-proxy is off unless the org itself turns it on.
  if (
    tenant.allowNoProxy === true &&
    !allowNoProxy(org.allowNoProxy, undefined, intersect(org.allowedCountries, undefined), true)
  ) {
    widens(["allowNoProxy"], true, "allowNoProxy cannot be true where the org does not allow no-proxy");
  }
  const orgCap = micros(org.budget?.capUsd);
  const cap = micros(tenant.budget?.capUsd);
  if (orgCap !== null && cap !== null && cap > orgCap) {
    widens(
      ["budget", "capUsd"],
      tenant.budget?.capUsd,
      `capUsd is above the org's budget capUsd (${org.budget?.capUsd})`,
    );
  }
  return issues;
}

/** The effective policy as JSON: money as decimal strings, lists sorted, null for "no restriction". */
export function effectivePolicyView(policy: EffectivePolicy): EffectivePolicyView {
  const usd = (m: number | null) => (m === null ? null : fromMicros(m));
  const budgetView = (b: BudgetPolicy | null) =>
    b && { capUsd: fromMicros(b.capMicros), period: b.period, timeZone: b.timeZone };
  return {
    orgBudget: budgetView(policy.orgBudget),
    tenantBudget: budgetView(policy.tenantBudget),
    maxTaskCostUsd: usd(policy.maxTaskCostMicros),
    defaultTaskCostUsd: usd(policy.defaultTaskCostMicros),
    minHoldUsd: usd(policy.minHoldMicros),
    allowedCountries: policy.allowedCountries && [...policy.allowedCountries].sort(),
    defaultCountry: policy.defaultCountry,
    allowNoProxy: policy.allowNoProxy,
    allowedModels: policy.allowedModels && [...policy.allowedModels].sort(),
    allowKeepAlive: policy.allowKeepAlive,
    allowSkills: policy.allowSkills,
    allowScheduledTasks: policy.allowScheduledTasks,
    allowOwnKey: policy.allowOwnKey,
    maxIdleMinutes: policy.maxIdleMinutes,
    maxConcurrentSessions: policy.maxConcurrentSessions,
    requestsPerMinute: policy.requestsPerMinute,
    maxBrowserTimeoutMinutes: policy.maxBrowserTimeoutMinutes,
    browserProxyAllowanceUsd: fromMicros(policy.browserProxyAllowanceMicros),
  };
}

function budget(doc: PolicyBudget | undefined): BudgetPolicy | null {
  if (!doc) return null;
  return { capMicros: toMicros(doc.capUsd), period: doc.period, timeZone: doc.timeZone ?? "UTC" };
}

const micros = (amount: string | undefined): number | null =>
  amount === undefined ? null : toMicros(amount);

function minOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a == null) return b ?? null;
  return b == null ? a : Math.min(a, b);
}

function maxOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.max(a, b);
}

/** Absent lists restrict nothing; two lists allow what both allow. */
function intersect<T>(a: readonly T[] | undefined, b: readonly T[] | undefined): ReadonlySet<T> | null {
  if (!a) return b ? new Set(b) : null;
  if (!b) return new Set(a);
  const inB = new Set(b);
  return new Set(a.filter((x) => inB.has(x)));
}

function defaultCountry(
  candidates: (ProxyCountryCode | undefined)[],
  allowed: ReadonlySet<ProxyCountryCode> | null,
): ProxyCountryCode | null {
  const configured = candidates.filter((c): c is ProxyCountryCode => c !== undefined);
  if (configured.length === 0) return null;
  const fit = configured.find((c) => !allowed || allowed.has(c));
  if (fit) return fit;
  // A default was asked for but the combined allowlist excludes it; keep the intent of having one.
  return [...(allowed ?? [])].sort()[0] ?? null;
}
