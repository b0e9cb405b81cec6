import { GatewayError } from "../lib/errors";
import { BROWSER_TIMEOUT_MAX_MINUTES, ERROR_DETAILS } from "../v3/schemas";
import type { EffectivePolicy } from "./effective";

/**
 * What upstream does with a field the client leaves out (the defaults of RunTaskRequest and
 * CreateBrowserSessionRequest). The policy must judge these, not just the fields that were sent,
 * or an absent field would slip past an allowlist.
 */
export const UPSTREAM_DEFAULT_COUNTRY = "us";
export const UPSTREAM_DEFAULT_MODEL = "claude-opus-4.7";
export const UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES = 60;

type Body = Record<string, unknown>;

/** A request body after policy: what to forward, and each change made, as `field=value`. */
export interface PolicyResult {
  body: Body;
  applied: string[];
}

/**
 * Enforces the policy on a validated `POST /sessions` body (the client's raw JSON): proxy
 * country, model, keepAlive (a follow-up naming none is sent `keepAlive: false` where it is not
 * allowed) and the account-wide features (skills, scheduled tasks, the account's own LLM key).
 * Refuses with 403, or returns the body to forward with the default country injected and
 * `skills` off unless allowed (upstream's default is on, and skills learnt in one tenant's runs
 * would be used in every other's on the account). maxCostUsd is the budget's business, not this
 * function's.
 */
export function applySessionPolicy(body: Body, policy: EffectivePolicy): PolicyResult {
  const out = { ...body };
  const applied: string[] = [];
  // A follow-up runs behind its session's proxy and, naming no model, on its session's model:
  // what it leaves out is not upstream's default, and applyFollowUpPolicy judges the session's.
  const followUp = out.sessionId != null;
  if (!(followUp && out.proxyCountryCode === undefined)) applyCountry(out, policy, applied);

  const allowedModels: ReadonlySet<string> | null = policy.allowedModels;
  const model = out.model === undefined ? UPSTREAM_DEFAULT_MODEL : String(out.model);
  if (allowedModels && !allowedModels.has(model) && !(followUp && out.model === undefined)) {
    const allowed = [...allowedModels].sort();
    // No model is injected on the client's behalf: which one to pay for is the client's choice.
    const detail =
      out.model === undefined
        ? `No model was given and the default '${UPSTREAM_DEFAULT_MODEL}' is not allowed by your policy; set model to one of: ${list(allowed)}`
        : `Model '${model}' is not allowed by your policy; allowed: ${list(allowed)}`;
    throw new GatewayError("model_not_allowed", detail, {}, { allowed });
  }
  // Judged by upstream's documented default, a request naming no model is sent with it named, so
  // the model forwarded is the one checked (upstream may change its default; as for countries).
  if (allowedModels && out.model === undefined && !followUp) {
    out.model = UPSTREAM_DEFAULT_MODEL;
    applied.push(`model=${UPSTREAM_DEFAULT_MODEL}`);
  }

  if (out.keepAlive === true && !policy.allowKeepAlive) {
    throw new GatewayError("keep_alive_not_allowed", "keepAlive is not allowed by your policy");
  }
  // A follow-up that names no keepAlive leaves its session's as it was: one kept alive under an
  // earlier policy would sit idle again after this task, so where keepAlive is not allowed the
  // follow-up ends it.
  if (out.sessionId != null && out.keepAlive === undefined && !policy.allowKeepAlive) {
    out.keepAlive = false;
    applied.push("keepAlive=false");
  }
  if (out.enableScheduledTasks === true && !policy.allowScheduledTasks) {
    throw new GatewayError(
      "scheduled_tasks_not_allowed",
      "enableScheduledTasks is not allowed by your policy: scheduled tasks are visible to the whole upstream account",
    );
  }
  // The provider bills the account's own LLM key directly; upstream reports, and its maxCostUsd
  // bounds, only its 0.2x fee, so a hold would cover a fraction of what the task costs the org.
  if (out.useOwnKey === true && !policy.allowOwnKey) {
    throw new GatewayError(
      "own_key_not_allowed",
      "useOwnKey is not allowed by your policy: inference on the account's own LLM key is billed outside your budget",
    );
  }
  if (!policy.allowSkills && out.skills !== false) {
    out.skills = false;
    applied.push("skills=false");
  }
  return { body: out, applied };
}

/**
 * Enforces the policy on what a follow-up task runs with that its body does not choose: upstream
 * runs it on its session's browser, behind the proxy the session was created with (a follow-up's
 * `proxyCountryCode` changes nothing), and on the session's model unless the body names one. A
 * session created under a wider policy than today's takes no new task there: 403, as for a create.
 * `session` is the session's view, read just before the dispatch, with `useOwnKey` and
 * `enableScheduledTasks` from the gateway's record of its create: upstream keeps both for every
 * later task, whatever a follow-up says, and no view tells them.
 */
