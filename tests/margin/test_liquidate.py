"""The liquidation procedure: what each venue does to a pool that breaches, and that no money is lost."""

from __future__ import annotations

import dataclasses
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.errors import InputError
from crossmargin.kernels.scan import pool_breached
from crossmargin.margin import evaluate
from crossmargin.margin.liquidate import liquidate, pool_breaches
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues.base import LiquidationPolicy
from crossmargin.venues.binance import BinanceRules
from crossmargin.venues.bybit import BybitRules
from crossmargin.venues.hyperliquid import HyperliquidRules
from crossmargin.venues.okx import OkxRules
from tests.fixtures.strategies import RULES, accounts

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
    assert not pool_breaches(-1.0, 0.0)  # no requirement: ratio 0, never liquidated (the kernels' rule too)
    assert not pool_breaches(0.0, 0.0)
    assert pool_breached(100.0, 100.0)
    assert not pool_breached(-1.0, 0.0)


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


def test_bybit_steps_down_a_risk_limit_tier_before_taking_over() -> None:
    rules = BybitRules.load()
    # 45 BTC at 60,000 = 2.7M entry value: tier 3 (2.6M-3.2M, MMR 0.63 %, deduction 3,020): MM 13,990.
    position = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=45.0,
        entry_price=60_000.0,
        leverage=20,
        mode=MarginMode.ISOLATED,
        isolated_margin=150_000.0,
    )
    account = Account(venue="bybit", wallet_balance=150_000.0, positions=(position,))
    liq = evaluate(account, Marks({"BTCUSDT": 60_000.0}), rules).positions[0].liquidation_price
    # Bybit's isolated formula: LP = E - (IM - MM) / q with both at entry value
    assert liq == pytest.approx(60_000.0 - (150_000.0 - (2_700_000.0 * 0.0063 - 3_020.0)) / 45.0)
    assert liq is not None
    outcome = liquidate(account, Marks({"BTCUSDT": liq - 1.0}), rules)
    (event,) = outcome.events
    (fill,) = event.fills
    # Reduced, at the mark, to the top of tier 2 (2.6M entry value): the rest meets tier 2's MM.
    assert fill.kind == "reduce"
    assert fill.size == pytest.approx(45.0 - 2_600_000.0 / 60_000.0, rel=1e-9)
    (left,) = outcome.account.positions
    assert left.size * left.entry_price == pytest.approx(2_600_000.0, rel=1e-9)
    assert not liquidate(outcome.account, Marks({"BTCUSDT": liq - 1.0}), rules).liquidated


def test_bybit_lowest_tier_is_taken_over_at_bankruptcy() -> None:
    rules = BybitRules.load()
    position = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=1.0,
        entry_price=20_000.0,
        leverage=50,
        mode=MarginMode.ISOLATED,
        isolated_margin=400.0,
    )
    account = Account(venue="bybit", wallet_balance=1_000.0, positions=(position,))
    outcome = liquidate(account, Marks({"BTCUSDT": 19_690.0}), rules)  # past the 19,700 liquidation price
    (event,) = outcome.events
    assert [f.kind for f in event.fills] == ["takeover"]
    assert event.returned == 0.0
    assert event.insurance_fund == pytest.approx(400.0 - 310.0)  # the margin left at the trigger
    assert outcome.account.wallet_balance == pytest.approx(600.0)  # the isolated wallet is lost, the rest kept


def test_okx_reduces_two_tiers_at_a_time_with_the_liquidation_fee() -> None:
    rules = OkxRules.load()
    # 5,000 SOL (contracts of 1 SOL) is tier 4 of SOL-USDT-SWAP (4,000-8,000, MMR 2.5 %).
    position = Position(
        symbol="SOL-USDT-SWAP",
        side=Side.LONG,
        size=5_000.0,
        entry_price=150.0,
        leverage=10,
        mode=MarginMode.ISOLATED,
        isolated_margin=75_000.0,
    )
    account = Account(venue="okx", wallet_balance=75_000.0, positions=(position,))
    liq = evaluate(account, Marks({"SOL-USDT-SWAP": 150.0}), rules).positions[0].liquidation_price
    assert liq is not None
    mark = liq * (1 - 1e-4)
    outcome = liquidate(account, Marks({"SOL-USDT-SWAP": mark}), rules)
    (event,) = outcome.events
    first = event.fills[0]
    assert first.kind == "reduce"
    assert 5_000.0 - first.size == pytest.approx(1_000.0, rel=1e-9)  # down to the top of tier 2
    assert first.fee == pytest.approx(first.size * mark * rules.taker_rate, rel=1e-12)
    assert not liquidate(outcome.account, Marks({"SOL-USDT-SWAP": mark}), rules).liquidated


def test_hyperliquid_slices_a_large_position_then_stops_when_healthy() -> None:
    rules = HyperliquidRules.load()
    position = Position(symbol="BTC", side=Side.LONG, size=5.0, entry_price=100_000.0, leverage=20)
    account = Account(venue="hyperliquid", wallet_balance=30_000.0, positions=(position,))
    liq = evaluate(account, Marks({"BTC": 100_000.0}), rules).positions[0].liquidation_price
    assert liq is not None
    outcome = liquidate(account, Marks({"BTC": liq * (1 - 1e-6)}), rules)
    (event,) = outcome.events
    (fill,) = event.fills
    assert (fill.kind, fill.fee) == ("reduce", 0.0)
    assert fill.size == pytest.approx(1.0)  # 20 % of a position above 100,000 USDC
    assert outcome.account.positions[0].size == pytest.approx(4.0)
    assert event.returned > 0.0  # what is left stays with the trader


