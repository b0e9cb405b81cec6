/**
 * A D1 binding that reports each round trip it makes: a statement run alone is one round trip of
 * one statement, a batch is one round trip of several. The benchmark counts the gateway's D1 work
 * with it, and the tests hold the request paths to their round-trip budgets with the same count.
 */
export function countedD1(db: D1Database, onRoundTrip: (sql: string[]) => void): D1Database {
  class CountedStatement {
    constructor(
      readonly inner: D1PreparedStatement,
      readonly sql: string,
    ) {}
    bind(...values: unknown[]) {
      return new CountedStatement(this.inner.bind(...values), this.sql);
    }
    first(column?: string) {
      onRoundTrip([this.sql]);
      return column ? this.inner.first(column) : this.inner.first();
    }
    run() {
      onRoundTrip([this.sql]);
      return this.inner.run();
    }
    all() {
      onRoundTrip([this.sql]);
      return this.inner.all();
    }
    raw(options?: { columnNames?: boolean }) {
      onRoundTrip([this.sql]);
      return options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw();
    }
  }
  return {
    prepare: (sql: string) => new CountedStatement(db.prepare(sql), sql),
    batch: (statements: CountedStatement[]) => {
      onRoundTrip(statements.map((s) => s.sql));
      return db.batch(statements.map((s) => s.inner));
    },
    exec: (sql: string) => {
      onRoundTrip([sql]);
      return db.exec(sql);
    },
    dump: () => db.dump(),
    withSession: () => db.withSession(),
  } as unknown as D1Database;
}
