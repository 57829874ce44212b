"""``crossmargin check``: the public JSON contract, the comparison, and the human tables."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossmargin.cli import app, first_liquidated, risk_json
from crossmargin.margin.account import evaluate
from crossmargin.portfolio import all_cross, all_isolated, load_portfolio

ROOT = Path(__file__).resolve().parent.parent
CASE_STUDY = ROOT / "examples" / "case_study.toml"
RUNNER = CliRunner()

ACCOUNT_KEYS = {
    "wallet_balance",
    "unrealized_pnl",
    "margin_balance",
    "initial_margin",
    "maintenance_margin",
    "margin_ratio",
    "available_balance",
}
POSITION_KEYS = {
    "symbol",
    "side",
    "size",
    "entry_price",
    "mark_price",
    "margin_mode",
    "leverage",
    "notional",
    "unrealized_pnl",
    "initial_margin",
    "maintenance_margin",
    "mm_rate",
    "maint_amount",
    "isolated_margin",
    "liquidation_price",
    "bankruptcy_price",
    "distance_to_liquidation",
}


def _json(*args: str) -> Any:
    result = RUNNER.invoke(app, ["check", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _assert_contract(payload: dict[str, Any]) -> None:
    assert set(payload) == {"venue", "account", "positions"}
    assert set(payload["account"]) == ACCOUNT_KEYS
    assert payload["positions"]
    for position in payload["positions"]:
        assert set(position) == POSITION_KEYS
        for key in POSITION_KEYS - {
            "symbol",
            "side",
            "margin_mode",
            "isolated_margin",
            "liquidation_price",
            "bankruptcy_price",
            "distance_to_liquidation",
        }:
            assert isinstance(position[key], (int, float)), key
    for key, value in payload["account"].items():
        # margin_ratio is null where it is infinite (a bankrupt pool; OKX's health ratio with nothing required)
        assert isinstance(value, (int, float)) or (key == "margin_ratio" and value is None), key


def _by_symbol(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {position["symbol"]: position for position in payload["positions"]}


def test_json_is_the_public_contract() -> None:
    payload = _json(str(CASE_STUDY))
    _assert_contract(payload)
    assert payload["venue"] == "binance"
    assert [p["symbol"] for p in payload["positions"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_compare_json_has_both_modes_in_the_contract_shape() -> None:
    payload = _json(str(CASE_STUDY), "--compare")
    assert set(payload) == {"cross", "isolated"}
    for mode in ("cross", "isolated"):
        _assert_contract(payload[mode])
        assert {p["margin_mode"] for p in payload[mode]["positions"]} == {mode}
    for position in payload["isolated"]["positions"]:
        # isolated margin = notional at entry / leverage
        assert position["isolated_margin"] == pytest.approx(
            position["size"] * position["entry_price"] / position["leverage"], rel=1e-12
        )


def test_case_study_eth_short_is_liquidated_earlier_isolated_than_cross() -> None:
    payload = _json(str(CASE_STUDY), "--compare")
    cross = _by_symbol(payload["cross"])["ETHUSDT"]
    isolated = _by_symbol(payload["isolated"])["ETHUSDT"]
    # Isolated short, one position, bracket 1 (MMR 0.4 %, cum 0): Binance's formula
    # LP = (WB + cum + q x E) / (q x MMR + q) with WB = 5 x 2104.65 / 5 = 2104.65 USDT.
    q, entry = 5.0, 2104.65
    assert isolated["liquidation_price"] == pytest.approx((entry + q * entry) / (q * 0.004 + q), rel=1e-12)
    assert isolated["liquidation_price"] > isolated["mark_price"]
    assert cross["liquidation_price"] > isolated["liquidation_price"]
    assert isolated["distance_to_liquidation"] < cross["distance_to_liquidation"]
    assert isolated["distance_to_liquidation"] == pytest.approx(
        (isolated["liquidation_price"] - isolated["mark_price"]) / isolated["mark_price"], rel=1e-12
    )


def test_long_covered_to_zero_has_null_liquidation_price() -> None:
    # In cross, BTC's gain and the wallet carry SOL to a price of zero: no price liquidates it.
    payload = _json(str(CASE_STUDY))
    sol = _by_symbol(payload)["SOLUSDT"]
    assert sol["liquidation_price"] is None
    assert sol["distance_to_liquidation"] is None
    assert sol["bankruptcy_price"] is None


def test_cli_numbers_are_evaluate_numbers() -> None:
    loaded = load_portfolio(CASE_STUDY)
    expected = {
        "cross": risk_json(evaluate(all_cross(loaded.account), loaded.marks, loaded.rules)),
        "isolated": risk_json(evaluate(all_isolated(loaded.account), loaded.marks, loaded.rules)),
    }
    assert _json(str(CASE_STUDY), "--compare") == expected
    assert _json(str(CASE_STUDY)) == risk_json(evaluate(loaded.account, loaded.marks, loaded.rules))


def test_account_figures_add_up() -> None:
    payload = _json(str(CASE_STUDY))
    account, positions = payload["account"], payload["positions"]
    assert account["unrealized_pnl"] == pytest.approx(math.fsum(p["unrealized_pnl"] for p in positions), rel=1e-12)
    assert account["margin_balance"] == pytest.approx(account["wallet_balance"] + account["unrealized_pnl"], rel=1e-12)
    assert account["margin_ratio"] == pytest.approx(
        account["maintenance_margin"] / account["margin_balance"], rel=1e-12
    )
    assert account["available_balance"] == pytest.approx(
        account["margin_balance"] - account["initial_margin"], rel=1e-12
    )


def test_venue_option_overrides_the_file(tmp_path: Path) -> None:
    text = CASE_STUDY.read_text(encoding="utf-8").replace('venue = "binance"', "")
    path = tmp_path / "no_venue.toml"
    path.write_text(text, encoding="utf-8")
    assert _json(str(path), "--venue", "binance") == _json(str(CASE_STUDY))


def test_human_output_shows_every_table_uncut() -> None:
    result = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--compare"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    for title in (
        "Positions (binance · cross)",
        "Positions (binance · isolated)",
        "Account (USDT): cross vs isolated",
        "Liquidation: cross vs isolated",
    ):
        assert title in text
    assert "…" not in text  # a narrow terminal never truncates a figure
    payload = _json(str(CASE_STUDY), "--compare")
    eth = _by_symbol(payload["isolated"])["ETHUSDT"]
    assert f"{eth['liquidation_price']:,.2f}" in text
    comparison = text[text.index("Liquidation: cross vs isolated") :]
    eth_cells = next(line for line in comparison.splitlines() if "ETHUSDT" in line).replace("│", " ").split()
    assert eth_cells[-1] == "isolated"  # the 'liquidated first' column


@pytest.mark.parametrize(
    ("cross", "isolated", "expected"),
    [
        (None, None, "neither"),
        (0.5, None, "cross"),
        (None, 0.5, "isolated"),
        (0.2, 0.2, "same"),
        (0.3, 0.1, "isolated"),
        (0.1, 0.3, "cross"),
    ],
)
def test_first_liquidated(cross: float | None, isolated: float | None, expected: str) -> None:
    assert first_liquidated(cross, isolated) == expected


def test_module_entry_point_runs_in_a_fresh_interpreter() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "crossmargin", "check", str(CASE_STUDY), "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    _assert_contract(json.loads(completed.stdout))


def test_module_entry_point_error_has_no_traceback(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "crossmargin", "check", str(tmp_path / "absent.toml")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("venue", ["bybit", "okx", "hyperliquid"])
def test_compare_works_on_every_venue(venue: str) -> None:
    path = ROOT / "examples" / f"{venue}.toml"
    payload = _json(str(path), "--compare")
    for mode in ("cross", "isolated"):
        _assert_contract(payload[mode])
        assert payload[mode]["venue"] == venue
    eth = next(p for p in payload["isolated"]["positions"] if p["symbol"].startswith("ETH"))
    cross_eth = next(p for p in payload["cross"]["positions"] if p["symbol"].startswith("ETH"))
    assert eth["distance_to_liquidation"] < cross_eth["distance_to_liquidation"]
    human = RUNNER.invoke(app, ["check", str(path), "--compare"])
    assert human.exit_code == 0, human.stderr
    assert f"Positions ({venue} · cross)" in human.stdout


def test_venues_lists_every_venue_with_its_symbols() -> None:
    result = RUNNER.invoke(app, ["venues", "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"binance", "bybit", "okx", "hyperliquid"}
    assert "BTC-USDT-SWAP" in payload["okx"]["symbols"]
    assert payload["okx"]["ratio_kind"] == "health"
    assert payload["hyperliquid"]["funding_interval_hours"] == 1
    assert payload["hyperliquid"]["hedge_mode"] is False
    assert all(entry["sources"] for entry in payload.values())
    human = RUNNER.invoke(app, ["venues"])
    assert human.exit_code == 0
    assert "two tiers down" in human.stdout
    assert "(+" in human.stdout  # Binance's long list is cut without --symbols
    assert "ZECUSDT" in RUNNER.invoke(app, ["venues", "--symbols"]).stdout


def test_brackets_prints_the_table() -> None:
    result = RUNNER.invoke(app, ["brackets", "BTCUSDT", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)["brackets"]
    assert len(rows) == 12
    assert (rows[1]["floor"], rows[1]["cap"], rows[1]["mm_rate"], rows[1]["maint_amount"]) == (
        300_000.0,
        800_000.0,
        0.005,
        300.0,
    )
    okx = json.loads(RUNNER.invoke(app, ["brackets", "ETH-USDT-SWAP", "--venue", "okx", "--json"]).stdout)
    assert okx["tier_basis"] == "size"
    assert okx["brackets"][0]["cap_contracts"] == pytest.approx(3_000.0)
    human = RUNNER.invoke(app, ["brackets", "BTC", "--venue", "hyperliquid"])
    assert human.exit_code == 0
    assert "150,000,000" in human.stdout
    assert "40x" in human.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["brackets", "BTCUSDX"], "did you mean BTCUSDT"),
        (["brackets", "BTCUSDT", "--venue", "kraken"], "--venue: unknown venue 'kraken'"),
        (["brackets", "BTCUSDT", "--venue", "okx"], "did you mean BTC-USDT-SWAP"),
    ],
)
def test_brackets_bad_input(args: list[str], fragment: str) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1


def test_check_margin_portfolio_shows_the_scenario_requirement_beside_cross_and_isolated() -> None:
    human = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--margin", "portfolio"])
    assert human.exit_code == 0, human.stderr
    assert "Hedge credit" in human.stdout
    payload = json.loads(RUNNER.invoke(app, ["check", str(CASE_STUDY), "--margin", "portfolio", "--json"]).stdout)
    assert set(payload) == {"check", "portfolio_margin"}
    _assert_contract(payload["check"])
    modes = {row["mode"]: row for row in payload["portfolio_margin"]}
    assert {"cross", "isolated", "portfolio"} <= set(modes)
    assert modes["cross"]["maintenance_margin"] == pytest.approx(payload["check"]["account"]["maintenance_margin"])
    bad = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--margin", "span"])
    assert bad.exit_code == 2
    assert "--margin" in bad.stderr
