/**
 * What a chaos run drives, whichever way it reaches it: the gateway under `wrangler dev` over HTTP
 * (`npm run chaos`), or the gateway's fetch handler inside workerd in a vitest test. The load, the
 * wind-down and the audit are the same code in both (run.ts); only these calls differ.
 */
export interface ChaosTarget {
  /** Bearer token of the gateway's admin API. */
  adminToken: string;
  /**
   * A request to the gateway. With `hangUpAfterMs`, the client goes away that long after sending
   * and never reads the answer: "hung-up".
   */
  gateway(path: string, init: RequestInit, hangUpAfterMs?: number): Promise<Response | "hung-up">;
  /** A call to the /_emulator controls of the gateway's upstream account; its JSON answer. */
  emulator<T>(method: string, path: string, body?: unknown): Promise<T>;
  /** A call straight to upstream's /api/v3 with the account's key, as a client outside the gateway. */
  upstream(method: string, path: string, body?: unknown): Promise<Response>;
  /**
   * One reconciler pass over every org on the account, as if the time were `now`: its reports
   * (`ReconcileReport`, counts of what it did).
   */
  reconcile(now: Date): Promise<object[]>;
  /** Rows of a read of the gateway's database. */
  sql<T>(query: string, ...binds: (string | number)[]): Promise<T[]>;
  /** Waits until work still under way for requests already answered (or hung up) has finished. */
  drain(): Promise<void>;
}
