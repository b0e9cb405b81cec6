import type { Bindings } from "../env";
import { describeError, type Logger } from "../lib/log";
import { listOrgUpstreams, markUpstreamReconciled } from "../store/upstreams";
import { openCredentials, withCredentials } from "../upstream/accounts";
import { type ReconcileOptions, type ReconcileReport, reconcile } from "./run";

/**
 * Orgs' own accounts gone through per run, after the deployment's, those waiting longest first.
 * Each pass makes up to ~50 subrequests; with Queues the gateway runs on Workers Paid, whose
 * invocations may make 1,000.
 */
const ACCOUNTS_PER_RUN = 5;

/**
 * The cron's reconciler run: a pass over the deployment's account (every org without one of its
 * own), then over up to `accounts` (ACCOUNTS_PER_RUN) orgs' own accounts, each with its own key, so what the
 * reconciler reads, lists and stops for an org happens on the org's account. An account that
 * fails (its key unreadable or refused) is logged and skipped; the others go on.
 */
export async function reconcileEveryAccount(
  env: Bindings,
  log: Logger,
  options: Omit<ReconcileOptions, "orgId"> & { accounts?: number } = {},
): Promise<ReconcileReport[]> {
  const { accounts = ACCOUNTS_PER_RUN, ...pass } = options;
  const reports = [await reconcile(env, log, pass)];
  const now = (pass.now ?? new Date()).toISOString();
  for (const sealed of await listOrgUpstreams(env.DB, accounts)) {
    // Marked first: an account that keeps failing does not hold the others back.
    await markUpstreamReconciled(env.DB, sealed.orgId, now);
    try {
      const credentials = await openCredentials(env, sealed, log);
      reports.push(
        await reconcile(withCredentials(env, credentials), log, {
          ...options,
          orgId: sealed.orgId,
          accountSetAt: sealed.setAt,
        }),
      );
    } catch (err) {
      log.error("reconcile_account_failed", { orgId: sealed.orgId, ...describeError(err) });
    }
  }
  return reports;
}
