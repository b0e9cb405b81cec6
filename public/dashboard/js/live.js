// Live: the running and idle sessions and active browsers, from GET /gateway/v1/live (a tenant)
// or GET /admin/v1/live (the operator), refreshed every few seconds without reloading the page.
import { getJson } from "./api.js";
import { age, h, note, show, table, when } from "./dom.js";
import { usd } from "./money.js";

const REFRESH_MS = 3000;

function render(root, dir, items) {
  const admin = dir.role === "admin";
  const headers = [
    "Kind",
    "Id",
    ...(admin ? ["Tenant"] : []),
    "Status",
    "Cost so far",
    "Age",
    "Last seen",
    "Live view",
  ];
  const rows = items.map((item) =>
    h(
      "tr",
      { "data-id": item.id },
      h("td", {}, item.kind),
      h("td", {}, h("code", { title: item.id }, item.id.slice(0, 8))),
      admin ? h("td", {}, dir.names.get(item.tenantId) ?? item.tenantId) : null,
      h("td", { "data-field": "status" }, item.status),
      h("td", { class: "num", "data-field": "costUsd" }, usd(item.costUsd)),
      h("td", { class: "num", title: when(item.createdAt) }, age(item.createdAt)),
      // The cost is the ledger's as of the gateway's last view from upstream, which this dates.
      h("td", { class: "num", title: when(item.viewAt) }, `${age(item.viewAt)} ago`),
      h(
        "td",
        {},
        item.liveUrl
          ? h(
              "a",
              { href: item.liveUrl, target: "_blank", rel: "noopener noreferrer" },
              "open",
              h("span", { class: "visually-hidden" }, ` live view of ${item.kind} ${item.id.slice(0, 8)}`),
            )
          : "—",
      ),
    ),
  );
  show(
    root,
    items.length
      ? table(`${items.length} live`, headers, rows, { id: "live-table" })
      : note("Nothing is running."),
  );
}

export async function renderLive(root, dir) {
  const path = dir.role === "tenant" ? "/gateway/v1/live" : "/admin/v1/live";
  const updated = document.getElementById("live-updated");
  let stopped = false;
  const refresh = async () => {
    try {
      const { items } = await getJson(path, { limit: 200 });
      if (stopped) return;
      render(root, dir, items);
      updated.textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    } catch (err) {
      if (!stopped) updated.textContent = `Could not refresh: ${err.message}`;
    }
  };
  show(root, note("Loading…"));
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
