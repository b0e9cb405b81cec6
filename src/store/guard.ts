import { describeError, type LogFields, type Logger } from "../lib/log";

/**
 * The one way the gateway says "our store failed". The worker wraps its D1 binding once per
 * request (index.ts), so every D1 call that fails, wherever it is made, rejects with
 * StoreUnavailable: onError answers it 503 `store_unavailable`, and a path that must not answer
 * 503 (upstream already acted) catches it by type rather than by D1's wording.
 */
export class StoreUnavailable extends Error {
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "StoreUnavailable";
  }
}

const RAW = Symbol("raw statement");

type Guarded = D1PreparedStatement & { [RAW]: D1PreparedStatement };

async function guarded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw err instanceof StoreUnavailable ? err : new StoreUnavailable(err);
  }
}

function guardStatement(statement: D1PreparedStatement): Guarded {
  const wrapped = {
    [RAW]: statement,
    bind: (...values: unknown[]) => guardStatement(statement.bind(...values)),
    first: (column?: string) => guarded(() => (column ? statement.first(column) : statement.first())),
    run: () => guarded(() => statement.run()),
    all: () => guarded(() => statement.all()),
    raw: (options?: { columnNames?: boolean }) =>
      guarded(() => statement.raw(options as { columnNames: true })),
  };
  return wrapped as unknown as Guarded;
}

const unwrap = (statement: D1PreparedStatement) => (statement as Partial<Guarded>)[RAW] ?? statement;

/** `db` with every failure turned into StoreUnavailable; statements stay batchable. */
export function guardD1(db: D1Database): D1Database {
  const wrapped = {
    prepare: (query: string) => guardStatement(db.prepare(query)),
    batch: (statements: D1PreparedStatement[]) => guarded(() => db.batch(statements.map(unwrap))),
    exec: (query: string) => guarded(() => db.exec(query)),
    withSession: () => db.withSession(),
    dump: () => guarded(() => db.dump()),
  };
  return wrapped as unknown as D1Database;
}

/**
 * Runs a write that follows something upstream already did (a create, a refusal, a delete). Should
 * the store fail now, the client must still get upstream's answer: a 503 would invite a retry
 * that repeats the upstream action. The failure is logged by name and left to the reconciler.
 * Returns whether the write was made.
 */
export async function afterUpstreamActed(
  log: Logger,
  event: string,
  fields: LogFields,
  work: () => Promise<unknown>,
): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (err) {
    if (!isStoreFailure(err)) throw err;
    log.error(event, { ...fields, ...describeError(err) });
    return false;
  }
}

/** Whether an error is the store's failure (as opposed to a bug or the client's input). */
export const isStoreFailure = (err: unknown): err is StoreUnavailable => err instanceof StoreUnavailable;
