/** Records → API responses (camelCase, decimal strings, ISO times), typed by the shared schemas. */
import type {
  BrowserSessionView,
  MessageResponse,
  ProfileView,
  SessionResponse,
  WorkspaceView,
} from "../../src/v3/schemas";
import { browserCostMicros, browserProxyMicros } from "./browsers";
import { iso, isoOrNull } from "./http";
import { formatMicros, formatMilli } from "./money";
import type { BrowserRecord, MessageRecord, ProfileRecord, SessionRecord, WorkspaceRecord } from "./state";
import { sessionBrowserMicros, totalMicros } from "./state";

/**
 * A session. `detail` is for GET /sessions/{id}, the only place the API fills the screenshot and
 * recording URLs; lists carry null and [].
 */
export function sessionView(s: SessionRecord, base: string, detail: boolean): SessionResponse {
  const u = s.usage;
  const ended = s.task?.endedAt != null;
  return {
    id: s.id,
    status: s.status,
    model: s.model,
    thinkingLevel: s.thinkingLevel,
    title: s.title,
    output: s.output,
    outputSchema: s.outputSchema,
    stepCount: s.stepCount,
    lastStepSummary: s.lastStepSummary,
    isTaskSuccessful: s.isTaskSuccessful,
    liveUrl: `${base}/_emulator/live/${s.id}`,
    recordingUrls: detail && ended && s.enableRecording ? [`${base}/_emulator/recordings/${s.id}.mp4`] : [],
    profileId: s.profileId,
    workspaceId: s.workspaceId,
    proxyCountryCode: s.proxyCountryCode,
    browserScreenWidth: s.browserScreenWidth,
    browserScreenHeight: s.browserScreenHeight,
    maxCostUsd: formatMicros(s.maxCostMicros),
    totalInputTokens: u.inputTokens,
    totalOutputTokens: u.outputTokens,
    proxyUsedMb: formatMilli(u.proxyMilliMb),
    llmCostUsd: formatMicros(u.llmMicros),
    proxyCostUsd: formatMicros(u.proxyMicros),
    browserCostUsd: formatMicros(sessionBrowserMicros(u)),
    totalCostUsd: formatMicros(totalMicros(u)),
    screenshotUrl: detail && s.stepCount > 0 ? `${base}/_emulator/screenshots/${s.id}.png` : null,
    agentmailEmail: s.agentmailEmail,
    integrationsUsed: [],
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
  };
}

export function messageView(sessionId: string, m: MessageRecord): MessageResponse {
  return {
    id: m.id,
    sessionId,
    role: m.role,
    data: m.data,
    type: m.type,
    summary: m.summary,
    screenshotUrl: null,
    hidden: false,
    createdAt: iso(m.createdAt),
  };
}

/** A browser; `detail` adds what only GET/PATCH /browsers/{id} return. */
export function browserView(b: BrowserRecord, base: string, detail: boolean): BrowserSessionView {
  const recorded = b.enableRecording && b.status === "stopped";
  const view: BrowserSessionView = {
    id: b.id,
    status: b.status,
    liveUrl: b.status === "active" ? `${base}/_emulator/live/${b.id}` : null,
    cdpUrl: b.status === "active" ? `${base.replace(/^http/, "ws")}/_emulator/cdp/${b.id}` : null,
    timeoutAt: iso(b.timeoutAt),
    startedAt: iso(b.startedAt),
    finishedAt: isoOrNull(b.finishedAt),
    proxyUsedMb: formatMilli(b.proxyMilliMb),
    proxyCost: formatMicros(browserProxyMicros(b)),
    browserCost: formatMicros(browserCostMicros(b)),
    agentSessionId: null,
    recordingUrl: detail && recorded ? `${base}/_emulator/recordings/${b.id}.mp4` : null,
    metadata: b.metadata,
  };
  if (detail) view.recordingAvailable = recorded;
  return view;
}

/** Minutes an agent session's browser is listed as timing out after, Browser Use's default browser timeout. */
const AGENT_BROWSER_TIMEOUT_MINUTES = 60;

/**
 * An agent session's own browser as GET /browsers lists it (setting `agentBrowsers`): live while
 * its session is, with no cost of its own (its time is billed in the session). `detail` adds what
 * only GET/PATCH /browsers/{id} return (it records nothing of its own).
 */
export function agentBrowserView(s: SessionRecord, detail = false): BrowserSessionView {
  const ended = s.status === "stopped" || s.status === "timed_out" || s.status === "error";
  const view: BrowserSessionView = {
    id: s.browserId,
    status: ended ? "stopped" : "active",
    liveUrl: null,
    cdpUrl: null,
    timeoutAt: iso(s.createdAt + AGENT_BROWSER_TIMEOUT_MINUTES * 60_000),
    startedAt: iso(s.createdAt),
    finishedAt: ended ? iso(s.updatedAt) : null,
    proxyUsedMb: "0",
    proxyCost: "0",
    browserCost: "0",
    agentSessionId: s.id,
    recordingUrl: null,
    metadata: {},
  };
  if (detail) view.recordingAvailable = false;
  return view;
}

export function profileView(p: ProfileRecord): ProfileView {
  return {
    id: p.id,
    userId: p.userId,
    name: p.name,
    lastUsedAt: isoOrNull(p.lastUsedAt),
    createdAt: iso(p.createdAt),
    updatedAt: iso(p.updatedAt),
    cookieDomains: [],
  };
}

export function workspaceView(w: WorkspaceRecord): WorkspaceView {
  return { id: w.id, name: w.name, createdAt: iso(w.createdAt), updatedAt: iso(w.updatedAt) };
}

/** A page of `items` in the envelope browsers, profiles and workspaces share. */
export function itemsPage<T>(all: T[], pageNumber: number, pageSize: number) {
  const start = (pageNumber - 1) * pageSize;
  return { items: all.slice(start, start + pageSize), totalItems: all.length, pageNumber, pageSize };
}

/** Newest first by `timeOf`, ties broken by insertion order reversed (Maps keep insertion order). */
export function newestFirst<T>(records: Iterable<T>, timeOf: (record: T) => number): T[] {
  return [...records].reverse().sort((a, b) => timeOf(b) - timeOf(a));
}
