/**
 * Wrangler's `[build]` command (wrangler.toml): runs scripts/build-api-docs.ts only when what it
 * reads or writes has changed since it last ran. `wrangler dev` runs its build twice as it starts
 * and again on every change under `src/`; the generator takes about two seconds (TypeScript through
 * tsx, the whole app imported), this check a tenth of one. Plain JavaScript, so that it starts
 * with Node alone. The stamp (.wrangler/api-docs-stamp, not committed) is a SHA-256 over every file
 * under src/, the lockfile, the generator itself and the files it wrote.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

const STAMP = ".wrangler/api-docs-stamp";
const INPUTS = ["src", "package-lock.json", "scripts/build-api-docs.ts"];
const OUTPUTS = ["public/openapi.json", "public/docs.html"];

/** Every file at or under `path`, sorted. */
function filesUnder(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
}

function stamp() {
  const hash = createHash("sha256");
  for (const file of [...INPUTS.flatMap(filesUnder), ...OUTPUTS]) {
    hash.update(`${file}\0`);
    hash.update(existsSync(file) ? readFileSync(file) : "(none)");
    hash.update("\0");
  }
  return hash.digest("hex");
}

const before = existsSync(STAMP) ? readFileSync(STAMP, "utf8") : null;
if (before !== stamp() || !OUTPUTS.every(existsSync)) {
  const built = spawnSync(join("node_modules", ".bin", "tsx"), ["scripts/build-api-docs.ts"], {
    stdio: "inherit",
  });
  if (built.status !== 0) process.exit(built.status ?? 1);
  mkdirSync(dirname(STAMP), { recursive: true });
  writeFileSync(STAMP, stamp());
}
