// Budgets: each org's and tenant's cap, spent, held, remaining, overshoot and the alert thresholds
// crossed, exactly as GET /gateway/v1/budget (a tenant) or GET /admin/v1/orgs/{id}/budgets (the
// admin: one request per page of an org's tenants, each with what GET /admin/v1/tenants/{id}/budget
// answers). The org's scope is the same in each of its tenants' answers; it is shown once.
import { allPages, getJson } from "./api.js";
import { h, note, show, table } from "./dom.js";
import { toMicros, usd } from "./money.js";

/** Each tenant of the org with its budget scopes: `{ tenantId, name, scopes }`. */
async function tenantBudgets(dir, org) {
  if (dir.role !== "tenant") return allPages(`/admin/v1/orgs/${org.id}/budgets`);
  const { scopes } = await getJson("/gateway/v1/budget");
  return org.tenants.map((t) => ({ tenantId: t.id, name: t.name, scopes }));
}

function bar(scope) {
  if (scope.capUsd === null) return "no cap";
  // The bar's length only: micro-USD integers, never a money figure shown through a float.
  const cap = Number(toMicros(scope.capUsd));
  const used = Number(toMicros(scope.spentUsd) + toMicros(scope.heldUsd));
  return h(
    "meter",
    {
      min: 0,
      max: cap || 1,
      value: Math.min(used, cap),
      "aria-label": `${usd(scope.remainingUsd)} remaining`,
    },
    usd(scope.remainingUsd),
  );
}

function row(scope, name, id) {
  const cell = (field, text, cls = "num") => h("td", { class: cls, "data-field": field }, text);
  const overshoot = scope.overshootUsd !== "0";
  return h(
    "tr",
    { "data-scope": scope.scope, "data-id": id },
    h("th", { scope: "row" }, name, h("br"), h("small", {}, `${scope.scope} · ${scope.periodKey}`)),
    cell("capUsd", usd(scope.capUsd)),
    cell("spentUsd", usd(scope.spentUsd)),
    cell("heldUsd", usd(scope.heldUsd)),
    cell("remainingUsd", scope.remainingUsd === null ? "—" : usd(scope.remainingUsd)),
    h("td", {}, bar(scope)),
    h("td", { class: overshoot ? "num over" : "num", "data-field": "overshootUsd" }, usd(scope.overshootUsd)),
    cell(
      "thresholdsCrossed",
      scope.thresholdsCrossed.length ? scope.thresholdsCrossed.map((t) => `${t}%`).join(", ") : "none",
      "",
    ),
  );
}

const HEADERS = ["Scope", "Cap", "Spent", "Held", "Remaining", "Used", "Overshoot", "Thresholds crossed"];

export async function renderBudgets(root, dir) {
  show(root, note("Loading…"));
  const sections = [];
  for (const org of dir.orgs) {
    const tenants = await tenantBudgets(dir, org);
    const rows = [];
    const orgScope = tenants[0]?.scopes.find((s) => s.scope === "org");
    if (orgScope) rows.push(row(orgScope, org.name, org.id));
    for (const { tenantId, name, scopes } of tenants) {
      const scope = scopes.find((s) => s.scope === "tenant");
      if (scope) rows.push(row(scope, name, tenantId));
    }
    sections.push(
      rows.length
        ? h("div", { class: "scroll" }, table(org.name, HEADERS, rows, { "data-org": org.id }))
        : h("p", { class: "hint" }, `${org.name}: no tenants yet.`),
    );
  }
  show(root, sections.length ? sections : note("No orgs yet."));
}
