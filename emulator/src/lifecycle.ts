/**
 * The agent-session simulation. State is a function of the clock: `advance()` replays every
 * transition due up to "now" at the instant it was due, so whoever reads a session (a request or
 * the background ticker) sees the same history, and tests do not race a timer.
 *
 *   created ──(stepMs)──▶ idle                       session created without a task
 *   created ──(bootMs, 0)──▶ running ──steps──▶ idle | stopped | error   with a task
 *   idle ──dispatch──▶ running                       follow-up on a keepAlive session
 *   idle ──(idleTimeoutMs)──▶ timed_out
 *
 * A task at creation never shows a pre-run `idle`: the SDK's run() would take it for the end.
 */
import { randomUUID } from "node:crypto";
import type { BuAgentSessionStatus } from "../../src/v3/schemas";
import type { Outcome } from "./directives";
import { sampleFromSchema } from "./output";
import { RawJson } from "./raw-json";
import { stepUsage } from "./pricing";
import { type SessionRecord, type TaskRun, totalMicros } from "./state";

/** A task's status change, as a webhook reports it. */
export interface StatusEvent {
  sessionId: string;
  taskId: string;
  status: BuAgentSessionStatus;
  at: number;
}

export interface LifecycleEnv {
  idleTimeoutMs: number;
  /** Whether browser time is billed while no task runs (the `idleBrowserBilling` setting). */
  billIdleTime: boolean;
  emit: (event: StatusEvent) => void;
}

/** Why a task ended. */
export type Ending = Outcome | "budget" | "stopped";

const STEP_ACTIONS = [
  "Opening the start page",
  "Reading the page content",
  "Extracting the requested information",
  "Checking the result against the task",
  "Navigating to the next page",
];

/** Replays everything due for `s` up to `now`. */
export function advance(s: SessionRecord, now: number, env: LifecycleEnv): void {
  replay(s, now, env);
  billIdleTime(s, now, env);
}

function replay(s: SessionRecord, now: number, env: LifecycleEnv): void {
  for (;;) {
    const task = s.task;
    if (s.status === "created" && !task) {
      if (s.readyAt === null || s.readyAt > now) return;
      setStatus(s, "idle", s.readyAt, env);
      continue;
    }
    if (task && task.endedAt === null && (s.status === "created" || s.status === "running")) {
      if (!stepTask(s, task, now, env)) return;
      continue;
    }
    if (s.status === "idle" && s.idleSince !== null && s.idleSince + env.idleTimeoutMs <= now) {
      setStatus(s, "timed_out", s.idleSince + env.idleTimeoutMs, env);
      continue;
    }
    return;
  }
}

/** Takes the next due transition of a live task; false when nothing is due yet. */
function stepTask(s: SessionRecord, task: TaskRun, now: number, env: LifecycleEnv): boolean {
  if (s.status === "created") {
    if (task.startedAt > now) return false;
    setStatus(s, "running", task.startedAt, env);
    return true;
  }
  // Checked before each step: a task dispatched over budget ends without spending more.
  if (totalMicros(s.usage) >= s.maxCostMicros) {
    endTask(s, "budget", task.lastAt, env);
    return true;
  }
  if (task.stepsDone < task.steps) {
    const at = task.startedAt + (task.stepsDone + 1) * task.stepMs;
    if (at > now) return false;
    takeStep(s, task, at);
    return true;
  }
  const outcome = task.directive.outcome ?? "success";
  if (outcome === "hang") return false;
  endTask(s, outcome, task.lastAt, env);
  return true;
}

function takeStep(s: SessionRecord, task: TaskRun, at: number): void {
  const used = stepUsage({
    model: s.model,
    proxied: s.proxyCountryCode !== null,
    useOwnKey: s.useOwnKey,
    stepMs: task.stepMs,
    exactMicros: task.directive.costMicros,
  });
  const u = s.usage;
  u.llmMicros += used.llmMicros;
  u.proxyMicros += used.proxyMicros;
  u.browserMicros += used.browserMicros;
  u.inputTokens += used.inputTokens;
  u.outputTokens += used.outputTokens;
  u.proxyMilliMb += used.proxyMilliMb;

  task.stepsDone += 1;
  task.lastAt = at;
  s.stepCount += 1;
  const action = STEP_ACTIONS[(task.stepsDone - 1) % STEP_ACTIONS.length] ?? "Working";
  s.lastStepSummary = `Step ${task.stepsDone}: ${action}`;
  s.title ??= titleOf(task.text);
  addMessage(
    s,
    at,
    "ai",
    "browser_action",
    JSON.stringify({ step: task.stepsDone, action }),
    s.lastStepSummary,
  );
  s.updatedAt = at;
}

