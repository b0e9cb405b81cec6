// Refusals (the operator's): the newest refusals by policy and budget from the audit log,
// GET /admin/v1/audit?action=refusal (one row per tenant, code and minute, with its count).
import { getJson } from "./api.js";
import { h, note, show, table, when } from "./dom.js";

export async function renderRefusals(root, dir) {
  show(root, note("Loading…"));
  const { items } = await getJson("/admin/v1/audit", { action: "refusal", pageSize: 100 });
  const rows = items.map((e) =>
    h(
      "tr",
      { "data-entry": e.id, "data-tenant": e.tenantId },
      h("td", {}, when(e.at)),
      h("td", {}, dir.names.get(e.tenantId) ?? e.tenantId ?? "—"),
      h("td", { "data-field": "code" }, h("code", {}, e.code)),
      h("td", { class: "num", "data-field": "count" }, String(e.count)),
      h("td", {}, h("code", {}, e.requestId ?? "—")),
    ),
  );
  show(
    root,
    rows.length
      ? table(
          "The 100 newest refusals",
          ["Minute from", "Tenant", "Code", "Count", "First request id"],
          rows,
          {
            id: "refusals-table",
          },
        )
      : note("No refusals recorded."),
  );
}
