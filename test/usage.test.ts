import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { fromMicros, toMicros } from "../src/lib/money";
import {
  ADMIN_TOKEN,
  asTenant,
  emuTask,
  expectJson,
  gateway,
  newTenant,
  newUpstreamAccount,
  type SessionView,
  type TestTenant,
  waitForStatus,
} from "./helpers";

type Row = Record<string, string | number | null>;
interface Report {
  from: string;
  to: string;
  timeZone: string;
  groupBy: string[];
  rows: Row[];
  totals: Row;
}

const adminGet = (path: string, headers: Record<string, string> = {}) =>
  gateway(path, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...headers } });

const usage = async (query: string) => expectJson<Report>(await adminGet(`/admin/v1/usage?${query}`), 200);

const today = () => new Date().toISOString().slice(0, 10);

/** The sum of one money column over rows, in micro-USD. */
const sumOf = (rows: Record<string, unknown>[], column: string) =>
  rows.reduce((n, r) => n + toMicros(String(r[column])), 0);

/** Parses RFC 4180 text (quoted cells, doubled quotes, CRLF line ends) into rows of cells. */
function parseCsv(text: string): string[][] {
  const cells = /(?:"((?:[^"]|"")*)"|([^",\r\n]*))(,|\r\n)/g;
  const rows: string[][] = [[]];
  for (const [, quoted, plain, end] of text.matchAll(cells)) {
    rows.at(-1)?.push(quoted === undefined ? (plain ?? "") : quoted.replaceAll('""', '"'));
    if (end === "\r\n") rows.push([]);
  }
  return rows.slice(0, -1);
}

describe("usage reports over a real ledger", () => {
  it("sum to the emulator's bill for the org, to the micro-dollar, in JSON and CSV and by every group", async () => {
    const account = await newUpstreamAccount();
    const a = await newTenant();
    const b = await newTenant(a.orgId);
    const as = (t: TestTenant, path: string, body?: unknown, method?: string) =>
      asTenant(t.key, path, { body, method, env: account.env });

    // Two tenants: agent sessions on two models, one browser on a proxy with traffic.
    const runs: [TestTenant, string, string][] = [
      [a, "claude-sonnet-4.6", "0.013"],
      [a, "gemini-3-flash", "0.002"],
      [b, "claude-sonnet-4.6", "0.021"],
    ];
    const sessionsOf = new Map<TestTenant, string[]>();
    for (const [t, model, cost] of runs) {
      const s = await expectJson<SessionView>(
        await as(t, "/api/v3/sessions", { task: emuTask("report", { steps: 3, cost, stepMs: 1 }), model }),
        200,
      );
      sessionsOf.set(t, [...(sessionsOf.get(t) ?? []), s.id]);
      await waitForStatus(t, s.id, ["idle", "stopped"], account.env);
      await expectJson(await as(t, `/api/v3/sessions/${s.id}/stop`, { strategy: "session" }), 200);
    }
    const browser = await expectJson<SessionView>(
      await as(b, "/api/v3/browsers", { timeout: 5, proxyCountryCode: "de" }),
      201,
    );
    await account.control("POST", `/browsers/${browser.id}/traffic`, { proxyMb: "1.5" });
    await expectJson(await as(b, `/api/v3/browsers/${browser.id}`, { action: "stop" }, "PATCH"), 200);

    const truth = await account.truth();
    const bill =
      truth.sessions.reduce((n, s) => n + toMicros(String(s.totalCostUsd)), 0) +
      truth.browsers.reduce((n, s) => n + toMicros(String(s.browserCost)) + toMicros(String(s.proxyCost)), 0);
    expect(bill).toBeGreaterThan(0);

    const byTenantDay = await usage(`orgId=${a.orgId}`);
    expect(byTenantDay).toMatchObject({ from: `${today().slice(0, 8)}01`, to: today(), timeZone: "UTC" });
    expect(byTenantDay.groupBy).toEqual(["tenant", "day"]);
    expect(toMicros(String(byTenantDay.totals.totalCostUsd))).toBe(bill);
    const megabytes = [...truth.sessions, ...truth.browsers].reduce(
      (n, s) => n + toMicros(String(s.proxyUsedMb ?? "0")),
      0,
    );
    expect(megabytes).toBeGreaterThan(toMicros("1.5"));
    expect(byTenantDay.totals).toMatchObject({
      sessions: 3,
      browsers: 1,
      proxyUsedMb: fromMicros(megabytes),
    });
    expect(sumOf(byTenantDay.rows, "totalCostUsd")).toBe(bill);
    expect(byTenantDay.rows.map((r) => r.tenantId).sort()).toEqual([a.tenantId, b.tenantId].sort());
    for (const row of byTenantDay.rows) expect(Object.keys(row).slice(0, 2)).toEqual(["tenantId", "day"]);
    const rowOfB = byTenantDay.rows.find((r) => r.tenantId === b.tenantId);
    expect(rowOfB).toMatchObject({ day: today(), sessions: 1, browsers: 1 });
    // Sessions name it proxyCostUsd, browsers proxyCost.
    const proxyBillOfB =
      sumOf(
        truth.sessions.filter((s) => sessionsOf.get(b)?.includes(s.id)),
        "proxyCostUsd",
      ) + sumOf(truth.browsers, "proxyCost");
    expect(sumOf([rowOfB ?? {}], "proxyCostUsd")).toBe(proxyBillOfB);

    const byModel = await usage(`orgId=${a.orgId}&groupBy=model`);
    expect(byModel.rows.map((r) => [r.model, r.sessions])).toEqual([
      [null, 0],
      ["claude-sonnet-4.6", 2],
      ["gemini-3-flash", 1],
    ]);
    expect(sumOf(byModel.rows, "llmCostUsd")).toBe(toMicros(String(byModel.totals.llmCostUsd)));

    const byKey = await usage(`orgId=${a.orgId}&groupBy=key,country`);
    expect(byKey.rows.map((r) => r.keyId).sort()).toEqual([a.keyId, b.keyId, b.keyId].sort());
    expect(byKey.rows.find((r) => r.keyId === b.keyId && r.browsers === 1)?.proxyCountryCode).toBe("de");
    const onlyKeyA = await usage(`orgId=${a.orgId}&keyId=${a.keyId}&groupBy=org`);
    expect(onlyKeyA.rows).toEqual([{ orgId: a.orgId, ...onlyKeyA.totals }]);
    expect(onlyKeyA.totals.sessions).toBe(2);
    const sonnet = await usage(`orgId=${a.orgId}&model=claude-sonnet-4.6&groupBy=`);
    expect(sonnet.rows).toEqual([sonnet.totals]);
    expect(sonnet.totals.sessions).toBe(2);

    // The same report as CSV: the header names the same columns, the rows sum to the same bill.
    for (const res of [
      await adminGet(`/admin/v1/usage?orgId=${a.orgId}`, { Accept: "text/csv" }),
      await adminGet(`/admin/v1/usage?orgId=${a.orgId}&format=csv`),
    ]) {
      expect(res.status).toBe(200);
      expect(res.headers.get("Content-Type")).toMatch(/^text\/csv/);
      const [header = [], ...lines] = parseCsv(await res.text());
      expect(header).toEqual(Object.keys(byTenantDay.rows[0] ?? {}));
      expect(lines).toHaveLength(byTenantDay.rows.length);
      const total = header.indexOf("totalCostUsd");
      expect(lines.reduce((n, cells) => n + toMicros(cells[total] ?? ""), 0)).toBe(bill);
    }

    // A tenant's own report, through its own key.
    const own = await expectJson<Report>(await asTenant(b.key, "/gateway/v1/usage?groupBy=tenant"), 200);
    expect(own.rows).toEqual([{ tenantId: b.tenantId, ...own.totals }]);
    expect(own.totals).toEqual(rowOfB && { ...withoutGroups(rowOfB) });
  });
});

