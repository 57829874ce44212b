"""Per-position arithmetic, with the expected figure's arithmetic beside each assertion."""

from __future__ import annotations

import pytest

from crossmargin.margin.funding import funding_payment
from crossmargin.margin.position import fee, initial_margin, maintenance_margin, notional, unrealized_pnl
from crossmargin.model import Bracket, Side


def test_notional_and_initial_margin() -> None:
    # 0.5 BTC at 61,000 = 30,500 USDT; at 10x the initial margin is 3,050.
    value = notional(0.5, 61_000.0)
    assert value == 30_500.0
    assert initial_margin(value, 10) == 3_050.0


@pytest.mark.parametrize(
    ("side", "expected"),
    [(Side.LONG, 500.0), (Side.SHORT, -500.0)],  # 0.5 x (61,000 - 60,000) = 500, sign by side
)
def test_unrealized_pnl_sign(side: Side, expected: float) -> None:
    assert unrealized_pnl(side, 0.5, 60_000.0, 61_000.0) == expected


def test_maintenance_margin_uses_the_bracket_deduction() -> None:
    # BTCUSDT bracket 2 (300k..800k): 500,000 x 0.5 % - 300 = 2,200.
    bracket = Bracket(floor=300_000.0, cap=800_000.0, mm_rate=0.005, maint_amount=300.0, max_leverage=100)
    assert maintenance_margin(500_000.0, bracket) == pytest.approx(2_200.0, rel=1e-15)


def test_fee_is_notional_times_rate() -> None:
    # 30,500 USDT at the 0.05 % taker rate = 15.25 USDT.
    assert fee(30_500.0, 0.0005) == pytest.approx(15.25, rel=1e-15)


def test_funding_long_pays_when_rate_positive() -> None:
    # freqtrade's case: size 10, rate 0.0002, mark 2.5 -> 10 x 2.5 x 0.0002 = 0.005, paid by a long.
    assert funding_payment(Side.LONG, 10.0, 2.5, 0.0002) == pytest.approx(-0.005, rel=1e-12)
    assert funding_payment(Side.SHORT, 10.0, 2.5, 0.0002) == pytest.approx(0.005, rel=1e-12)
