import { Hono } from "hono";

const app = new Hono<{ Bindings: Env }>();
app.get("/healthz", (c) => c.json({ ok: true }));
app.get("/probe", async (c) => {
  const r = await fetch(`${c.env.UPSTREAM_URL}/billing/account`);
  return c.json(await r.json());
});
export default app;
