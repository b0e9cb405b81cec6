/**
 * The benchmark's floor: a bare pass-through worker. It does what any proxy in front of Browser Use
 * must (take the caller's key off, put the upstream key on, forward, relay the answer) and nothing
 * the gateway adds: no auth lookup, policy, holds or ledger. `npm run bench` measures the gateway
 * against it, on the same runtime, machine and emulator.
 */
export interface Env {
  UPSTREAM_URL: string;
  BROWSER_USE_API_KEY: string;
}

/**
 * Forwards a request for `path` (below the v3 base) as such a proxy does. Also what the gateway's
 * benchmark entry runs for PROBES.relay: the same relay inside the gateway's own worker.
 */
export async function passThrough(request: Request, env: Env, path: string): Promise<Response> {
  const target = env.UPSTREAM_URL.replace(/\/+$/, "") + path;
  const headers = new Headers({
    Accept: "application/json",
    "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY,
  });
  const type = request.headers.get("Content-Type");
  if (type) headers.set("Content-Type", type);
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const res = await fetch(target, {
    method: request.method,
    headers,
    body: hasBody ? await request.text() : undefined,
  });
  return new Response(res.body, {
    status: res.status,
    headers: { "Content-Type": res.headers.get("Content-Type") ?? "application/json" },
  });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return Response.json({ ok: true });
    if (!url.pathname.startsWith("/api/v3/")) return new Response("not found", { status: 404 });
    return passThrough(request, env, url.pathname.slice("/api/v3".length) + url.search);
  },
};
