"""The backtest's inner loop: scan bars while the book is unchanged, until something must happen.

Between two events (an order, a funding settlement, a strategy call) the positions do not change, so the
engine only needs, bar by bar: the account's margin balance and margin ratio at the bar's close, and the
first bar at which (a) a resting order's trigger price is touched by the last-trade range, or (b) some
margin pool breaches its requirement at the **intrabar worst case**: every pool valued with each symbol at
the mark extreme that hurts that pool's net exposure in it (a long's mark low, a short's mark high; for a
cross pool, all its symbols at their adverse extremes at once, which is the most a bar can take from it).

``scan_reference`` is the plain-Python reference, built on ``crossmargin.margin``; ``kernels.scan`` is the
compiled twin over struct-of-arrays, held equal to it by the tests. Both return a ``ScanResult``.

Every bar is valued with ``margin.account.account_totals``, the lean pass (account totals and each pool's
margin balance, requirement and ratio), never with ``evaluate``, which also solves the liquidation and
bankruptcy prices no bar reads.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crossmargin.kernels.layout import MarketData, ScanResult, Trigger
from crossmargin.margin.account import AccountPass, account_totals
from crossmargin.margin.pools import pool_keys, risk_view
from crossmargin.model import Account, Marks
from crossmargin.venues.base import VenueRules

__all__ = ["highest_ratio", "pool_ratio", "scan_reference", "worst_marks"]


def highest_ratio(rules: VenueRules, figures: AccountPass) -> float:
    """Return the highest pool ratio of ``figures`` as requirement / margin balance (1 = liquidation; 0: no pool)."""
    return max((risk_view(rules, pool.margin_ratio) for pool in figures.pools), default=0.0)


def pool_ratio(rules: VenueRules, figures: AccountPass, pool: str) -> float:
    """Return the ratio of ``pool`` (a ``margin.pools.pool_keys`` key) as requirement / margin balance."""
    return risk_view(rules, next(p.margin_ratio for p in figures.pools if p.pool == pool))


def worst_marks(account: Account, market: MarketData, bar: int, pools: Sequence[str], pool: str) -> Marks:
    """Return marks at bar ``bar`` with each symbol at the extreme adverse to ``pool``'s net exposure in it."""
    net: dict[str, float] = {}
    for position, key in zip(account.positions, pools, strict=True):
        if key == pool:
            net[position.symbol] = net.get(position.symbol, 0.0) + int(position.side) * position.size
    prices = {}
    for position in account.positions:
        column = market.column(position.symbol)
        exposure = net.get(position.symbol, 0.0)
        extreme = market.mark_low if exposure > 0 else market.mark_high if exposure < 0 else market.mark_close
        prices[position.symbol] = float(extreme[bar, column])
    return Marks(prices)


def _close_marks(account: Account, market: MarketData, bar: int) -> Marks:
    return Marks({p.symbol: float(market.mark_close[bar, market.column(p.symbol)]) for p in account.positions})


def scan_reference(
    account: Account,
    rules: VenueRules,
    market: MarketData,
    triggers: Sequence[Trigger],
    *,
    start: int,
    stop: int,
) -> ScanResult:
    """Scan bars ``[start, stop)`` with ``account``'s book held (see the module docstring)."""
    pools = pool_keys(account)
    distinct = sorted(set(pools))
    equity = np.zeros(max(stop - start, 0))
    ratio = np.zeros(max(stop - start, 0))
    for bar in range(start, stop):
        for trigger in triggers:
            column = market.column(trigger.symbol)
            if (trigger.direction > 0 and market.high[bar, column] >= trigger.price) or (
                trigger.direction < 0 and market.low[bar, column] <= trigger.price
            ):
                return ScanResult(bar, equity[: bar - start], ratio[: bar - start])
        for pool in distinct:
            worst = account_totals(account, worst_marks(account, market, bar, pools, pool), rules)
            if pool_ratio(rules, worst, pool) >= 1.0:
                return ScanResult(bar, equity[: bar - start], ratio[: bar - start])
        if account.positions:
            at_close = account_totals(account, _close_marks(account, market, bar), rules)
            equity[bar - start] = at_close.account.margin_balance
            ratio[bar - start] = highest_ratio(rules, at_close)
        else:
            equity[bar - start] = account.wallet_balance
    return ScanResult(stop, equity, ratio)