function withoutGroups(row: Row): Row {
  const { tenantId: _t, day: _d, ...figures } = row;
  return figures;
}

/** Seeds cost events straight into the ledger, for reports over times a live test cannot reach. */
async function seedEvents(
  events: { at: string; orgId: string; tenantId: string; micros: number; id?: string }[],
) {
  await env.DB.batch(
    events.map((e, i) =>
      env.DB.prepare(
        `INSERT INTO cost_events (kind, id, org_id, tenant_id, at, status, input_tokens, output_tokens,
           proxy_used_micro_mb, llm_cost_micros, proxy_cost_micros, browser_cost_micros, total_cost_micros)
         VALUES ('session', ?, ?, ?, ?, 'stopped', 10, 2, 0, ?, 0, 0, ?)`,
      ).bind(e.id ?? `seeded-${e.orgId}-${i}`, e.orgId, e.tenantId, e.at, e.micros, e.micros),
    ),
  );
}

describe("usage report days", () => {
  it("are calendar days in the report's time zone, across a change to summer time", async () => {
    const orgId = crypto.randomUUID();
    const tenantId = crypto.randomUUID();
    await seedEvents(
      [
        "2026-03-07T23:30:00Z", // 7 March in UTC; 8 March in Berlin; 7 March (18:30) in New York
        "2026-03-08T04:30:00Z", // 8 March in UTC and Berlin; 7 March (23:30 EST) in New York
        "2026-03-09T03:30:00Z", // 9 March in UTC and Berlin; 8 March (23:30 EDT) in New York
        "2026-03-09T04:30:00Z", // 9 March everywhere here (00:30 EDT in New York)
      ].map((at, i) => ({ at, orgId, tenantId, micros: 10 ** i })),
    );
    const days = async (timeZone: string) => {
      const report = await usage(
        `orgId=${orgId}&from=2026-03-07&to=2026-03-09&timeZone=${encodeURIComponent(timeZone)}&groupBy=day`,
      );
      expect(report.totals.totalCostUsd).toBe("0.001111");
      return Object.fromEntries(report.rows.map((r) => [r.day, r.totalCostUsd]));
    };
    expect(await days("UTC")).toEqual({
      "2026-03-07": "0.000001",
      "2026-03-08": "0.00001",
      "2026-03-09": "0.0011",
    });
    expect(await days("Europe/Berlin")).toEqual({ "2026-03-08": "0.000011", "2026-03-09": "0.0011" });
    expect(await days("America/New_York")).toEqual({
      "2026-03-07": "0.000011",
      "2026-03-08": "0.0001",
      "2026-03-09": "0.001",
    });
    // A narrower range counts only its own days: the ranges of two reports never overlap.
    const first = await usage(`orgId=${orgId}&from=2026-03-07&to=2026-03-07&groupBy=`);
    const rest = await usage(`orgId=${orgId}&from=2026-03-08&to=2026-03-09&groupBy=`);
    expect(first.totals.totalCostUsd).toBe("0.000001");
    expect(rest.totals.totalCostUsd).toBe("0.00111");
  });

  it("count a session once, on the day of its first cost, however many days it is booked on", async () => {
    const orgId = crypto.randomUUID();
    const tenantId = crypto.randomUUID();
    const id = `long-${orgId}`;
    await seedEvents([
      { at: "2026-04-01T23:59:59.999Z", orgId, tenantId, micros: 1, id },
      { at: "2026-04-02T00:00:00.000Z", orgId, tenantId, micros: 2, id },
      { at: "2026-04-03T12:00:00.000Z", orgId, tenantId, micros: 4, id },
      { at: "2026-04-03T12:00:01.000Z", orgId, tenantId, micros: 8 },
    ]);
    const report = await usage(`orgId=${orgId}&from=2026-04-01&to=2026-04-03&groupBy=day`);
    expect(report.rows.map((r) => [r.day, r.sessions, r.totalCostUsd])).toEqual([
      ["2026-04-01", 1, "0.000001"],
      ["2026-04-02", 0, "0.000002"],
      ["2026-04-03", 1, "0.000012"],
    ]);
    expect(report.totals).toMatchObject({ sessions: 2, totalCostUsd: "0.000015" });
    const later = await usage(`orgId=${orgId}&from=2026-04-02&to=2026-04-03&groupBy=`);
    expect(later.totals).toMatchObject({ sessions: 1, totalCostUsd: "0.000014" });
  });

  it("refuses a backwards or too long range, an unknown zone or group, and a repeated group, with 422", async () => {
    for (const query of [
      "from=2026-03-09&to=2026-03-08",
      "from=2025-01-01&to=2026-12-31",
      "from=2026-3-1",
      "timeZone=Mars/Olympus",
      "groupBy=tenant,colour",
      "groupBy=day,day",
      "format=xml",
      "orgId=not-a-uuid",
    ]) {
      const res = await adminGet(`/admin/v1/usage?${query}`);
      expect(res.status, query).toBe(422);
      expect(await res.json()).toMatchObject({ code: "validation_error" });
    }
  });
});

