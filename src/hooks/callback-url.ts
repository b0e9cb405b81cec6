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
  // `localhost.` is `localhost`: a name's trailing dot only says it is fully qualified.
  const host = url.hostname.toLowerCase().replace(/\.+$/, "");
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
  const groups = expandV6(host);
  if (!groups) return true; // not an address the parser would give: refuse rather than guess
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const v4 = (hi: number, lo: number) => [hi >> 8, hi & 255, lo >> 8, lo & 255];
  const zeroTo = (n: number) => groups.slice(0, n).every((g) => g === 0);
  if (zeroTo(8) || (zeroTo(7) && g7 === 1)) return true; // :: and ::1
  // Forms that carry a v4 address: compatible ::a.b.c.d, mapped ::ffff:a.b.c.d, translated
  // ::ffff:0:a.b.c.d, NAT64 64:ff9b::a.b.c.d (last 32 bits); 6to4 2002:a.b.c.d:: (bits 16 to 48).
  if (zeroTo(6) || (zeroTo(5) && g5 === 0xffff) || (zeroTo(4) && g4 === 0xffff && g5 === 0)) {
    return privateV4(v4(g6, g7));
  }
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0)
    return privateV4(v4(g6, g7));
  if (g0 === 0x2002) return privateV4(v4(g1, g2));
  return (
    (g0 & 0xfe00) === 0xfc00 || // unique local fc00::/7
    (g0 & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (g0 & 0xffc0) === 0xfec0 || // site-local fec0::/10 (deprecated, still routed privately)
    (g0 & 0xff00) === 0xff00 // multicast
  );
}

/** An IPv6 address's eight 16-bit groups, or null when it is not one. */
function expandV6(host: string): number[] | null {
  const halves = host.split("::");
  if (halves.length > 2) return null;
  const parse = (part: string | undefined) => (part ? part.split(":") : []);
  const head = parse(halves[0]);
  const tail = parse(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return groups.map((g) => Number.parseInt(g, 16));
}