export function applyFollowUpPolicy(session: Body, body: Body, policy: EffectivePolicy): void {
  const allowedCountries: ReadonlySet<string> | null = policy.allowedCountries;
  const country = session.proxyCountryCode;
  // A view that does not say where the session's proxy exits cannot be judged where that matters:
  // upstream's fault, so nothing is sent (a follow-up runs behind its session's proxy, whatever it is).
  if (country === undefined && (allowedCountries !== null || !policy.allowNoProxy)) {
    throw new GatewayError(
      "upstream_bad_response",
      "Browser Use answered the session without its proxyCountryCode, which your policy needs to judge it; nothing was sent",
    );
  }
  if (country === null && !policy.allowNoProxy) {
    throw new GatewayError(
      "country_not_allowed",
      "This session runs without a proxy, which your policy no longer allows; start a new session",
      {},
      { allowed: allowedCountries && [...allowedCountries].sort() },
    );
  }
  if (typeof country === "string" && allowedCountries && !allowedCountries.has(country)) {
    const allowed = [...allowedCountries].sort();
    throw new GatewayError(
      "country_not_allowed",
      `This session runs behind proxy country '${country}', which your policy no longer allows (allowed: ${list(allowed)}); start a new session`,
      {},
      { allowed },
    );
  }
  if (session.useOwnKey === true && !policy.allowOwnKey) {
    throw new GatewayError(
      "own_key_not_allowed",
      "This session runs inference on the account's own LLM key, which your policy no longer allows; start a new session",
    );
  }
  if (session.enableScheduledTasks === true && !policy.allowScheduledTasks) {
    throw new GatewayError(
      "scheduled_tasks_not_allowed",
      "This session was created with enableScheduledTasks, which your policy no longer allows; start a new session",
    );
  }
  const allowedModels: ReadonlySet<string> | null = policy.allowedModels;
  if (body.model === undefined && typeof session.model === "string" && allowedModels) {
    if (!allowedModels.has(session.model)) {
      const allowed = [...allowedModels].sort();
      throw new GatewayError(
        "model_not_allowed",
        `This session runs on model '${session.model}', which your policy no longer allows; set model to one of: ${list(allowed)}`,
        {},
        { allowed },
      );
    }
  }
}

/**
 * Enforces the policy on a validated `POST /browsers` body: proxy country as for sessions, and
 * the `timeout` ceiling, injected when upstream's default would exceed it.
 */
export function applyBrowserPolicy(body: Body, policy: EffectivePolicy): PolicyResult {
  const out = { ...body };
  const applied: string[] = [];
  applyCountry(out, policy, applied);
  // A client's own proxy exits wherever the client likes: with a country allowlist, none may be used.
  if (out.customProxy != null && policy.allowedCountries !== null) {
    throw new GatewayError(
      "country_not_allowed",
      "customProxy is not allowed where your policy restricts proxy countries",
      {},
      { allowed: [...policy.allowedCountries].sort() },
    );
  }

  // Upstream's own limit, refused the way upstream refuses it, before a price is put on it.
  if (typeof out.timeout === "number" && out.timeout > BROWSER_TIMEOUT_MAX_MINUTES) {
    throw new GatewayError(
      "timeout_not_allowed",
      ERROR_DETAILS.sessionTimeoutLimitExceeded,
      {},
      {
        maxTimeoutMinutes: BROWSER_TIMEOUT_MAX_MINUTES,
      },
    );
  }
  const ceiling = policy.maxBrowserTimeoutMinutes;
  if (ceiling !== null) {
    if (out.timeout === undefined) {
      if (UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES > ceiling) {
        out.timeout = ceiling;
        applied.push(`timeout=${ceiling}`);
      }
    } else if (typeof out.timeout === "number" && out.timeout > ceiling) {
      throw new GatewayError(
        "timeout_not_allowed",
        `timeout ${out.timeout} is above your policy's limit of ${ceiling} minutes`,
        {},
        { maxTimeoutMinutes: ceiling },
      );
    }
  }
  return { body: out, applied };
}

/** The `X-Gateway-Applied` header value: `maxCostUsd=2.50, proxyCountryCode=de`; empty for no changes. */
export function formatApplied(applied: string[]): string {
  return applied.join(", ");
}

function applyCountry(out: Body, policy: EffectivePolicy, applied: string[]): void {
  const allowedCountries: ReadonlySet<string> | null = policy.allowedCountries;
  const { defaultCountry } = policy;
  const allowed = allowedCountries && [...allowedCountries].sort();
  const refuse = (detail: string) => new GatewayError("country_not_allowed", detail, {}, { allowed });
  const code = out.proxyCountryCode;

  if (code === undefined) {
    if (!allowedCountries && !defaultCountry) return;
    // Upstream would use "us"; name the country explicitly so the one forwarded is the one checked.
    const chosen = defaultCountry ?? UPSTREAM_DEFAULT_COUNTRY;
    if (allowedCountries && !allowedCountries.has(chosen)) {
      const hint = policy.allowNoProxy ? ", or null for no proxy" : "";
      throw refuse(
        `No proxyCountryCode was given and the default '${chosen}' is not allowed by your policy; set proxyCountryCode to one of: ${list(allowed ?? [])}${hint}`,
      );
    }
    out.proxyCountryCode = chosen;
    applied.push(`proxyCountryCode=${chosen}`);
    return;
  }
  if (code === null) {
    if (!policy.allowNoProxy) throw refuse("proxyCountryCode null (no proxy) is not allowed by your policy");
    return;
  }
  if (allowedCountries && !allowedCountries.has(String(code))) {
    throw refuse(
      `Proxy country '${String(code)}' is not allowed by your policy; allowed: ${list(allowed ?? [])}`,
    );
  }
}

const list = (values: string[]) => (values.length ? values.join(", ") : "(none)");
