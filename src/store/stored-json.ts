/**
 * The most of one JSON value the gateway writes into a D1 row, in bytes. D1 refuses a value or a
 * row past 2,000,000 bytes (SQLITE_TOOBIG), and what else such a row holds is small.
 */
export const MAX_STORED_JSON_BYTES = 1_000_000;

/** Whether `json` fits MAX_STORED_JSON_BYTES in UTF-8 (where a UTF-16 unit takes at most 3 bytes). */
export function fitsStore(json: string): boolean {
  if (json.length * 3 <= MAX_STORED_JSON_BYTES) return true;
  return new TextEncoder().encode(json).byteLength <= MAX_STORED_JSON_BYTES;
}

/** How deep SQLite's JSON functions read: `json()` refuses text nested deeper as malformed. */
export const MAX_SQL_JSON_DEPTH = 1000;
