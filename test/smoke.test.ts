import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";

it("reaches the emulator", async () => {
  const res = await exports.default.fetch("http://gw/probe");
  expect(await res.json()).toEqual({ ok: true });
  const row = await env.DB.prepare("SELECT count(*) AS n FROM orgs").first();
  expect(row).toEqual({ n: 0 });
});
