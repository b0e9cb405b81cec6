import type { TestProject } from "vitest/node";
import { startEmulator } from "../emulator/src/server";

/** Starts one emulator on a free port for the whole gateway suite (runs in Node, not workerd). */
export default async function setup(project: TestProject) {
  const emulator = await startEmulator({
    port: 0,
    apiKey: project.config.provide?.emulatorKey as string,
    stepMs: 20,
    // Many test files share this one upstream account; it must not run dry.
    creditsUsd: "1000000",
    concurrencyLimit: 100_000,
  });
  project.provide("emulatorPort", emulator.port);
  return () => emulator.close();
}

declare module "vitest" {
  export interface ProvidedContext {
    emulatorPort: number;
    emulatorKey: string;
  }
}
