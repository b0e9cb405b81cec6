import type { Context } from "hono";
import type { AppEnv } from "../../env";
import { GatewayError } from "../../lib/errors";
import { describeError } from "../../lib/log";
import { fromMicros, toMicros } from "../../lib/money";
import { observeViews } from "../../ledger/observe";
import { applyFollowUpPolicy, applySessionPolicy } from "../../policy/apply";
import { PROFILES, SESSIONS, WORKSPACES } from "../../upstream/kinds";
import { ERROR_DETAILS } from "../../v3/schemas";
import type { UpstreamResponse } from "../../upstream/client";
import type { RunTaskRequest } from "../../v3/schemas";
import type { Progress } from "../../budget/admission";
import { createCeilingMicros } from "../../budget/holds";
import { announceApplied, forwardHeld } from "./holds";
import { forwardToObject, relay, requireOwned, requireOwnedIfSet } from "./proxy";
import { requestedFeatures, sessionFeatures } from "../../store/resources";

type Ctx = Context<AppEnv>;
const NO_COST = { resourceId: null, requestedMicros: null, exact: false };
type View = Record<string, unknown>;

/**
 * `POST /sessions`: the four-way create/dispatch of the v3 API, under policy and budget.
 * - Every id in the body must be the caller's.
 * - The policy may refuse (403) or change the body (a default proxy country); each change is
 *   listed in `X-Gateway-Applied`. A follow-up is judged by its session too (applyFollowUpPolicy):
 *   upstream runs it behind the session's proxy and, unless it names one, on the session's model.
 * - A task, new or follow-up, is admitted under a hold (402/429/503 otherwise) and forwarded with
 *   `maxCostUsd` set so upstream itself stops it at the hold: for a follow-up the ceiling is the
 *   session's total so far plus the hold, because upstream's ceiling counts the whole session (and
 *   so does a follow-up's own `maxCostUsd`: what it asks to hold is what that leaves).
 * - A session without a task costs nothing until a task is dispatched, but takes a live-session
 *   slot like any other.
 */
export async function createOrDispatch(c: Ctx, body: RunTaskRequest, raw: View): Promise<Response> {
  await requireOwnedIfSet(c, PROFILES, body.profileId);
  await requireOwnedIfSet(c, WORKSPACES, body.workspaceId);
  if (body.sessionId) await requireOwned(c, SESSIONS, body.sessionId);

  const policed = applySessionPolicy(raw, c.get("policy"));
  const out = policed.body;
  const applied = [...policed.applied];

  if (!body.task) {
    // Nothing runs yet, so nothing is held; but the session is live, so it needs a slot.
    const res = await forwardHeld(c, {
      spec: SESSIONS,
      admission: {
        ...NO_COST,
        kind: "session",
        addsLive: true,
        slotOnly: true,
        fingerprint: SESSIONS.lost.requestPrint(out),
        features: requestedFeatures(out),
      },
      path: "/sessions",
      body: out,
      success: 200,
    });
    announceApplied(c, applied);
    return relay(c, res);
  }

  let baseTotalMicros = 0;
  let baseline: Progress | undefined;
  if (body.sessionId) {
    const policy = c.get("policy");
    // Only where the policy forbids one does it matter what the session was created with; that
    // D1 read runs beside the upstream read of the session, adding no wait of its own.
    const [before, features] = await Promise.all([
      idleSession(c, body.sessionId),
      policy.allowOwnKey && policy.allowScheduledTasks
        ? { useOwnKey: false, enableScheduledTasks: false }
        : sessionFeatures(c.env.DB, body.sessionId),
    ]);
    if (!("totalMicros" in before)) return relay(c, before);
    applyFollowUpPolicy({ ...before.view, ...features }, raw, policy);
    baseTotalMicros = before.totalMicros;
    baseline = before.progress;
  }
  // Past six decimals, down: a ceiling the client set is never raised, not even by half a micro.
  const asked = body.maxCostUsd == null ? null : toMicros(body.maxCostUsd, "down");
  const res = await forwardHeld(c, {
    spec: SESSIONS,
    admission: {
      kind: "session",
      resourceId: body.sessionId ?? null,
      // Upstream takes a follow-up's maxCostUsd as the session's whole budget: the task may add
      // what it leaves above the total so far, and is sent that total plus its hold (no more).
      requestedMicros: asked === null || !body.sessionId ? asked : Math.max(0, asked - baseTotalMicros),
      exact: false,
      addsLive: !body.sessionId,
      fingerprint: SESSIONS.lost.requestPrint(out),
      baseline,
      features: requestedFeatures(out),
    },
    path: "/sessions",
    body: out,
    ceiling: (hold) => {
      // A follow-up's ceiling is the session's total so far plus the hold; a create's carries
      // the hold's tag, so a lost answer's session can be told apart (createCeilingMicros).
      const heldCeiling = body.sessionId
        ? hold.amountMicros || null
        : createCeilingMicros(hold.amountMicros, hold.tagMicros);
      if (heldCeiling === null) return null;
      const ceiling = fromMicros(baseTotalMicros + heldCeiling);
      applied.push(`maxCostUsd=${ceiling}`);
      return ceiling;
    },
    success: 200,
  });
  announceApplied(c, applied);
  return relay(c, res);
}

/**
 * The total a session has cost so far and where it stands, read fresh from upstream before a
 * follow-up is admitted; observing it also settles the previous task if it just ended. A session
 * that is not idle cannot take a task: refused here, in upstream's words, before any money is
 * held. Upstream's own refusal of the read is returned, to be relayed as it came.
 */
async function idleSession(
  c: Ctx,
  sessionId: string,
): Promise<{ totalMicros: number; progress: Progress; view: View } | UpstreamResponse> {
  const res = await forwardToObject(c, { method: "GET", path: SESSIONS.path(sessionId) });
  if (res.status !== 200) return res;
  const view = res.body as View;
  let observed: ReturnType<typeof SESSIONS.observe>;
  try {
    observed = SESSIONS.observe(view, c.get("caller"));
  } catch (err) {
    // A figure the ledger cannot read (or none at all): the session's total so far is unknown,
    // so no follow-up can be held against it. Upstream's fault, not the client's: nothing held.
    c.get("log").error("follow_up_session_unreadable", { sessionId, ...describeError(err) });
    throw new GatewayError(
      "upstream_bad_response",
      "Browser Use answered the session with cost figures the gateway cannot read; nothing was sent",
    );
  }
  await observeViews(c.env, c.get("log"), SESSIONS, c.get("caller"), [view], res.sentAt);
  if (view.status === "idle") {
    const { figures, progress } = observed;
    return {
      totalMicros: figures.totalCostMicros,
      progress: progress ?? { stepCount: 0, updatedAt: null },
      view,
    };
  }
  throw new GatewayError(
    "session_not_idle",
    SESSIONS.isFinal(SESSIONS.status(view)) ? ERROR_DETAILS.sessionStopped : ERROR_DETAILS.sessionBusy,
  );
}
