"""Safe leverage: the closed form against risk-methods §5.2's table, brackets, and the Monte Carlo correction.

Volatility and paths come from the package sample (Binance USDⓈ-M 1h mark prices, 2026-03-01 to 2026-04-27).
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from crossmargin.cli.risk import parse_probability, register
from crossmargin.errors import InputError
from crossmargin.model import Account, Bracket, MarginMode, Marks, Position, Side
from crossmargin.portfolio import Portfolio, load_portfolio
from crossmargin.risk.leverage import max_leverage
from crossmargin.risk.montecarlo import liquidation_probability
from crossmargin.risk.safe_leverage import COLUMNS, HOURS_PER_YEAR, closed_form_cap, fresh_isolated, recommend_leverage
from crossmargin.venues import get_rules
from tests.fixtures.harness import CASE_STUDY, command_app

BINANCE = get_rules("binance")
#: Kept small so that the module runs in a few seconds; the CI of 1 % at 10,000 paths is about +-0.2 pp.
PATHS = 10_000
STEPS_PER_HOUR = 2


@cache
def _case_study_advice() -> pd.DataFrame:
    return recommend_leverage(
        load_portfolio(CASE_STUDY), max_liq_prob=0.01, paths=PATHS, seed=1, steps_per_hour=STEPS_PER_HOUR
    )


# (a) closed form -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annual_sigma", "days", "expected", "tolerance"),
    [
        (0.50, 1, 14.3, 0.05),
        (0.70, 1, 10.6, 0.05),
        (0.90, 1, 8.4, 0.05),
        (1.20, 1, 6.5, 0.05),
        (0.50, 7, 6.0, 0.05),
        # The table's formula gives 4.45 and 2.85 for these two, which it prints as 4.5 and 2.9.
        (0.70, 7, 4.5, 0.06),
        (0.90, 7, 3.6, 0.05),
        (1.20, 7, 2.9, 0.06),
    ],
)
def test_closed_form_matches_the_risk_methods_table(
    annual_sigma: float, days: int, expected: float, tolerance: float
) -> None:
    # Arrange: one bracket, m = 0.5 %, no deduction; p = 1 % so z = 2.576; sigma per sqrt hour = annual /
    # sqrt(8760). At 70 %, 1 day: k = 2.576 x 0.70 x sqrt(1/365) = 0.0944, L = 1 / (1 - 0.995 e^-0.0944) = 10.6.
    rules = BINANCE.with_brackets(
        {"BTCUSDT": (Bracket(floor=0.0, cap=math.inf, mm_rate=0.005, maint_amount=0.0, max_leverage=125),)}
    )
    # Act
    cap, rate, venue_cap = closed_form_cap(
        rules,
        "BTCUSDT",
        Side.LONG,
        sigma=annual_sigma / math.sqrt(HOURS_PER_YEAR),
        horizon_hours=24 * days,
        probability=0.01,
        margin=1_000.0,
        mark=70_000.0,
    )
    # Assert
    assert cap == pytest.approx(expected, abs=tolerance)
    assert rate == 0.005
    assert venue_cap == 125


def test_closed_form_iterates_over_brackets() -> None:
    # Binance BTCUSDT: 150x up to 300,000 notional at 0.4 %, then 100x at 0.5 % (deduction 300), ... With a
    # margin of 60,000 the notional at 20x is 1.2M: a higher bracket, a higher rate and a lower cap.
    sigma = 0.5 / math.sqrt(HOURS_PER_YEAR)
    small, small_rate, _ = closed_form_cap(
        BINANCE, "BTCUSDT", Side.LONG, sigma=sigma, horizon_hours=24, probability=0.01, margin=1_000.0, mark=70_000.0
    )
    large, large_rate, large_venue = closed_form_cap(
        BINANCE, "BTCUSDT", Side.LONG, sigma=sigma, horizon_hours=24, probability=0.01, margin=60_000.0, mark=70_000.0
    )
    assert small == pytest.approx(max_leverage(Side.LONG, sigma, 24, 0.004, 0.01), rel=1e-9)
    assert small_rate == 0.004
    assert large < small
    assert large_rate > small_rate
    # The cap is a fixed point: at notional margin x cap, the closed form with that bracket's rate allows it,
    # and so does the bracket's max leverage.
    instrument = BINANCE.instrument("BTCUSDT")
    bracket = instrument.bracket_for(60_000.0 * large)
    assert large <= max_leverage(Side.LONG, sigma, 24, large_rate, 0.01) * (1 + 1e-9)
    assert large <= bracket.max_leverage
    assert large <= large_venue


# (b) the Monte Carlo correction on the case study ----------------------------------------------------------


def test_advice_has_a_row_per_position_and_one_for_the_account() -> None:
    advice = _case_study_advice()
    assert tuple(advice.columns) == COLUMNS
    assert list(advice["symbol"]) == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "account"]
    assert list(advice["scope"]) == ["position", "position", "position", "cross account"]


def test_fhs_correction_lowers_leverage_below_the_closed_form() -> None:
    # Fat tails and volatility clustering: the simulated leverage for 1 % is below the Gaussian closed form,
    # so the effective z is above Phi^-1(0.995) = 2.576.
    positions = _case_study_advice().query("scope == 'position'")
    assert (positions["mc_leverage"] <= positions["closed_form_leverage"]).all()
    assert (positions["effective_z"] > positions["z"]).all()
    assert np.allclose(positions["z"], 2.5758, atol=1e-4)


def test_recommendation_is_the_floored_minimum_with_the_size_that_keeps_the_margin() -> None:
    for row in _case_study_advice().query("scope == 'position'").to_dict(orient="records"):
        limit = min(row["closed_form_leverage"], row["mc_leverage"])
        assert row["recommended_leverage"] == math.floor(limit)  # Binance: whole leverage
        assert row["recommended_leverage"] <= row["venue_max_leverage"]
        # size x mark / margin is the recommended leverage, less the venue's size step (0.001 BTC at most).
        assert row["recommended_notional"] / row["margin"] == pytest.approx(row["recommended_leverage"], rel=0.01)
        assert row["mc_probability"] <= 0.01


def test_a_fresh_position_at_the_recommended_leverage_meets_the_target() -> None:
    # An independent simulation (another seed) of a fresh isolated position at the recommended leverage
    # agrees with the recommending one, which is at most the target: the two 95 % intervals overlap. (The
    # largest leverage whose estimate is under the target is picked, so its true odds may sit a little above.)
    portfolio = load_portfolio(CASE_STUDY)
    for row in _case_study_advice().query("scope == 'position'").to_dict(orient="records"):
        mark = portfolio.marks.price(row["symbol"])
        side = Side.parse("side", row["side"])
        fresh = fresh_isolated(
            BINANCE, row["symbol"], side, margin=row["margin"], leverage=row["recommended_leverage"], mark=mark
        )
        single = Portfolio(
            account=Account(venue="binance", wallet_balance=row["margin"], positions=(fresh,)),
            marks=Marks({row["symbol"]: mark}),
            rules=BINANCE,
        )
        odds = liquidation_probability(
            single, paths=PATHS, seed=99, steps_per_hour=STEPS_PER_HOUR, progress=False
        ).odds("isolated", f"{row['symbol']} {row['side']}")
        assert row["mc_probability"] <= 0.01
        assert odds.ci_low <= row["mc_ci_high"], (row["symbol"], odds)


def test_cross_account_row() -> None:
    # Long BTC and SOL against short ETH, correlated about 0.9: a hedged book, so the first-order gross cap
    # 1 / (m_bar + z sigma_p sqrt(h)) is large; the simulation checks it at the recommended gross leverage.
    account = _case_study_advice().query("scope == 'cross account'").iloc[0]
    assert account["current_leverage"] == pytest.approx(
        (0.15 * 78610.7 + 5 * 2368.32 + 100 * 86.87723102) / account["margin"]
    )
    assert account["sigma_hourly"] < 0.003  # well under each symbol's 0.4 .. 0.6 % per hour
    assert account["closed_form_leverage"] > 20
    assert account["recommended_leverage"] <= min(account["closed_form_leverage"], account["mc_leverage"])
    assert account["mc_ci_low"] <= 0.01


def test_closed_form_only_and_garch() -> None:
    portfolio = load_portfolio(CASE_STUDY)
    closed = recommend_leverage(portfolio, monte_carlo=False)
    assert closed["mc_leverage"].isna().all()
    assert (closed["recommended_leverage"] == np.floor(closed["closed_form_leverage"] * 100) / 100).iloc[-1]
    garch = recommend_leverage(portfolio, monte_carlo=False, sigma_source="garch")
    assert not np.allclose(garch["sigma_hourly"], closed["sigma_hourly"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_liq_prob": 0.0}, "max_liq_prob"),
        ({"max_liq_prob": 1.5}, "max_liq_prob"),
        ({"horizon_hours": -1.0}, "horizon_hours"),
        ({"sigma_source": "har"}, "sigma_source"),
        ({"paths": 0}, "paths"),
    ],
)
def test_bad_arguments_raise_input_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=field):
        recommend_leverage(load_portfolio(CASE_STUDY), monte_carlo=False, **kwargs)  # type: ignore[arg-type]


def test_leverage_whose_paths_leave_the_table_is_not_recommended() -> None:
    # 370 ETH long cross on Bybit (100,000 USDT wallet): the cross book's notional may not pass the one tier's
    # 900,000 USDT cap on any simulated path. With the cap lifted the target alone allows about 10.4x gross;
    # with it, the bisection stops where the highest simulated mark keeps the notional inside the table, so
    # the simulated odds there stay well under the target.
    bybit = get_rules("bybit")
    tier = bybit.instrument("ETHUSDT").brackets[0]
    open_ended = bybit.with_brackets({"ETHUSDT": (dataclasses.replace(tier, cap=math.inf),)})
    position = Position(
        symbol="ETHUSDT", side=Side.LONG, size=370, entry_price=2368.32, leverage=10, mode=MarginMode.CROSS
    )
    account = Account(venue="bybit", wallet_balance=100_000.0, positions=(position,))
    rows = {}
    for name, rules in (("table", bybit), ("open", open_ended)):
        portfolio = Portfolio(account=account, marks=Marks({"ETHUSDT": 2368.32}), rules=rules)
        frame = recommend_leverage(portfolio, paths=5_000, seed=1, steps_per_hour=STEPS_PER_HOUR)
        rows[name] = frame.query("scope == 'cross account'").iloc[0]
    assert tier.cap == 900_000.0
    assert rows["table"]["mc_leverage"] < 0.8 * rows["open"]["mc_leverage"]
    assert rows["table"]["recommended_notional"] < tier.cap
    assert rows["table"]["mc_probability"] < 0.5 * 0.01 <= rows["open"]["mc_probability"]
    assert (
        "package sample"
        in recommend_leverage(
            Portfolio(account=account, marks=Marks({"ETHUSDT": 2368.32}), rules=bybit), monte_carlo=False
        )["returns"].iloc[0]
    )


# (c) command line ------------------------------------------------------------------------------------------

RUNNER = CliRunner()


def _app() -> typer.Typer:
    return command_app(register)


def test_leverage_command_table_and_json() -> None:
    table = RUNNER.invoke(_app(), ["leverage", str(CASE_STUDY), "--closed-form-only"])
    assert table.exit_code == 0, table.stderr
    assert "ETHUSDT short" in table.stdout
    as_json = RUNNER.invoke(_app(), ["leverage", str(CASE_STUDY), "--paths", "2000", "--max-liq-prob", "2%", "--json"])
    assert as_json.exit_code == 0, as_json.stderr
    assert '"max_liq_prob": 0.02' in as_json.stdout


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--max-liq-prob", "0"], "--max-liq-prob"),
        (["--max-liq-prob", "100%"], "--max-liq-prob"),
        (["--max-liq-prob", "1.5"], "--max-liq-prob"),
        (["--max-liq-prob", "one"], "not a number"),
        (["--horizon", "1w"], "--horizon"),
        (["--paths", "-5"], "--paths"),
        (["--paths", "1000001"], "--paths"),
        (["--sigma", "har"], "--sigma"),
    ],
)
def test_leverage_command_bad_input(extra: list[str], fragment: str) -> None:
    result = RUNNER.invoke(_app(), ["leverage", str(CASE_STUDY), *extra])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_parse_probability() -> None:
    assert parse_probability("1%") == pytest.approx(0.01)
    assert parse_probability("0.01") == 0.01
    assert parse_probability(" 2.5 % ") == pytest.approx(0.025)
