import * as z from "zod/mini";
import { toMicros } from "../lib/money";
import { BuModel, ProxyCountryCode } from "../v3/schemas/common";
import { BROWSER_TIMEOUT_MAX_MINUTES } from "../v3/schemas/browsers";

/**
 * A non-negative amount of US dollars as a decimal string ("5", "0.25"). At most six decimals,
 * so the amount is exact in micro-USD, and at most nine integer digits, so it stays a safe
 * integer there. A JSON number is refused: money never travels as a float.
 */
export const PolicyMoney = z.string().check(z.regex(/^\d{1,9}(\.\d{1,6})?$/));

/** An IANA time zone name the runtime knows ("Europe/Berlin", "UTC"). */
export const TimeZone = z
  .string()
  .check(
    z.maxLength(64),
    z.refine(isTimeZone, { message: "timeZone must be an IANA time zone name such as 'Europe/Berlin'" }),
  );

/** How a budget cap resets: calendar-aligned in the budget's time zone, or never ("none"). */
export const BudgetPeriod = z.enum(["day", "week", "month", "none"]);
export type BudgetPeriod = z.infer<typeof BudgetPeriod>;

/** A spending cap on the scope the document belongs to. Not inherited: org and tenant budgets are separate. */
export const PolicyBudget = z.strictObject({
  capUsd: PolicyMoney,
  period: BudgetPeriod,
  /** Defaults to "UTC" when absent (see effectivePolicy). */
  timeZone: z.optional(TimeZone),
});
export type PolicyBudget = z.infer<typeof PolicyBudget>;

const Positive = z.int().check(z.minimum(1));

/**
 * The policy document of an org or a tenant, as an admin PUTs it and GET returns it. Every field
 * is optional and an absent one inherits (from the org, or the gateway's "no restriction").
 * No defaults or transforms, so the parsed document is the wire document.
 */
export const PolicyDocument = z
  .strictObject({
    budget: z.optional(PolicyBudget),
    maxTaskCostUsd: z.optional(PolicyMoney),
    defaultTaskCostUsd: z.optional(PolicyMoney),
    minHoldUsd: z.optional(PolicyMoney),
    allowedCountries: z.optional(z.array(ProxyCountryCode)),
    defaultCountry: z.optional(ProxyCountryCode),
    allowNoProxy: z.optional(z.boolean()),
    allowedModels: z.optional(z.array(BuModel)),
    allowKeepAlive: z.optional(z.boolean()),
    /** Upstream's `skills` learn from one run and help others on the same account: off unless true. */
    allowSkills: z.optional(z.boolean()),
    /** `enableScheduledTasks` makes tasks visible account-wide: refused unless true. */
    allowScheduledTasks: z.optional(z.boolean()),
    /** `useOwnKey` runs inference on the account's own LLM key, billed outside Browser Use: refused unless true. */
    allowOwnKey: z.optional(z.boolean()),
    maxIdleMinutes: z.optional(Positive),
    maxConcurrentSessions: z.optional(Positive),
    requestsPerMinute: z.optional(Positive),
    maxBrowserTimeoutMinutes: z.optional(Positive.check(z.maximum(BROWSER_TIMEOUT_MAX_MINUTES))),
    /** Proxy spend a browser may run up on top of its time, held with it (default $0.10). */
    browserProxyAllowanceUsd: z.optional(PolicyMoney),
  })
  .check(
    z.superRefine((doc, ctx) => {
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
    }),
  );
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
