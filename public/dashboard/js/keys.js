// Keys (the operator's): each tenant's keys (prefix, scope, last used, expiry; never the key) from
// GET /admin/v1/orgs/{id}/keys, one request per page of an org's tenants, each with what
// GET /admin/v1/tenants/{id}/keys answers; with rotate (POST /admin/v1/keys/{id}/rotate, the new
// key shown once) and revoke (DELETE /admin/v1/keys/{id}).
import { allPages, send } from "./api.js";
import { h, note, show, table, when } from "./dom.js";

function stateOf(key) {
  if (key.revokedAt) return `revoked ${when(key.revokedAt)}`;
  if (key.expiresAt && Date.parse(key.expiresAt) <= Date.now()) return "expired";
  return "active";
}

export async function renderKeys(root, dir) {
  show(root, note("Loading…"));
  const issued = document.getElementById("keys-issued");
  // A rotated key is shown once: gone on the next render of this view.
  issued.hidden = true;
  issued.replaceChildren();
  const rows = [];
  const tenants = [];
  for (const org of dir.orgs) tenants.push(...(await allPages(`/admin/v1/orgs/${org.id}/keys`)));
  for (const tenant of tenants) {
    for (const key of tenant.keys) {
      const usable = !key.revokedAt;
      const label = `${key.name} (${key.prefix}…) of ${tenant.name}`;
      rows.push(
        h(
          "tr",
          { "data-key": key.id },
          h("th", { scope: "row" }, key.name, h("br"), h("small", {}, tenant.name)),
          h("td", {}, h("code", {}, `${key.prefix}…`)),
          h("td", {}, key.scope),
          h("td", {}, when(key.createdAt)),
          h("td", {}, when(key.lastUsedAt)),
          h("td", {}, key.expiresAt ? when(key.expiresAt) : "never"),
          h("td", { "data-field": "state" }, stateOf(key)),
          h(
            "td",
            {},
            usable
              ? [
                  h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `Rotate ${label}`,
                      onclick: async () => {
                        const made = await send("POST", `/admin/v1/keys/${key.id}/rotate`, {});
                        await renderKeys(root, dir);
                        issued.hidden = false;
                        show(
                          issued,
                          `New key for ${tenant.name}, shown once (the old one works for an hour): `,
                          h("code", { id: "issued-key" }, made.key),
                        );
                      },
                    },
                    "Rotate",
                  ),
                  " ",
                  h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `Revoke ${label}`,
                      onclick: async () => {
                        if (!confirm(`Revoke ${label}? It stops working at once.`)) return;
                        await send("DELETE", `/admin/v1/keys/${key.id}`);
                        await renderKeys(root, dir);
                      },
                    },
                    "Revoke",
                  ),
                ]
              : null,
          ),
        ),
      );
    }
  }
  show(
    root,
    rows.length
      ? table(
          "Keys of every tenant",
          ["Key", "Prefix", "Scope", "Created", "Last used", "Expires", "State", ""],
          rows,
          { id: "keys-table" },
        )
      : note("No keys yet."),
  );
}
