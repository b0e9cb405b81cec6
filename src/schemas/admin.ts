/**
 * What /admin/v1 answers, as zod schemas: the routes build their answers as these types, and the
 * OpenAPI document describes them from here. Strict objects, so a field the admin API was never
 * meant to show (a key's hash, a hook's secret outside creation) fails the suite's check of every
 * answer against the document.
 */
import * as z from "zod/mini";
import { BudgetPeriod } from "../policy/document";
import { AUDIT_ACTIONS } from "../store/audit";
import { BuModel, MoneyString, ProxyCountryCode } from "../v3/schemas/common";
import { Timestamp } from "./common";
import { BudgetAlertEvent } from "./events";
import { Budget } from "./gateway";

/** The envelope of the admin lists: a page of `item`, and how many there are in all. */
export function adminPage<S extends z.ZodMiniType>(item: S) {
  return z.strictObject({
    items: z.array(item),
    totalItems: z.int().check(z.minimum(0)),
    pageNumber: z.int().check(z.minimum(1)),
    pageSize: z.int().check(z.minimum(1)),
  });
}

export const Org = z.strictObject({
  id: z.uuid(),
  name: z.string(),
  createdAt: Timestamp,
  suspended: z.boolean(),
  /** Whose Browser Use account the org's requests go to: its own, or the deployment's. */
  upstream: z.enum(["deployment", "own"]),
});
export type Org = z.infer<typeof Org>;

export const Tenant = z.strictObject({
  id: z.uuid(),
  orgId: z.uuid(),
  name: z.string(),
  createdAt: Timestamp,
  suspended: z.boolean(),
});
export type Tenant = z.infer<typeof Tenant>;

export const OrgPage = adminPage(Org);
export const TenantPage = adminPage(Tenant);

/**
 * One tenant in `GET /admin/v1/orgs/{orgId}/budgets`: its `scopes` are exactly what
 * `GET /admin/v1/tenants/{tenantId}/budget` answers for it.
 */
export const TenantBudget = z.strictObject({
  tenantId: z.uuid(),
  name: z.string(),
  scopes: Budget.shape.scopes,
});
export const TenantBudgetPage = adminPage(TenantBudget);

/** The answer to suspend and resume: `stopped` counts what a kill switch stopped in the request. */
export const Suspension = z.strictObject({
  id: z.uuid(),
  suspended: z.boolean(),
  stopped: z.int().check(z.minimum(0)),
});
export type Suspension = z.infer<typeof Suspension>;

/** A key as listed: never the key itself or its hash. */
export const Key = z.strictObject({
  id: z.uuid(),
  tenantId: z.uuid(),
  /** The first characters of the key, to tell keys apart. */
  prefix: z.string(),
  name: z.string(),
  scope: z.enum(["full", "read-only"]),
  createdAt: Timestamp,
  lastUsedAt: z.nullable(Timestamp),
  expiresAt: z.nullable(Timestamp),
  revokedAt: z.nullable(Timestamp),
});
export type Key = z.infer<typeof Key>;

/** A key as issued or rotated: the only answer that carries `key`, shown once. */
export const IssuedKey = z.extend(Key, { key: z.string() });
export type IssuedKey = z.infer<typeof IssuedKey>;

export const KeyList = z.strictObject({ keys: z.array(Key) });

/**
 * One tenant in `GET /admin/v1/orgs/{orgId}/keys`: its `keys` are exactly what
 * `GET /admin/v1/tenants/{tenantId}/keys` answers for it.
 */
export const TenantKeys = z.strictObject({ tenantId: z.uuid(), name: z.string(), keys: KeyList.shape.keys });
export const TenantKeysPage = adminPage(TenantKeys);

