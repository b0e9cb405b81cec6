import { expect, it } from "vitest";
import { startEmulator } from "../src/server";
it("starts", async () => {
  const e = await startEmulator({ port: 0, apiKey: "k" });
  const r = await fetch(`http://127.0.0.1:${e.port}/api/v3/billing/account`);
  expect(r.status).toBe(200);
  await e.close();
});
