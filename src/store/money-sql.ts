/**
 * Micro-USD (or micro-MB) as the shortest decimal string, in SQL, as lib/money's fromMicros writes
 * it: 12500000 → '12.5', 0 → '0'. For event bodies written in the statement that makes them.
 */
export const decimalSql = (micros: string) =>
  `rtrim(rtrim(printf('%d.%06d', (${micros}) / 1000000, (${micros}) % 1000000), '0'), '.')`;
