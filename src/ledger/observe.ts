import { settleIfEnded } from "../budget/settlement";
import type { Logger } from "../lib/log";
import { type Owner, updateViewStatement } from "../store/resources";
import { recordUsageStatements } from "../store/usage";
import type { KindSpec } from "../upstream/kinds";

type View = Record<string, unknown>;

const VIEWS_PER_BATCH = 10;

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
  const { observe } = spec;
  const observations = observe ? views.map((view) => observe(view, owner)) : [];
  // A batch per few views, each view's statements together: a list of a hundred costs ten round
  // trips, not two hundred, and no batch grows past what D1 takes comfortably.
  for (let i = 0; i < views.length; i += VIEWS_PER_BATCH) {
    const chunk = views.slice(i, i + VIEWS_PER_BATCH);
    await db.batch([
      ...chunk.map((view) =>
        updateViewStatement(db, spec.kind, String(view.id), view, spec.status(view), sentAt),
      ),
      ...observations.slice(i, i + VIEWS_PER_BATCH).flatMap((obs) => recordUsageStatements(db, obs)),
    ]);
  }
  for (const obs of observations) await settleIfEnded(db, log, obs, sentAt);
}
