import { loadEffectivePolicy } from "../policy/load";
import { thresholdCrossingStatement } from "../store/alerts";

/** The org's and the tenant's counters that a change of spend moved, and their periods. */
export interface MovedScopes {
  orgId: string;
  orgPeriod: string;
  tenantId: string;
  tenantPeriod: string;
}

/**
 * The statements that announce the thresholds a move of spend crossed (see
 * thresholdCrossingStatement), for the scopes of `owner` that have a cap. They read the counters,
 * so they belong after the statements that move them, and in the same batch: once spend has moved,
 * nothing moves it again to make an alert a later batch failed to write.
 */
export async function crossingStatements(
  db: D1Database,
  moved: MovedScopes,
  at: string,
): Promise<D1PreparedStatement[]> {
  if (moved.tenantId === "") return []; // unattributed spend has no budget
  const policy = await loadEffectivePolicy(db, moved);
  const statements: D1PreparedStatement[] = [];
  if (policy.orgBudget) {
    statements.push(
      thresholdCrossingStatement(
        db,
        {
          scope: "org",
          orgId: moved.orgId,
          tenantId: null,
          scopeId: moved.orgId,
          periodKey: moved.orgPeriod,
        },
        policy.orgBudget.capMicros,
        at,
      ),
    );
  }
  if (policy.tenantBudget) {
    statements.push(
      thresholdCrossingStatement(
        db,
        {
          scope: "tenant",
          orgId: moved.orgId,
          tenantId: moved.tenantId,
          scopeId: moved.tenantId,
          periodKey: moved.tenantPeriod,
        },
        policy.tenantBudget.capMicros,
        at,
      ),
    );
  }
  return statements;
}

/** The ids of the events a batch's crossing statements (its last `count`) made. */
export function madeEvents(results: D1Result[], count: number): string[] {
  return results
    .slice(results.length - count)
    .flatMap((r) => ((r.results ?? []) as { id: string }[]).map((row) => row.id));
}
