// Hooks (the operator's): each tenant's hooks and their recent deliveries, with each result
// callback's attempts, from GET /admin/v1/orgs/{id}/hooks (one request per page of an org's
// tenants, each with what GET /admin/v1/tenants/{id}/hooks answers) and
// GET /admin/v1/hooks/{id}/deliveries; "Redeliver" is POST /admin/v1/deliveries/{eventId}/redeliver.
import { allPages, getJson, send } from "./api.js";
import { h, note, show, table, when } from "./dom.js";

const RECENT = 20;

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
  const found = [];
  const tenants = [];
  for (const org of dir.orgs) tenants.push(...(await allPages(`/admin/v1/orgs/${org.id}/hooks`)));
  for (const tenant of tenants) {
    for (const hook of tenant.hooks) {
      const { deliveries } = await getJson(`/admin/v1/hooks/${hook.id}/deliveries`, { pageSize: RECENT });
      for (const d of deliveries) found.push({ tenant, hook, delivery: d });
    }
  }
  found.sort((a, b) => (a.delivery.createdAt < b.delivery.createdAt ? 1 : -1));
  const rerender = () => renderHooks(root, dir);
  const rows = found.map(({ tenant, hook, delivery }) => {
    const cb = delivery.callback;
    const failed = cb?.state === "failed";
    return h(
      "tr",
      { "data-delivery": delivery.deliveryId, "data-event": cb?.eventId },
      h("th", { scope: "row" }, hook.name, h("br"), h("small", {}, tenant.name)),
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
                "aria-label": `Redeliver the callback of ${hook.name} at ${when(delivery.createdAt)}`,
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
          `The ${RECENT} newest deliveries of each hook`,
          ["Hook", "Received", "Delivery", "Session", "Callback", "Attempts", ""],
          rows,
          { id: "hooks-table" },
        )
      : note("No hook has had a delivery yet."),
  );
}
