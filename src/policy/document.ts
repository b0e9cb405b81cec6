import * as z from "zod";
import { toMicros } from "../lib/money";
import { BuModel, ProxyCountryCode } from "../v3/schemas/common";
import { BROWSER_TIMEOUT_MAX_MINUTES } from "../v3/schemas/browsers";

/**
 * A non-negative amount of US dollars as a decimal string ("5", "0.25"). At most six decimals,
 * so the amount is exact in micro-USD, and at most nine integer digits, so it stays a safe
 * integer there. A JSON number is refused: money never travels as a float.
 */
export const PolicyMoney = z.string().regex(/^\d{1,9}(\.\d{1,6})?$/);

/** An IANA time zone name the runtime knows ("Europe/Berlin", "UTC"). */
export const TimeZone = z
  .string()
  .max(64)
  .refine(isTimeZone, { message: "timeZone must be an IANA time zone name such as 'Europe/Berlin'" });

/** How a budget cap resets: calendar-aligned in the budget's time zone, or never ("none"). */
export const BudgetPeriod = z.enum(["day", "week", "month", "none"]);
export type BudgetPeriod = z.infer<typeof BudgetPeriod>;

/** A spending cap on the scope the document belongs to. Not inherited: org and tenant budgets are separate. */
export const PolicyBudget = z.strictObject({
  capUsd: PolicyMoney,
  period: BudgetPeriod,
  /** Defaults to "UTC" when absent (see effectivePolicy). */
  timeZone: TimeZone.optional(),
});
export type PolicyBudget = z.infer<typeof PolicyBudget>;

const Positive = z.int().min(1);

/**
 * The policy document of an org or a tenant, as an admin PUTs it and GET returns it. Every field
 * is optional and an absent one inherits (from the org, or the gateway's "no restriction").
 * No defaults or transforms, so the parsed document is the wire document.
 */
export const PolicyDocument = z
  .strictObject({
    budget: PolicyBudget.optional(),
    maxTaskCostUsd: PolicyMoney.optional(),
    defaultTaskCostUsd: PolicyMoney.optional(),
    minHoldUsd: PolicyMoney.optional(),
    allowedCountries: z.array(ProxyCountryCode).optional(),
    defaultCountry: ProxyCountryCode.optional(),
    allowNoProxy: z.boolean().optional(),
    allowedModels: z.array(BuModel).optional(),
    allowKeepAlive: z.boolean().optional(),
    /** Upstream's `skills` learn from one run and help others on the same account: off unless true. */
    allowSkills: z.boolean().optional(),
    /** `enableScheduledTasks` makes tasks visible account-wide: refused unless true. */
    allowScheduledTasks: z.boolean().optional(),
    /** `useOwnKey` runs inference on the account's own LLM key, billed outside Browser Use: refused unless true. */
    allowOwnKey: z.boolean().optional(),
    maxIdleMinutes: Positive.optional(),
    maxConcurrentSessions: Positive.optional(),
    requestsPerMinute: Positive.optional(),
    maxBrowserTimeoutMinutes: Positive.max(BROWSER_TIMEOUT_MAX_MINUTES).optional(),
    /** Proxy spend a browser may run up on top of its time, held with it (default $0.10). */
    browserProxyAllowanceUsd: PolicyMoney.optional(),
  })
  .superRefine((doc, ctx) => {
    const { allowedCountries, defaultCountry, defaultTaskCostUsd, maxTaskCostUsd } = doc;
    if (defaultCountry !== undefined && allowedCountries && !allowedCountries.includes(defaultCountry)) {
      ctx.addIssue({
        code: "custom",
        message: "defaultCountry must be one of allowedCountries",
        path: ["defaultCountry"],
        input: defaultCountry,
      });
    }
    if (exceeds(defaultTaskCostUsd, maxTaskCostUsd)) {
      ctx.addIssue({
        code: "custom",
        message: "defaultTaskCostUsd must not exceed maxTaskCostUsd",
        path: ["defaultTaskCostUsd"],
        input: defaultTaskCostUsd,
      });
    }
  });
export type PolicyDocument = z.infer<typeof PolicyDocument>;

/** Whether `amount` is above `ceiling`; false when either is unset or (after another issue) malformed. */
function exceeds(amount: string | undefined, ceiling: string | undefined): boolean {
  if (amount === undefined || ceiling === undefined) return false;
  const valid = PolicyMoney.safeParse(amount).success && PolicyMoney.safeParse(ceiling).success;
  return valid && toMicros(amount) > toMicros(ceiling);
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
