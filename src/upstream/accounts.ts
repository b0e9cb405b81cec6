/**
 * Which Browser Use account an org's traffic goes to: its own (`PUT /admin/v1/orgs/{orgId}/upstream`)
 * or the deployment's. An org's account is the deployment's bindings with the org's key and
 * webhook secret in place of the deployment's, so everything that talks to upstream through
 * callUpstream (requests, the reconciler's reads, listings and stops) needs nothing else.
 * The key and secret are sealed at rest (AES-GCM under UPSTREAM_KEY_ENCRYPTION_KEY, bound to the
 * org) and opened in memory only; opened accounts are cached per isolate for 30 s, so a change
 * applies at once on the isolate that made it and within 30 s everywhere else.
 */
import type { Bindings } from "../env";
import { GatewayError } from "../lib/errors";
import { importSealingKey, seal, unseal } from "../lib/crypto";
import type { Logger } from "../lib/log";
import { TtlCache } from "../lib/ttl-cache";
import { findOrgUpstream, type SealedUpstream } from "../store/upstreams";

export interface UpstreamCredentials {
  apiKey: string;
  webhookSecret: string | null;
}

/**
 * Which account an org's calls go to, as this isolate read it: its credentials (null: the
 * deployment's account) and when the org's own account was set (null: it has none).
 */
export interface OrgAccount {
  credentials: UpstreamCredentials | null;
  setAt: string | null;
}

const opened = new TtlCache<OrgAccount>(30_000);
const sealingKeys = new Map<string, Promise<CryptoKey | null>>();

const context = (orgId: string, field: "api_key" | "webhook_secret") => `org:${orgId}:${field}`;

function sealingKey(env: Bindings): Promise<CryptoKey | null> {
  const base64 = env.UPSTREAM_KEY_ENCRYPTION_KEY ?? "";
  let key = sealingKeys.get(base64);
  if (!key) {
    key = importSealingKey(base64);
    sealingKeys.clear();
    sealingKeys.set(base64, key);
  }
  return key;
}

/** The bindings an org's upstream calls go out with: its own account's, or the deployment's. */
export async function upstreamEnvFor(env: Bindings, orgId: string, log: Logger): Promise<Bindings> {
  return (await orgAccountFor(env, orgId, log)).env;
}

/**
 * The same, with when the org's own account was set (null: it is on the deployment's), as this
 * isolate last read it: up to 30 s old when another isolate moved the org.
 */
export async function orgAccountFor(
  env: Bindings,
  orgId: string,
  log: Logger,
): Promise<{ env: Bindings; setAt: string | null }> {
  let account = opened.get(orgId);
  if (account === undefined) {
    const sealed = await findOrgUpstream(env.DB, orgId);
    account = sealed
      ? { credentials: await openCredentials(env, sealed, log), setAt: sealed.setAt }
      : { credentials: null, setAt: null };
    opened.set(orgId, account);
  }
  return { env: account.credentials ? withCredentials(env, account.credentials) : env, setAt: account.setAt };
}

/** The deployment's bindings with an org's account in place of the deployment's. */
export function withCredentials(env: Bindings, credentials: UpstreamCredentials): Bindings {
  return {
    ...env,
    BROWSER_USE_API_KEY: credentials.apiKey,
    // Empty: the org has no webhook secret, so its webhook receiver is off.
    BROWSER_USE_WEBHOOK_SECRET: credentials.webhookSecret ?? "",
  };
}

/**
 * Opens a stored account. One that cannot be opened (the master key missing or changed) must not
 * fall back to the deployment's account, which would bill the deployment for the org: its calls
 * are refused as upstream refusing the gateway's credentials (502), and the operator is told in
 * the log.
 */
export async function openCredentials(
  env: Bindings,
  sealed: SealedUpstream,
  log: Logger,
): Promise<UpstreamCredentials> {
  const key = await sealingKey(env);
  const apiKey = key && (await unseal(key, sealed.apiKeySealed, context(sealed.orgId, "api_key")));
  const webhookSecret =
    key && sealed.webhookSecretSealed
      ? await unseal(key, sealed.webhookSecretSealed, context(sealed.orgId, "webhook_secret"))
      : null;
  if (!apiKey || (sealed.webhookSecretSealed && !webhookSecret)) {
    log.error("org_upstream_unreadable", { orgId: sealed.orgId, masterKeySet: key !== null });
    throw new GatewayError("upstream_unauthorized", "The gateway cannot use this org's Browser Use account");
  }
  return { apiKey, webhookSecret };
}

/** Seals an org's account for storage; 503 when the deployment has no master key to seal with. */
export async function sealCredentials(
  env: Bindings,
  orgId: string,
  credentials: UpstreamCredentials,
): Promise<SealedUpstream> {
  const key = await sealingKey(env);
  if (!key) {
    throw new GatewayError(
      "encryption_not_configured",
      "Set UPSTREAM_KEY_ENCRYPTION_KEY (base64 of 32 random bytes) to store orgs' own Browser Use keys",
    );
  }
  return {
    orgId,
    apiKeySealed: await seal(key, credentials.apiKey, context(orgId, "api_key")),
    webhookSecretSealed: credentials.webhookSecret
      ? await seal(key, credentials.webhookSecret, context(orgId, "webhook_secret"))
      : null,
  };
}

/** Drops this isolate's opened account of an org, after it changed. */
export function forgetUpstream(orgId: string): void {
  opened.delete(orgId);
}
