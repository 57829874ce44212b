// crossmargin dashboard: calls the JSON API and draws its figures; computes nothing itself.
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token") || sessionStorage.getItem("cm-token");
if (token) sessionStorage.setItem("cm-token", token);
const headers = token ? { Authorization: `Bearer ${token}` } : {};
let portfolio = null;
let timer = null;

async function api(path, body) {
  const init = body === undefined ? { headers } : {
    method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  const data = await response.json();
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail
      : (data.detail || []).map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
    throw new Error(detail || response.statusText);
  }
  return data;
}

// The books of a check, in the order shown: the portfolio as given, then the two what-ifs.
const BOOKS = [
  ["as_given", "as given"], ["cross", "what if all cross"], ["isolated", "what if all isolated"],
];

function finite(value) {
  return typeof value === "number" && Number.isFinite(value);
}

function price(value) {
  if (!finite(value)) return "--";
  return Math.abs(value) >= 1000 ? value.toFixed(2) : value.toPrecision(6);
}

function money(value) {
  return finite(value) ? value.toFixed(2) : "--";
}

function percent(value) {
  return finite(value) ? `${(value * 100).toFixed(2)} %` : "--";
}

// A liquidation price as people read it: the price, or "--" with the engine's reason when it gives one.
function liquidation(row) {
  if (!row) return "--";
  if (finite(row.liquidation_price)) return price(row.liquidation_price);
  return row.liquidation_note ? `-- (${row.liquidation_note})` : "--";
}

function cell(row, content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  row.appendChild(td);
  return td;
}

function input(id, value, onChange) {
  const el = document.createElement("input");
  el.type = "number"; el.step = "any"; el.id = id; el.value = value;
  el.addEventListener("input", () => { onChange(Number(el.value)); schedule(); });
  return el;
}

// The position's own margin mode; isolated_margin only on an isolated position (empty: entry notional / leverage).
function modeEditor(p) {
  const wrap = document.createElement("span");
  const select = document.createElement("select");
  select.id = `mode-${p.symbol}`;
  select.append(new Option("cross", "cross"), new Option("isolated", "isolated"));
  select.value = p.margin_mode || "cross";
  const margin = document.createElement("input");
  margin.type = "number"; margin.step = "any"; margin.min = "0"; margin.id = `margin-${p.symbol}`;
  margin.placeholder = "entry / lev"; margin.title = "isolated margin (quote); empty: entry notional / leverage";
  margin.value = p.isolated_margin === undefined ? "" : p.isolated_margin;
  margin.disabled = select.value !== "isolated";
  select.addEventListener("change", () => {
    p.margin_mode = select.value;
    margin.disabled = select.value !== "isolated";
    if (margin.disabled) { delete p.isolated_margin; margin.value = ""; }
    schedule();
  });
  margin.addEventListener("input", () => {
    if (margin.value === "") delete p.isolated_margin; else p.isolated_margin = Number(margin.value);
    schedule();
  });
  wrap.append(select, margin);
  return wrap;
}

function buildEditor() {
  document.getElementById("wallet").value = portfolio.wallet_balance;
  document.getElementById("venue").value = portfolio.venue || "binance";
  const body = document.querySelector("#positions tbody");
  body.replaceChildren();
  for (const p of portfolio.positions) {
    const row = document.createElement("tr");
    cell(row, p.symbol); cell(row, p.side);
    cell(row, modeEditor(p));
    cell(row, input(`size-${p.symbol}`, p.size, (v) => { p.size = v; }));
    cell(row, input(`entry-${p.symbol}`, p.entry_price, (v) => { p.entry_price = v; }));
    cell(row, input(`leverage-${p.symbol}`, p.leverage, (v) => { p.leverage = v; }));
    cell(row, input(`mark-${p.symbol}`, portfolio.marks[p.symbol], (v) => { portfolio.marks[p.symbol] = v; }));
    cell(row, "--").id = `liq-as-given-${p.symbol}`;
    cell(row, "--").id = `dist-as-given-${p.symbol}`;
    cell(row, "--").id = `liq-cross-${p.symbol}`;
    cell(row, "--").id = `liq-isolated-${p.symbol}`;
    body.appendChild(row);
  }
  for (const id of ["stress-x", "stress-y"]) {
    const select = document.getElementById(id);
    select.replaceChildren(...portfolio.positions.map((p) => new Option(p.symbol, p.symbol)));
  }
  document.getElementById("stress-y").selectedIndex = Math.min(1, portfolio.positions.length - 1);
}

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(runCheck, 300);
}

