import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { GatewayError } from "../src/lib/errors";
import {
  UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES,
  UPSTREAM_DEFAULT_COUNTRY,
  UPSTREAM_DEFAULT_MODEL,
  applyBrowserPolicy,
  applySessionPolicy,
  formatApplied,
} from "../src/policy/apply";
import { PolicyDocument } from "../src/policy/document";
import { effectivePolicy, narrowingIssues } from "../src/policy/effective";
import { loadEffectivePolicy } from "../src/policy/load";
import { CreateBrowserSessionRequest, RunTaskRequest } from "../src/v3/schemas";
import { ADMIN_TOKEN, adminPost, asTenant, expectJson, gateway, newTenant, putPolicy } from "./helpers";

type Issue = { type: string; loc: (string | number)[]; msg: string; input?: unknown };

const doc = (value: PolicyDocument): PolicyDocument => PolicyDocument.parse(value);
const policy = (org: PolicyDocument | null, tenant: PolicyDocument | null = null) =>
  effectivePolicy(org, tenant);

/** The GatewayError `run` throws; fails the test when it returns. */
function refusal(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    if (err instanceof GatewayError) return err;
    throw err;
  }
  throw new Error("expected a GatewayError, but the call returned");
}

describe("effectivePolicy", () => {
  it("restricts nothing when neither org nor tenant has a document", () => {
    expect(policy(null, null)).toEqual({
      orgBudget: null,
      tenantBudget: null,
      maxTaskCostMicros: null,
      defaultTaskCostMicros: null,
      minHoldMicros: null,
      allowedCountries: null,
      defaultCountry: null,
      allowNoProxy: true,
      allowedModels: null,
      allowKeepAlive: true,
      allowSkills: false,
      allowScheduledTasks: false,
      allowOwnKey: false,
      maxIdleMinutes: null,
      maxConcurrentSessions: null,
      orgMaxConcurrentSessions: null,
      requestsPerMinute: null,
      maxBrowserTimeoutMinutes: null,
      browserProxyAllowanceMicros: 100_000,
    });
  });

  it("intersects allowlists, and an absent list restricts nothing", () => {
    const org = doc({ allowedCountries: ["de", "fr", "it"], allowedModels: ["bu-mini", "bu-max"] });
    const tenant = doc({ allowedCountries: ["fr", "it", "es"] });
    const both = policy(org, tenant);
    expect([...(both.allowedCountries ?? [])].sort()).toEqual(["fr", "it"]);
    expect([...(both.allowedModels ?? [])].sort()).toEqual(["bu-max", "bu-mini"]);
    expect([...(policy(null, tenant).allowedCountries ?? [])].sort()).toEqual(["es", "fr", "it"]);
    expect(policy(null, doc({ allowedModels: [] })).allowedModels?.size).toBe(0);
  });

  it("takes the smaller of each ceiling and the larger minimum hold", () => {
    const org = doc({
      maxTaskCostUsd: "5.00",
      minHoldUsd: "0.01",
      maxIdleMinutes: 10,
      maxConcurrentSessions: 5,
      requestsPerMinute: 120,
      maxBrowserTimeoutMinutes: 60,
      browserProxyAllowanceUsd: "0.50",
    });
    const tenant = doc({
      maxTaskCostUsd: "2.5",
      minHoldUsd: "0.05",
      requestsPerMinute: 30,
      maxIdleMinutes: 20,
      browserProxyAllowanceUsd: "0.2",
    });
    expect(policy(org, tenant)).toMatchObject({
      maxTaskCostMicros: 2_500_000,
      minHoldMicros: 50_000,
      maxIdleMinutes: 10,
      maxConcurrentSessions: 5,
      requestsPerMinute: 30,
      maxBrowserTimeoutMinutes: 60,
      browserProxyAllowanceMicros: 200_000,
    });
    expect(narrowingIssues(org, doc({ browserProxyAllowanceUsd: "1" })).map((i) => i.loc.join("."))).toEqual([
      "body.browserProxyAllowanceUsd",
    ]);
  });

  it("allows keepAlive and no-proxy unless either scope says false", () => {
    expect(policy(doc({}), doc({}))).toMatchObject({ allowKeepAlive: true, allowNoProxy: true });
    expect(policy(doc({ allowKeepAlive: false }), doc({ allowKeepAlive: true })).allowKeepAlive).toBe(false);
    expect(policy(doc({ allowNoProxy: true }), doc({ allowNoProxy: false })).allowNoProxy).toBe(false);
  });

  it("uses the tenant's default country over the org's", () => {
    const org = doc({ allowedCountries: ["de", "fr"], defaultCountry: "de" });
    expect(policy(org, doc({ defaultCountry: "fr" })).defaultCountry).toBe("fr");
    expect(policy(org, doc({})).defaultCountry).toBe("de");
    expect(policy(null, doc({ defaultCountry: "jp" })).defaultCountry).toBe("jp");
  });

  it("moves an inherited default country that the combined allowlist excludes to the first allowed one", () => {
    const org = doc({ allowedCountries: ["de", "fr", "it"], defaultCountry: "de" });
    expect(policy(org, doc({ allowedCountries: ["it", "fr"] })).defaultCountry).toBe("fr");
    // The org narrowed after the tenant chose "fr": the org's own default still fits.
    const narrowed = doc({ allowedCountries: ["de"], defaultCountry: "de" });
    expect(policy(narrowed, doc({ defaultCountry: "fr" })).defaultCountry).toBe("de");
    expect(policy(doc({ allowedCountries: [] }), doc({ defaultCountry: "fr" })).defaultCountry).toBeNull();
  });

  it("caps the default task cost at the combined ceiling and prefers the tenant's", () => {
    const org = doc({ maxTaskCostUsd: "5", defaultTaskCostUsd: "4" });
    expect(policy(org, doc({ maxTaskCostUsd: "3" })).defaultTaskCostMicros).toBe(3_000_000);
    expect(policy(org, doc({ defaultTaskCostUsd: "0.5" })).defaultTaskCostMicros).toBe(500_000);
    expect(policy(null, doc({ defaultTaskCostUsd: "1.25" })).defaultTaskCostMicros).toBe(1_250_000);
  });

  it("keeps the org's and the tenant's budgets apart and defaults the time zone to UTC", () => {
    const org = doc({ budget: { capUsd: "100.00", period: "month", timeZone: "Europe/Berlin" } });
    expect(policy(org, doc({}))).toMatchObject({
      orgBudget: { capMicros: 100_000_000, period: "month", timeZone: "Europe/Berlin" },
      tenantBudget: null,
    });
    const tenant = doc({ budget: { capUsd: "7.5", period: "day" } });
    expect(policy(org, tenant).tenantBudget).toEqual({
      capMicros: 7_500_000,
      period: "day",
      timeZone: "UTC",
    });
  });
});

