/**
 * The gateway with a counter around its D1 binding, for the benchmark only: every statement run
 * alone is one round trip, a batch is one round trip of several statements. `GET /__bench/d1`
 * answers the counts so far; the benchmark reads it before and after each scenario.
 */
import gateway from "../src/index";
import type { Bindings } from "../src/env";

export { RateCounter } from "../src/index";

const counts = { statements: 0, roundTrips: 0 };

class CountedStatement {
  constructor(readonly inner: D1PreparedStatement) {}
  bind(...values: unknown[]) {
    return new CountedStatement(this.inner.bind(...values));
  }
  first(column?: string) {
    counts.statements++;
    counts.roundTrips++;
    return column ? this.inner.first(column) : this.inner.first();
  }
  run() {
    counts.statements++;
    counts.roundTrips++;
    return this.inner.run();
  }
  all() {
    counts.statements++;
    counts.roundTrips++;
    return this.inner.all();
  }
  raw(options?: { columnNames?: boolean }) {
    counts.statements++;
    counts.roundTrips++;
    return options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw();
  }
}

function counted(db: D1Database): D1Database {
  return {
    prepare: (sql: string) => new CountedStatement(db.prepare(sql)),
    batch: (statements: CountedStatement[]) => {
      counts.statements += statements.length;
      counts.roundTrips++;
      return db.batch(statements.map((s) => s.inner));
    },
    exec: (sql: string) => {
      counts.roundTrips++;
      return db.exec(sql);
    },
    dump: () => db.dump(),
    withSession: () => db.withSession(),
  } as unknown as D1Database;
}

export default {
  fetch(request: Request, env: Bindings, ctx: ExecutionContext) {
    if (new URL(request.url).pathname === "/__bench/d1") return Response.json(counts);
    return gateway.fetch(request, { ...env, DB: counted(env.DB) }, ctx);
  },
  scheduled: gateway.scheduled,
  queue: gateway.queue,
} satisfies ExportedHandler<Bindings>;
