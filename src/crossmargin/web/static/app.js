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

function price(value) {
  if (value === null || value === undefined) return "--";
  return Math.abs(value) >= 1000 ? value.toFixed(2) : value.toPrecision(6);
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

function buildEditor() {
  document.getElementById("wallet").value = portfolio.wallet_balance;
  document.getElementById("venue").value = portfolio.venue || "binance";
  const body = document.querySelector("#positions tbody");
  body.replaceChildren();
  for (const p of portfolio.positions) {
    const row = document.createElement("tr");
    cell(row, p.symbol); cell(row, p.side);
    cell(row, input(`size-${p.symbol}`, p.size, (v) => { p.size = v; }));
    cell(row, input(`entry-${p.symbol}`, p.entry_price, (v) => { p.entry_price = v; }));
    cell(row, input(`leverage-${p.symbol}`, p.leverage, (v) => { p.leverage = v; }));
    cell(row, input(`mark-${p.symbol}`, portfolio.marks[p.symbol], (v) => { portfolio.marks[p.symbol] = v; }));
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
    for (const mode of ["cross", "isolated"]) {
      for (const p of portfolio.positions) {
        const found = result[mode] && result[mode].positions.find((r) => r.symbol === p.symbol);
        document.getElementById(`liq-${mode}-${p.symbol}`).textContent = found ? price(found.liquidation_price) : "--";
      }
    }
    const a = result.cross.account;
    document.getElementById("account").textContent =
      `cross: margin balance ${a.margin_balance.toFixed(2)}, maintenance ${a.maintenance_margin.toFixed(2)}`;
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
    const cap = (z) => z.map((row) => row.map((v) => (v === null ? 10 : Math.min(v, 10))));
    const line = (name, z, color, dash) => ({
      type: "contour", x: g.moves, y: g.moves, z: cap(z), name, showlegend: true, showscale: false, hoverinfo: "skip",
      autocontour: false, contours: { start: 1, end: 1, size: 1, coloring: "lines" },
      colorscale: [[0, color], [1, color]], line: { width: 3, dash },
    });
    Plotly.react("stress-chart", [
      { type: "heatmap", x: g.moves, y: g.moves, z: g.equity_after, zmid: g.equity_before, colorscale: "RdYlGn",
        name: "equity after", colorbar: { title: { text: `equity after (${g.settle})` } } },
      line("cross: account liquidated", g.cross_ratio, "black", "solid"),
      line("isolated: a position liquidated", g.isolated_ratio, "#d62728", "dash"),
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
    for (const o of r.odds.pools) {
      const row = document.createElement("tr");
      cell(row, o.mode); cell(row, o.pool); cell(row, `${(o.probability * 100).toFixed(2)} %`);
      cell(row, `${(o.ci_low * 100).toFixed(2)} .. ${(o.ci_high * 100).toFixed(2)} %`);
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
      document.getElementById("live-last").textContent = `tick ${tick.tick}: margin ratio ${(tick.margin_ratio * 100).toFixed(2)} %`;
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
