"""Hypothesis strategies for accounts on the shipped Binance tables; every property test draws from here."""

from __future__ import annotations

from hypothesis import strategies as st

from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues.binance import BinanceRules

RULES = BinanceRules.load()
#: Symbols drawn from: the seed's three and a few with short or steep bracket tables.
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT", "1000PEPEUSDT", "AVAXUSDT")
#: Rough price level of each symbol (USDT), so that notionals span several brackets.
LEVELS = {
    "BTCUSDT": 70_000.0,
    "ETHUSDT": 2_500.0,
    "SOLUSDT": 150.0,
    "DOGEUSDT": 0.2,
    "XRPUSDT": 0.6,
    "1000PEPEUSDT": 0.01,
    "AVAXUSDT": 30.0,
}

sides = st.sampled_from([Side.LONG, Side.SHORT])


@st.composite
def positions(draw: st.DrawFn, symbol: str, mode: MarginMode) -> Position:
    """Draw a position in ``symbol`` with an allowed leverage and a notional of 10 .. 50M USDT."""
    level = LEVELS[symbol]
    entry = level * draw(st.floats(0.5, 2.0))
    notional = draw(st.floats(10.0, 5e7))
    size = notional / entry
    cap = RULES.instrument(symbol).bracket_for(notional).max_leverage
    leverage = draw(st.integers(1, int(cap)))
    isolated = None
    if mode is MarginMode.ISOLATED:
        isolated = notional / leverage * draw(st.floats(0.2, 3.0))
    return Position(
        symbol=symbol,
        side=draw(sides),
        size=size,
        entry_price=entry,
        leverage=leverage,
        mode=mode,
        isolated_margin=isolated,
    )


@st.composite
def accounts(
    draw: st.DrawFn, *, modes: tuple[MarginMode, ...] = (MarginMode.CROSS, MarginMode.ISOLATED), max_positions: int = 4
) -> tuple[Account, Marks]:
    """Draw an account of 1..max_positions positions (distinct symbols) and marks within +-40 % of entry."""
    symbols = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=max_positions, unique=True))
    held = tuple(draw(positions(symbol, draw(st.sampled_from(modes)))) for symbol in symbols)
    isolated = sum(p.isolated_margin or 0.0 for p in held)
    gross = sum(p.entry_notional for p in held)
    wallet = isolated + gross * draw(st.floats(0.0, 1.0))
    marks = Marks({p.symbol: p.entry_price * draw(st.floats(0.6, 1.4)) for p in held})
    return Account(venue="binance", wallet_balance=wallet, positions=held), marks