describe("loadEffectivePolicy", () => {
  it("keeps two orgs' policies apart for owners with no tenant, though both spell it the same", async () => {
    const a = await newTenant();
    const b = await newTenant();
    await putPolicy("orgs", a.orgId, { maxIdleMinutes: 1 });
    await putPolicy("orgs", b.orgId, { maxIdleMinutes: 30 });
    const noTenant = (orgId: string) => loadEffectivePolicy(env.DB, { orgId, tenantId: "" });
    expect((await noTenant(a.orgId)).maxIdleMinutes).toBe(1);
    expect((await noTenant(b.orgId)).maxIdleMinutes).toBe(30);
  });
});

describe("narrowingIssues", () => {
  it("finds nothing when the org has no document or the tenant stays inside it", () => {
    expect(narrowingIssues(null, doc({ allowedCountries: ["us"], maxTaskCostUsd: "1000" }))).toEqual([]);
    const org = doc({ allowedCountries: ["de", "fr"], maxTaskCostUsd: "5", allowKeepAlive: false });
    const tenant = doc({ allowedCountries: ["fr"], maxTaskCostUsd: "5.000", allowKeepAlive: false });
    expect(narrowingIssues(org, tenant)).toEqual([]);
  });

  it("lets a tenant set what the org leaves unset", () => {
    const tenant = doc({
      allowedModels: ["bu-ultra"],
      requestsPerMinute: 1000,
      budget: { capUsd: "9", period: "none" },
    });
    expect(narrowingIssues(doc({ allowedCountries: ["de"] }), tenant)).toEqual([]);
  });

  it("lists every field where the tenant would widen the org's policy", () => {
    const org = doc({
      budget: { capUsd: "100", period: "month" },
      maxTaskCostUsd: "5",
      minHoldUsd: "0.10",
      allowedCountries: ["de", "fr"],
      allowNoProxy: false,
      allowedModels: ["bu-mini"],
      allowKeepAlive: false,
      maxIdleMinutes: 10,
      maxConcurrentSessions: 5,
      requestsPerMinute: 120,
      maxBrowserTimeoutMinutes: 60,
    });
    const tenant = doc({
      budget: { capUsd: "100.01", period: "day" },
      maxTaskCostUsd: "6",
      defaultTaskCostUsd: "5.5",
      minHoldUsd: "0.01",
      allowedCountries: ["fr", "us", "de", "jp"],
      defaultCountry: "us",
      allowNoProxy: true,
      allowedModels: ["bu-mini", "bu-max"],
      allowKeepAlive: true,
      maxIdleMinutes: 11,
      maxConcurrentSessions: 6,
      requestsPerMinute: 121,
      maxBrowserTimeoutMinutes: 61,
    });
    const issues = narrowingIssues(org, tenant);
    expect(issues.every((i) => i.type === "policy_widens" && i.msg.length > 0)).toBe(true);
    expect(issues.map((i) => i.loc.join("."))).toEqual([
      "body.allowedCountries.1",
      "body.allowedCountries.3",
      "body.allowedModels.1",
      "body.defaultCountry",
      "body.maxTaskCostUsd",
      "body.defaultTaskCostUsd",
      "body.minHoldUsd",
      "body.maxIdleMinutes",
      "body.maxConcurrentSessions",
      "body.requestsPerMinute",
      "body.maxBrowserTimeoutMinutes",
      "body.allowKeepAlive",
      "body.allowNoProxy",
      "body.budget.capUsd",
    ]);
    expect(issues[0]).toMatchObject({ input: "us", msg: "'us' is not in the org's allowedCountries" });
  });

  it("counts no-proxy as widening where the org restricts countries and does not turn it on", () => {
    const wide = doc({ allowNoProxy: true });
    const locs = (org: PolicyDocument) => narrowingIssues(org, wide).map((i) => i.loc.join("."));
    expect(locs(doc({ allowedCountries: ["de"] }))).toEqual(["body.allowNoProxy"]);
    expect(locs(doc({ allowedCountries: ["de"], allowNoProxy: true }))).toEqual([]);
    expect(locs(doc({}))).toEqual([]);
  });
});