async function runCheck() {
  const error = document.getElementById("check-error");
  document.body.dataset.check = "pending";
  try {
    const result = await api("/api/check", portfolio);
    error.textContent = result.notes.join(" ");
    for (const [book] of BOOKS) {
      const id = book.replace("_", "-");
      for (const p of portfolio.positions) {
        const found = result[book] && result[book].positions.find((r) => r.symbol === p.symbol);
        document.getElementById(`liq-${id}-${p.symbol}`).textContent = liquidation(found);
        if (book === "as_given") {
          document.getElementById(`dist-${id}-${p.symbol}`).textContent =
            found ? percent(found.distance_to_liquidation) : "--";
        }
      }
    }
    const body = document.querySelector("#account tbody");
    body.replaceChildren();
    for (const [book, label] of BOOKS) {
      const a = result[book] && result[book].account;
      const row = document.createElement("tr");
      cell(row, label);
      cell(row, a ? money(a.margin_balance) : "--");
      cell(row, a ? money(a.maintenance_margin) : "--");
      cell(row, a ? money(a.available_balance) : "--");
      const cross = result[book] && result[book].positions.some((r) => r.margin_mode === "cross");
      cell(row, a && cross ? percent(a.margin_ratio) : "-- (no cross position)");
      row.id = `account-${book.replace("_", "-")}`;
      body.appendChild(row);
    }
  } catch (e) {
    error.textContent = e.message;
  }
  document.body.dataset.check = "done";
}

async function runStress() {
  const error = document.getElementById("stress-error");
  error.textContent = "";
  try {
    const g = await api("/api/stress/grid", {
      portfolio, x: document.getElementById("stress-x").value, y: document.getElementById("stress-y").value,
      range: Number(document.getElementById("stress-range").value), step: Number(document.getElementById("stress-step").value),
    });
    const cap = (z) => z.map((row) => row.map((v) => (finite(v) ? Math.min(v, 10) : 10)));
    const line = (name, z, color, dash) => ({
      type: "contour", x: g.moves, y: g.moves, z: cap(z), name, showlegend: true, showscale: false, hoverinfo: "skip",
      autocontour: false, contours: { start: 1, end: 1, size: 1, coloring: "lines" },
      colorscale: [[0, color], [1, color]], line: { width: 3, dash },
    });
    // As given first and widest, so that a what-if on the same boundary (an all-cross book) draws over it.
    const widest = line("as given: a position liquidated", g.as_given_ratio, "#6a3d9a", "solid");
    widest.line.width = 7;
    Plotly.react("stress-chart", [
      { type: "heatmap", x: g.moves, y: g.moves, z: g.equity_after, zmid: g.equity_before, colorscale: "RdYlGn",
        name: "equity after", colorbar: { title: { text: `equity after (${g.settle})` } } },
      widest,
      line("what if all cross: account liquidated", g.cross_ratio, "black", "solid"),
      line("what if all isolated: a position liquidated", g.isolated_ratio, "#d62728", "dash"),
    ], { xaxis: { title: { text: `${g.x_symbol} move` }, tickformat: "+.0%" },
         yaxis: { title: { text: `${g.y_symbol} move` }, tickformat: "+.0%" }, legend: { orientation: "h" } });
  } catch (e) {
    error.textContent = e.message;
  }
}

