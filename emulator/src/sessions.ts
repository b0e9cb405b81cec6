/**
 * POST /sessions: the four-way matrix (new or existing session × with or without a task), and
 * the message-cursor rules of GET /sessions/{id}/messages.
 */
import { randomUUID } from "node:crypto";
import { ERROR_DETAILS, type RunTaskRequest } from "../../src/v3/schemas";
import { DEFAULT_STEPS, type ParsedTask, parseTask } from "./directives";
import type { Emulator } from "./emulator";
import { ApiError, invalid, notFound } from "./errors";
import { advance, startTask } from "./lifecycle";
import { toMicros } from "./money";
import { type MessageRecord, type SessionRecord, type TaskRun, emptyUsage, totalMicros } from "./state";

/**
 * Creates a session or dispatches a task, per the body. `raw` is the body as sent: on a
 * follow-up only the fields the caller actually set override the session's (pydantic's
 * fields-set semantics), so a follow-up without `model` keeps the session's model.
 */
export function runTask(emu: Emulator, body: RunTaskRequest, raw: Record<string, unknown>): SessionRecord {
  const parsed = body.task ? parseTaskOr422(body.task) : null;
  if (body.profileId) emu.profile(body.profileId);
  if (body.workspaceId) emu.workspace(body.workspaceId);
  if (body.sessionId) {
    // The schema guarantees a task whenever sessionId is set.
    return dispatch(emu, emu.session(body.sessionId), body, raw, parsed as ParsedTask & { ok: true });
  }
  emu.requireCapacity();
  emu.requireCredits();
  // A create naming no model runs on the account's default, which need not be the documented one.
  return create(emu, "model" in raw ? body : { ...body, model: emu.settings.defaultModel }, parsed);
}

function create(
  emu: Emulator,
  body: RunTaskRequest,
  parsed: (ParsedTask & { ok: true }) | null,
): SessionRecord {
  const now = emu.now();
  const id = randomUUID();
  const s: SessionRecord = {
    id,
    status: "created",
    model: body.model,
    thinkingLevel: body.thinkingLevel ?? null,
    keepAlive: body.keepAlive,
    profileId: body.profileId?.toLowerCase() ?? null,
    workspaceId: body.workspaceId?.toLowerCase() ?? null,
    proxyCountryCode: body.proxyCountryCode,
    browserScreenWidth: body.browserScreenWidth ?? null,
    browserScreenHeight: body.browserScreenHeight ?? null,
    enableRecording: body.enableRecording,
    useOwnKey: body.useOwnKey,
    codeMode: body.codeMode,
    // No inbox is provisioned, so there is no address to report.
    agentmailEmail: null,
    outputSchema: body.outputSchema ?? null,
    title: null,
    output: null,
    isTaskSuccessful: null,
    stepCount: 0,
    lastStepSummary: null,
    usage: emptyUsage(),
    maxCostMicros: budget(emu, body, 0),
    readyAt: now + emu.settings.stepMs,
    idleSince: null,
    billedUntil: now,
    task: null,
    messages: [],
    deleted: false,
    browserId: randomUUID(),
    browserDownloads: new Map(),
    createdAt: now,
    updatedAt: now,
  };
  emu.store.sessions.set(id, s);
  if (s.profileId) emu.profile(s.profileId).lastUsedAt = now;
  if (parsed && body.task) {
    startTask(s, newTask(emu, parsed, now + emu.settings.bootMs), body.task, now, emu.lifecycle);
    // With no boot delay the task is running by the time the response is written.
    advance(s, now, emu.lifecycle);
  }
  return s;
}

function dispatch(
  emu: Emulator,
  s: SessionRecord,
  body: RunTaskRequest,
  raw: Record<string, unknown>,
  parsed: ParsedTask & { ok: true },
): SessionRecord {
  if (s.status === "created" || s.status === "running") throw new ApiError(400, ERROR_DETAILS.sessionBusy);
  if (s.status !== "idle") throw new ApiError(400, ERROR_DETAILS.sessionStopped);
  emu.requireCredits();
  const now = emu.now();
  if ("model" in raw) s.model = body.model;
  if ("thinkingLevel" in raw) s.thinkingLevel = body.thinkingLevel ?? null;
  if ("keepAlive" in raw) s.keepAlive = body.keepAlive;
  if ("codeMode" in raw) s.codeMode = body.codeMode;
  // The output schema belongs to the task: a follow-up without one wants plain text.
  s.outputSchema = body.outputSchema ?? null;
  s.maxCostMicros = budget(emu, body, totalMicros(s.usage));
  startTask(s, newTask(emu, parsed, now), body.task ?? "", now, emu.lifecycle);
  return s;
}

/** The task's budget: the caller's maxCostUsd, else current spend plus the default. */
function budget(emu: Emulator, body: RunTaskRequest, spentMicros: number): number {
  if (body.maxCostUsd != null) return toMicros(body.maxCostUsd);
  return spentMicros + emu.settings.defaultMaxCostMicros;
}

function newTask(emu: Emulator, parsed: ParsedTask & { ok: true }, startsAt: number): TaskRun {
  return {
    id: randomUUID(),
    text: parsed.text,
    directive: parsed.directive,
    steps: parsed.directive.steps ?? DEFAULT_STEPS,
    stepMs: parsed.directive.stepMs ?? emu.settings.stepMs,
    startedAt: startsAt,
    stepsDone: 0,
    lastAt: startsAt,
    endedAt: null,
  };
}

function parseTaskOr422(task: string): ParsedTask & { ok: true } {
  const parsed = parseTask(task);
  if (parsed.ok) return parsed;
  throw invalid([
    {
      type: "value_error",
      loc: ["body", "task"],
      msg: `Value error, invalid emulator directive: ${parsed.error}`,
      input: task,
    },
  ]);
}

/**
 * One page of messages, chronological. No cursor: the latest `limit`. `after`: the oldest
 * `limit` newer than it. `before`: the `limit` just older than it. `hasMore` says whether more
 * lie beyond the page in that direction (older for no cursor and `before`, newer for `after`).
 */
export function pageMessages(
  messages: MessageRecord[],
  q: { after?: string | null; before?: string | null; limit: number },
): { page: MessageRecord[]; hasMore: boolean } {
  let lo = 0;
  let hi = messages.length;
  if (q.after) lo = indexOfMessage(messages, q.after) + 1;
  if (q.before) hi = indexOfMessage(messages, q.before);
  if (q.after) {
    const end = Math.min(hi, lo + q.limit);
    return { page: messages.slice(lo, Math.max(lo, end)), hasMore: end < hi };
  }
  const start = Math.max(lo, hi - q.limit);
  return { page: messages.slice(start, hi), hasMore: start > lo };
}

function indexOfMessage(messages: MessageRecord[], id: string): number {
  const i = messages.findIndex((m) => m.id === id.toLowerCase());
  if (i < 0) throw notFound("Message not found");
  return i;
}