export const Hook = z.strictObject({
  id: z.uuid(),
  orgId: z.uuid(),
  tenantId: z.uuid(),
  name: z.string(),
  /** The task template; `{{path.to.value}}` placeholders are filled from a delivery's JSON. */
  task: z.string(),
  /** The `RunTaskRequest` fields every task of the hook gets. */
  options: z.record(z.string(), z.unknown()),
  callbackUrl: z.nullable(z.string()),
  suspended: z.boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Hook = z.infer<typeof Hook>;

/** A hook as created: with its signing secret (`whsec_…`), shown only here and on rotation. */
export const CreatedHook = z.extend(Hook, { secret: z.string() });
export const HookList = z.strictObject({ hooks: z.array(Hook) });

/**
 * One tenant in `GET /admin/v1/orgs/{orgId}/hooks`: its `hooks` are exactly what
 * `GET /admin/v1/tenants/{tenantId}/hooks` answers for it.
 */
export const TenantHooks = z.strictObject({
  tenantId: z.uuid(),
  name: z.string(),
  hooks: HookList.shape.hooks,
});
export const TenantHooksPage = adminPage(TenantHooks);

/** A new signing secret (hooks and alerts); the previous one keeps verifying for a grace period. */
export const SigningSecret = z.strictObject({ secret: z.string() });

/** One attempt at delivering a callback or an alert: the receiver's status, or why there was none. */
const Attempt = z.strictObject({
  attempt: z.int().check(z.minimum(1)),
  at: Timestamp,
  status: z.nullable(z.int()),
  error: z.nullable(z.string()),
});
const EventState = z.enum(["pending", "delivered", "failed"]);

const DeliveryFields = {
  /** The sender's `webhook-id`. */
  deliveryId: z.string(),
  state: z.enum(["pending", "done", "unknown"]),
  sessionId: z.nullable(z.string()),
  createdAt: Timestamp,
  /** The delivery's `session.finished` callback, once made: its session ended or is gone, or its lost create was charged in full. */
  callback: z.nullable(
    z.strictObject({ eventId: z.string(), state: EventState, attempts: z.array(Attempt) }),
  ),
};

const DeliveryPage = {
  totalItems: z.int().check(z.minimum(0)),
  pageNumber: z.int().check(z.minimum(1)),
  pageSize: z.int().check(z.minimum(1)),
};

export const HookDeliveries = z.strictObject({
  deliveries: z.array(z.strictObject(DeliveryFields)),
  ...DeliveryPage,
});

export const OrgDeliveries = z.strictObject({
  deliveries: z.array(
    z.strictObject({
      ...DeliveryFields,
      /** The hook it reached, and that hook's tenant. */
      hookId: z.uuid(),
      hookName: z.string(),
      tenantId: z.uuid(),
      tenantName: z.string(),
    }),
  ),
  ...DeliveryPage,
});

export const Redelivery = z.strictObject({ eventId: z.string(), state: z.literal("pending") });

export const AlertTarget = z.strictObject({
  orgId: z.uuid(),
  url: z.string(),
  /** Percent of each capped scope's cap, ascending. */
  thresholds: z.array(z.int()),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type AlertTarget = z.infer<typeof AlertTarget>;

/** The first PUT of an org's alerts answers with the signing secret too; later ones do not. */
export const AlertTargetPut = z.extend(AlertTarget, { secret: z.optional(z.string()) });

export const AlertDeliveries = z.strictObject({
  deliveries: z.array(
    z.strictObject({
      eventId: z.string(),
      state: EventState,
      createdAt: Timestamp,
      event: BudgetAlertEvent,
      attempts: z.array(Attempt),
    }),
  ),
  totalItems: z.int().check(z.minimum(0)),
  pageNumber: z.int().check(z.minimum(1)),
  pageSize: z.int().check(z.minimum(1)),
});

const EffectiveBudget = z.strictObject({ capUsd: MoneyString, period: BudgetPeriod, timeZone: z.string() });

/** A tenant's org policy narrowed by its own, as applied to its requests; null: no restriction. */
export const EffectivePolicy = z.strictObject({
  orgBudget: z.nullable(EffectiveBudget),
  tenantBudget: z.nullable(EffectiveBudget),
  maxTaskCostUsd: z.nullable(MoneyString),
  defaultTaskCostUsd: z.nullable(MoneyString),
  minHoldUsd: z.nullable(MoneyString),
  allowedCountries: z.nullable(z.array(ProxyCountryCode)),
  defaultCountry: z.nullable(ProxyCountryCode),
  allowNoProxy: z.boolean(),
  allowedModels: z.nullable(z.array(BuModel)),
  allowKeepAlive: z.boolean(),
  allowSkills: z.boolean(),
  allowScheduledTasks: z.boolean(),
  allowOwnKey: z.boolean(),
  maxIdleMinutes: z.nullable(z.int()),
  maxConcurrentSessions: z.nullable(z.int()),
  requestsPerMinute: z.nullable(z.int()),
  maxBrowserTimeoutMinutes: z.nullable(z.int()),
  browserProxyAllowanceUsd: MoneyString,
});
export type EffectivePolicy = z.infer<typeof EffectivePolicy>;

/** One entry of the audit log: a change (before and after, secrets redacted) or a minute's refusals. */
export const AuditEntry = z.strictObject({
  id: z.string(),
  at: Timestamp,
  /** `X-Actor` as given, else the admin token's name; `gateway` for refusals. */
  actor: z.string(),
  tokenName: z.nullable(z.string()),
  action: z.enum(AUDIT_ACTIONS),
  target: z.strictObject({ type: z.enum(["org", "tenant", "key", "hook", "event"]), id: z.string() }),
  orgId: z.nullable(z.uuid()),
  tenantId: z.nullable(z.uuid()),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.nullable(z.string()),
  /** Refusals only: the error code, and how many the tenant got in the minute from `at` on. */
  code: z.nullable(z.string()),
  count: z.nullable(z.int().check(z.minimum(1))),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** A page of the audit log, newest first; `nextCursor` asks for the next, null on the last. */
export const AuditPage = z.strictObject({ items: z.array(AuditEntry), nextCursor: z.nullable(z.string()) });
