import { describe, it } from "vitest";
import { fireCron } from "../../scripts/local-stack";
import { admin, api, GATEWAY, newTenant, until } from "./harness";

// Not a page: what `npm start` adds to `wrangler dev`, checked on the stack it starts (global-setup).
describe("npm start: the reconciler's cron", () => {
  it("runs the reconciler when fired, which stops a kept-alive session its policy no longer allows", async () => {
    const t = await newTenant("cron");
    const s = await api<{ id: string }>(t.key, "/api/v3/sessions", {
      body: { task: "stay open [emu steps=1]", keepAlive: true },
    });
    await until("the session to idle", async () => {
      const view = await api<{ status: string }>(t.key, `/api/v3/sessions/${s.id}`);
      return view.status === "idle" ? view : undefined;
    });
    await admin(`/admin/v1/tenants/${t.tenantId}/policy`, {
      method: "PUT",
      body: { budget: { capUsd: "20", period: "month" }, allowKeepAlive: false },
    });

    await fireCron(GATEWAY);

    await until("the reconciler to stop the session", async () => {
      const view = await api<{ status: string }>(t.key, `/api/v3/sessions/${s.id}`);
      return view.status === "stopped" ? view : undefined;
    });
  });
});
