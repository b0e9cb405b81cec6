import type { Logger } from "./lib/log";
import type { ChangedBy } from "./store/audit";
import type { EffectivePolicy } from "./policy/effective";
import type { HookWithSecrets } from "./store/hooks";
import { guardD1 } from "./store/guard";

/** Secrets set with `wrangler secret put` (or `--var` in local dev); not in wrangler.toml. */
export interface Secrets {
  /** The Browser Use key the gateway sends upstream. Never leaves the worker. */
  BROWSER_USE_API_KEY: string;
  /** Bearer token for /admin/v1. */
  ADMIN_TOKEN: string;
  /** Signing secret of Browser Use's status webhooks; without it /webhooks/browser-use is off. */
  BROWSER_USE_WEBHOOK_SECRET?: string;
  /**
   * Base64 of 32 random bytes: the AES-GCM key orgs' own Browser Use keys and webhook secrets are
   * sealed with. Without it, orgs can only use the deployment's account.
   */
  UPSTREAM_KEY_ENCRYPTION_KEY?: string;
  /** Optional tuning, as strings because vars are strings. */
  UPSTREAM_TIMEOUT_MS?: string;
  /** `info` (default), `debug`, `warn` or `error`: the lowest level logged. */
  LOG_LEVEL?: string;
  /** `true` lets hook callbacks go to http and private addresses (local development only). */
  ALLOW_PRIVATE_CALLBACKS?: string;
  /** Seconds before each retry of an event's delivery, comma-separated (see events/deliver.ts). */
  EVENT_RETRY_SCHEDULE_S?: string;
}

export type Bindings = Env & Secrets;

/** The tenant a request was authenticated as. */
export interface Caller {
  orgId: string;
  tenantId: string;
  keyId: string;
}

export interface Variables {
  requestId: string;
  log: Logger;
  caller: Caller;
  /** Set for an admin request: who makes its changes, for their audit entries. */
  changedBy: ChangedBy;
  /** The caller's org policy narrowed by its tenant's. */
  policy: EffectivePolicy;
  /**
   * Set by orgUpstream: the deployment's bindings, and when the org's own account that this
   * request's `c.env` points at was set (null: the deployment's), as this isolate last read it.
   */
  orgAccount?: { deployment: Bindings; setAt: string | null };
  /** Set once upstream has answered the create or dispatch this request is for. */
  upstreamAnswered?: boolean;
  /** The hold a call under a hold opened, once it did (for a hook delivery to remember). */
  holdId?: string;
  /**
   * Set for a hook delivery: the id its task's hold takes, chosen when the delivery was claimed and
   * written on it then, so that whatever becomes of the request once its create has left, the
   * delivery names the hold through which the reconciler finds its session.
   */
  deliveryHoldId?: string;
  /** Set for a delivery to /hooks/{hookId}: its hook, and its body exactly as signed. */
  hook?: HookWithSecrets;
  rawBody?: string;
}

/** The bindings with D1 behind the store guard: any D1 failure is a StoreUnavailable. */
export function withGuardedStore(env: Bindings): Bindings {
  return { ...env, DB: guardD1(env.DB) };
}

/** The one Hono environment every app and middleware in the gateway is typed with. */
export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
