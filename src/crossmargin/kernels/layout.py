"""Array layouts of the kernels, declared once, field by field, with units.

``MarketData`` holds bars of several symbols on one UTC grid (times are bar open times in ms since the Unix
epoch; prices in the quote currency; arrays of shape ``(bars, symbols)``; ``mark_*`` the venue's mark
klines, funding per symbol as times and rates (fraction per settlement, > 0: longs pay shorts)).
``Trigger`` and ``ScanResult`` are the scan's input triggers and its output.

``BookArrays`` is an account's book (positions, margin pools, resting triggers) as struct-of-arrays, the
input of ``crossmargin.kernels.scan``. ``pack_book`` builds it from the plain values of ``crossmargin.model``
with the figures that do not change while the book is held: each position's requirement schedule (from
``crossmargin.margin.account.position_states``), its pool, and the mark extreme adverse to its pool.

Pools: index 0 is the cross pool (wallet ``Account.cross_wallet_balance``), indices 1..K the isolated
positions in position order (wallet: the position's isolated margin). ``pool_members[pool_offsets[k] :
pool_offsets[k + 1]]`` lists the positions of pool k (the cross pool may be empty).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from crossmargin.errors import DataError
from crossmargin.margin.account import position_states
from crossmargin.model import Account, MarginMode, Marks
from crossmargin.venues.base import VenueRules

__all__ = [
    "EXTREME_CLOSE",
    "EXTREME_HIGH",
    "EXTREME_LOW",
    "BookArrays",
    "BoolArray",
    "FloatArray",
    "IntArray",
    "MarketData",
    "ScanResult",
    "Trigger",
    "pack_book",
    "pool_wallets",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned bars of several symbols (see the module docstring for units and shapes)."""

    times: IntArray
    symbols: tuple[str, ...]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    mark_open: FloatArray
    mark_high: FloatArray
    mark_low: FloatArray
    mark_close: FloatArray
    interval_ms: int
    funding_times: Mapping[str, IntArray] = field(default_factory=dict)
    funding_rates: Mapping[str, FloatArray] = field(default_factory=dict)
    spot_close: FloatArray | None = None
    marks_from_trades: bool = False

    def __post_init__(self) -> None:
        bars, width = len(self.times), len(self.symbols)
        if bars == 0 or width == 0:
            raise DataError("market data: no bars or no symbols (need at least one bar of one symbol)")
        if len(set(self.symbols)) != width:
            raise DataError(f"market data: duplicate symbols in {self.symbols}")
        if np.any(np.diff(self.times) != self.interval_ms):
            index = int(np.argmax(np.diff(self.times) != self.interval_ms))
            raise DataError(
                f"market data: bars are not every {self.interval_ms} ms after bar {index} "
                f"(time {int(self.times[index])}): a gap, a duplicate or unsorted times"
            )
        arrays: dict[str, FloatArray] = {"open": self.open, "high": self.high, "low": self.low, "close": self.close}
        arrays |= {"mark_open": self.mark_open, "mark_high": self.mark_high}
        arrays |= {"mark_low": self.mark_low, "mark_close": self.mark_close}
        for name, array in arrays.items():
            if array.shape != (bars, width):
                raise DataError(f"market data: {name} has shape {array.shape}, expected {(bars, width)}")
            if not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise DataError(f"market data: {name} holds a non-finite or non-positive price")
        if np.any(self.high < self.low) or np.any(self.mark_high < self.mark_low):
            raise DataError("market data: a bar has high < low")

    @property
    def bars(self) -> int:
        """Return the number of bars."""
        return len(self.times)

    def column(self, symbol: str) -> int:
        """Return the column of ``symbol``; raise DataError for a symbol not in the data."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise DataError(f"market data: no bars for {symbol!r} (have {', '.join(self.symbols)})") from None


@dataclass(frozen=True, slots=True)
class Trigger:
    """A resting order's trigger: fires in the first bar whose last-trade range reaches ``price``.

    ``direction`` +1: fires when the bar's high >= price (a buy stop, a short's stop-loss, a long's
    take-profit, a sell limit); -1: fires when the low <= price.
    """

    symbol: str
    price: float
    direction: int


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What a scan of bars ``[start, stop)`` found.

    ``event`` is the first bar with a trigger or a worst-case breach (``stop`` when none); ``equity`` and
    ``ratio`` hold, for bars ``start .. event - 1``, the margin balance at the mark close (quote) and the
    highest pool margin ratio at the close, as requirement / margin balance (1 = liquidation; 0 when no
    position is held).
    """

    event: int
    equity: FloatArray
    ratio: FloatArray


#: Values of ``BookArrays.extreme``: which mark price of a bar is the worst case of a position's pool.
EXTREME_LOW = -1
EXTREME_HIGH = 1
EXTREME_CLOSE = 0


