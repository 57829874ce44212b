"""Hedge mode: a long and a short leg of one symbol in one account (Binance's dual-side positions)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.errors import InputError
from crossmargin.margin import evaluate, pool_margin_ratio
from crossmargin.model import Account, AccountRisk, Bracket, MarginMode, Marks, Position, Side
from crossmargin.portfolio import load_portfolio
from crossmargin.venues.binance import BinanceRules

FLAT_BTC = (Bracket(floor=0.0, cap=math.inf, mm_rate=0.005, maint_amount=50.0, max_leverage=100),)
FLAT_ETH = (Bracket(floor=0.0, cap=math.inf, mm_rate=0.01, maint_amount=10.0, max_leverage=50),)


def _leg(symbol: str, side: Side, size: float, entry: float, **extra: object) -> Position:
    return Position(
        symbol=symbol,
        side=side,
        size=size,
        entry_price=entry,
        leverage=10,
        position_side=side.label,
        **extra,  # type: ignore[arg-type]
    )


def _cross_ratio(risk: AccountRisk) -> float:
    return risk.account.margin_ratio


def test_binance_hedge_formula(binance: BinanceRules) -> None:
    """The shared liquidation price of both legs is Binance's published hedge-mode formula."""
    rules = binance.with_brackets({"BTCUSDT": FLAT_BTC, "ETHUSDT": FLAT_ETH})
    long_leg = _leg("BTCUSDT", Side.LONG, 2.0, 60_000.0)
    short_leg = _leg("BTCUSDT", Side.SHORT, 0.5, 62_000.0)
    eth = Position(symbol="ETHUSDT", side=Side.SHORT, size=10.0, entry_price=3_000.0, leverage=10)
    account = Account(venue="binance", wallet_balance=30_000.0, positions=(long_leg, short_leg, eth))
    marks = Marks({"BTCUSDT": 61_000.0, "ETHUSDT": 3_100.0})
    risk = evaluate(account, marks, rules)
    # Other symbols (ETH): TMM1 = 10 x 3100 x 1 % - 10 = 300; UPNL1 = -10 x (3100 - 3000) = -1000.
    wb, tmm1, upnl1 = 30_000.0, 300.0, -1_000.0
    # LP = (WB - TMM1 + UPNL1 + cum_L + cum_S - qL EL + qS ES) / (qL mL + qS mS - qL + qS)
    numerator = wb - tmm1 + upnl1 + 50.0 + 50.0 - 2.0 * 60_000.0 + 0.5 * 62_000.0
    denominator = 2.0 * 0.005 + 0.5 * 0.005 - 2.0 + 0.5
    expected = numerator / denominator
    btc_legs = [p for p in risk.positions if p.symbol == "BTCUSDT"]
    assert [p.liquidation_price for p in btc_legs] == pytest.approx([expected, expected], rel=1e-12)
    # Net long: the shared price is below the mark, and both legs show the same positive distance.
    assert expected < 61_000.0
    assert [p.distance_to_liquidation for p in btc_legs] == pytest.approx([(61_000.0 - expected) / 61_000.0] * 2)
    at_liq = evaluate(account, marks.with_price("BTCUSDT", expected), rules)
    assert _cross_ratio(at_liq) == pytest.approx(1.0, abs=1e-12)


def test_fully_hedged_pair_is_liquidated_by_a_rise(binance: BinanceRules) -> None:
    """Equal legs have no net price exposure; their maintenance margin grows with the price until it eats the wallet."""
    rules = binance.with_brackets({"BTCUSDT": FLAT_BTC})
    account = Account(
        venue="binance",
        wallet_balance=1_000.0,
        positions=(_leg("BTCUSDT", Side.LONG, 1.0, 60_000.0), _leg("BTCUSDT", Side.SHORT, 1.0, 60_000.0)),
    )
    risk = evaluate(account, Marks({"BTCUSDT": 60_000.0}), rules)
    # 1000 + 0 = 2 x (P x 0.5 %) - 2 x 50  =>  P = 1100 / 0.01 = 110,000
    assert [p.liquidation_price for p in risk.positions] == pytest.approx([110_000.0, 110_000.0], rel=1e-12)
    assert [p.distance_to_liquidation for p in risk.positions] == pytest.approx([50_000.0 / 60_000.0] * 2)
    assert all(p.bankruptcy_price is None for p in risk.positions)  # equity never moves with the price


