/** What stands in for a secret wherever a record must say one was there. */
export const REDACTED = "[redacted]";

/** Fields that hold a key, a key's hash or a signing secret, wherever they are nested. */
const SECRET_FIELDS = new Set([
  "key",
  "apiKey",
  "keyHash",
  "key_hash",
  "secret",
  "secrets",
  "previousSecret",
  "previous_secret",
  "webhookSecret",
  "token",
  "password",
]);

/**
 * Strings that look like a secret whatever field they are in: a Standard Webhooks secret, a
 * gateway key (more of it than its visible prefix, `bugw_` and 8 characters), a Browser Use key.
 */
const SECRET_VALUE = /whsec_|bugw_[0-9A-Za-z]{9}|\bbu_[0-9A-Za-z_-]{16}/;

/**
 * A JSON value with every secret replaced by REDACTED. The views written to the audit log are
 * allowlists that carry no secret; this is the second line, for a caller that hands one over anyway.
 */
export function redacted(value: unknown): unknown {
  if (typeof value === "string") return SECRET_VALUE.test(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map(redacted);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([field, v]) => [
      field,
      SECRET_FIELDS.has(field) && v !== null ? REDACTED : redacted(v),
    ]),
  );
}