async function runBacktest() {
  const result = await api("/api/backtest", { strategy: document.getElementById("bt-strategy").value, mode: "both" });
  const colors = { cross: "#1f77b4", isolated: "#d62728" };
  const traces = [];
  for (const [mode, run] of Object.entries(result.modes)) {
    traces.push({ x: run.time, y: run.equity, name: `${mode}: equity`, line: { color: colors[mode] } });
    traces.push({ x: run.time, y: run.margin_ratio, name: `${mode}: margin ratio`, yaxis: "y2",
                  line: { color: colors[mode], dash: "dot" } });
  }
  Plotly.react("bt-chart", traces, {
    title: { text: `${result.strategy} on ${result.symbols.join(", ")} (${result.venue})` },
    yaxis: { title: { text: "equity (quote)" }, domain: [0.45, 1] },
    yaxis2: { title: { text: "margin ratio (1 = liquidation)" }, domain: [0, 0.4] },
  });
}

async function runMonteCarlo() {
  const error = document.getElementById("mc-error");
  error.textContent = "";
  try {
    const r = await api("/api/montecarlo", {
      portfolio, horizon_hours: Number(document.getElementById("mc-horizon").value),
      paths: Number(document.getElementById("mc-paths").value), seed: Number(document.getElementById("mc-seed").value),
    });
    const body = document.querySelector("#mc-odds tbody");
    body.replaceChildren();
    const order = { "as given": 0, cross: 1, isolated: 2 };
    const pools = [...r.odds.pools].sort((a, b) => (order[a.mode] ?? 3) - (order[b.mode] ?? 3));
    for (const o of pools) {
      const row = document.createElement("tr");
      cell(row, o.mode); cell(row, o.pool);
      cell(row, percent(o.probability));
      cell(row, finite(o.ci_low) && finite(o.ci_high)
        ? `${(o.ci_low * 100).toFixed(2)} .. ${(o.ci_high * 100).toFixed(2)} %` : "--");
      body.appendChild(row);
    }
    const f = r.fan, q = f.quantiles;
    const band = (low, high, opacity) => [
      { x: f.hours, y: q[low], line: { width: 0 }, showlegend: false, hoverinfo: "skip" },
      { x: f.hours, y: q[high], fill: "tonexty", fillcolor: `rgba(31,119,180,${opacity})`, line: { width: 0 },
        name: `${Number(low) * 100}-${Number(high) * 100} %` },
    ];
    Plotly.react("mc-chart", [
      ...band("0.01", "0.99", 0.15), ...band("0.05", "0.95", 0.25), ...band("0.25", "0.75", 0.4),
      { x: f.hours, y: q["0.5"], name: "median", line: { color: "#1f77b4" } },
      { x: [f.hours[0], f.hours[f.hours.length - 1]], y: [f.maintenance_margin, f.maintenance_margin],
        name: "liquidation level (maintenance margin today)", line: { color: "black", dash: "dash" } },
    ], { xaxis: { title: { text: "hours from now" } }, yaxis: { title: { text: "cross margin balance (quote)" } },
         title: { text: `equity fan of ${f.paths} paths` } });
  } catch (e) {
    error.textContent = e.message;
  }
}

async function runLive() {
  Plotly.react("live-chart", [{ x: [], y: [], name: "margin ratio" }],
               { yaxis: { title: { text: "margin ratio (1 = liquidation)" } } });
  const response = await fetch("/api/monitor/stream", { headers });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const message = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = message.split("\n").find((l) => l.startsWith("data: "));
      if (!message.startsWith("event: tick") || !data) continue;
      const tick = JSON.parse(data.slice(6));
      document.getElementById("live-last").textContent = `tick ${tick.tick}: margin ratio ${percent(tick.margin_ratio)}`;
      Plotly.extendTraces("live-chart", { x: [[new Date(tick.time_ms)]], y: [[tick.margin_ratio]] }, [0]);
    }
  }
}

async function main() {
  try {
    portfolio = (await api("/api/example")).portfolio;
  } catch (e) {
    document.getElementById("check-error").textContent = e.message;
    return;
  }
  delete portfolio.name;
  buildEditor();
  document.getElementById("wallet").addEventListener("input", (e) => { portfolio.wallet_balance = Number(e.target.value); schedule(); });
  document.getElementById("stress-run").addEventListener("click", runStress);
  document.getElementById("bt-run").addEventListener("click", runBacktest);
  document.getElementById("mc-run").addEventListener("click", runMonteCarlo);
  document.getElementById("live-run").addEventListener("click", runLive);
  await runCheck();
  document.getElementById("status").textContent = "ready";
}

main();
