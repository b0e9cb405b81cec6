import { TtlCache } from "../lib/ttl-cache";

/** A budget period: calendar-aligned in the scope's time zone, or `none` (one counter forever). */
export type Period = "day" | "week" | "month" | "none";

/**
 * The key of the counter that `at` falls in, e.g. `month:2026-11`, `week:2026-11-23` (the Monday),
 * `day:2026-11-28`, or `none`. Because the period is part of the counter's key, a new period starts
 * from zero on its own: there is no reset job that could be missed.
 */
export function periodKey(period: Period, timeZone: string, at: Date): string {
  if (period === "none") return "none";
  const { year, month, day, weekday } = localDate(timeZone, at);
  if (period === "month") return `month:${year}-${pad(month)}`;
  if (period === "day") return `day:${year}-${pad(month)}-${pad(day)}`;
  // Weeks start on Monday (ISO 8601); step back to it in plain calendar arithmetic.
  const monday = new Date(Date.UTC(year, month - 1, day - ((weekday + 6) % 7)));
  return `week:${monday.getUTCFullYear()}-${pad(monday.getUTCMonth() + 1)}-${pad(monday.getUTCDate())}`;
}

const DAY_MS = 24 * 60 * 60_000;

/**
 * Every period key that is current in some time zone at `at`, so the counters of many scopes in
 * many zones can be read in one statement before their policies say which key is each one's. No
 * zone is a day or more from UTC, so its local date is UTC's date a day before `at`, at `at` or a
 * day after, and its week and month are those of one of the three.
 */
export function periodKeysCurrentAnywhere(at: Date): string[] {
  const keys = new Set(["none"]);
  for (const shift of [-DAY_MS, 0, DAY_MS]) {
    const instant = new Date(at.getTime() + shift);
    for (const period of ["day", "week", "month"] as const) keys.add(periodKey(period, "UTC", instant));
  }
  return [...keys];
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const formatters = new Map<string, Intl.DateTimeFormat>();

interface LocalDate {
  year: number;
  month: number;
  day: number;
  weekday: number;
}

// The last date worked out per time zone, with the minute it holds for. Every zone's offset is a
// whole number of minutes, so a local date can only change on a minute's boundary: within one UTC
// minute it is the same. Every request that books or holds asks for it, and formatToParts is
// among the dearest calls on those paths.
const lastDates = new TtlCache<{ minute: number; date: LocalDate }>(60_000, 1_000);

/** The calendar date of an instant in a time zone (weekday 0 = Sunday). */
function localDate(timeZone: string, at: Date): LocalDate {
  const minute = Math.floor(at.getTime() / 60_000);
  const last = lastDates.get(timeZone);
  if (last?.minute === minute) return last.date;
  const date = formatLocalDate(timeZone, at);
  lastDates.set(timeZone, { minute, date });
  return date;
}

function formatLocalDate(timeZone: string, at: Date): LocalDate {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "numeric",
      day: "numeric",
      weekday: "short",
    });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: WEEKDAYS.indexOf(String(parts.weekday)),
  };
}

const pad = (n: number) => String(n).padStart(2, "0");
