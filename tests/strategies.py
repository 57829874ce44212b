"""Hypothesis strategies for accounts on the shipped venue tables; every property test draws from here."""

from __future__ import annotations

from hypothesis import strategies as st

from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules
from crossmargin.venues.binance import BinanceRules

RULES = BinanceRules.load()
#: Symbols drawn from, per venue: the seed's three and a few with short or steep bracket tables.
VENUE_SYMBOLS: dict[str, tuple[str, ...]] = {
    "binance": ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT", "XRPUSDT", "1000PEPEUSDT", "AVAXUSDT"),
    "bybit": ("BTCUSDT", "ETHUSDT"),
    "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP", "ADA-USDT-SWAP"),
    "hyperliquid": ("BTC", "ETH", "SOL", "DOGE", "ATOM"),
}
SYMBOLS = VENUE_SYMBOLS["binance"]
#: Rough price level of each base currency (quote units), so that notionals span several brackets.
LEVELS = {
    "BTC": 70_000.0,
    "ETH": 2_500.0,
    "SOL": 150.0,
    "DOGE": 0.2,
    "XRP": 0.6,
    "1000PEPE": 0.01,
    "AVAX": 30.0,
    "ADA": 0.5,
    "ATOM": 5.0,
}

#: How far above its entry a mark may go with a drawn position's notional still inside its table.
HEADROOM = 2.5

sides = st.sampled_from([Side.LONG, Side.SHORT])


@st.composite
def positions(draw: st.DrawFn, symbol: str, mode: MarginMode, rules: VenueRules = RULES) -> Position:
    """Draw a position in ``symbol`` with an allowed leverage and a notional of 10 .. 50M (inside the table).

    On notional-tiered tables the notional stays below ``last cap / HEADROOM``, so that marks up to
    ``HEADROOM`` times the entry (the marks and shocks the properties draw) keep it inside the table.
    """
    instrument = rules.instrument(symbol)
    level = LEVELS[instrument.base]
    entry = level * draw(st.floats(0.5, 2.0))
    top = instrument.brackets[-1].cap * 0.999
    largest = top * entry if instrument.tier_basis == "size" else top / HEADROOM
    notional = draw(st.floats(10.0, min(5e7, largest)))
    size = notional / entry
    cap = instrument.bracket_for(instrument.tier_value(size, entry)).max_leverage
    leverage = draw(st.integers(1, max(1, int(cap))))
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
    draw: st.DrawFn,
    *,
    modes: tuple[MarginMode, ...] = (MarginMode.CROSS, MarginMode.ISOLATED),
    max_positions: int = 4,
    venue: str = "binance",
) -> tuple[Account, Marks]:
    """Draw an account of 1..max_positions positions (distinct symbols) and marks within +-40 % of entry."""
    rules = get_rules(venue)
    symbols = draw(st.lists(st.sampled_from(VENUE_SYMBOLS[venue]), min_size=1, max_size=max_positions, unique=True))
    held = tuple(draw(positions(symbol, draw(st.sampled_from(modes)), rules)) for symbol in symbols)
    isolated = sum(p.isolated_margin or 0.0 for p in held)
    gross = sum(p.entry_notional for p in held)
    wallet = isolated + gross * draw(st.floats(0.0, 1.0))
    marks = Marks({p.symbol: p.entry_price * draw(st.floats(0.6, 1.4)) for p in held})
    return Account(venue=venue, wallet_balance=wallet, positions=held), marks
