"""``crossmargin check``: the public JSON contract, the comparison, and the human tables."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from crossmargin.cli import app
from crossmargin.cli.check import first_liquidated
from crossmargin.console import risk_json
from crossmargin.margin.account import evaluate
from crossmargin.portfolio import all_cross, all_isolated, load_portfolio
from tests.fixtures.harness import CASE_STUDY

ROOT = Path(__file__).resolve().parent.parent
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
    "liquidation_note",
}
#: The case study with the ETH short isolated on 2,300 USDT of its own (entry notional / leverage is 2,104.65).
ETH_ISOLATED = (
    'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"',
    'entry_price = 2104.65\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 2300',
)


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
            "liquidation_note",
        }:
            assert isinstance(position[key], (int, float)), key
        assert position["liquidation_note"] is None or isinstance(position["liquidation_note"], str)
    for key, value in payload["account"].items():
        # margin_ratio is null where it is infinite (a bankrupt pool; OKX's health ratio with nothing required)
        assert isinstance(value, (int, float)) or (key == "margin_ratio" and value is None), key


def _by_symbol(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {position["symbol"]: position for position in payload["positions"]}


def _copy(tmp_path: Path, *swaps: tuple[str, str], name: str = "book.toml") -> Path:
    """Write the case study with each (old, new) text swapped to ``tmp_path / name``; return its path."""
    text = CASE_STUDY.read_text(encoding="utf-8")
    for old, new in swaps:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_json_is_the_public_contract() -> None:
    payload = _json(str(CASE_STUDY))
    _assert_contract(payload)
    assert payload["venue"] == "binance"
    assert [p["symbol"] for p in payload["positions"]] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]


def test_compare_json_has_the_book_as_given_then_both_modes_in_the_contract_shape() -> None:
    payload = _json(str(CASE_STUDY), "--compare")
    assert list(payload) == ["as_given", "cross", "isolated"]
    assert payload["as_given"] == _json(str(CASE_STUDY))  # the plain object, unchanged
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
        "as_given": risk_json(evaluate(loaded.account, loaded.marks, loaded.rules)),
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
    titles = (
        "Positions (binance · case_study.toml, as given)",
        "Positions (binance · what if all cross)",
        "Positions (binance · what if all isolated)",
        "Account (USDT): as given, what if all cross, what if all isolated",
        "Liquidation: as given, what if all cross, what if all isolated",
    )
    assert [text.index(title) for title in titles] == sorted(text.index(title) for title in titles)
    assert "…" not in text  # a narrow terminal never truncates a figure
    payload = _json(str(CASE_STUDY), "--compare")
    eth = _by_symbol(payload["isolated"])["ETHUSDT"]
    assert f"{eth['liquidation_price']:,.2f}" in text
    comparison = text[text.index("Liquidation: as given") :]
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
    for mode in ("as_given", "cross", "isolated"):
        _assert_contract(payload[mode])
        assert payload[mode]["venue"] == venue
    eth = next(p for p in payload["isolated"]["positions"] if p["symbol"].startswith("ETH"))
    cross_eth = next(p for p in payload["cross"]["positions"] if p["symbol"].startswith("ETH"))
    assert eth["distance_to_liquidation"] < cross_eth["distance_to_liquidation"]
    assert payload["as_given"] == _json(str(path))
    human = RUNNER.invoke(app, ["check", str(path), "--compare"])
    assert human.exit_code == 0, human.stderr
    assert human.stdout.index(f"Positions ({venue} · {venue}.toml, as given)") < human.stdout.index(
        f"Positions ({venue} · what if all cross)"
    )


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


# --- a mixed book: the book as given first, the recasts as what-ifs -------------------------------------


def test_compare_keeps_the_files_isolated_margin_as_given_and_in_the_isolated_what_if(tmp_path: Path) -> None:
    path = _copy(tmp_path, ETH_ISOLATED)
    loaded = load_portfolio(path)
    payload = _json(str(path), "--compare")
    for book in ("as_given", "cross", "isolated"):
        _assert_contract(payload[book])
    assert payload["as_given"] == risk_json(evaluate(loaded.account, loaded.marks, loaded.rules))
    as_given, isolated = _by_symbol(payload["as_given"]), _by_symbol(payload["isolated"])
    assert [p["margin_mode"] for p in payload["as_given"]["positions"]] == ["cross", "isolated", "cross"]
    assert as_given["ETHUSDT"]["isolated_margin"] == isolated["ETHUSDT"]["isolated_margin"] == 2300.0
    # Binance's isolated short, bracket 1 (MMR 0.4 %, cum 0): LP = (WB + q E) / (q MMR + q), WB = 2,300.
    q, entry = 5.0, 2104.65
    expected = (2300.0 + q * entry) / (q * 0.004 + q)
    assert as_given["ETHUSDT"]["liquidation_price"] == pytest.approx(expected, rel=1e-12)
    assert isolated["ETHUSDT"]["liquidation_price"] == as_given["ETHUSDT"]["liquidation_price"]
    assert f"{expected:,.2f}" == "2,554.43"
    # ... not the 2,104.65 margin of the all-isolated recast of the original (cross) file, 2,515.52.
    recast_of_cross = _by_symbol(_json(str(CASE_STUDY), "--compare")["isolated"])["ETHUSDT"]
    assert recast_of_cross["liquidation_price"] == pytest.approx((entry + q * entry) / (q * 0.004 + q), rel=1e-12)
    assert recast_of_cross["liquidation_price"] < as_given["ETHUSDT"]["liquidation_price"]
    # The positions recast from cross hold entry notional / leverage.
    for symbol in ("BTCUSDT", "SOLUSDT"):
        row = isolated[symbol]
        assert row["isolated_margin"] == pytest.approx(row["size"] * row["entry_price"] / row["leverage"], rel=1e-12)
        assert as_given[symbol]["isolated_margin"] is None
    # As given, BTC and SOL share a cross pool without the ETH short (and its 2,300): not the all-cross figure.
    cross = _by_symbol(payload["cross"])
    assert as_given["BTCUSDT"]["liquidation_price"] != pytest.approx(cross["BTCUSDT"]["liquidation_price"])
    assert _json(str(path)) == payload["as_given"]


def test_compare_tables_show_the_book_as_given_first(tmp_path: Path) -> None:
    path = _copy(tmp_path, ETH_ISOLATED, name="mixed.toml")
    result = RUNNER.invoke(app, ["check", str(path), "--compare"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    first = text.index("Positions (binance · mixed.toml, as given)")
    assert first < text.index("what if all cross") < text.index("what if all isolated")
    account = text[text.index("Account (USDT)") : text.index("Liquidation: as given")]
    header = next(line for line in account.splitlines() if "as given" in line and "what if all cross" in line)
    assert header.index("as given") < header.index("what if all cross") < header.index("what if all isolated")
    ratios = next(line for line in account.splitlines() if "cross margin ratio" in line)
    assert "-- (no cross position)" in ratios  # the all-isolated book has no cross pool
    payload = _json(str(path), "--compare")
    eth = next(line for line in text[text.index("Liquidation: as given") :].splitlines() if "ETHUSDT" in line)
    cells = eth.replace("│", " ").split()
    given, cross, isolated = (_by_symbol(payload[b])["ETHUSDT"] for b in ("as_given", "cross", "isolated"))
    assert cells[:3] == ["ETHUSDT", "short", "isolated"]  # the file's own mode
    assert cells[3] == f"{given['liquidation_price']:,.2f}" == "2,554.43"
    assert cells[4] == f"{given['distance_to_liquidation'] * 100:.2f}%"
    assert cells[5] == f"{cross['liquidation_price']:,.2f}"
    assert cells[7] == f"{isolated['liquidation_price']:,.2f}"
    sol = next(line for line in text[text.index("Liquidation: as given") :].splitlines() if "SOLUSDT" in line)
    assert sol.replace("│", " ").split()[3:7] == ["--", "--", "--", "--"]  # carried to zero: no price, no note


def test_a_price_beyond_the_last_bracket_is_dashes_with_a_footnote(tmp_path: Path) -> None:
    # A 3,000,000 SOL short on a 300M wallet: in cross its liquidation price would take the notional past
    # Binance's last SOLUSDT bracket (400M USDT), so there is no price, and the note says why.
    path = _copy(
        tmp_path,
        ("wallet_balance = 10000", "wallet_balance = 300000000"),
        (
            'side = "long"\nsize = 100                        # SOL\nentry_price = 83.15\nleverage = 5',
            'side = "short"\nsize = 3000000\nentry_price = 83.15\nleverage = 1',
        ),
    )
    payload = _json(str(path), "--compare")
    sol = _by_symbol(payload["as_given"])["SOLUSDT"]
    assert sol["liquidation_price"] is None
    assert sol["distance_to_liquidation"] is None
    assert sol["liquidation_note"] == "beyond the last bracket"
    assert _by_symbol(payload["isolated"])["SOLUSDT"]["liquidation_price"] is not None
    result = RUNNER.invoke(app, ["check", str(path), "--compare"])
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "null" not in text
    as_given = text[: text.index("Positions (binance · what if all cross)")]
    assert "-- [1]" in next(line for line in as_given.splitlines() if "SOLUSDT" in line)
    assert "[1] SOLUSDT short: beyond the last bracket" in as_given
    comparison = text[text.index("Liquidation: as given") :]
    cells = next(line for line in comparison.splitlines() if "SOLUSDT" in line).replace("│", " ").split()
    assert cells[3:9] == ["--", "[1]", "--", "--", "[1]", "--"]  # as given and cross: no price, footnote 1
    assert cells[-1] == "--"  # which mode goes first is not known
    assert "[1] SOLUSDT short: beyond the last bracket" in comparison


def test_tables_fit_100_columns_and_wide_shows_every_column() -> None:
    narrow = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--compare"], terminal_width=100)
    assert narrow.exit_code == 0, narrow.stderr
    assert max(len(line.rstrip()) for line in narrow.stdout.splitlines()) <= 100
    assert "bankr price" not in narrow.stdout
    wide = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--compare", "--wide"], terminal_width=100)
    assert wide.exit_code == 0, wide.stderr
    for column in ("entry", "lev", "notional", "IM", "MMR", "iso margin", "bankr price", "mark"):
        assert f" {column} " in wide.stdout, column


def test_danger_is_in_colour_only_where_the_terminal_has_colour() -> None:
    # the all-isolated ETH short sits 6.22 % from liquidation: below the checklist's 10 % fail level, red
    coloured = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--compare"], env={"FORCE_COLOR": "1"})
    assert coloured.exit_code == 0, coloured.stderr
    eth = [line for line in coloured.stdout.splitlines() if "ETHUSDT" in line and "6.22%" in line]
    assert eth
    assert re.search(r"\x1b\[1;31m\s*6\.22%", eth[-1])
    plain = RUNNER.invoke(app, ["check", str(CASE_STUDY), "--compare"])
    assert "\x1b[" not in plain.stdout