/**
 * Ends the live task of `s` at `at`, setting output and success. The session then goes to `then`
 * when given (a stop request decides), else `error` for an error, else idle or stopped per keepAlive.
 */
function endTask(
  s: SessionRecord,
  ending: Ending,
  at: number,
  env: LifecycleEnv,
  then?: BuAgentSessionStatus,
) {
  const task = s.task;
  if (!task || task.endedAt !== null) return;
  task.endedAt = at;
  task.lastAt = at;
  const next = then ?? (ending === "error" ? "error" : s.keepAlive ? "idle" : "stopped");
  switch (ending) {
    case "success":
      s.output = successOutput(s, task);
      s.isTaskSuccessful = true;
      addMessage(s, at, "ai", "completion", outputText(s.output), "Task completed");
      break;
    case "fail":
    case "budget": {
      const reason = ending === "budget" ? "maximum cost (maxCostUsd) reached" : "the agent could not finish";
      // A string would not parse against the caller's output schema (the SDK parses output).
      s.output = s.outputSchema ? null : `Task incomplete: ${reason}.`;
      s.isTaskSuccessful = false;
      s.lastStepSummary = `Stopped: ${reason}`;
      addMessage(s, at, "ai", "completion", `Task incomplete: ${reason}.`, "Task incomplete");
      break;
    }
    case "error":
      s.output = null;
      s.isTaskSuccessful = false;
      s.lastStepSummary = "The browser sandbox failed (emulated error)";
      addMessage(s, at, "ai", "browser_action_error", "Sandbox error (emulated)", "Sandbox error");
      break;
    case "stopped":
    case "hang":
      s.output = null;
      s.isTaskSuccessful = false;
      break;
  }
  setStatus(s, next, at, env);
}

/** Starts `task` on `s`: now if the sandbox is up, after `bootMs` for a new session. */
export function startTask(
  s: SessionRecord,
  task: TaskRun,
  rawTask: string,
  at: number,
  env: LifecycleEnv,
): void {
  s.task = task;
  s.output = null;
  s.isTaskSuccessful = null;
  s.readyAt = null;
  addMessage(s, at, "human", "user_message", rawTask, titleOf(task.text));
  s.updatedAt = at;
  if (s.status === "idle") setStatus(s, "running", at, env);
}

/** Stops the live task (strategy "task", session → idle) or the whole session ("session"). */
export function stopSession(
  s: SessionRecord,
  strategy: "task" | "session",
  now: number,
  env: LifecycleEnv,
): void {
  const live = s.task !== null && s.task.endedAt === null;
  if (strategy === "task") {
    if (live) endTask(s, "stopped", now, env, "idle");
    return;
  }
  if (s.status === "stopped" || s.status === "timed_out" || s.status === "error") return;
  if (live) endTask(s, "stopped", now, env, "stopped");
  else setStatus(s, "stopped", now, env);
}

function setStatus(s: SessionRecord, status: BuAgentSessionStatus, at: number, env: LifecycleEnv): void {
  billIdleTime(s, at, env);
  s.status = status;
  s.updatedAt = Math.max(s.updatedAt, at);
  s.idleSince = status === "idle" ? at : null;
  if (s.task) env.emit({ sessionId: s.id, taskId: s.task.id, status, at });
}

/**
 * Adds the time since the last call that the sandbox sat without a task (`idle`, or `created`
 * without one) to the session's idle time, when idle billing is on.
 */
function billIdleTime(s: SessionRecord, until: number, env: LifecycleEnv): void {
  if (until <= s.billedUntil) return;
  const taskless = s.status === "idle" || (s.status === "created" && s.task === null);
  if (taskless && env.billIdleTime) s.usage.idleMs += until - s.billedUntil;
  s.billedUntil = until;
}

function addMessage(
  s: SessionRecord,
  at: number,
  role: "human" | "ai",
  type: string,
  data: string,
  summary: string,
) {
  s.messages.push({ id: randomUUID(), role, type, data, summary, createdAt: at });
}

function successOutput(s: SessionRecord, task: TaskRun): unknown {
  if (task.directive.outputJson !== undefined) return new RawJson(task.directive.outputJson);
  if (s.outputSchema) return sampleFromSchema(s.outputSchema);
  const text = task.directive.output ?? `Completed: ${task.text || "(empty task)"}`;
  if (s.codeMode) return { text, code: `print(${JSON.stringify(text)})` };
  return text;
}

function outputText(output: unknown): string {
  if (output instanceof RawJson) return output.text;
  return typeof output === "string" ? output : JSON.stringify(output);
}

function titleOf(text: string): string {
  const clean = text.trim() || "Untitled task";
  return clean.length > 60 ? `${clean.slice(0, 57)}...` : clean;
}
