import type { env } from "cloudflare:workers";
import {
  admin,
  deliverToHook,
  emuTask,
  eventually,
  expectJson,
  newTenant,
  newUpstreamAccount,
  putPolicy,
  type Received,
  type TestTenant,
} from "./helpers";

/** A hook as the admin API shows it. */
export interface HookView {
  id: string;
  tenantId: string;
  name: string;
  task: string;
  options: Record<string, unknown>;
  callbackUrl: string | null;
  secret?: string;
}

/** The admin API call, here too for the hook tests that import it with the rest. */
export { admin };

/** A hook of the tenant's, through the admin API: an order check of one step unless `fields` say otherwise. */
export async function newHook(
  t: TestTenant,
  fields: Partial<HookView> = {},
): Promise<HookView & { secret: string }> {
  const res = await admin(`/tenants/${t.tenantId}/hooks`, "POST", {
    name: "orders",
    task: emuTask("Check order {{order.id}} for {{customer.name}}", { steps: 1, cost: "0.01" }),
    ...fields,
  });
  return expectJson<HookView & { secret: string }>(res, 201);
}

/**
 * A hook of a tenant with a $5 cap (tasks held at $0.20), and an upstream account of its own (to
 * queue faults on); `fields` as for newHook.
 */
export async function cappedHookOnAccount(fields: Partial<HookView> = {}) {
  const account = await newUpstreamAccount();
  const t = await newTenant();
  await putPolicy("tenants", t.tenantId, {
    budget: { capUsd: "5", period: "none" },
    defaultTaskCostUsd: "0.2",
  });
  return { account, t, hook: await newHook(t, fields) };
}

/** A delivery of `payload` to a hook through a gateway with these bindings (another upstream account). */
export function deliverTo(
  bindings: typeof env,
  hook: { id: string; secret: string },
  id: string,
  payload: unknown = { order: { id: "A-1001" }, customer: { name: "Ada" } },
) {
  return deliverToHook(hook, JSON.stringify(payload), { id, env: bindings });
}

/** What an inbox has received, once it has received at least `count` requests. */
export function receivedAtLeast(
  box: { received(): Promise<Received[]> },
  count = 1,
  what = "the callback",
): Promise<Received[]> {
  return eventually(
    async () => {
      const r = await box.received();
      return r.length >= count ? r : undefined;
    },
    10_000,
    what,
  );
}
