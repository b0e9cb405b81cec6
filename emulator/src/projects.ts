/**
 * Projects: Browser Use accounts side by side in one emulator, each behind its own API key with
 * its own sessions, settings, faults, clock and webhook target. The key a request carries picks
 * the project (`X-Browser-Use-API-Key`, also on the /_emulator controls); a request without one,
 * or with a key no project has, goes to the main project (which answers 401 to an unknown key).
 * Tests that share one emulator each take a project of their own, so one test's faults or clock
 * never reach another's requests; an org with its own Browser Use account is a project too.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { Hono } from "hono";
import * as z from "zod";
import { buildApp } from "./app";
import type { EmulatorOptions } from "./config";
import { Emulator } from "./emulator";
import { ApiError } from "./errors";
import { type EmuEnv, parse, readBody } from "./http";
import { inboxRoutes } from "./inbox";
import { ConfigPatch, applyConfig } from "./routes/control";

const KEY_HEADER = "X-Browser-Use-API-Key";

export interface Project {
  emulator: Emulator;
  app: ReturnType<typeof buildApp>;
}

const NewProject = ConfigPatch.extend({
  apiKey: z
    .string()
    .regex(/^[\w-]{8,128}$/)
    .optional(),
}).strict();

export class Projects {
  readonly main: Project;
  readonly #byKey = new Map<string, Project>();

  constructor(private readonly options: EmulatorOptions) {
    this.main = this.add(options);
  }

  /** Where the emulator prints (inbox deliveries told to print, among others). */
  readonly log = (line: string) => (this.options.log ?? console.log)(line);

  /** A new project with the main one's options except its key (and webhook, off until set). */
  create(apiKey: string): Project {
    if (this.#byKey.has(apiKey)) throw new ApiError(409, "A project with this API key exists");
    return this.add({ ...this.options, apiKey, projectId: randomUUID(), webhookUrl: undefined });
  }

  /**
   * Revokes a project's key, as deleting an API key in Browser Use does: every later request with
   * it answers 401. False for the main project's key or one no project has.
   */
  revoke(apiKey: string): boolean {
    if (apiKey === this.options.apiKey) return false;
    return this.#byKey.delete(apiKey);
  }

  /** The project a request's key names, else the main one. */
  forKey(key: string | undefined): Project {
    return (key && this.#byKey.get(key)) || this.main;
  }

  /** The project that handed out a presigned URL's token (they carry no key), else the main one. */
  forGrant(token: string): Project {
    for (const project of this.#byKey.values()) {
      const { store } = project.emulator;
      if (store.uploadGrants.has(token) || store.downloadGrants.has(token)) return project;
    }
    return this.main;
  }

  /** Brings every project up to now. */
  tick(): void {
    for (const project of this.#byKey.values()) project.emulator.tick();
  }

  private add(options: EmulatorOptions): Project {
    const emulator = new Emulator(options);
    const project = { emulator, app: buildApp(emulator) };
    this.#byKey.set(options.apiKey, project);
    return project;
  }
}

/**
 * The emulator's front door: `POST /_emulator/projects` makes a project (body: an optional
 * `apiKey` and any /_emulator/config settings; answer 201 `{"apiKey"}`), `DELETE /_emulator/projects`
 * revokes the key it carries (204), presigned URLs go to the project that issued them, and every
 * other request to the project its key names.
 */
export function buildFrontDoor(projects: Projects) {
  const app = new Hono<EmuEnv>();
  app.post("/_emulator/projects", async (c) => {
    const body = parse(NewProject, "body", (await readBody(c, false)) ?? {});
    const { apiKey = `bu_emu_${randomBytes(16).toString("hex")}`, ...settings } = body;
    const { emulator } = projects.create(apiKey);
    applyConfig(emulator, settings);
    emulator.startSettings = { ...emulator.settings };
    return c.json({ apiKey }, 201);
  });
  app.delete("/_emulator/projects", (c) => {
    if (!projects.revoke(c.req.header(KEY_HEADER) ?? "")) throw new ApiError(404, "No project has this key");
    return c.body(null, 204);
  });
  app.route("/_emulator", inboxRoutes(projects.log));
  app.on(["PUT", "GET"], "/_emulator/:store{uploads|files}/:token", (c) =>
    projects.forGrant(c.req.param("token")).app.fetch(c.req.raw, c.env),
  );
  app.all("*", (c) => projects.forKey(c.req.header(KEY_HEADER)).app.fetch(c.req.raw, c.env));
  app.onError((err, c) => {
    if (err instanceof ApiError) return c.json({ detail: err.detail }, err.status);
    throw err;
  });
  return app;
}
