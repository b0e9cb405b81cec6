import { toMicros } from "../lib/money";
import type { Owner } from "../store/resources";
import type { CostFigures, UsageObservation } from "../store/usage";

/** Agent-session states after which nothing more is charged. */
export const FINAL_SESSION_STATUSES: ReadonlySet<string> = new Set(["stopped", "timed_out", "error"]);

type View = Record<string, unknown>;

const int = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : 0);
const micros = (v: unknown) => (typeof v === "string" || typeof v === "number" ? toMicros(v) : 0);
/**
 * A cost figure a view must carry, never below zero. One left out, null or negative is no cost:
 * booked, a final view would lower the total below what was spent and settle its hold at $0. A
 * view with one is refused like one whose figure cannot be read (not booked; its hold stays open
 * until a whole view comes).
 */
const cost = (view: View, field: string) => {
  const v = view[field];
  const micros = typeof v === "string" || typeof v === "number" ? toMicros(v) : Number.NaN;
  if (!(micros >= 0)) throw new RangeError(`view without a cost in ${field}: ${JSON.stringify(v)}`);
  return micros;
};
const str = (v: unknown) => (typeof v === "string" ? v : null);

/** The ledger's reading of a SessionResponse: every cost field, in integers. */
export function sessionObservation(view: View, owner: Owner): UsageObservation {
  const status = str(view.status) ?? "unknown";
  const figures: CostFigures = {
    inputTokens: int(view.totalInputTokens),
    outputTokens: int(view.totalOutputTokens),
    proxyUsedMicroMb: micros(view.proxyUsedMb),
    llmCostMicros: cost(view, "llmCostUsd"),
    proxyCostMicros: cost(view, "proxyCostUsd"),
    browserCostMicros: cost(view, "browserCostUsd"),
    totalCostMicros: cost(view, "totalCostUsd"),
  };
  return {
    kind: "session",
    id: String(view.id),
    owner,
    status,
    final: FINAL_SESSION_STATUSES.has(status),
    model: str(view.model),
    proxyCountry: str(view.proxyCountryCode),
    figures,
    progress: {
      stepCount: int(view.stepCount),
      updatedAt: str(view.updatedAt),
      outcome: typeof view.isTaskSuccessful === "boolean",
    },
  };
}

/** The ledger's reading of a browser view; its total is proxy plus browser cost (upstream sends no total). */
export function browserObservation(view: View, owner: Owner): UsageObservation {
  const status = str(view.status) ?? "unknown";
  const proxyCostMicros = cost(view, "proxyCost");
  const browserCostMicros = cost(view, "browserCost");
  return {
    kind: "browser",
    id: String(view.id),
    owner,
    status,
    final: status === "stopped",
    proxyCountry: str(view.proxyCountryCode),
    figures: {
      inputTokens: 0,
      outputTokens: 0,
      proxyUsedMicroMb: micros(view.proxyUsedMb),
      llmCostMicros: 0,
      proxyCostMicros,
      browserCostMicros,
      totalCostMicros: proxyCostMicros + browserCostMicros,
    },
  };
}
