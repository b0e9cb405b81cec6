import { TtlCache } from "./ttl-cache";

const encoder = new TextEncoder();

/** Lower-case hex SHA-256 of a string. */
export async function sha256Hex(value: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(value));
  return toHex(new Uint8Array(digest));
}

/** SHA-256 of `value` in base64, as a Content-Security-Policy source hash (`'sha256-…'`) is written. */
export async function sha256Base64(value: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(value)));
  return btoa(String.fromCharCode(...digest));
}

/** Compares two secrets in constant time (over their SHA-256, so lengths leak nothing either). */
export async function secretsEqual(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}

// Imported HMAC keys by their secret, held only in this isolate's memory: every webhook is
// verified under one of a few secrets, and importing the key is half the cost of a signature.
const hmacKeys = new TtlCache<Promise<CryptoKey>>(10 * 60_000, 100);

/** Lower-case hex HMAC-SHA256 of `message` under `secret`. */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ]);
    hmacKeys.set(secret, key);
  }
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", await key, encoder.encode(message))));
}

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** A random base62 string: `length` characters of ~5.95 bits each. */
export function randomBase62(length: number): string {
  // Rejection sampling keeps every character uniformly likely.
  const out: string[] = [];
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out.push(ALPHABET[byte % 62] as string);
    }
  }
  return out.join("");
}

/**
 * The master key of sealed secrets, from base64 of 32 random bytes (`openssl rand -base64 32`);
 * null when it is missing or not that.
 */
export async function importSealingKey(base64: string | undefined): Promise<CryptoKey | null> {
  if (!base64) return null;
  let raw: Uint8Array;
  try {
    raw = Uint8Array.from(atob(base64.trim()), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
  if (raw.byteLength !== 32) return null;
  return crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
}

/**
 * Seals a secret with AES-256-GCM under `key`, bound to `context` (authenticated, not stored: the
 * same context must be given to open it). `v1.<iv>.<ciphertext>`, base64; a fresh IV each time.
 */
export async function seal(key: CryptoKey, plaintext: string, context: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(context) },
    key,
    encoder.encode(plaintext),
  );
  return `v1.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

/** Opens what `seal` made under the same key and context; null when it was not (or was altered). */
export async function unseal(key: CryptoKey, sealed: string, context: string): Promise<string | null> {
  const [version, iv, data] = sealed.split(".");
  if (version !== "v1" || !iv || !data) return null;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(iv), additionalData: encoder.encode(context) },
      key,
      fromBase64(data),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}

const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}
