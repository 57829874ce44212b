"""The liquidation procedure: what each venue does to a pool that breaches, and that no money is lost."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.errors import InputError
from crossmargin.margin import evaluate
from crossmargin.margin.liquidate import liquidate, pool_breaches
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues.binance import BinanceRules
from tests.strategies import RULES, accounts

BTC_LONG_ISO = Position(
    symbol="BTCUSDT",
    side=Side.LONG,
    size=1.0,
    entry_price=60_000.0,
    leverage=10,
    mode=MarginMode.ISOLATED,
    isolated_margin=6_000.0,
)
ETH_SHORT = Position(symbol="ETHUSDT", side=Side.SHORT, size=10.0, entry_price=3_000.0, leverage=10)


def test_pool_breaches() -> None:
    assert pool_breaches(100.0, 100.0)
    assert not pool_breaches(100.01, 100.0)
    assert pool_breaches(-1.0, 0.0)
    assert not pool_breaches(0.0, 0.0)


def test_healthy_account_is_left_alone(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=20_000.0, positions=(BTC_LONG_ISO, ETH_SHORT))
    outcome = liquidate(account, Marks({"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0}), binance)
    assert not outcome.liquidated
    assert outcome.account == account


def test_binance_isolated_liquidation_closes_the_position_and_charges_the_clearance_fee(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=20_000.0, positions=(BTC_LONG_ISO, ETH_SHORT))
    marks = Marks({"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0})
    liq = evaluate(account, marks, binance).positions[0].liquidation_price
    assert liq is not None
    mark = liq * (1 - 1e-6)
    outcome = liquidate(account, marks.with_price("BTCUSDT", mark), binance)
    (event,) = outcome.events
    assert event.pool == "isolated:BTCUSDT"
    (fill,) = event.fills
    assert (fill.kind, fill.size, fill.price) == ("close", 1.0, mark)
    equity = 6_000.0 + (mark - 60_000.0)
    # BTCUSDT clearance 0.3 % of the liquidated notional, at most the margin left; the rest is returned.
    assert fill.fee == pytest.approx(min(equity, 0.003 * mark), rel=1e-12)
    assert event.returned == pytest.approx(equity - fill.fee, rel=1e-9)
    assert event.returned + event.insurance_fund == pytest.approx(event.margin_before, rel=1e-12)
    # The isolated wallet is gone from the account; what was returned joins the cross wallet.
    assert outcome.account.positions == (ETH_SHORT,)
    assert outcome.account.wallet_balance == pytest.approx(20_000.0 - 6_000.0 + event.returned, rel=1e-12)


def test_binance_tier1_alt_keeps_nothing(binance: BinanceRules) -> None:
    # ETHUSDT at 0.5 % clearance is above its tier-1 MMR: at the trigger the trader's margin is all fee.
    account = Account(venue="binance", wallet_balance=3_100.0, positions=(ETH_SHORT,))
    marks = Marks({"ETHUSDT": 3_000.0})
    liq = evaluate(account, marks, binance).positions[0].liquidation_price
    assert liq is not None
    outcome = liquidate(account, marks.with_price("ETHUSDT", liq * (1 + 1e-9)), binance)
    (event,) = outcome.events
    assert event.pool == "cross"
    assert event.returned == 0.0
    assert outcome.account.wallet_balance == 0.0
    assert outcome.account.positions == ()


def test_gap_through_bankruptcy_is_covered_by_the_fund(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=20_000.0, positions=(BTC_LONG_ISO, ETH_SHORT))
    outcome = liquidate(account, Marks({"BTCUSDT": 50_000.0, "ETHUSDT": 3_000.0}), binance)
    (event,) = outcome.events
    assert event.margin_before == pytest.approx(6_000.0 - 10_000.0)
    assert event.returned == 0.0
    assert event.insurance_fund == pytest.approx(-4_000.0)  # the fund pays the deficit
    assert outcome.account.wallet_balance == pytest.approx(14_000.0)  # the cross wallet is untouched


def test_cross_liquidation_leaves_isolated_positions(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=9_000.0, positions=(BTC_LONG_ISO, ETH_SHORT))
    outcome = liquidate(account, Marks({"BTCUSDT": 60_000.0, "ETHUSDT": 3_290.0}), binance)
    (event,) = outcome.events
    assert event.pool == "cross"
    assert [f.symbol for f in event.fills] == ["ETHUSDT"]
    assert outcome.account.positions == (BTC_LONG_ISO,)
    assert outcome.account.wallet_balance == pytest.approx(6_000.0 + event.returned)


def test_slippage_makes_fills_worse(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=20_000.0, positions=(BTC_LONG_ISO,))
    marks = Marks({"BTCUSDT": 54_000.0})  # below the liquidation price, about 54,217
    (fill,) = liquidate(account, marks, binance, slippage=0.001).events[0].fills
    assert fill.price == pytest.approx(54_000.0 * 0.999)
    for bad in (-0.1, 1.0, math.nan):
        with pytest.raises(InputError, match="slippage"):
            liquidate(account, marks, binance, slippage=bad)


@given(accounts(), st.floats(0.3, 1.7))
def test_no_money_is_lost_and_nothing_breaches_after(drawn: tuple[Account, Marks], shock: float) -> None:
    account, marks = drawn
    shocked = Marks({symbol: price * shock for symbol, price in marks.prices.items()})
    outcome = liquidate(account, shocked, RULES)
    for event in outcome.events:
        assert event.returned >= 0.0
        assert event.returned + event.insurance_fund == pytest.approx(event.margin_before, rel=1e-9, abs=1e-6)
    assert not liquidate(outcome.account, shocked, RULES).liquidated
    assert outcome.account.wallet_balance >= 0.0
