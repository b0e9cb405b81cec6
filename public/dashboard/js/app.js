// The dashboard's shell: sign-in, the views' tabs, and which view shows. Each view renders from the
// API alone (see api.js); nothing here keeps a figure of its own.
import { ApiError, forgetToken, getJson, roleOf, saveToken, savedToken } from "./api.js";
import { renderBudgets } from "./budgets.js";
import { loadDirectory } from "./directory.js";
import { renderHooks } from "./hooks.js";
import { renderKeys } from "./keys.js";
import { renderLive } from "./live.js";
import { renderRefusals } from "./refusals.js";
import { renderSpend } from "./spend.js";

const $ = (id) => document.getElementById(id);

/** Each view: what renders it, and whether only the admin sees it. */
const VIEWS = {
  budgets: { render: renderBudgets },
  spend: { render: renderSpend },
  live: { render: renderLive },
  hooks: { render: renderHooks, adminOnly: true },
  keys: { render: renderKeys, adminOnly: true },
  refusals: { render: renderRefusals, adminOnly: true },
};

let directory = null;
let stopCurrent = null;

async function checkToken(token) {
  saveToken(token);
  try {
    if (roleOf(token) === "tenant") await getJson("/gateway/v1/me");
    else await getJson("/admin/v1/orgs", { pageSize: 1 });
    return null;
  } catch (err) {
    forgetToken();
    return err instanceof ApiError && err.status === 401
      ? "That token or key was not accepted."
      : `Could not sign in: ${err.message}`;
  }
}

async function enter() {
  const role = roleOf(savedToken());
  directory = await loadDirectory(role);
  $("sign-in").hidden = true;
  $("signed-in").hidden = false;
  $("sign-out").hidden = false;
  $("who").hidden = false;
  $("who").textContent =
    role === "admin" ? "Signed in as operator (admin token)" : `Signed in as tenant ${directory.me.tenantId}`;
  for (const li of document.querySelectorAll("[data-admin]")) li.hidden = role !== "admin";
  await showView();
}

function leave() {
  forgetToken();
  stopCurrent?.();
  stopCurrent = null;
  directory = null;
  // Nothing of the last person's stays on the page.
  for (const section of document.querySelectorAll(
    ".view [id$='-body'], #keys-issued, #spend-table, #spend-chart",
  ))
    section.replaceChildren();
  $("signed-in").hidden = true;
  $("sign-out").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  $("token").value = "";
  $("token").focus();
}

function currentView() {
  const name = location.hash.slice(1);
  const view = VIEWS[name];
  if (!view || (view.adminOnly && directory?.role !== "admin")) return "budgets";
  return name;
}

async function showView() {
  if (!directory) return;
  const name = currentView();
  stopCurrent?.();
  stopCurrent = null;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${name}`;
  for (const a of document.querySelectorAll("#tabs a")) {
    if (a.dataset.view === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const root = $(`${name}-body`) ?? $(`view-${name}`);
  try {
    // Orgs and tenants made since sign-in show too.
    directory = await loadDirectory(directory.role);
    stopCurrent = (await VIEWS[name].render(root, directory)) ?? null;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return leave();
    root.replaceChildren(
      Object.assign(document.createElement("p"), { className: "error", textContent: err.message }),
    );
  }
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("token").value.trim();
  const problem = await checkToken(token);
  $("sign-in-error").hidden = problem === null;
  $("sign-in-error").textContent = problem ?? "";
  if (problem === null) await enter();
});
$("sign-out").addEventListener("click", leave);
window.addEventListener("hashchange", showView);

if (savedToken()) enter().catch(leave);
else $("token").focus();
