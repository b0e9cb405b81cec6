import { spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  appendFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";

/**
 * wrangler's `[build]` command (scripts/build-api-docs-when-changed.mjs) in a copy of the project
 * whose `node_modules/.bin/tsx` counts its runs: the generator runs when something it reads or
 * wrote changed, and only then.
 */
const root = process.cwd();
const copy = mkdtempSync(join(tmpdir(), "api-docs-build-"));
afterAll(() => rmSync(copy, { recursive: true, force: true }));

function projectCopy(): { build: () => void; runs: () => number } {
  for (const path of ["src", "scripts/build-api-docs.ts", "scripts/build-api-docs-when-changed.mjs"])
    cpSync(join(root, path), join(copy, path), { recursive: true });
  for (const file of ["package.json", "package-lock.json", "tsconfig.json"])
    cpSync(join(root, file), join(copy, file));
  mkdirSync(join(copy, "public"));
  // The project's packages, but a tsx that notes each run before it runs the real one.
  const modules = join(copy, "node_modules");
  mkdirSync(join(modules, ".bin"), { recursive: true });
  for (const entry of readdirSync(join(root, "node_modules")))
    if (entry !== ".bin") symlinkSync(join(root, "node_modules", entry), join(modules, entry));
  const counted = join(copy, "tsx-runs");
  const tsx = join(modules, ".bin", "tsx");
  writeFileSync(
    tsx,
    `#!/bin/sh\necho run >> "${counted}"\nexec "${resolve(root, "node_modules/.bin/tsx")}" "$@"\n`,
  );
  chmodSync(tsx, 0o755);
  return {
    build() {
      const done = spawnSync(process.execPath, ["scripts/build-api-docs-when-changed.mjs"], {
        cwd: copy,
        encoding: "utf8",
      });
      expect(done.status, done.stderr).toBe(0);
    },
    runs: () => (existsSync(counted) ? readFileSync(counted, "utf8").split("\n").filter(Boolean).length : 0),
  };
}

it("builds the docs once, again after a change under src/ or to what it wrote, and not otherwise", () => {
  const { build, runs } = projectCopy();
  const built = (name: string) => join(copy, "public", name);
  build();
  expect(runs()).toBe(1);
  const docs = readFileSync(built("docs.html"), "utf8");
  expect(JSON.parse(readFileSync(built("openapi.json"), "utf8"))).toHaveProperty("openapi");
  build();
  expect(runs()).toBe(1);
  appendFileSync(join(copy, "src/app.ts"), "\n// edited\n");
  build();
  expect(runs()).toBe(2);
  writeFileSync(built("docs.html"), "tampered");
  build();
  expect(runs()).toBe(3);
  expect(readFileSync(built("docs.html"), "utf8")).toBe(docs);
  rmSync(built("openapi.json"));
  build();
  expect(runs()).toBe(4);
  expect(existsSync(built("openapi.json"))).toBe(true);
}, 120_000);
