import type { Context } from "hono";
import type { AppEnv } from "../env";
import { describeError } from "./log";

/**
 * Runs `work` after the response is sent. A failure is logged with the task's name,
 * never swallowed; the client's response is already on its way and is not affected.
 */
export function afterResponse(c: Context<AppEnv>, name: string, work: () => Promise<unknown>): void {
  const task = work().catch((err: unknown) =>
    c.get("log").error("after_response_failed", { task: name, ...describeError(err) }),
  );
  c.executionCtx.waitUntil(task);
}
