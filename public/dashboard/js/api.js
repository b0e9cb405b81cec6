// The one door to the gateway's API. The token lives in this tab's sessionStorage only and travels
// only as an Authorization header to this origin; never in a URL, a cookie or a log.
const STORAGE_KEY = "gateway-dashboard-token";

export function savedToken() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function saveToken(token) {
  sessionStorage.setItem(STORAGE_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(STORAGE_KEY);
}

/** Tenant keys look like `bugw_…` (README, Auth); anything else is taken for the admin token. */
export function roleOf(token) {
  return /^bugw_/.test(token) ? "tenant" : "admin";
}

/** An error the API answered with: its status, code and detail. */
export class ApiError extends Error {
  constructor(status, body) {
    const detail = typeof body?.detail === "string" ? body.detail : `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.code = body?.code ?? null;
  }
}

async function call(method, path, { query, body, accept } = {}) {
  const token = savedToken();
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const headers = { Authorization: `Bearer ${token}`, Accept: accept ?? "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  if (!res.ok) {
    let parsed = null;
    try {
      parsed = await res.json();
    } catch {
      // not JSON: the status says enough
    }
    throw new ApiError(res.status, parsed);
  }
  return res;
}

/** GET a JSON document. */
export async function getJson(path, query) {
  return (await call("GET", path, { query })).json();
}

/** GET as text (a CSV report). */
export async function getText(path, query, accept) {
  return (await call("GET", path, { query, accept })).text();
}

/** POST or DELETE; the JSON answer, or null for a 204. */
export async function send(method, path, body) {
  const res = await call(method, path, { body });
  return res.status === 204 ? null : res.json();
}

/** Every item of an admin list, page by page (pageSize 100). */
export async function allPages(path, query = {}) {
  const items = [];
  for (let pageNumber = 1; ; pageNumber++) {
    const page = await getJson(path, { ...query, pageSize: 100, pageNumber });
    items.push(...page.items);
    if (items.length >= page.totalItems || page.items.length === 0) return items;
  }
}
