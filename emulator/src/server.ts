import { serve } from "@hono/node-server";
import { Hono } from "hono";

export interface EmulatorOptions {
  port: number;
  apiKey: string;
  stepMs?: number;
}

export async function startEmulator(options: EmulatorOptions) {
  const app = new Hono();
  app.get("/api/v3/billing/account", (c) => c.json({ ok: true }));
  return await new Promise<{ port: number; close: () => Promise<void> }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: "127.0.0.1" }, (info) =>
      resolve({ port: info.port, close: () => new Promise((r) => server.close(() => r())) }),
    );
  });
}