def test_hyperliquid_backstop_takes_a_pool_below_two_thirds_of_its_requirement() -> None:
    rules = HyperliquidRules.load()
    position = Position(symbol="BTC", side=Side.LONG, size=5.0, entry_price=100_000.0, leverage=20)
    account = Account(venue="hyperliquid", wallet_balance=30_000.0, positions=(position,))
    # At 94,500 the equity is 2,500 against MM 5,906: below 2/3 of it.
    outcome = liquidate(account, Marks({"BTC": 94_500.0}), rules)
    (event,) = outcome.events
    assert [f.kind for f in event.fills] == ["takeover"]
    assert event.returned == 0.0
    assert event.insurance_fund == pytest.approx(2_500.0)
    assert outcome.account.wallet_balance == 0.0


def test_hyperliquid_closes_a_small_position_whole_and_returns_the_rest() -> None:
    rules = HyperliquidRules.load()
    position = Position(symbol="ETH", side=Side.SHORT, size=10.0, entry_price=2_000.0, leverage=10)
    account = Account(venue="hyperliquid", wallet_balance=2_000.0, positions=(position,))
    liq = evaluate(account, Marks({"ETH": 2_000.0}), rules).positions[0].liquidation_price
    assert liq is not None
    mark = liq * (1 + 1e-6)  # 20,000 USDC notional: below the 100,000 partial threshold
    outcome = liquidate(account, Marks({"ETH": mark}), rules)
    (event,) = outcome.events
    (fill,) = event.fills
    assert (fill.kind, fill.size, fill.fee) == ("close", 10.0, 0.0)
    # No liquidation fee: the maintenance margin left at the trigger (2 % of 10 x mark) stays with the trader.
    assert event.returned == pytest.approx(10 * mark / (2 * 25), rel=1e-4)
    assert outcome.account.positions == ()
    assert outcome.account.wallet_balance == pytest.approx(event.returned)


def test_bybit_steps_down_as_many_tiers_as_needed() -> None:
    rules = BybitRules.load()
    # 70 BTC at 60,000 = 4.2M entry value: tier 5 (3.8M-4.4M, MMR 0.71 %, deduction 5,820), MM 23,999.
    position = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=70.0,
        entry_price=60_000.0,
        leverage=20,
        mode=MarginMode.ISOLATED,
        isolated_margin=210_000.0,
    )
    account = Account(venue="bybit", wallet_balance=210_000.0, positions=(position,))
    liq = evaluate(account, Marks({"BTCUSDT": 60_000.0}), rules).positions[0].liquidation_price
    assert liq is not None
    # 70 below it the equity is 23,999 - 4,900 = 19,099: tier 4's top (3.8M: MM 21,160) is not enough,
    # tier 3's (3.2M: MM 17,140) is.
    outcome = liquidate(account, Marks({"BTCUSDT": liq - 70.0}), rules)
    (event,) = outcome.events
    (fill,) = event.fills
    assert fill.kind == "reduce"
    (left,) = outcome.account.positions
    left_tier = rules.instrument("BTCUSDT").bracket_for(left.size * left.entry_price)
    tiers = rules.instrument("BTCUSDT").brackets
    assert tiers.index(left_tier) < tiers.index(rules.instrument("BTCUSDT").bracket_for(4_200_000.0)) - 1
    assert left.size * left.entry_price == pytest.approx(3_200_000.0, rel=1e-9)
    assert not liquidate(outcome.account, Marks({"BTCUSDT": liq - 70.0}), rules).liquidated


def test_full_style_without_a_fee_returns_all_that_is_left(binance: BinanceRules) -> None:
    rules = dataclasses.replace(binance, liquidation=LiquidationPolicy(style="full"))
    account = Account(venue="binance", wallet_balance=20_000.0, positions=(BTC_LONG_ISO,))
    outcome = liquidate(account, Marks({"BTCUSDT": 54_100.0}), rules)
    (event,) = outcome.events
    assert event.insurance_fund == 0.0
    assert event.returned == pytest.approx(6_000.0 - 5_900.0)


def test_hyperliquid_isolated_position_closed_whole_returns_its_margin_to_the_wallet() -> None:
    rules = HyperliquidRules.load()
    position = Position(
        symbol="ETH",
        side=Side.LONG,
        size=10.0,
        entry_price=2_000.0,
        leverage=10,
        mode=MarginMode.ISOLATED,
        isolated_margin=2_000.0,
    )
    account = Account(venue="hyperliquid", wallet_balance=5_000.0, positions=(position,))
    liq = evaluate(account, Marks({"ETH": 2_000.0}), rules).positions[0].liquidation_price
    assert liq is not None
    mark = liq * (1 - 1e-6)  # 18,000 USDC notional: below the partial threshold, above the backstop
    outcome = liquidate(account, Marks({"ETH": mark}), rules)
    (event,) = outcome.events
    assert event.pool == "isolated:ETH"
    assert [f.kind for f in event.fills] == ["close"]
    margin_left = 2_000.0 + 10 * (mark - 2_000.0)  # what the isolated wallet holds at the trigger
    assert event.returned == pytest.approx(margin_left, rel=1e-9)
    assert event.returned + event.insurance_fund == pytest.approx(event.margin_before, rel=1e-9)
    assert outcome.account.positions == ()
    assert outcome.account.wallet_balance == pytest.approx(3_000.0 + margin_left, rel=1e-12)
