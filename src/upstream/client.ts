import type { Bindings } from "../env";
import { GatewayError } from "../lib/errors";
import { parseUpstreamJson } from "../lib/exact-json";
import type { Logger } from "../lib/log";

/** Default budget for one upstream attempt; below the SDK's own 30 s so the client hears our 504. */
export const DEFAULT_UPSTREAM_TIMEOUT_MS = 25_000;

export interface UpstreamRequest {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  /** Path below the v3 base, e.g. `/sessions/<id>`; ids in it are validated UUIDs. */
  path: string;
  query?: URLSearchParams;
  body?: unknown;
}

export interface UpstreamResponse {
  status: number;
  /** Parsed JSON body, a session's `output` with its numbers as written (parseUpstreamJson); undefined for 204. */
  body: unknown;
  /** The body exactly as upstream sent it, for relaying it unchanged (absent for 204). */
  text?: string;
  /** When the answering attempt was sent: what the body describes is no older than this. */
  sentAt: string;
}

/**
 * The one door to Browser Use. The request is built from scratch: only `Accept`, `Content-Type`
 * and the upstream key are sent, so nothing a tenant sent in its headers (its own key above all)
 * travels upstream. Reads are retried once on a 5xx or a network error; writes never are,
 * because a create that reached upstream but lost its answer must not run twice.
 */
export async function callUpstream(
  env: Bindings,
  log: Logger,
  req: UpstreamRequest,
): Promise<UpstreamResponse> {
  const url = new URL(env.UPSTREAM_URL.replace(/\/+$/, "") + req.path);
  if (req.query) url.search = req.query.toString();
  const headers = new Headers({
    Accept: "application/json",
    "X-Browser-Use-API-Key": env.BROWSER_USE_API_KEY,
  });
  if (req.body !== undefined) headers.set("Content-Type", "application/json");
  const init = {
    method: req.method,
    headers,
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
  };
  const timeoutMs = Number(env.UPSTREAM_TIMEOUT_MS) || DEFAULT_UPSTREAM_TIMEOUT_MS;
  const retryable = req.method === "GET";

  for (let attempt = 1; ; attempt++) {
    const started = Date.now();
    const sentAt = new Date(started).toISOString();
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const timedOut = isTimeout(err);
      log.warn("upstream_failed", {
        method: req.method,
        path: req.path,
        attempt,
        timedOut,
        ms: Date.now() - started,
      });
      if (timedOut) throw new GatewayError("upstream_timeout", "Browser Use did not answer in time");
      if (retryable && attempt === 1) continue;
      throw new GatewayError("upstream_unreachable", "Browser Use is unreachable");
    }
    log.debug("upstream", {
      method: req.method,
      path: req.path,
      status: res.status,
      attempt,
      ms: Date.now() - started,
    });
    if (res.status >= 500 && retryable && attempt === 1) {
      await res.body?.cancel();
      continue;
    }
    if (res.status === 401) {
      // Upstream refusing the gateway's own key is not the tenant's fault, and must not read as
      // "your key is wrong" to an SDK: 502, and the operator finds it in the log.
      await res.body?.cancel();
      log.error("upstream_key_rejected", { method: req.method, path: req.path });
      throw new GatewayError("upstream_unauthorized", "Browser Use refused the gateway's credentials");
    }
    if (res.status === 204) {
      await res.body?.cancel();
      return { status: 204, body: undefined, sentAt };
    }
    return { status: res.status, ...(await readJson(res)), sentAt };
  }
}

async function readJson(res: Response): Promise<{ body: unknown; text: string }> {
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    // The per-attempt timeout covers the body too: a body that stalls past it is a timeout.
    if (isTimeout(err)) throw new GatewayError("upstream_timeout", "Browser Use did not answer in time");
    throw new GatewayError("upstream_unreachable", "Browser Use closed the connection mid-answer");
  }
  try {
    return { body: parseUpstreamJson(text), text };
  } catch {
    throw new GatewayError(
      "upstream_bad_response",
      `Browser Use answered ${res.status} with a body that is not JSON`,
    );
  }
}

const isTimeout = (err: unknown) =>
  err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