@dataclass(frozen=True, eq=False, kw_only=True)
class BookArrays:
    """An account's book as arrays: n positions, 1 + K pools, m triggers, schedules padded to B brackets.

    Per position (shape ``(n,)``): ``column`` (int64, the symbol's column in the market data), ``side``
    (+1.0 long, -1.0 short), ``size`` (base units, > 0), ``entry`` (entry price, quote), ``pool`` (int64,
    0 = cross, 1..K isolated), ``extreme`` (int64: ``EXTREME_LOW`` when the pool is net long the symbol,
    ``EXTREME_HIGH`` when net short, ``EXTREME_CLOSE`` when flat: the bar's mark price that is the pool's
    worst case).

    Requirement schedule (shape ``(n, B)``): requirement = ``q x P x mm_rates[i, b] - maint_amounts[i, b]``
    (quote) with b the first bracket whose ``caps[i, b]`` (notional, quote) exceeds ``q x P``, the last
    one beyond. Rows shorter than B are padded with cap +inf and their last bracket repeated.

    Per pool (shape ``(1 + K,)``): ``pool_wallet`` (quote); ``pool_offsets`` (shape ``(2 + K,)``) and
    ``pool_members`` (shape ``(n,)``) list each pool's positions. ``wallet_balance`` is the whole wallet
    (quote, isolated wallets included). Per trigger (shape ``(m,)``): ``trigger_column``,
    ``trigger_price`` (quote), ``trigger_direction`` (+1: fires at high >= price, -1: at low <= price).
    ``symbols`` are the market columns the book was packed for.
    """

    symbols: tuple[str, ...]
    column: IntArray
    side: FloatArray
    size: FloatArray
    entry: FloatArray
    pool: IntArray
    extreme: IntArray
    caps: FloatArray
    mm_rates: FloatArray
    maint_amounts: FloatArray
    pool_wallet: FloatArray
    pool_offsets: IntArray
    pool_members: IntArray
    wallet_balance: float
    trigger_column: IntArray
    trigger_price: FloatArray
    trigger_direction: IntArray

    @property
    def positions(self) -> int:
        """Return the number of positions n."""
        return len(self.column)

    @property
    def pools(self) -> int:
        """Return the number of pools 1 + K (the cross pool counts even when empty)."""
        return len(self.pool_wallet)


def pool_wallets(account: Account) -> FloatArray:
    """Return the wallet of each pool of ``account`` in ``BookArrays`` order (quote currency).

    Index 0 the cross wallet (``Account.cross_wallet_balance``), then each isolated position's isolated
    margin, in position order.
    """
    wallets = [account.cross_wallet_balance]
    wallets += [float(p.isolated_margin or 0.0) for p in account.positions if p.mode is MarginMode.ISOLATED]
    return np.array(wallets, dtype=np.float64)


def pack_book(
    account: Account, rules: VenueRules, market: MarketData, *, triggers: Sequence[Trigger] = ()
) -> BookArrays:
    """Return ``account``'s book and ``triggers`` as ``BookArrays`` for bars of ``market``.

    Raises DataError for a symbol not in ``market`` and InputError where ``position_states`` does (a symbol
    the venue does not list, a position the venue cannot hold).
    """
    positions = account.positions
    # The schedules do not depend on the mark; any positive price per symbol serves to build the states.
    marks = Marks({p.symbol: p.entry_price for p in positions})
    schedules = [state.schedule for state in position_states(account, marks, rules)]
    count = len(positions)
    width = max((len(schedule) for schedule in schedules), default=1)
    # Rows padded with cap +inf and the last bracket repeated. Built as lists: a book holds a few
    # positions, and numpy's cost per call would dominate (the engine packs a book at every change).
    caps = [[b.cap for b in schedule] + [math.inf] * (width - len(schedule)) for schedule in schedules]
    mm_rates = [
        [b.mm_rate for b in schedule] + [schedule[-1].mm_rate] * (width - len(schedule)) for schedule in schedules
    ]
    maint_amounts = [
        [b.maint_amount for b in schedule] + [schedule[-1].maint_amount] * (width - len(schedule))
        for schedule in schedules
    ]
    pools: list[int] = []
    isolated = 0
    for position in positions:
        isolated += position.mode is MarginMode.ISOLATED
        pools.append(isolated if position.mode is MarginMode.ISOLATED else 0)
    wallets = pool_wallets(account)
    # Net signed size of each (pool, symbol), summed in position order as the reference does.
    net: dict[tuple[int, str], float] = {}
    for key, position in zip(pools, positions, strict=True):
        net[(key, position.symbol)] = net.get((key, position.symbol), 0.0) + int(position.side) * position.size
    extreme = [
        EXTREME_LOW if exposure > 0 else EXTREME_HIGH if exposure < 0 else EXTREME_CLOSE
        for exposure in (net[(key, p.symbol)] for key, p in zip(pools, positions, strict=True))
    ]
    members = sorted(range(count), key=pools.__getitem__)  # stable: position order within a pool
    offsets = [0] * (len(wallets) + 1)
    for key in pools:
        offsets[key + 1] += 1
    for k in range(1, len(offsets)):
        offsets[k] += offsets[k - 1]
    return BookArrays(
        symbols=market.symbols,
        column=_ints([market.column(p.symbol) for p in positions]),
        side=_floats([float(int(p.side)) for p in positions]),
        size=_floats([p.size for p in positions]),
        entry=_floats([p.entry_price for p in positions]),
        pool=_ints(pools),
        extreme=_ints(extreme),
        caps=_floats(caps, width),
        mm_rates=_floats(mm_rates, width),
        maint_amounts=_floats(maint_amounts, width),
        pool_wallet=wallets,
        pool_offsets=_ints(offsets),
        pool_members=_ints(members),
        wallet_balance=float(account.wallet_balance),
        trigger_column=_ints([market.column(t.symbol) for t in triggers]),
        trigger_price=_floats([t.price for t in triggers]),
        trigger_direction=_ints([t.direction for t in triggers]),
    )


def _floats(values: Sequence[float] | Sequence[Sequence[float]], width: int | None = None) -> FloatArray:
    """Return ``values`` as float64, shape ``(0,)`` or ``(0, width)`` when empty."""
    if not values:
        return np.zeros((0,) if width is None else (0, width))
    return np.array(values, dtype=np.float64)


def _ints(values: Sequence[int]) -> IntArray:
    return np.array(values, dtype=np.int64) if values else np.zeros(0, dtype=np.int64)
