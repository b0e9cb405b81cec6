/**
 * Where a callback may go: `https`, and never a loopback, private, link-local, carrier-grade NAT,
 * multicast or metadata address, by name or by literal address (the URL parser has already turned
 * `2130706433`, `0x7f.1` and `[::ffff:127.0.0.1]` into their plain forms). `allowPrivate` (the
 * `ALLOW_PRIVATE_CALLBACKS` var, for local development) lifts both rules. The runtime resolves
 * names itself, out of the gateway's sight, so a public name that resolves privately is not caught
 * here; Cloudflare does not route Workers' fetches to private addresses in any case.
 */
const PRIVATE_NAMES = /(^|\.)(localhost|local|internal|localdomain|home\.arpa)$/i;
const METADATA_NAMES = new Set([
  "metadata",
  "metadata.google.internal",
  "instance-data",
  "metadata.azure.com",
]);

/** Why `raw` is not a URL a callback may be sent to, or null when it is one. */
export function callbackUrlProblem(raw: string, allowPrivate: boolean): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "callbackUrl must be an absolute URL";
  }
  if (url.username || url.password) return "callbackUrl must not carry credentials";
  if (allowPrivate)
    return url.protocol === "https:" || url.protocol === "http:" ? null : "callbackUrl must be https";
  if (url.protocol !== "https:") return "callbackUrl must be https";
  const host = url.hostname.toLowerCase();
  if (
    host === "" ||
    PRIVATE_NAMES.test(host) ||
    METADATA_NAMES.has(host) ||
    (!host.includes(".") && !host.startsWith("["))
  )
    return "callbackUrl must not name a local or internal host";
  const v4 = ipv4(host);
  if (v4 && privateV4(v4)) return "callbackUrl must not be a private, loopback or link-local address";
  if (host.startsWith("[") && privateV6(host.slice(1, -1))) {
    return "callbackUrl must not be a private, loopback or link-local address";
  }
  return null;
}

function ipv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

function privateV4([a = 0, b = 0]: number[]): boolean {
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) ||
    (a === 198 && (b === 18 || b === 19)) ||
    a >= 224
  );
}

function privateV6(host: string): boolean {
  const h = host.toLowerCase();
  if (h === "::" || h === "::1") return true;
  // IPv4-mapped and IPv4-compatible forms carry a v4 address in their last 32 bits.
  const mapped = /^::(ffff:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(h);
  if (mapped) {
    const hi = Number.parseInt(mapped[2] as string, 16);
    const lo = Number.parseInt(mapped[3] as string, 16);
    return privateV4([hi >> 8, hi & 255, lo >> 8, lo & 255]);
  }
  const first = Number.parseInt(h.split(":")[0] || "0", 16);
  return (
    (first & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xff00) === 0xff00 || // multicast
    h.startsWith("64:ff9b:") // NAT64 of any v4 address
  );
}
