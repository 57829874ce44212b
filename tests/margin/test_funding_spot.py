"""Funding settlements and spot trades as account operations (``margin.operations``), as the backtester applies
them: funding into the cross wallet or the isolated wallet (floored), spot paid from the cross wallet."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.errors import InputError, RejectedError
from crossmargin.margin.operations import ISOLATED_FLOOR, open_position, settle_funding, spot_trade
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues.binance import BinanceRules

MARKS = Marks({"BTCUSDT": 60_000.0})
EMPTY = Account(venue="binance", wallet_balance=10_000.0)


def _btc(binance: BinanceRules, side: Side, mode: MarginMode) -> Account:
    return open_position(
        EMPTY, MARKS, binance, symbol="BTCUSDT", side=side, size=0.5, price=60_000.0, leverage=10, mode=mode
    ).account


def test_a_cross_long_pays_positive_funding_from_the_wallet(binance: BinanceRules) -> None:
    # Arrange
    account = _btc(binance, Side.LONG, MarginMode.CROSS)

    # Act: 0.01 % at a mark of 62,000 on 0.5 BTC: 0.5 x 62,000 x 0.0001 = 3.10 paid
    result = settle_funding(account, symbol="BTCUSDT", mark=62_000.0, rate=0.0001)

    # Assert
    assert result.event.kind == "funding"
    assert result.event.realized_pnl == pytest.approx(-3.10)
    assert result.account.wallet_balance == pytest.approx(account.wallet_balance - 3.10)
    assert result.account.positions == account.positions


def test_an_isolated_short_receives_funding_into_its_isolated_wallet(binance: BinanceRules) -> None:
    # Arrange
    account = _btc(binance, Side.SHORT, MarginMode.ISOLATED)
    before = account.position("BTCUSDT")
    assert before is not None
    assert before.isolated_margin is not None

    # Act
    result = settle_funding(account, symbol="BTCUSDT", mark=60_000.0, rate=0.0005)

    # Assert: 0.5 x 60,000 x 0.0005 = 15 received, into the position's wallet and so into the total wallet
    after = result.account.position("BTCUSDT")
    assert after is not None
    assert after.isolated_margin is not None
    assert result.event.margin_delta == pytest.approx(15.0)
    assert after.isolated_margin == pytest.approx(before.isolated_margin + 15.0)
    assert result.account.wallet_balance == pytest.approx(account.wallet_balance + 15.0)
    assert result.account.cross_wallet_balance == pytest.approx(account.cross_wallet_balance)


def test_an_isolated_wallet_never_falls_below_the_floor(binance: BinanceRules) -> None:
    # Arrange: 3,000 of isolated margin, a funding payment of 0.5 x 60,000 x 0.2 = 6,000
    account = _btc(binance, Side.LONG, MarginMode.ISOLATED)

    # Act
    result = settle_funding(account, symbol="BTCUSDT", mark=60_000.0, rate=0.2)

    # Assert: the wallet keeps the floor; only what it held is paid (the rest is the liquidation's loss)
    after = result.account.position("BTCUSDT")
    assert after is not None
    assert after.isolated_margin == ISOLATED_FLOOR
    assert result.event.realized_pnl == pytest.approx(-3_000.0 + ISOLATED_FLOOR)


def test_funding_of_a_hedge_leg_touches_only_that_leg(binance: BinanceRules) -> None:
    # Arrange: a hedge-mode pair, both legs isolated
    legs = tuple(
        Position(
            symbol="BTCUSDT",
            side=side,
            size=0.1,
            entry_price=60_000.0,
            leverage=10,
            mode=MarginMode.ISOLATED,
            isolated_margin=600.0,
            position_side=side.label,
        )
        for side in (Side.LONG, Side.SHORT)
    )
    account = Account(venue="binance", wallet_balance=5_000.0, positions=legs)

    # Act
    result = settle_funding(account, symbol="BTCUSDT", mark=60_000.0, rate=0.001, position_side="short")

    # Assert: the short receives 6; the long is untouched
    long_leg, short_leg = result.account.position("BTCUSDT", "long"), result.account.position("BTCUSDT", "short")
    assert long_leg == legs[0]
    assert short_leg is not None
    assert short_leg.isolated_margin == pytest.approx(606.0)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("mark", {"mark": math.nan, "rate": 0.0}),
        ("mark", {"mark": -1.0, "rate": 0.0}),
        ("rate", {"mark": 1.0, "rate": math.inf}),
    ],
)
def test_funding_refuses_bad_values_naming_the_field(
    binance: BinanceRules, field: str, kwargs: dict[str, float]
) -> None:
    account = _btc(binance, Side.LONG, MarginMode.CROSS)
    with pytest.raises(InputError, match=field):
        settle_funding(account, symbol="BTCUSDT", mark=kwargs["mark"], rate=kwargs["rate"])


def test_funding_without_a_position_is_refused() -> None:
    with pytest.raises(RejectedError) as refused:
        settle_funding(EMPTY, symbol="BTCUSDT", mark=60_000.0, rate=0.0001)
    assert refused.value.reason == "no_position"


@given(rate=st.floats(-0.03, 0.03), mark=st.floats(1_000.0, 200_000.0))
def test_funding_moves_the_wallet_by_exactly_the_payment_applied(rate: float, mark: float) -> None:
    # Arrange: a cross long (no floor can apply)
    position = Position(symbol="BTCUSDT", side=Side.LONG, size=0.5, entry_price=60_000.0, leverage=10)
    account = Account(venue="binance", wallet_balance=10_000.0, positions=(position,))

    # Act
    result = settle_funding(account, symbol="BTCUSDT", mark=mark, rate=rate)

    # Assert: the long pays s x q x M x F
    assert result.event.realized_pnl == pytest.approx(-0.5 * mark * rate, rel=1e-12, abs=1e-12)
    assert result.account.wallet_balance - account.wallet_balance == pytest.approx(result.event.realized_pnl)


def test_a_spot_buy_pays_value_and_taker_fee_from_the_wallet() -> None:
    # Act: 0.1 BTC at 60,000, fee 0.1 %: 6,000 + 6 paid
    result = spot_trade(EMPTY, symbol="BTCUSDT", side=Side.LONG, size=0.1, price=60_000.0, fee_rate=0.001)

    # Assert
    assert result.event.kind == "spot_buy"
    assert result.event.fee == pytest.approx(6.0)
    assert result.account.wallet_balance == pytest.approx(10_000.0 - 6_006.0)


def test_a_spot_sale_receives_value_less_the_fee() -> None:
    result = spot_trade(EMPTY, symbol="BTCUSDT", side=Side.SHORT, size=0.1, price=60_000.0, fee_rate=0.001)
    assert result.event.kind == "spot_sell"
    assert result.account.wallet_balance == pytest.approx(10_000.0 + 5_994.0)


def test_a_spot_buy_above_the_cross_wallet_is_refused(binance: BinanceRules) -> None:
    # Arrange: 3,000 of the 10,000 sits in an isolated BTC position
    account = _btc(binance, Side.LONG, MarginMode.ISOLATED)

    # Act / Assert: 7,000 of spot costs more than the ~6,985 left in the cross wallet
    with pytest.raises(RejectedError) as refused:
        spot_trade(account, symbol="BTCUSDT", side=Side.LONG, size=7_000.0 / 60_000.0, price=60_000.0, fee_rate=0.0)
    assert refused.value.reason == "insufficient_balance"


@pytest.mark.parametrize(
    ("field", "size", "price", "rate"),
    [("size", 0.0, 1.0, 0.0), ("price", 1.0, math.nan, 0.0), ("fee_rate", 1.0, 1.0, -0.1)],
)
def test_spot_refuses_bad_values_naming_the_field(field: str, size: float, price: float, rate: float) -> None:
    with pytest.raises(InputError, match=field):
        spot_trade(EMPTY, symbol="BTCUSDT", side=Side.LONG, size=size, price=price, fee_rate=rate)
