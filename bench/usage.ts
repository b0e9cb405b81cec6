/**
 * The usage-report part of `npm run bench`: a ledger of BENCH_USAGE_EVENTS cost events seeded into
 * local D1 before the gateway starts, and a month's reports timed over it.
 */
import type { Stack } from "../scripts/local-stack";

const RUNS = 20;

export const benchOrg = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/**
 * A ledger as a busy deployment books it: sessions of 20 cost events ten seconds apart (a step
 * booked as it is seen), one starting every 101 s from 1 October 2026, round-robin over a thousand
 * tenants in ten orgs. A million events run to 28 November. Every insert goes through the
 * roll-up trigger, as a real booking does.
 */
export function usageSeed(events: number): string {
  return `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${events - 1})
INSERT INTO cost_events (kind, id, org_id, tenant_id, at, status, input_tokens, output_tokens,
  proxy_used_micro_mb, llm_cost_micros, proxy_cost_micros, browser_cost_micros, total_cost_micros)
SELECT 'session', 'bench-' || (i / 20), printf('00000000-0000-4000-8000-%012d', (i / 20) % 1000 / 100),
  'bench-tenant-' || ((i / 20) % 1000),
  strftime('%Y-%m-%dT%H:%M:%fZ', '2026-10-01', '+' || ((i / 20) * 101 + (i % 20) * 10) || ' seconds'),
  'running', 1200, 150, 400, 1800, 320, 600, 2720
FROM n;
`;
}

/** Times sequential GETs of a report; its rows and the latency percentiles. */
async function timeReport(stack: Stack, query: string) {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    const res = await fetch(`${stack.gatewayUrl}/admin/v1/usage?${query}`, {
      headers: { Authorization: `Bearer ${stack.adminToken}` },
    });
    if (!res.ok) throw new Error(`usage report answered ${res.status}`);
    const text = await res.text();
    rows = query.includes("format=csv") ? text.split("\r\n").length - 2 : JSON.parse(text).rows.length;
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))] ?? 0);
  return { rows, "p50 ms": at(0.5), "p99 ms": at(0.99), "min ms": Math.round(times[0] ?? 0) };
}

/** The reports of November 2026 over the seeded ledger. */
export async function benchUsageReports(stack: Stack) {
  const month = "from=2026-11-01&to=2026-11-30&groupBy=tenant,day";
  const org = benchOrg(3);
  return [
    { report: "by tenant and day, one org", ...(await timeReport(stack, `${month}&orgId=${org}`)) },
    {
      report: "by tenant and day, one org, New York days",
      ...(await timeReport(stack, `${month}&orgId=${org}&timeZone=America/New_York`)),
    },
    {
      report: "by org, every org",
      ...(await timeReport(stack, "from=2026-11-01&to=2026-11-30&groupBy=org")),
    },
    { report: "by tenant and day, every org, CSV", ...(await timeReport(stack, `${month}&format=csv`)) },
    { report: "by tenant and day, every org, JSON", ...(await timeReport(stack, month)) },
  ];
}
