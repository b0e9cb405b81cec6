import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import type { EmulatorOptions } from "./config";
import type { Emulator } from "./emulator";
import { Projects, buildFrontDoor } from "./projects";

export type { EmulatorOptions } from "./config";

export interface RunningEmulator {
  port: number;
  /** e.g. http://127.0.0.1:8788 (the API is under /api/v3). */
  url: string;
  /** The main project's live state, for tests that want to look inside. */
  emulator: Emulator;
  /** Every project, the main one included (see projects.ts). */
  projects: Projects;
  /** Stops the ticker and the server, dropping open connections. */
  close: () => Promise<void>;
}

/**
 * Starts the Browser Use v3 emulator on `options.port` (0: any free port) and 127.0.0.1.
 * A light ticker brings sessions up to date between requests, so webhooks and timeouts fire
 * without a client polling; it never keeps the process alive on its own.
 */
export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const projects = new Projects(options);
  const emulator = projects.main.emulator;
  const app = buildFrontDoor(projects);
  const host = options.host ?? "127.0.0.1";
  const tickMs = options.tickMs ?? Math.min(emulator.settings.stepMs, 250);
  const ticker = setInterval(() => projects.tick(), Math.max(5, tickMs));
  ticker.unref();

  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: host }, () =>
      resolve(s as Server),
    );
    s.once("error", reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host}:${port}`,
    emulator,
    projects,
    close: () =>
      new Promise<void>((resolve, reject) => {
        clearInterval(ticker);
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
