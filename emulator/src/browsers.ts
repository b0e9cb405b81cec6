/**
 * Standalone browsers (BaaS): the whole timeout is charged at creation; stopping early refunds
 * the unused part (see pricing.ts). A browser left running stops itself at `timeoutAt`.
 */
import { PROXY_MICROS_PER_MB, billedMinutes, browserMinutesMicros } from "./pricing";
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

/** What the browser's time costs so far: the upfront charge while active, the final one after. */
export function browserCostMicros(b: BrowserRecord): number {
  return b.finalMicros ?? b.chargedMicros;
}

/** What its proxy traffic costs, billed on top of its time and never refunded. */
export function browserProxyMicros(b: BrowserRecord): number {
  return (b.proxyMilliMb * PROXY_MICROS_PER_MB) / 1_000;
}

/** Adds proxy traffic (thousandths of a MB) to an active browser. */
export function addProxyTraffic(b: BrowserRecord, milliMb: number): void {
  b.proxyMilliMb += milliMb;
}

function finish(b: BrowserRecord, at: number): void {
  b.status = "stopped";
  b.finishedAt = at;
  b.finalMicros = Math.min(b.chargedMicros, browserMinutesMicros(billedMinutes(at - b.startedAt)));
}
