import { settleIfEnded } from "../budget/settlement";
import type { Logger } from "../lib/log";
import { type Owner, updateViewStatement } from "../store/resources";
import { recordUsage } from "../store/usage";
import type { KindSpec } from "../upstream/kinds";

type View = Record<string, unknown>;

/**
 * What the gateway does with every view of an owned object upstream gives it, whoever asked
 * (a tenant's request, the reconciler, the upstream webhook): keep the latest view, book its cost
 * figures, and settle the hold of whatever has ended. `sentAt` is when the upstream request that
 * returned the views was sent.
 */
export async function observeViews(
  db: D1Database,
  log: Logger,
  spec: KindSpec,
  owner: Owner,
  views: View[],
  sentAt: string,
): Promise<void> {
  if (views.length === 0) return;
  await db.batch(
    views.map((view) => updateViewStatement(db, spec.kind, String(view.id), view, spec.status(view), sentAt)),
  );
  if (!spec.observe) return;
  for (const view of views) {
    const obs = spec.observe(view, owner);
    await recordUsage(db, obs);
    await settleIfEnded(db, log, obs, sentAt);
  }
}