describe("a tenant's own usage", () => {
  it("covers its own tenant only: another org or tenant named is 403, an admin report 401", async () => {
    const a = await newTenant();
    const b = await newTenant(a.orgId);
    const stranger = await newTenant();
    await seedEvents([
      { at: new Date().toISOString(), orgId: a.orgId, tenantId: a.tenantId, micros: 7 },
      { at: new Date().toISOString(), orgId: b.orgId, tenantId: b.tenantId, micros: 500 },
      { at: new Date().toISOString(), orgId: stranger.orgId, tenantId: stranger.tenantId, micros: 9000 },
    ]);
    const own = await expectJson<Report>(await asTenant(a.key, "/gateway/v1/usage?groupBy=org,tenant"), 200);
    expect(own.rows).toEqual([{ orgId: a.orgId, tenantId: a.tenantId, ...own.totals }]);
    expect(own.totals.totalCostUsd).toBe("0.000007");
    expect(
      (await expectJson<Report>(await asTenant(a.key, `/gateway/v1/usage?tenantId=${a.tenantId}`), 200))
        .totals.totalCostUsd,
    ).toBe("0.000007");

    for (const query of [
      `tenantId=${b.tenantId}`,
      `orgId=${stranger.orgId}`,
      `tenantId=${stranger.tenantId}`,
    ]) {
      const res = await asTenant(a.key, `/gateway/v1/usage?${query}`);
      expect(res.status, query).toBe(403);
      expect(await res.json()).toMatchObject({ code: "forbidden" });
    }
    expect((await asTenant(a.key, "/admin/v1/usage")).status).toBe(401);
    expect((await gateway("/gateway/v1/usage")).status).toBe(401);
  });
});
