// Spend over time: GET /admin/v1/usage (the operator) or GET /gateway/v1/usage (a tenant) by day
// and by tenant, model or country, drawn as stacked bars with uPlot and listed in a table whose
// figures are the report's own decimal strings. The CSV is the same report, as the API writes it.
import { getJson, getText } from "./api.js";
import { h, note, show, table } from "./dom.js";
import { addAll, toMicros, usd } from "./money.js";

const COLUMN = { tenant: "tenantId", model: "model", country: "proxyCountryCode" };
const COLORS = ["#0b5cad", "#d4a72c", "#1a7f37", "#cf222e", "#8250df", "#bc4c00", "#1b7c83", "#6e7781"];

const $ = (id) => document.getElementById(id);
const usagePath = (dir) => (dir.role === "tenant" ? "/gateway/v1/usage" : "/admin/v1/usage");

function today() {
  return new Date().toISOString().slice(0, 10);
}

/** Every calendar day from `from` to `to`, both included (YYYY-MM-DD, as the report names days). */
function daysOf(from, to) {
  const days = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    days.push(new Date(t).toISOString().slice(0, 10));
  }
  return days;
}

function query(form) {
  const data = new FormData(form);
  const by = data.get("by");
  return { from: data.get("from"), to: data.get("to"), groupBy: `day,${by}`, by };
}

/** The report as a grid: a cost (decimal string) per group and day, and the totals of each. */
function gridOf(report, by, dir) {
  const column = COLUMN[by];
  const days = daysOf(report.from, report.to);
  const keys = [...new Set(report.rows.map((r) => r[column] ?? ""))];
  const label = (key) => (key === "" ? "(none)" : by === "tenant" ? (dir.names.get(key) ?? key) : key);
  const cost = new Map(report.rows.map((r) => [`${r[column] ?? ""}|${r.day}`, r.totalCostUsd]));
  const groups = keys.map((key) => {
    const byDay = days.map((day) => cost.get(`${key}|${day}`) ?? "0");
    return { key, label: label(key), byDay, total: addAll(byDay) };
  });
  const dayTotals = days.map((_, i) => addAll(groups.map((g) => g.byDay[i])));
  return { days, groups, dayTotals, total: addAll(dayTotals) };
}

function renderTable(grid, by) {
  const headers = [
    h("th", { scope: "col" }, "Day"),
    ...grid.groups.map((g) => h("th", { scope: "col", class: "num" }, g.label)),
    h("th", { scope: "col", class: "num" }, "Total"),
  ];
  const rows = grid.days.map((day, i) =>
    h(
      "tr",
      { "data-day": day },
      h("th", { scope: "row" }, day),
      grid.groups.map((g) => h("td", { class: "num" }, usd(g.byDay[i]))),
      h("td", { class: "num", "data-field": "dayTotal" }, usd(grid.dayTotals[i])),
    ),
  );
  const t = table(`Spend by day and ${by}`, headers, rows, { id: "spend-grid" });
  t.append(
    h(
      "tfoot",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "row" }, "Total"),
        grid.groups.map((g) => h("td", { class: "num", "data-group": g.key }, usd(g.total))),
        h("td", { class: "num", "data-field": "total" }, usd(grid.total)),
      ),
    ),
  );
  return t;
}

let chart = null;

function renderChart(root, grid) {
  chart?.destroy();
  chart = null;
  root.replaceChildren();
  if (typeof uPlot === "undefined" || grid.groups.length === 0) return;
  // Stacked bars: series k is drawn to the sum of groups 1..k, largest first, so each group's
  // colour shows its own part. Bar heights are floats; every figure shown is the report's string.
  const order = [...grid.groups].reverse();
  const cumulative = grid.groups.map((_, k) =>
    grid.days.map((_, i) => grid.groups.slice(0, k + 1).reduce((s, g) => s + toMicros(g.byDay[i]), 0n)),
  );
  const data = [
    grid.days.map((_, i) => i),
    ...cumulative.reverse().map((row) => row.map((m) => Number(m) / 1e6)),
  ];
  const bars = uPlot.paths.bars({ size: [0.7, 48] });
  const series = [
    { label: "Day", value: (_u, i) => (i === null ? "" : (grid.days[i] ?? "")) },
    ...order.map((g, k) => {
      const color = COLORS[(grid.groups.length - 1 - k) % COLORS.length];
      return {
        label: g.label,
        fill: color,
        stroke: color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (_u, _v, _s, i) => (i === null || i === undefined ? usd(g.total) : usd(g.byDay[i])),
      };
    }),
  ];
  chart = new uPlot(
    {
      width: Math.max(280, root.clientWidth || 800),
      height: 300,
      series,
      scales: {
        x: { time: false, range: () => [-0.5, grid.days.length - 0.5] },
        // Bars stand on zero, or their heights would mislead.
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          space: 40,
          incrs: [1, 2, 5, 7, 14, 30],
          values: (_u, splits) =>
            splits.map((i) => (Number.isInteger(i) ? (grid.days[i]?.slice(5) ?? "") : "")),
        },
        { values: (_u, ticks) => ticks.map((v) => `$${v}`), size: 60 },
      ],
      legend: { live: true },
    },
    data,
    root,
  );
}

async function draw(dir) {
  const q = query($("spend-form"));
  $("spend-error").hidden = true;
  let report;
  try {
    report = await getJson(usagePath(dir), { from: q.from, to: q.to, groupBy: q.groupBy });
  } catch (err) {
    $("spend-error").hidden = false;
    $("spend-error").textContent = err.message;
    return;
  }
  const grid = gridOf(report, q.by, dir);
  renderChart($("spend-chart"), grid);
  $("spend-chart").setAttribute("role", "img");
  $("spend-chart").setAttribute(
    "aria-label",
    `Spend by day and ${q.by}, ${report.from} to ${report.to}: ${usd(grid.total)} in all`,
  );
  show(
    $("spend-caption"),
    `${report.from} to ${report.to} (${report.timeZone} days), by ${q.by}: ${usd(grid.total)} in all; the report's total is ${usd(report.totals.totalCostUsd)}.`,
  );
  show($("spend-table"), grid.groups.length ? renderTable(grid, q.by) : note("No spend in this range."));
}

async function downloadCsv(dir) {
  const q = query($("spend-form"));
  const csv = await getText(
    usagePath(dir),
    { from: q.from, to: q.to, groupBy: q.groupBy, format: "csv" },
    "text/csv",
  );
  const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
  const a = h("a", { href: url, download: `usage-${q.by}-${q.from}-${q.to}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

let wired = false;
/** The directory of whoever is signed in now (the form's handlers are wired once). */
let currentDir = null;
/** The directory of whoever is signed in now (the form's handlers are wired once). */
export async function renderSpend(_root, dir) {
  const form = $("spend-form");
  if (!$("spend-from").value) $("spend-from").value = `${today().slice(0, 8)}01`;
  if (!$("spend-to").value) $("spend-to").value = today();
  if (!wired) {
    wired = true;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      draw(currentDir);
    });
    for (const radio of form.querySelectorAll('input[name="by"]'))
      radio.addEventListener("change", () => draw(currentDir));
    $("spend-csv").addEventListener("click", () =>
      downloadCsv(currentDir).catch((err) => {
        $("spend-error").hidden = false;
        $("spend-error").textContent = err.message;
      }),
    );
    window.addEventListener("resize", () =>
      chart?.setSize({ width: Math.max(280, $("spend-chart").clientWidth), height: 300 }),
    );
  }
  currentDir = dir;
  await draw(dir);
}
