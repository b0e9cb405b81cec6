// Hooks (the operator's): the newest deliveries to each org's hooks, with each result callback's
// attempts, from GET /admin/v1/orgs/{id}/deliveries (one request per org, whatever its hooks);
// "Redeliver" is POST /admin/v1/deliveries/{eventId}/redeliver.
import { getJson, send } from "./api.js";
import { h, note, show, table, when } from "./dom.js";

const RECENT = 100;

function attemptsOf(callback) {
  if (!callback) return "no callback";
  if (callback.attempts.length === 0) return "none yet";
  return h(
    "ol",
    { class: "attempts" },
    callback.attempts.map((a) =>
      h(
        "li",
        {},
        `${when(a.at)}: ${a.status === null ? "no answer" : `HTTP ${a.status}`}${a.error ? ` (${a.error})` : ""}`,
      ),
    ),
  );
}

export async function renderHooks(root, dir) {
  show(root, note("Loading…"));
  const pages = await Promise.all(
    dir.orgs.map((org) => getJson(`/admin/v1/orgs/${org.id}/deliveries`, { pageSize: RECENT })),
  );
  const found = pages.flatMap((page) => page.deliveries);
  found.sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
  const rerender = () => renderHooks(root, dir);
  const rows = found.map((delivery) => {
    const cb = delivery.callback;
    const failed = cb?.state === "failed";
    return h(
      "tr",
      { "data-delivery": delivery.deliveryId, "data-event": cb?.eventId },
      h("th", { scope: "row" }, delivery.hookName, h("br"), h("small", {}, delivery.tenantName)),
      h("td", { title: when(delivery.createdAt) }, when(delivery.createdAt)),
      h("td", {}, delivery.state),
      h(
        "td",
        {},
        delivery.sessionId ? h("code", { title: delivery.sessionId }, delivery.sessionId.slice(0, 8)) : "—",
      ),
      h("td", { class: failed ? "over" : "", "data-field": "callback" }, cb ? cb.state : "—"),
      h("td", {}, attemptsOf(cb)),
      h(
        "td",
        {},
        cb && cb.state !== "pending"
          ? h(
              "button",
              {
                type: "button",
                "aria-label": `Redeliver the callback of ${delivery.hookName} at ${when(delivery.createdAt)}`,
                onclick: async (event) => {
                  event.currentTarget.disabled = true;
                  await send("POST", `/admin/v1/deliveries/${cb.eventId}/redeliver`);
                  await rerender();
                },
              },
              "Redeliver",
            )
          : null,
      ),
    );
  });
  show(
    root,
    h("p", {}, h("button", { type: "button", onclick: rerender }, "Refresh")),
    found.length
      ? table(
          `The ${RECENT} newest deliveries of each org`,
          ["Hook", "Received", "Delivery", "Session", "Callback", "Attempts", ""],
          rows,
          { id: "hooks-table" },
        )
      : note("No hook has had a delivery yet."),
  );
}
