/**
 * The orgs and tenants a chaos run loads, made through the admin API: small caps so they are
 * reached, per-task ceilings and defaults on some, a browser proxy allowance on one, and an org
 * with no cap at all (holds of 0).
 */
import { toMicros } from "../src/lib/money";
import type { ChaosTarget } from "./target";

export interface ChaosTenant {
  name: string;
  orgId: string;
  tenantId: string;
  key: string;
  /** The tenant's cap in micro-USD, or null. */
  capMicros: number | null;
}

export interface ChaosOrg {
  name: string;
  orgId: string;
  capMicros: number | null;
  tenants: ChaosTenant[];
}

interface Policy {
  budget?: { capUsd: string; period: "month" | "none" };
  [field: string]: unknown;
}

const FLEET: { name: string; policy: Policy; tenants: { name: string; policy: Policy }[] }[] = [
  {
    name: "alpha",
    policy: { budget: { capUsd: "0.6", period: "month" }, defaultTaskCostUsd: "0.05", maxIdleMinutes: 5 },
    tenants: [
      { name: "a1", policy: { budget: { capUsd: "0.25", period: "none" }, maxTaskCostUsd: "0.04" } },
      { name: "a2", policy: {} },
    ],
  },
  {
    name: "beta",
    policy: {
      budget: { capUsd: "0.4", period: "none" },
      maxTaskCostUsd: "0.03",
      browserProxyAllowanceUsd: "0.02",
    },
    tenants: [
      { name: "b1", policy: { budget: { capUsd: "0.15", period: "month" } } },
      { name: "b2", policy: { maxTaskCostUsd: "0.02", defaultTaskCostUsd: "0.01" } },
    ],
  },
  { name: "gamma", policy: {}, tenants: [{ name: "g1", policy: {} }] },
];

const capOf = (policy: Policy) => (policy.budget ? toMicros(policy.budget.capUsd) : null);

async function admin<T>(target: ChaosTarget, method: string, path: string, body: unknown): Promise<T> {
  const res = await target.gateway(`/admin/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${target.adminToken}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (res === "hung-up" || !res.ok) {
    throw new Error(
      `${method} ${path} answered ${res === "hung-up" ? res : `${res.status}: ${await res.text()}`}`,
    );
  }
  return (await res.json()) as T;
}

/** Creates the fleet, names suffixed with `run` so runs on one database never meet. */
export async function createFleet(target: ChaosTarget, run: string): Promise<ChaosOrg[]> {
  const orgs: ChaosOrg[] = [];
  for (const spec of FLEET) {
    const org = await admin<{ id: string }>(target, "POST", "/orgs", { name: `chaos ${spec.name} ${run}` });
    await admin(target, "PUT", `/orgs/${org.id}/policy`, spec.policy);
    const tenants: ChaosTenant[] = [];
    for (const t of spec.tenants) {
      const tenant = await admin<{ id: string }>(target, "POST", `/orgs/${org.id}/tenants`, { name: t.name });
      await admin(target, "PUT", `/tenants/${tenant.id}/policy`, t.policy);
      const key = await admin<{ key: string }>(target, "POST", `/tenants/${tenant.id}/keys`, {
        name: "chaos",
      });
      tenants.push({
        name: t.name,
        orgId: org.id,
        tenantId: tenant.id,
        key: key.key,
        capMicros: capOf(t.policy),
      });
    }
    orgs.push({ name: spec.name, orgId: org.id, capMicros: capOf(spec.policy), tenants });
  }
  return orgs;
}
