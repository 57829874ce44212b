"""``risk.portfolio_margin``: the OKX-style scenario margin, its parameters, and the hedge credit."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from rich.console import Console

from crossmargin.cli.risk import portfolio_margin_table
from crossmargin.margin.account import evaluate
from crossmargin.model import Account, Marks, Position, Side
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from crossmargin.risk.portfolio_margin import (
    load_pm_params,
    margin_comparison,
    portfolio_margin,
    scaled_minimum_charge,
    standalone_margins,
)
from crossmargin.venues import get_rules
from tests.fixtures.strategies import accounts

ROOT = Path(__file__).resolve().parents[2]
RULES = get_rules("binance")
MARKS = Marks({"BTCUSDT": 80_000.0, "ETHUSDT": 2_000.0})


def _portfolio(*positions: Position, wallet: float = 20_000.0, marks: Marks = MARKS) -> Portfolio:
    return Portfolio(
        account=Account(venue="binance", wallet_balance=wallet, positions=positions), marks=marks, rules=RULES
    )


LONG_BTC = Position(symbol="BTCUSDT", side=Side.LONG, size=0.15, entry_price=80_000.0, leverage=5)
SHORT_ETH = Position(symbol="ETHUSDT", side=Side.SHORT, size=6.0, entry_price=2_000.0, leverage=5)


def test_parameters_are_data_with_sources_and_dates() -> None:
    params = load_pm_params()
    for key in (
        "spot_shock",
        "extreme_move",
        "extreme_move_weight",
        "minimum_charge",
        "initial_to_maintenance",
        "cross_unit_offset",
        "basis_risk",
        "vega",
    ):
        assert params.sources[key].source, key
        assert params.sources[key].as_of[:4] == "2025", key
    assert params.im_multiple == 1.3  # OKX: IMR = 1.3 x MMR
    assert params.spot_shock.move_for("BTC") == 0.12  # MR1 after 6 Jan 2025
    assert params.spot_shock.move_for("SOL") == 0.25  # SOL is 'others' for MR1 ...
    assert params.extreme_move.move_for("SOL") == 0.36  # ... but a mid cap for MR6
    assert params.extreme_move.move_for("1000PEPE") == 0.36  # multiplier prefix ignored
    assert params.extreme_move.move_for("DOGE") == 0.36
    assert params.extreme_move.move_for("AVAX") == 0.5
    assert set(params.uncertain) == {"extreme_move_weight", "minimum_charge", "cross_unit_offset"}


def test_scaled_minimum_charge_follows_okx_worked_example() -> None:
    # OKX Dec 2021: tiers [0, 10,000] x1 then x2; raw 30,000 -> 10,000 + 20,000 x 2 = 50,000.
    assert scaled_minimum_charge(30_000.0, [(0.0, 1.0), (10_000.0, 2.0), (70_000.0, 4.0)]) == 50_000.0
    assert scaled_minimum_charge(5_000.0, load_pm_params().min_charge_tiers) == 5_000.0


def test_naked_position_requires_its_spot_shock_loss_as_evaluate_sees_it() -> None:
    portfolio = _portfolio(LONG_BTC)
    result = portfolio_margin(portfolio.account, portfolio.marks, portfolio.rules)
    # The MR1 edge (-12 %) binds: 0.12 > 0.35 x 0.24 and > min charge. Its loss is what evaluate loses there.
    down = evaluate(portfolio.account, Marks({"BTCUSDT": 80_000.0 * 0.88}), RULES).account.margin_balance
    now = evaluate(portfolio.account, MARKS, RULES).account.margin_balance
    assert result.by_underlying["BTC"]["binds"] == "spot_shock"
    assert result.mm == pytest.approx(now - down, rel=1e-12)  # 0.15 x 80,000 x 0.12 = 1,440
    assert result.im == 1.3 * result.mm


def test_single_position_has_no_hedge_credit() -> None:
    portfolio = _portfolio(LONG_BTC)
    frame = margin_comparison(portfolio)
    assert frame.loc["portfolio", "hedge_credit"] == 0.0
    assert frame.loc["portfolio", "maintenance_margin"] == frame.loc["portfolio, positions alone", "maintenance_margin"]


def test_long_btc_short_eth_shows_a_hedge_credit() -> None:
    portfolio = _portfolio(LONG_BTC, SHORT_ETH)
    book = portfolio_margin(portfolio.account, portfolio.marks, portfolio.rules)
    alone = standalone_margins(portfolio.account, portfolio.marks, portfolio.rules)
    credit = margin_comparison(portfolio).loc["portfolio", "hedge_credit"]
    # Equal notionals (12,000 each) and equal ranges: moved together the legs cancel, and only the units'
    # minimum charges remain (0.0005 x 12,000 each = 12 in all).
    assert book.correlated == pytest.approx(12.0)
    assert credit > 0
    assert credit == pytest.approx(sum(r.mm for r in alone) - book.mm, rel=1e-12)
    assert credit == pytest.approx(load_pm_params().correlated_weight * (book.units_summed - book.correlated))


def test_okx_as_published_sums_units_so_a_cross_underlying_hedge_gets_no_credit() -> None:
    portfolio = _portfolio(LONG_BTC, SHORT_ETH)
    okx = dataclasses.replace(load_pm_params(), correlated_weight=0.0)
    frame = margin_comparison(portfolio, params=okx)
    assert frame.loc["portfolio", "hedge_credit"] == 0.0


def test_legs_of_one_underlying_net_inside_the_unit_and_pay_the_minimum_charge() -> None:
    long_leg = dataclasses.replace(LONG_BTC, position_side="long")
    short_leg = dataclasses.replace(LONG_BTC, side=Side.SHORT, position_side="short")
    portfolio = _portfolio(long_leg, short_leg)
    result = portfolio_margin(portfolio.account, portfolio.marks, portfolio.rules)
    unit = result.by_underlying["BTC"]
    assert unit["binds"] == "minimum_charge"
    assert result.mm == pytest.approx(0.0005 * 2 * 0.15 * 80_000.0)  # raw rate x gross notional, tier x1
    assert margin_comparison(portfolio).loc["portfolio", "hedge_credit"] > 0


def test_comparison_rows_are_the_venue_figures(tmp_path: Path) -> None:
    portfolio = load_portfolio(ROOT / "examples" / "case_study.toml")
    frame = margin_comparison(portfolio)
    cross = evaluate(all_cross(portfolio.account), portfolio.marks, portfolio.rules).account
    isolated = evaluate(all_isolated(portfolio.account), portfolio.marks, portfolio.rules).account
    assert list(frame.index) == ["cross", "isolated", "portfolio, positions alone", "portfolio"]
    assert frame.loc["cross", "maintenance_margin"] == cross.maintenance_margin
    assert frame.loc["isolated", "initial_margin"] == isolated.initial_margin
    assert frame.loc["portfolio", "hedge_credit"] > 0  # long BTC against short ETH


def test_portfolio_margin_table_renders_the_book() -> None:
    portfolio = load_portfolio(ROOT / "examples" / "case_study.toml")
    result = portfolio_margin(portfolio.account, portfolio.marks, portfolio.rules)
    console = Console(record=True, width=200)
    console.print(portfolio_margin_table(portfolio))
    text = console.export_text()
    assert f"{result.mm:,.2f}" in text
    assert "Hedge credit" in text


@settings(max_examples=40)  # each example prices the book and every position alone
@given(drawn=accounts())
def test_book_never_asks_more_than_its_positions_alone(drawn: tuple[Account, Marks]) -> None:
    account, marks = drawn
    book = portfolio_margin(account, marks, RULES)
    alone = standalone_margins(account, marks, RULES)
    assert book.im == 1.3 * book.mm
    assert book.mm >= 0
    assert book.mm <= math.fsum(r.mm for r in alone) * (1 + 1e-12) + 1e-9
    if len(account.positions) == 1:
        assert book.mm == alone[0].mm


def test_an_unfundable_isolated_row_is_nan_and_says_why() -> None:
    portfolio = load_portfolio(ROOT / "examples" / "case_study.toml")
    poor = dataclasses.replace(portfolio, account=dataclasses.replace(portfolio.account, wallet_balance=100.0))
    frame = margin_comparison(poor)
    assert math.isnan(frame.loc["isolated", "maintenance_margin"])
    assert frame.loc["isolated", "note"].startswith("isolated: not evaluated, the wallet cannot fund every position")
    assert frame.loc["cross", "maintenance_margin"] > 0
