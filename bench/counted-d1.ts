/** What is told of each round trip to D1: when sent, its statements' SQL; when answered, D1's time too. */
export interface RoundTripListener {
  sent?: (sql: string[]) => void;
  /**
   * D1's own execution time (`meta.duration`) and the rows it read (`meta.rows_read`, what D1
   * bills), each summed over the statements; 0 for `raw()`.
   */
  answered?: (sql: string[], durationMs: number, rowsRead: number) => void;
}

/**
 * A D1 binding that reports each round trip it makes: a statement run alone is one round trip of
 * one statement, a batch is one round trip of several. The benchmark counts the gateway's D1 work
 * with it, and the tests hold the request paths to their round-trip budgets with the same count.
 */
export function countedD1(db: D1Database, listener: RoundTripListener): D1Database {
  const send = <T>(sql: string[], work: () => Promise<T>, meta: (result: T) => Meta) => {
    listener.sent?.(sql);
    return work().then((result) => {
      const { durationMs, rowsRead } = meta(result);
      listener.answered?.(sql, durationMs, rowsRead);
      return result;
    });
  };
  type Meta = { durationMs: number; rowsRead: number };
  const ofResult = (r: D1Result): Meta => ({
    durationMs: r.meta?.duration ?? 0,
    rowsRead: r.meta?.rows_read ?? 0,
  });
  const none = (): Meta => ({ durationMs: 0, rowsRead: 0 });
  class CountedStatement {
    constructor(
      readonly inner: D1PreparedStatement,
      readonly sql: string,
    ) {}
    bind(...values: unknown[]) {
      return new CountedStatement(this.inner.bind(...values), this.sql);
    }
    // `first` as `all`, so D1's execution time can be read off its result.
    async first(column?: string) {
      const { results } = await send([this.sql], () => this.inner.all(), ofResult);
      const row = (results[0] ?? null) as Record<string, unknown> | null;
      return column ? (row?.[column] ?? null) : row;
    }
    run() {
      return send([this.sql], () => this.inner.run(), ofResult);
    }
    all() {
      return send([this.sql], () => this.inner.all(), ofResult);
    }
    raw(options?: { columnNames?: boolean }) {
      return send(
        [this.sql],
        () => (options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw()),
        none,
      );
    }
  }
  return {
    prepare: (sql: string) => new CountedStatement(db.prepare(sql), sql),
    batch: (statements: CountedStatement[]) =>
      send(
        statements.map((s) => s.sql),
        () => db.batch(statements.map((s) => s.inner)),
        (results) =>
          results.map(ofResult).reduce(
            (a, b) => ({
              durationMs: a.durationMs + b.durationMs,
              rowsRead: a.rowsRead + b.rowsRead,
            }),
            none(),
          ),
      ),
    exec: (sql: string) =>
      send(
        [sql],
        () => db.exec(sql),
        (r) => ({ durationMs: r.duration, rowsRead: 0 }),
      ),
    dump: () => db.dump(),
    withSession: () => db.withSession(),
  } as unknown as D1Database;
}
