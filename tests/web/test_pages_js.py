"""The dashboard's script in Node against the API's real answers: as given first, and never 'null', 'NaN' or
'undefined' where a figure is missing (a stand-in DOM: no browser needed, see test_browser.py for Chromium)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossmargin.console import format_price
from crossmargin.web.app import STATIC, create_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed: the page script is not run")

#: A stand-in for the few DOM, fetch and Plotly calls app.js makes; prints every element's text as JSON.
HARNESS = r"""
const fs = require("fs");
const vm = require("vm");
const [script, answersFile] = process.argv.slice(1);
const answers = JSON.parse(fs.readFileSync(answersFile, "utf8"));
const elements = {};
class Element {
  constructor(tag) { this.tag = tag; this.children = []; this.textContent = ""; this.value = ""; this.dataset = {};
    this.listeners = {}; this.id = ""; this.disabled = false; }
  appendChild(child) { this.children.push(child); return child; }
  append(...children) { this.children.push(...children); }
  replaceChildren(...children) { this.children = children; }
  addEventListener(kind, handler) { this.listeners[kind] = handler; }
  set selectedIndex(value) { this._selected = value; }
}
function byId(id) {
  if (!elements[id]) { elements[id] = new Element("div"); elements[id].id = id; }
  return elements[id];
}
global.Node = Element;
global.Option = class extends Element { constructor(text, value) { super("option"); this.textContent = text;
  this.value = value; } };
global.document = {
  body: new Element("body"),
  getElementById: byId,
  querySelector: (selector) => byId(selector),
  createElement: (tag) => new Element(tag),
};
global.location = { hash: "" };
global.sessionStorage = { getItem: () => null, setItem: () => {} };
global.traces = {};
global.Plotly = { react: (id, data) => { traces[id] = data.map((t) => t.name); }, extendTraces: () => {} };
global.fetch = async (path) => ({ ok: true, json: async () => answers[path] });
function walk(element, out) {
  if (element.id) out[element.id] = element.textContent;
  for (const child of element.children) if (child instanceof Element) walk(child, out);
  return out;
}
vm.runInThisContext(fs.readFileSync(script, "utf8"), { filename: script });
setTimeout(async () => {
  await runStress();
  const texts = {};
  for (const element of Object.values(elements)) walk(element, texts);
  const rows = byId("#account tbody").children.map((row) => row.children.map((c) => c.textContent));
  console.log(JSON.stringify({ texts, rows, traces }));
}, 50);
"""


def _book(*swaps: tuple[str, str]) -> dict[str, Any]:
    """Return the case study, each (old, new) text swapped, as the API's JSON portfolio."""
    text = (EXAMPLES / "case_study.toml").read_text(encoding="utf-8")
    for old, new in swaps:
        assert old in text
        text = text.replace(old, new)
    return tomllib.loads(text)


def _run(portfolio: dict[str, Any], tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return what the page shows for ``portfolio`` (as the example) and the API's check answer."""
    client = TestClient(create_app())
    portfolio.pop("name", None)
    check = client.post("/api/check", json=portfolio).json()
    symbols = [p["symbol"] for p in portfolio["positions"]]
    grid = client.post(
        "/api/stress/grid", json={"portfolio": portfolio, "x": symbols[0], "y": symbols[1], "range": 0.2, "step": 0.1}
    ).json()
    answers = {"/api/example": {"portfolio": portfolio}, "/api/check": check, "/api/stress/grid": grid}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    assert NODE is not None
    done = subprocess.run(
        [NODE, "-e", HARNESS, str(STATIC / "app.js"), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown, check


def _never_null(shown: dict[str, Any]) -> None:
    cells = [*shown["texts"].values(), *(cell for row in shown["rows"] for cell in row)]
    for text in cells:
        assert not any(word in str(text) for word in ("null", "NaN", "undefined")), text


def test_page_shows_the_book_as_given_first_then_the_what_ifs(tmp_path: Path) -> None:
    # The case study with the ETH short isolated at 2,300 USDT: the as-given column is not a recast.
    mixed = _book(
        (
            'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"',
            'entry_price = 2104.65\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 2300',
        )
    )
    shown, check = _run(mixed, tmp_path)
    _never_null(shown)
    texts = shown["texts"]
    for book, key in (("as-given", "as_given"), ("cross", "cross"), ("isolated", "isolated")):
        for row in check[key]["positions"]:
            price = row["liquidation_price"]
            expected = "--" if price is None else (f"{price:.2f}" if abs(price) >= 1000 else f"{price:.6g}")
            assert texts[f"liq-{book}-{row['symbol']}"] == expected, (book, row["symbol"])
    eth = next(p for p in check["as_given"]["positions"] if p["symbol"] == "ETHUSDT")
    assert eth["isolated_margin"] == 2300
    assert texts["liq-as-given-ETHUSDT"] == f"{eth['liquidation_price']:.2f}" == "2554.43"
    assert texts["dist-as-given-ETHUSDT"] == f"{eth['distance_to_liquidation'] * 100:.2f} %"
    assert texts["liq-as-given-SOLUSDT"] == "--"  # cross, carried to zero by the wallet: no price at all
    assert [row[0] for row in shown["rows"]] == ["as given", "what if all cross", "what if all isolated"]
    assert shown["rows"][2][4] == "-- (no cross position)"
    assert shown["traces"]["stress-chart"][1:] == [
        "as given: a position liquidated",
        "what if all cross: account liquidated",
        "what if all isolated: a position liquidated",
    ]
    assert format_price(eth["liquidation_price"]) == "2,554.43"


def test_a_price_beyond_the_last_bracket_reads_dashes_and_the_reason(tmp_path: Path) -> None:
    # A 3,000,000 SOL short in a 300M wallet: in cross its liquidation price would carry the notional past
    # Binance's last SOLUSDT bracket (400M USDT), so the engine gives no price and says why.
    book = _book(
        ("wallet_balance = 10000", "wallet_balance = 300000000"),
        (
            'side = "long"\nsize = 100                        # SOL\nentry_price = 83.15\nleverage = 5',
            'side = "short"\nsize = 3000000\nentry_price = 83.15\nleverage = 1',
        ),
    )
    shown, check = _run(book, tmp_path)
    _never_null(shown)
    sol = next(p for p in check["as_given"]["positions"] if p["symbol"] == "SOLUSDT")
    assert sol["liquidation_price"] is None
    assert sol["liquidation_note"] == "beyond the last bracket"
    assert shown["texts"]["liq-as-given-SOLUSDT"] == "-- (beyond the last bracket)"
    assert shown["texts"]["dist-as-given-SOLUSDT"] == "--"
    assert shown["texts"]["liq-cross-SOLUSDT"] == "-- (beyond the last bracket)"
