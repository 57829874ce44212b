"""Account-wide figures: totals, the cross pool, ring-fenced isolated positions."""

from __future__ import annotations

import math

import pytest

from crossmargin.errors import InputError, UnknownSymbolError
from crossmargin.margin import evaluate, pool_margin_ratio
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues.binance import BinanceRules


def _btc(mode: MarginMode = MarginMode.CROSS, isolated: float | None = None) -> Position:
    return Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=0.5,
        entry_price=60_000.0,
        leverage=10,
        mode=mode,
        isolated_margin=isolated,
    )


def _eth_short() -> Position:
    return Position(symbol="ETHUSDT", side=Side.SHORT, size=10.0, entry_price=3_000.0, leverage=20)


def test_cross_account_totals(binance: BinanceRules) -> None:
    # Arrange: wallet 10,000; BTC long 0.5 @ 60,000 marked 61,000; ETH short 10 @ 3,000 marked 3,100.
    account = Account(venue="binance", wallet_balance=10_000.0, positions=(_btc(), _eth_short()))
    marks = Marks({"BTCUSDT": 61_000.0, "ETHUSDT": 3_100.0})
    # Act
    risk = evaluate(account, marks, binance).account
    # Assert
    assert risk.unrealized_pnl == pytest.approx(500.0 - 1_000.0)  # BTC +500, ETH -(10 x 100)
    assert risk.margin_balance == pytest.approx(9_500.0)
    assert risk.initial_margin == pytest.approx(30_500.0 / 10 + 31_000.0 / 20)  # at the marks
    mm = 30_500.0 * 0.004 + 31_000.0 * 0.004  # both in bracket 1 (0.4 %, cum 0)
    assert risk.maintenance_margin == pytest.approx(mm)
    assert risk.margin_ratio == pytest.approx(mm / 9_500.0)
    assert risk.available_balance == pytest.approx(9_500.0 - 3_050.0 - 1_550.0)


def test_available_balance_is_never_negative(binance: BinanceRules) -> None:
    # 1,000 wallet with a 10x 60,000-notional... no: 0.5 BTC at 10x needs 3,050 IM, more than the 1,000.
    account = Account(venue="binance", wallet_balance=1_000.0, positions=(_btc(),))
    risk = evaluate(account, Marks({"BTCUSDT": 61_000.0}), binance).account
    assert risk.available_balance == 0.0


def test_isolated_position_is_outside_the_cross_pool(binance: BinanceRules) -> None:
    # Arrange: 10,000 wallet of which 3,000 is BTC's isolated wallet; ETH short in cross.
    account = Account(
        venue="binance", wallet_balance=10_000.0, positions=(_btc(MarginMode.ISOLATED, 3_000.0), _eth_short())
    )
    marks = Marks({"BTCUSDT": 61_000.0, "ETHUSDT": 3_100.0})
    # Act
    risk = evaluate(account, marks, binance)
    # Assert: the cross pool is the 7,000 cross wallet with ETH alone
    eth_mm = 31_000.0 * 0.004
    assert risk.account.margin_ratio == pytest.approx(eth_mm / (7_000.0 - 1_000.0))
    assert risk.account.available_balance == pytest.approx(7_000.0 - 1_000.0 - 1_550.0)
    btc = risk.positions[0]
    # The isolated pool: 3,000 + 500 of PnL against BTC's own MM.
    assert pool_margin_ratio(risk, btc) == pytest.approx(30_500.0 * 0.004 / 3_500.0)
    # Isolated liquidation: 3000 + 0.5 (P - 60000) = 0.5 P 0.004  =>  P = (30000 - 3000) / (0.5 x 0.996)
    assert btc.liquidation_price == pytest.approx(27_000.0 / 0.498)


def test_no_cross_position_means_zero_cross_ratio(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=3_000.0, positions=(_btc(MarginMode.ISOLATED, 3_000.0),))
    risk = evaluate(account, Marks({"BTCUSDT": 61_000.0}), binance)
    assert risk.account.margin_ratio == 0.0


def test_bankrupt_cross_pool_has_infinite_ratio(binance: BinanceRules) -> None:
    # 1,000 wallet, BTC down 10,000 x 0.5 = -5,000: margin balance -4,000 <= 0.
    account = Account(venue="binance", wallet_balance=1_000.0, positions=(_btc(),))
    risk = evaluate(account, Marks({"BTCUSDT": 50_000.0}), binance)
    assert math.isinf(risk.account.margin_ratio)
    assert risk.positions[0].distance_to_liquidation is not None
    assert risk.positions[0].distance_to_liquidation < 0


def test_unknown_symbol_names_the_position(binance: BinanceRules) -> None:
    account = Account(
        venue="binance",
        wallet_balance=1_000.0,
        positions=(Position(symbol="BTCUSD", side=Side.LONG, size=1.0, entry_price=1.0, leverage=1),),
    )
    with pytest.raises(UnknownSymbolError, match=r"positions\[0\]\.symbol: unknown symbol 'BTCUSD'.*did you mean"):
        evaluate(account, Marks({"BTCUSD": 1.0}), binance)


def test_missing_mark_names_the_symbol(binance: BinanceRules) -> None:
    account = Account(venue="binance", wallet_balance=10_000.0, positions=(_btc(),))
    with pytest.raises(InputError, match=r"marks\.BTCUSDT: missing mark price for BTCUSDT"):
        evaluate(account, Marks({}), binance)
