/**
 * The emulator's world: store, settings, clock, faults and webhook target, with the lookups and
 * checks the routes share. One instance per running server.
 */
import { ERROR_DETAILS } from "../../src/v3/schemas";
import { advanceBrowser, browserCostMicros, browserProxyMicros } from "./browsers";
import { type EmulatorOptions, type Settings, initialSettings } from "./config";
import { ApiError, notFound } from "./errors";
import { type FaultPlan, type FaultStats, noFaults, noStats } from "./faults";
import { seededRandom } from "./seeded-random";
import { type LifecycleEnv, advance } from "./lifecycle";
import {
  type BrowserRecord,
  type ProfileRecord,
  type SessionRecord,
  Store,
  type StoredFile,
  type WorkspaceRecord,
  totalMicros,
} from "./state";
import { DEFAULT_WEBHOOK_SECRET, type WebhookTarget, createWebhookSender } from "./webhooks";

const ACTIVE = new Set(["created", "idle", "running"]);

export class Emulator {
  readonly store = new Store();
  settings: Settings;
  /** What reset restores: the started settings, or those a project was created with. */
  startSettings: Settings;
  faults: FaultPlan = noFaults();
  /** Where random fault draws come from: Math.random, or the PRNG of the plan's seed. */
  random: () => number = Math.random;
  /** /api/v3 requests by route and faults by kind since the start (or the last reset). */
  stats: FaultStats = noStats();
  webhook: WebhookTarget | null;
  readonly log: (line: string) => void;
  /** What lifecycle.ts needs from us; its fields read the live settings. */
  readonly lifecycle: LifecycleEnv;
  private clockOffsetMs = 0;

  constructor(readonly options: EmulatorOptions) {
    this.settings = initialSettings(options);
    this.startSettings = this.settings;
    this.webhook = initialWebhook(options);
    this.log = options.log ?? ((line) => console.warn(line));
    const send = createWebhookSender(() => this.webhook, this.log);
    const settings = () => this.settings;
    this.lifecycle = {
      get idleTimeoutMs() {
        return settings().idleTimeoutMs;
      },
      get billIdleTime() {
        return settings().idleBrowserBilling;
      },
      emit: send,
    };
  }

  /** Emulator time: the wall clock plus whatever POST /_emulator/clock added. */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  advanceClock(ms: number): void {
    this.clockOffsetMs += ms;
  }

  /** Replaces the fault plan; a plan with a seed restarts its draws from that seed. */
  setFaults(plan: FaultPlan): void {
    this.faults = plan;
    this.random = plan.seed === null ? Math.random : seededRandom(plan.seed);
  }

  /** Back to the state right after start: no records, no faults, started settings and webhook. */
  reset(): void {
    this.store.clear();
    this.settings = { ...this.startSettings };
    this.setFaults(noFaults());
    this.stats = noStats();
    this.webhook = initialWebhook(this.options);
    this.clockOffsetMs = 0;
  }

  /** Brings every session and browser up to now (fires due webhooks and timeouts). */
  tick(): void {
    const now = this.now();
    for (const s of this.store.sessions.values()) advance(s, now, this.lifecycle);
    for (const b of this.store.browsers.values()) advanceBrowser(b, now);
    this.store.pruneGrants(now);
  }

  /** A live (not deleted) session, brought up to now; 404 otherwise. */
  session(id: string): SessionRecord {
    const s = this.store.sessions.get(id.toLowerCase());
    if (!s || s.deleted) throw notFound(ERROR_DETAILS.sessionNotFound);
    advance(s, this.now(), this.lifecycle);
    return s;
  }

  browser(id: string): BrowserRecord {
    const b = this.store.browsers.get(id.toLowerCase());
    if (!b) throw notFound(ERROR_DETAILS.sessionNotFound);
    advanceBrowser(b, this.now());
    return b;
  }

  /**
   * A browser by id: a standalone one, or (while `agentBrowsers` lists them) an agent session's
   * own, as its live session brought up to now; 404 otherwise.
   */
  anyBrowser(id: string): { standalone: BrowserRecord } | { agentOf: SessionRecord } {
    const b = this.store.browsers.get(id.toLowerCase());
    if (b) return { standalone: this.browser(b.id) };
    const s = this.settings.agentBrowsers ? this.sessionOfBrowser(id) : undefined;
    if (!s) throw notFound(ERROR_DETAILS.sessionNotFound);
    return { agentOf: this.session(s.id) };
  }

  /** The files a browser downloaded, standalone or an agent session's own, deleted sessions included. */
  downloadsOf(browserId: string): Map<string, StoredFile> | undefined {
    const id = browserId.toLowerCase();
    return this.store.browsers.get(id)?.downloads ?? this.sessionOfBrowser(id, true)?.browserDownloads;
  }

  private sessionOfBrowser(browserId: string, withDeleted = false): SessionRecord | undefined {
    const id = browserId.toLowerCase();
    for (const s of this.store.sessions.values()) {
      if (s.browserId === id && (withDeleted || !s.deleted)) return s;
    }
    return undefined;
  }

  profile(id: string): ProfileRecord {
    const p = this.store.profiles.get(id.toLowerCase());
    if (!p) throw notFound(ERROR_DETAILS.profileNotFound);
    return p;
  }

  workspace(id: string): WorkspaceRecord {
    const w = this.store.workspaces.get(id.toLowerCase());
    if (!w) throw notFound(ERROR_DETAILS.workspaceNotFound);
    return w;
  }

  /** Sessions that hold a sandbox plus running browsers, as the concurrency limit counts them. */
  activeCount(): number {
    this.tick();
    let n = 0;
    for (const s of this.store.sessions.values()) if (!s.deleted && ACTIVE.has(s.status)) n++;
    for (const b of this.store.browsers.values()) if (b.status === "active") n++;
    return n;
  }

  /** Everything spent so far, sessions and browsers, deleted sessions included. */
  spentMicros(): number {
    this.tick();
    let spent = 0;
    for (const s of this.store.sessions.values()) spent += totalMicros(s.usage);
    for (const b of this.store.browsers.values()) spent += browserCostMicros(b) + browserProxyMicros(b);
    return spent;
  }

  /** 429 when starting one more session or browser would pass the concurrency limit. */
  requireCapacity(): void {
    if (this.activeCount() >= this.settings.concurrencyLimit) {
      throw new ApiError(429, ERROR_DETAILS.tooManyConcurrentSessions);
    }
  }

  /** 402 once the credits are spent. */
  requireCredits(): void {
    if (this.settings.creditsMicros - this.spentMicros() <= 0) {
      throw new ApiError(402, ERROR_DETAILS.insufficientCredits);
    }
  }
}

function initialWebhook(o: EmulatorOptions): WebhookTarget | null {
  return o.webhookUrl ? { url: o.webhookUrl, secret: o.webhookSecret ?? DEFAULT_WEBHOOK_SECRET } : null;
}