describe("applySessionPolicy", () => {
  it("pins the upstream defaults the policy judges absent fields by", () => {
    const session = RunTaskRequest.parse({});
    expect([session.proxyCountryCode, session.model]).toEqual([
      UPSTREAM_DEFAULT_COUNTRY,
      UPSTREAM_DEFAULT_MODEL,
    ]);
    const browser = CreateBrowserSessionRequest.parse({});
    expect([browser.proxyCountryCode, browser.timeout]).toEqual([
      UPSTREAM_DEFAULT_COUNTRY,
      UPSTREAM_DEFAULT_BROWSER_TIMEOUT_MINUTES,
    ]);
  });

  it("forwards the body unchanged when nothing is restricted but skills, which are off by default", () => {
    const body = { task: "t", keepAlive: true, proxyCountryCode: null, maxCostUsd: "9", skills: false };
    expect(applySessionPolicy(body, policy(null))).toEqual({ body, applied: [] });
  });

  it("turns skills off and announces it unless the org allows them, and a tenant may not widen that", () => {
    for (const sent of [{}, { skills: true }]) {
      expect(applySessionPolicy({ task: "t", ...sent }, policy(null))).toEqual({
        body: { task: "t", skills: false },
        applied: ["skills=false"],
      });
    }
    const allowed = policy(doc({ allowSkills: true }));
    expect(applySessionPolicy({ task: "t", skills: true }, allowed)).toEqual({
      body: { task: "t", skills: true },
      applied: [],
    });
    expect(policy(doc({ allowSkills: true }), doc({ allowSkills: false })).allowSkills).toBe(false);
    expect(policy(null, doc({ allowSkills: true })).allowSkills).toBe(false);
    expect(narrowingIssues(null, doc({ allowSkills: true })).map((i) => i.loc.join("."))).toEqual([
      "body.allowSkills",
    ]);
  });

  it("refuses scheduled tasks with 403 unless the org allows them", () => {
    const err = refusal(() => applySessionPolicy({ task: "t", enableScheduledTasks: true }, policy(null)));
    expect(err).toMatchObject({ code: "scheduled_tasks_not_allowed", status: 403 });
    const allowed = policy(doc({ allowScheduledTasks: true }));
    expect(
      applySessionPolicy({ task: "t", enableScheduledTasks: true, skills: false }, allowed).applied,
    ).toEqual([]);
    expect(
      narrowingIssues(doc({ allowScheduledTasks: false }), doc({ allowScheduledTasks: true })).map((i) =>
        i.loc.join("."),
      ),
    ).toEqual(["body.allowScheduledTasks"]);
  });

  it("refuses useOwnKey with 403 unless the org allows it, and a tenant cannot allow it by itself", () => {
    const err = refusal(() => applySessionPolicy({ task: "t", useOwnKey: true }, policy(null)));
    expect(err).toMatchObject({ code: "own_key_not_allowed", status: 403 });
    expect(applySessionPolicy({ task: "t", useOwnKey: false, skills: false }, policy(null)).applied).toEqual(
      [],
    );
    const allowed = policy(doc({ allowOwnKey: true }));
    expect(applySessionPolicy({ task: "t", useOwnKey: true, skills: false }, allowed).applied).toEqual([]);
    expect(policy(doc({ allowOwnKey: true }), doc({ allowOwnKey: false })).allowOwnKey).toBe(false);
    expect(policy(null, doc({ allowOwnKey: true })).allowOwnKey).toBe(false);
    expect(narrowingIssues(null, doc({ allowOwnKey: true })).map((i) => i.loc.join("."))).toEqual([
      "body.allowOwnKey",
    ]);
  });

  it("injects the default country when none is sent, without mutating the input", () => {
    const body = { task: "t" };
    const result = applySessionPolicy(
      body,
      policy(doc({ allowedCountries: ["de", "fr"], defaultCountry: "de" })),
    );
    expect(result).toEqual({
      body: { task: "t", proxyCountryCode: "de", skills: false },
      applied: ["proxyCountryCode=de", "skills=false"],
    });
    expect(body).toEqual({ task: "t" });
    const defaultOnly = applySessionPolicy({ task: "t" }, policy(doc({ defaultCountry: "jp" })));
    expect(defaultOnly.body.proxyCountryCode).toBe("jp");
  });

  it("does not let upstream's default 'us' slip past an allowlist without a default", () => {
    const err = refusal(() =>
      applySessionPolicy({ task: "t" }, policy(doc({ allowedCountries: ["fr", "de"] }))),
    );
    expect(err).toMatchObject({ code: "country_not_allowed", status: 403, extra: { allowed: ["de", "fr"] } });
    expect(err.detail).toMatch(/No proxyCountryCode was given.*'us'.*de, fr/);
  });

  it("names 'us' explicitly when the allowlist admits it and no default is set", () => {
    const result = applySessionPolicy({ task: "t" }, policy(doc({ allowedCountries: ["us", "ca"] })));
    expect(result).toEqual({
      body: { task: "t", proxyCountryCode: "us", skills: false },
      applied: ["proxyCountryCode=us", "skills=false"],
    });
  });

  it("refuses a country outside the allowlist and passes one inside it", () => {
    const p = policy(doc({ allowedCountries: ["de"] }), doc({ defaultCountry: "de" }));
    const err = refusal(() => applySessionPolicy({ task: "t", proxyCountryCode: "us" }, p));
    expect(err).toMatchObject({ code: "country_not_allowed", status: 403, extra: { allowed: ["de"] } });
    expect(err.detail).toContain("'us'");
    expect(applySessionPolicy({ task: "t", proxyCountryCode: "de", skills: false }, p)).toEqual({
      body: { task: "t", proxyCountryCode: "de", skills: false },
      applied: [],
    });
  });

  it("passes a null proxy only where the policy allows no-proxy", () => {
    const body = { task: "t", proxyCountryCode: null, skills: false };
    // No country restriction: as upstream allows it.
    expect(applySessionPolicy(body, policy(doc({}))).body).toEqual(body);
    // Countries restricted: only when a scope says allowNoProxy: true.
    const restricted = refusal(() => applySessionPolicy(body, policy(doc({ allowedCountries: ["de"] }))));
    expect(restricted).toMatchObject({ code: "country_not_allowed", status: 403 });
    const allowed = policy(doc({ allowedCountries: ["de"], allowNoProxy: true }));
    expect(applySessionPolicy(body, allowed).body).toEqual(body);
    // Forbidden in either scope: refused, whatever the other says.
    const err = refusal(() =>
      applySessionPolicy(body, policy(doc({ allowNoProxy: true }), doc({ allowNoProxy: false }))),
    );
    expect(err).toMatchObject({ code: "country_not_allowed", status: 403 });
    expect(err.detail).toMatch(/no proxy/i);
  });

  it("refuses a null proxy where the org restricts countries later, whatever the tenant's stored allowNoProxy says", () => {
    // The tenant's allowNoProxy: true was stored while its org restricted no country (it widened
    // nothing then); the org has since restricted countries without turning no-proxy on.
    const p = policy(doc({ allowedCountries: ["de"] }), doc({ allowNoProxy: true }));
    expect(p.allowNoProxy).toBe(false);
    const body = { task: "t", proxyCountryCode: null, skills: false };
    expect(refusal(() => applySessionPolicy(body, p))).toMatchObject({ code: "country_not_allowed" });
    // A tenant that restricts countries itself, under an org that restricts none, may still turn it on.
    expect(policy(doc({}), doc({ allowedCountries: ["de"], allowNoProxy: true })).allowNoProxy).toBe(true);
  });

  it("refuses a model outside the allowlist and passes one inside it", () => {
    const p = policy(doc({ allowedModels: ["bu-mini", "bu-max"] }));
    const err = refusal(() => applySessionPolicy({ task: "t", model: "bu-ultra" }, p));
    expect(err).toMatchObject({
      code: "model_not_allowed",
      status: 403,
      extra: { allowed: ["bu-max", "bu-mini"] },
    });
    expect(applySessionPolicy({ task: "t", model: "bu-mini", skills: false }, p).applied).toEqual([]);
  });

  it("refuses an absent model whose upstream default is not allowed, and does not pick one; names an allowed default", () => {
    const err = refusal(() => applySessionPolicy({ task: "t" }, policy(doc({ allowedModels: ["bu-mini"] }))));
    expect(err).toMatchObject({ code: "model_not_allowed", extra: { allowed: ["bu-mini"] } });
    expect(err.detail).toMatch(/No model was given.*claude-opus-4\.7.*set model to one of: bu-mini/);
    const allowed = applySessionPolicy(
      { task: "t", skills: false },
      policy(doc({ allowedModels: [UPSTREAM_DEFAULT_MODEL] })),
    );
    // Named, so the model upstream runs is the one judged, whatever its default becomes.
    expect(allowed).toEqual({
      body: { task: "t", skills: false, model: UPSTREAM_DEFAULT_MODEL },
      applied: [`model=${UPSTREAM_DEFAULT_MODEL}`],
    });
  });

  it("refuses keepAlive true where keepAlive is not allowed", () => {
    const p = policy(doc({ allowKeepAlive: false }));
    expect(refusal(() => applySessionPolicy({ task: "t", keepAlive: true }, p))).toMatchObject({
      code: "keep_alive_not_allowed",
      status: 403,
    });
    expect(applySessionPolicy({ task: "t", keepAlive: false, skills: false }, p).applied).toEqual([]);
  });

  it("leaves maxCostUsd to the budget code", () => {
    const p = policy(doc({ maxTaskCostUsd: "1", defaultTaskCostUsd: "0.5" }));
    expect(applySessionPolicy({ task: "t", maxCostUsd: 50, skills: false }, p)).toEqual({
      body: { task: "t", maxCostUsd: 50, skills: false },
      applied: [],
    });
  });
});

