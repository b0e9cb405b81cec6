import { DurableObject } from "cloudflare:workers";

/** What a counter says of one request: let through, or refused until its window ends. */
export type RateDecision = { allowed: true } | { allowed: false; retryAfterS: number };

const WINDOW_S = 60;

/**
 * The `requestsPerMinute` count of one gateway key, over fixed one-minute windows: one object per
 * key (by name), so every isolate shares the count, and the check and the count are one step (a
 * Durable Object handles one call at a time). The count is kept in the object's own storage, so
 * it survives the object being evicted mid-window; nothing of it is written to D1.
 */
export class RateCounter extends DurableObject {
  /** Counts a request against `limit` per minute; a refused request counts for nothing. */
  async take(limit: number, nowMs = Date.now()): Promise<RateDecision> {
    const nowS = Math.floor(nowMs / 1000);
    const windowStart = nowS - (nowS % WINDOW_S);
    const stored = await this.ctx.storage.get<{ windowStart: number; count: number }>("window");
    const count = stored?.windowStart === windowStart ? stored.count : 0;
    if (count >= limit) return { allowed: false, retryAfterS: windowStart + WINDOW_S - nowS };
    await this.ctx.storage.put("window", { windowStart, count: count + 1 });
    return { allowed: true };
  }
}
