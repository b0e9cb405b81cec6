/**
 * The emulator's in-memory store. Records hold raw facts (times in epoch ms, money in integer
 * micro-USD); views.ts turns them into API responses. Everything here is lost on reset or exit.
 */
import type { BuAgentSessionStatus, BuModel, ProxyCountryCode, ThinkingLevel } from "../../src/v3/schemas";
import type { Directive } from "./directives";
import { AGENT_BROWSER_MICROS_PER_HOUR } from "./pricing";

/** Cumulative usage of an agent session across all its tasks. */
export interface Usage {
  llmMicros: number;
  proxyMicros: number;
  browserMicros: number;
  inputTokens: number;
  outputTokens: number;
  proxyMilliMb: number;
  /** Time the sandbox sat without a task while idle billing was on (see idleBrowserMicros). */
  idleMs: number;
}

export function emptyUsage(): Usage {
  return {
    llmMicros: 0,
    proxyMicros: 0,
    browserMicros: 0,
    inputTokens: 0,
    outputTokens: 0,
    proxyMilliMb: 0,
    idleMs: 0,
  };
}

/**
 * Browser time billed while no task ran, from the summed idle time (so however often a session
 * is read, the figure is the same), rounded up to a whole micro-USD.
 */
export function idleBrowserMicros(u: Usage): number {
  return Math.ceil((u.idleMs * AGENT_BROWSER_MICROS_PER_HOUR) / 3_600_000);
}

/** Browser cost of a session: its steps' time plus any billed idle time. */
export function sessionBrowserMicros(u: Usage): number {
  return u.browserMicros + idleBrowserMicros(u);
}

export function totalMicros(u: Usage): number {
  return u.llmMicros + u.proxyMicros + sessionBrowserMicros(u);
}

/** One task dispatched to a session; the session keeps only its latest. */
export interface TaskRun {
  id: string;
  /** The task with its directive removed. */
  text: string;
  directive: Directive;
  steps: number;
  stepMs: number;
  /** When the task starts running (later than dispatch while a new sandbox boots). */
  startedAt: number;
  stepsDone: number;
  /** Time of the task's latest step or transition. */
  lastAt: number;
  endedAt: number | null;
}

export interface MessageRecord {
  id: string;
  role: "human" | "ai";
  type: string;
  data: string;
  summary: string;
  createdAt: number;
}

export interface SessionRecord {
  id: string;
  status: BuAgentSessionStatus;
  model: BuModel;
  thinkingLevel: ThinkingLevel | null;
  keepAlive: boolean;
  profileId: string | null;
  workspaceId: string | null;
  proxyCountryCode: ProxyCountryCode | null;
  browserScreenWidth: number | null;
  browserScreenHeight: number | null;
  enableRecording: boolean;
  useOwnKey: boolean;
  codeMode: boolean;
  agentmailEmail: string | null;
  outputSchema: Record<string, unknown> | null;
  title: string | null;
  output: unknown;
  isTaskSuccessful: boolean | null;
  stepCount: number;
  lastStepSummary: string | null;
  usage: Usage;
  maxCostMicros: number;
  /** For a session created without a task: when its sandbox is ready (created → idle). */
  readyAt: number | null;
  /** Start of the current idle spell, for the inactivity timeout. */
  idleSince: number | null;
  /** Until when time without a task has been added to `usage.idleMs`. */
  billedUntil: number;
  task: TaskRun | null;
  messages: MessageRecord[];
  deleted: boolean;
  /** The id of the session's own browser, as GET /browsers lists it with `agentBrowsers` on. */
  browserId: string;
  /** Files the session's own browser downloaded (through /_emulator/browsers/{id}/downloads), by path. */
  browserDownloads: Map<string, StoredFile>;
  createdAt: number;
  updatedAt: number;
}

export interface BrowserRecord {
  id: string;
  status: "active" | "stopped";
  profileId: string | null;
  proxyCountryCode: ProxyCountryCode | null;
  /** Whether it browses through the client's own proxy (`customProxy`): Browser Use's proxy then carries nothing. */
  customProxy: boolean;
  metadata: Record<string, string>;
  enableRecording: boolean;
  timeoutMinutes: number;
  /** What was charged up front for the whole timeout. */
  chargedMicros: number;
  /** The final charge once stopped (chargedMicros minus the refund). */
  finalMicros: number | null;
  /** Proxy traffic so far, in thousandths of a MB (set through /_emulator/browsers/{id}/traffic). */
  proxyMilliMb: number;
  startedAt: number;
  timeoutAt: number;
  finishedAt: number | null;
  /** Files it downloaded (added through /_emulator/browsers/{id}/downloads), by path. */
  downloads: Map<string, StoredFile>;
}

export interface ProfileRecord {
  id: string;
  name: string | null;
  userId: string | null;
  lastUsedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

export interface StoredFile {
  path: string;
  bytes: Uint8Array;
  contentType: string;
  lastModified: number;
}

export interface WorkspaceRecord {
  id: string;
  name: string | null;
  files: Map<string, StoredFile>;
  createdAt: number;
  updatedAt: number;
}

/** Where a stored file lives: a workspace's files, or a browser's downloads. */
export type FileOwner = { kind: "workspace"; id: string } | { kind: "browser"; id: string };

/** A presigned URL: a token standing for one file of one workspace or browser, until it expires. */
export interface Grant {
  owner: FileOwner;
  path: string;
  contentType: string;
  expiresAt: number;
}

export class Store {
  readonly sessions = new Map<string, SessionRecord>();
  readonly browsers = new Map<string, BrowserRecord>();
  readonly profiles = new Map<string, ProfileRecord>();
  readonly workspaces = new Map<string, WorkspaceRecord>();
  readonly uploadGrants = new Map<string, Grant>();
  readonly downloadGrants = new Map<string, Grant>();

  clear(): void {
    this.sessions.clear();
    this.browsers.clear();
    this.profiles.clear();
    this.workspaces.clear();
    this.uploadGrants.clear();
    this.downloadGrants.clear();
  }

  /** Drops presigned URLs past their expiry. */
  pruneGrants(now: number): void {
    for (const grants of [this.uploadGrants, this.downloadGrants]) {
      for (const [token, grant] of grants) if (grant.expiresAt <= now) grants.delete(token);
    }
  }
}