describe("applyBrowserPolicy", () => {
  it("applies the same country rules as sessions", () => {
    const p = policy(doc({ allowedCountries: ["de", "fr"], defaultCountry: "fr", allowNoProxy: false }));
    expect(applyBrowserPolicy({}, p)).toEqual({
      body: { proxyCountryCode: "fr" },
      applied: ["proxyCountryCode=fr"],
    });
    expect(refusal(() => applyBrowserPolicy({ proxyCountryCode: "us" }, p)).code).toBe("country_not_allowed");
    expect(refusal(() => applyBrowserPolicy({ proxyCountryCode: null }, p)).code).toBe("country_not_allowed");
    const noDefault = policy(doc({ allowedCountries: ["de"] }));
    expect(refusal(() => applyBrowserPolicy({}, noDefault)).code).toBe("country_not_allowed");
  });

  it("injects the timeout ceiling when upstream's default of 60 minutes would exceed it", () => {
    expect(applyBrowserPolicy({}, policy(doc({ maxBrowserTimeoutMinutes: 15 })))).toEqual({
      body: { timeout: 15 },
      applied: ["timeout=15"],
    });
    expect(applyBrowserPolicy({}, policy(doc({ maxBrowserTimeoutMinutes: 60 })))).toEqual({
      body: {},
      applied: [],
    });
  });

  it("refuses a timeout above the ceiling and passes one at it", () => {
    const p = policy(doc({ maxBrowserTimeoutMinutes: 120 }), doc({ maxBrowserTimeoutMinutes: 30 }));
    const err = refusal(() => applyBrowserPolicy({ timeout: 31 }, p));
    expect(err).toMatchObject({ code: "timeout_not_allowed", status: 403, extra: { maxTimeoutMinutes: 30 } });
    expect(applyBrowserPolicy({ timeout: 30 }, p)).toEqual({ body: { timeout: 30 }, applied: [] });
  });

  it("formats the applied changes for X-Gateway-Applied", () => {
    expect(formatApplied(["maxCostUsd=2.50", "proxyCountryCode=de"])).toBe(
      "maxCostUsd=2.50, proxyCountryCode=de",
    );
    expect(formatApplied([])).toBe("");
  });
});

