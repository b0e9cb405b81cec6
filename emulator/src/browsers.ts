/**
 * Standalone browsers (BaaS): the whole timeout is charged at creation; stopping early refunds
 * the unused part (see pricing.ts). A browser left running stops itself at `timeoutAt`.
 */
import { billedMinutes, browserMinutesMicros } from "./pricing";
import type { BrowserRecord } from "./state";

/** Stops `b` if its timeout has passed by `now` (at the timeout, fully charged). */
export function advanceBrowser(b: BrowserRecord, now: number): void {
  if (b.status === "active" && b.timeoutAt <= now) finish(b, b.timeoutAt);
}

/** Stops `b` at `now`, keeping the charge for the minutes used and refunding the rest. */
export function stopBrowser(b: BrowserRecord, now: number): void {
  advanceBrowser(b, now);
  if (b.status === "active") finish(b, now);
}

/** What the browser costs so far: the upfront charge while active, the final one after. */
export function browserCostMicros(b: BrowserRecord): number {
  return b.finalMicros ?? b.chargedMicros;
}

function finish(b: BrowserRecord, at: number): void {
  b.status = "stopped";
  b.finishedAt = at;
  b.finalMicros = Math.min(b.chargedMicros, browserMinutesMicros(billedMinutes(at - b.startedAt)));
}
