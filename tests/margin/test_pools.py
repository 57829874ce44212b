"""Pool keys and the one-direction ratio every caller compares with 1."""

from __future__ import annotations

import math

from crossmargin import get_rules
from crossmargin.margin.pools import pool_keys, risk_view
from crossmargin.model import Account, MarginMode, Position, Side


def test_risk_view_turns_okx_health_into_requirement_over_balance() -> None:
    assert risk_view(get_rules("binance"), 0.25) == 0.25
    okx = get_rules("okx")
    assert risk_view(okx, 4.0) == 0.25  # health 400 %: a quarter of the way to liquidation
    assert risk_view(okx, 1.0) == 1.0
    assert risk_view(okx, 0.0) == math.inf


def test_pool_keys_name_the_cross_pool_and_each_isolated_position() -> None:
    cross = Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=60_000.0, leverage=10)
    isolated = Position(
        symbol="ETHUSDT",
        side=Side.SHORT,
        size=1.0,
        entry_price=3_000.0,
        leverage=10,
        mode=MarginMode.ISOLATED,
        isolated_margin=300.0,
    )
    account = Account(venue="binance", wallet_balance=1_000.0, positions=(cross, isolated))
    assert pool_keys(account) == ["cross", "isolated:1"]