// ---------------------------------------------------------------------------------------------
// Through the admin API.

const admin = (path: string, init: { method?: string; body?: unknown; token?: string } = {}) =>
  gateway(path, {
    method: init.method ?? "GET",
    headers: {
      Authorization: `Bearer ${init.token ?? ADMIN_TOKEN}`,
      ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
const put = (path: string, body: unknown) => admin(path, { method: "PUT", body });

async function newOrg(): Promise<string> {
  return (await adminPost("/admin/v1/orgs", { name: `org-${crypto.randomUUID()}` })).id as string;
}
async function newTenantIn(orgId: string): Promise<string> {
  return (await adminPost(`/admin/v1/orgs/${orgId}/tenants`, { name: `tenant-${crypto.randomUUID()}` }))
    .id as string;
}

const FULL = {
  budget: { capUsd: "100.00", period: "month", timeZone: "Europe/Berlin" },
  maxTaskCostUsd: "5.00",
  defaultTaskCostUsd: "1.00",
  minHoldUsd: "0.01",
  allowedCountries: ["de", "fr"],
  defaultCountry: "de",
  allowNoProxy: false,
  allowedModels: ["bu-mini", "bu-max"],
  allowKeepAlive: true,
  maxIdleMinutes: 10,
  maxConcurrentSessions: 5,
  requestsPerMinute: 120,
  maxBrowserTimeoutMinutes: 60,
};

describe("admin policy API", () => {
  it("stores an org's document and returns it as it was put", async () => {
    const orgId = await newOrg();
    expect(await expectJson(await admin(`/admin/v1/orgs/${orgId}/policy`), 200)).toEqual({});
    expect(await expectJson(await put(`/admin/v1/orgs/${orgId}/policy`, FULL), 200)).toEqual(FULL);
    expect(await expectJson(await admin(`/admin/v1/orgs/${orgId}/policy`), 200)).toEqual(FULL);
  });

  it("replaces the whole document on PUT", async () => {
    const tenantId = await newTenantIn(await newOrg());
    await expectJson(
      await put(`/admin/v1/tenants/${tenantId}/policy`, { requestsPerMinute: 5, allowKeepAlive: false }),
      200,
    );
    await expectJson(await put(`/admin/v1/tenants/${tenantId}/policy`, { requestsPerMinute: 7 }), 200);
    expect(await expectJson(await admin(`/admin/v1/tenants/${tenantId}/policy`), 200)).toEqual({
      requestsPerMinute: 7,
    });
  });

  it("refuses bad documents with 422 and stores nothing", async () => {
    const orgId = await newOrg();
    const path = `/admin/v1/orgs/${orgId}/policy`;
    const cases: [unknown, string, string][] = [
      [{ maxTaskCostUsd: 5.0 }, "body.maxTaskCostUsd", "string_type"],
      [{ budget: { capUsd: 100, period: "month" } }, "body.budget.capUsd", "string_type"],
      [{ minHoldUsd: "-1" }, "body.minHoldUsd", "string_pattern_mismatch"],
      [{ maxSpend: "1" }, "body.maxSpend", "extra_forbidden"],
      [{ budget: { capUsd: "1", period: "month", resetDay: 1 } }, "body.budget.resetDay", "extra_forbidden"],
      [
        { budget: { capUsd: "1", period: "month", timeZone: "Mars/Olympus" } },
        "body.budget.timeZone",
        "value_error",
      ],
      [{ budget: { capUsd: "1", period: "year" } }, "body.budget.period", "enum"],
      [{ allowedCountries: ["de", "zz"] }, "body.allowedCountries.1", "enum"],
      [{ allowedModels: ["gpt-1"] }, "body.allowedModels.0", "enum"],
      [{ allowedCountries: ["fr"], defaultCountry: "de" }, "body.defaultCountry", "value_error"],
      [{ maxTaskCostUsd: "1", defaultTaskCostUsd: "2" }, "body.defaultTaskCostUsd", "value_error"],
      [{ maxBrowserTimeoutMinutes: 241 }, "body.maxBrowserTimeoutMinutes", "less_than_equal"],
      [{ maxConcurrentSessions: 0 }, "body.maxConcurrentSessions", "greater_than_equal"],
      [{ requestsPerMinute: 1.5 }, "body.requestsPerMinute", "int_from_float"],
    ];
    for (const [body, loc, type] of cases) {
      const res = await expectJson<{ detail: Issue[] }>(await put(path, body), 422);
      expect(
        res.detail.map((i) => [i.loc.join("."), i.type]),
        JSON.stringify({ body, res }),
      ).toContainEqual([loc, type]);
    }
    expect(await expectJson(await admin(path), 200)).toEqual({});
    const row = await env.DB.prepare("SELECT count(*) AS n FROM policies WHERE scope_id = ?")
      .bind(orgId)
      .first("n");
    expect(row).toBe(0);
  });

  it("answers 404 for an unknown org or tenant and stores nothing", async () => {
    const unknown = crypto.randomUUID();
    for (const path of [`/admin/v1/orgs/${unknown}/policy`, `/admin/v1/tenants/${unknown}/policy`]) {
      expect(await expectJson(await put(path, { requestsPerMinute: 1 }), 404)).toMatchObject({
        code: "not_found",
      });
      expect(await expectJson(await admin(path), 404)).toMatchObject({ code: "not_found" });
    }
    expect(await expectJson(await admin(`/admin/v1/tenants/${unknown}/policy/effective`), 404)).toMatchObject(
      {
        code: "not_found",
      },
    );
    const row = await env.DB.prepare("SELECT count(*) AS n FROM policies WHERE scope_id = ?")
      .bind(unknown)
      .first("n");
    expect(row).toBe(0);
  });

  it("refuses a policy request without the admin token", async () => {
    const orgId = await newOrg();
    const res = await admin(`/admin/v1/orgs/${orgId}/policy`, { method: "PUT", body: {}, token: "wrong" });
    expect(await expectJson(res, 401)).toMatchObject({ code: "admin_unauthorized" });
    expect(await expectJson(await admin(`/admin/v1/orgs/${orgId}/policy`), 200)).toEqual({});
  });

  it("refuses a tenant document that widens its org's, and stores nothing", async () => {
    const orgId = await newOrg();
    const tenantId = await newTenantIn(orgId);
    await expectJson(await put(`/admin/v1/orgs/${orgId}/policy`, FULL), 200);
    const res = await put(`/admin/v1/tenants/${tenantId}/policy`, {
      allowedCountries: ["de", "us"],
      allowedModels: ["bu-mini"],
      maxConcurrentSessions: 6,
      budget: { capUsd: "200", period: "month" },
    });
    const body = await expectJson<{ detail: Issue[]; code: string }>(res, 422);
    expect(body.code).toBe("validation_error");
    expect(body.detail.map((i) => [i.type, i.loc.join(".")])).toEqual([
      ["policy_widens", "body.allowedCountries.1"],
      ["policy_widens", "body.maxConcurrentSessions"],
      ["policy_widens", "body.budget.capUsd"],
    ]);
    expect(await expectJson(await admin(`/admin/v1/tenants/${tenantId}/policy`), 200)).toEqual({});
  });

  it("accepts a tenant document that narrows its org's, or one under an org without a policy", async () => {
    const orgId = await newOrg();
    const [narrow, free] = [await newTenantIn(orgId), await newTenantIn(await newOrg())];
    await expectJson(await put(`/admin/v1/orgs/${orgId}/policy`, FULL), 200);
    const narrower = {
      allowedCountries: ["fr"],
      maxTaskCostUsd: "2.50",
      budget: { capUsd: "10", period: "week" },
    };
    expect(await expectJson(await put(`/admin/v1/tenants/${narrow}/policy`, narrower), 200)).toEqual(
      narrower,
    );
    const wide = { allowedCountries: ["us"], maxConcurrentSessions: 100 };
    expect(await expectJson(await put(`/admin/v1/tenants/${free}/policy`, wide), 200)).toEqual(wide);
  });

  it("keeps a tenant off no-proxy once its org restricts countries, though the tenant's document turned it on before", async () => {
    const t = await newTenant();
    await putPolicy("tenants", t.tenantId, { allowNoProxy: true });
    await putPolicy("orgs", t.orgId, { allowedCountries: ["de"], defaultCountry: "de" });
    const session = await asTenant(t.key, "/api/v3/sessions", {
      body: { task: "no proxy", proxyCountryCode: null },
    });
    expect(await expectJson(session, 403)).toMatchObject({ code: "country_not_allowed" });
    const browser = await asTenant(t.key, "/api/v3/browsers", {
      body: { proxyCountryCode: null, timeout: 5 },
    });
    expect(await expectJson(browser, 403)).toMatchObject({ code: "country_not_allowed" });
    const view = await expectJson(await admin(`/admin/v1/tenants/${t.tenantId}/policy/effective`), 200);
    expect(view).toMatchObject({ allowedCountries: ["de"], allowNoProxy: false });
  });

  it("shows a tenant's effective policy with money as decimal strings", async () => {
    const orgId = await newOrg();
    const tenantId = await newTenantIn(orgId);
    await expectJson(await put(`/admin/v1/orgs/${orgId}/policy`, FULL), 200);
    await expectJson(
      await put(`/admin/v1/tenants/${tenantId}/policy`, {
        allowedCountries: ["fr"],
        maxTaskCostUsd: "2.50",
        budget: { capUsd: "10", period: "week" },
        requestsPerMinute: 30,
      }),
      200,
    );
    const view = await expectJson(await admin(`/admin/v1/tenants/${tenantId}/policy/effective`), 200);
    expect(view).toEqual({
      orgBudget: { capUsd: "100", period: "month", timeZone: "Europe/Berlin" },
      tenantBudget: { capUsd: "10", period: "week", timeZone: "UTC" },
      maxTaskCostUsd: "2.5",
      defaultTaskCostUsd: "1",
      minHoldUsd: "0.01",
      allowedCountries: ["fr"],
      defaultCountry: "fr",
      allowNoProxy: false,
      allowedModels: ["bu-max", "bu-mini"],
      allowKeepAlive: true,
      allowSkills: false,
      allowScheduledTasks: false,
      allowOwnKey: false,
      maxIdleMinutes: 10,
      maxConcurrentSessions: 5,
      requestsPerMinute: 30,
      maxBrowserTimeoutMinutes: 60,
      browserProxyAllowanceUsd: "0.1",
    });
  });
});