def test_isolated_legs_are_separate_pools(binance: BinanceRules) -> None:
    long_leg = _leg("BTCUSDT", Side.LONG, 1.0, 60_000.0, mode=MarginMode.ISOLATED, isolated_margin=6_000.0)
    short_leg = _leg("BTCUSDT", Side.SHORT, 1.0, 60_000.0, mode=MarginMode.ISOLATED, isolated_margin=6_000.0)
    hedged = Account(venue="binance", wallet_balance=12_000.0, positions=(long_leg, short_leg))
    marks = Marks({"BTCUSDT": 60_000.0})
    alone = Account(venue="binance", wallet_balance=6_000.0, positions=(long_leg,))
    hedged_risk = evaluate(hedged, marks, binance)
    assert hedged_risk.positions[0].liquidation_price == evaluate(alone, marks, binance).positions[0].liquidation_price
    short_liq = hedged_risk.positions[1].liquidation_price
    assert short_liq is not None
    assert short_liq > 60_000.0 > (hedged_risk.positions[0].liquidation_price or 0.0)


def test_account_keys_positions_by_symbol_and_side() -> None:
    one_way = Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=1.0, leverage=1)
    long_leg = _leg("BTCUSDT", Side.LONG, 1.0, 1.0)
    short_leg = _leg("BTCUSDT", Side.SHORT, 1.0, 1.0)
    account = Account(venue="binance", wallet_balance=10.0, positions=(long_leg, short_leg))
    assert account.position("BTCUSDT", "short") is short_leg
    assert account.position("BTCUSDT") is None
    for positions in ((one_way, long_leg), (long_leg, one_way), (long_leg, long_leg)):
        with pytest.raises(InputError, match="duplicate symbol"):
            Account(venue="binance", wallet_balance=10.0, positions=positions)


def test_position_side_must_match_side() -> None:
    with pytest.raises(InputError, match="does not match side") as caught:
        Position(symbol="X", side=Side.LONG, size=1.0, entry_price=1.0, leverage=1, position_side="short")
    assert caught.value.field == "position_side"
    with pytest.raises(InputError, match="hedge mode"):
        Position(symbol="X", side=Side.LONG, size=1.0, entry_price=1.0, leverage=1, position_side="BOTH")  # type: ignore[arg-type]


def test_portfolio_file_with_hedge_legs(tmp_path: Path) -> None:
    path = tmp_path / "hedge.toml"
    path.write_text(
        """wallet_balance = 5000
[[positions]]
symbol = "BTCUSDT"
side = "long"
size = 0.2
entry_price = 60000
leverage = 10
position_side = "long"
[[positions]]
symbol = "BTCUSDT"
side = "short"
size = 0.1
entry_price = 61000
leverage = 10
position_side = "short"
[marks]
BTCUSDT = 60500
""",
        encoding="utf-8",
    )
    loaded = load_portfolio(path)
    risk = evaluate(loaded.account, loaded.marks, loaded.rules)
    assert risk.positions[0].liquidation_price == risk.positions[1].liquidation_price
    assert risk.positions[0].liquidation_price is not None


@given(
    st.tuples(st.floats(0.01, 50.0), st.floats(0.01, 50.0)),
    st.tuples(st.floats(30_000.0, 90_000.0), st.floats(30_000.0, 90_000.0)),
    st.floats(0.7, 1.3),
    st.floats(500.0, 2e6),
)
def test_ratio_is_one_at_the_hedge_liquidation_price(
    sizes: tuple[float, float], entries: tuple[float, float], move: float, wallet: float
) -> None:
    (q_long, q_short), (e_long, e_short) = sizes, entries
    rules = BinanceRules.load()
    account = Account(
        venue="binance",
        wallet_balance=wallet,
        positions=(_leg("BTCUSDT", Side.LONG, q_long, e_long), _leg("BTCUSDT", Side.SHORT, q_short, e_short)),
    )
    marks = Marks({"BTCUSDT": e_long * move})
    risk = evaluate(account, marks, rules)
    liq = risk.positions[0].liquidation_price
    assert liq == risk.positions[1].liquidation_price
    if liq is None:
        return
    at_liq = evaluate(account, marks.with_price("BTCUSDT", liq), rules)
    scale = (wallet + (q_long + q_short) * (e_long + e_short + liq)) / max(at_liq.account.maintenance_margin, 1e-300)
    assert pool_margin_ratio(at_liq, at_liq.positions[0]) == pytest.approx(1.0, abs=1e-9 + 64 * 2.2e-16 * scale)
