import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

describe("the vendored chart library", () => {
  it("is byte for byte the uPlot of package-lock.json, so `npm update` cannot leave a stale copy", () => {
    for (const file of ["uPlot.iife.min.js", "uPlot.min.css"]) {
      const served = readFileSync(`public/dashboard/vendor/${file}`);
      const installed = readFileSync(`node_modules/uplot/dist/${file}`);
      expect(served.equals(installed), file).toBe(true);
    }
  });
});
