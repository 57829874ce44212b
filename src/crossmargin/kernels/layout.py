"""Array layouts of the kernels, declared once, field by field, with units.

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
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from crossmargin.margin.account import position_states
from crossmargin.model import Account, MarginMode, Marks
from crossmargin.sim.market import FloatArray, IntArray, MarketData
from crossmargin.sim.scan import Trigger
from crossmargin.venues.base import VenueRules

__all__ = ["EXTREME_CLOSE", "EXTREME_HIGH", "EXTREME_LOW", "BookArrays", "pack_book"]

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
    caps = np.full((count, width), math.inf)
    mm_rates = np.zeros((count, width))
    maint_amounts = np.zeros((count, width))
    for i, schedule in enumerate(schedules):
        for b in range(width):
            bracket = schedule[min(b, len(schedule) - 1)]
            if b < len(schedule):
                caps[i, b] = bracket.cap
            mm_rates[i, b] = bracket.mm_rate
            maint_amounts[i, b] = bracket.maint_amount

    pool = np.zeros(count, dtype=np.int64)
    wallets = [account.cross_wallet_balance]
    for i, position in enumerate(positions):
        if position.mode is MarginMode.ISOLATED:
            pool[i] = len(wallets)
            wallets.append(float(position.isolated_margin or 0.0))
    # Net signed size of each (pool, symbol), summed in position order as the reference does.
    net: dict[tuple[int, str], float] = {}
    for i, position in enumerate(positions):
        key = (int(pool[i]), position.symbol)
        net[key] = net.get(key, 0.0) + int(position.side) * position.size
    extreme = np.array(
        [
            EXTREME_LOW if exposure > 0 else EXTREME_HIGH if exposure < 0 else EXTREME_CLOSE
            for exposure in (net[(int(pool[i]), p.symbol)] for i, p in enumerate(positions))
        ],
        dtype=np.int64,
    )
    members = np.argsort(pool, kind="stable").astype(np.int64)
    offsets = np.searchsorted(pool[members], np.arange(len(wallets) + 1), side="left").astype(np.int64)

    return BookArrays(
        symbols=market.symbols,
        column=np.array([market.column(p.symbol) for p in positions], dtype=np.int64),
        side=np.array([float(int(p.side)) for p in positions], dtype=np.float64),
        size=np.array([p.size for p in positions], dtype=np.float64),
        entry=np.array([p.entry_price for p in positions], dtype=np.float64),
        pool=pool,
        extreme=extreme,
        caps=caps,
        mm_rates=mm_rates,
        maint_amounts=maint_amounts,
        pool_wallet=np.array(wallets, dtype=np.float64),
        pool_offsets=offsets,
        pool_members=members,
        wallet_balance=float(account.wallet_balance),
        trigger_column=np.array([market.column(t.symbol) for t in triggers], dtype=np.int64),
        trigger_price=np.array([t.price for t in triggers], dtype=np.float64),
        trigger_direction=np.array([t.direction for t in triggers], dtype=np.int64),
    )
