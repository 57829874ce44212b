"""Margin pools of an account: which pool holds each position, when a pool breaches, its ratio in one direction.

A position is in the cross pool or in its own isolated pool. ``pool_keys`` names each position's pool the
way the backtester, the scan kernel and the Monte Carlo key them; ``pool_breaches`` is the one breach rule
(``margin.liquidate`` re-exports it; ``kernels.scan.pool_breached`` compiles it); ``risk_view`` turns a
pool ratio as the venue shows it (a risk ratio, or OKX's health ratio) into requirement / margin balance,
so that every caller compares with one threshold (1 = liquidation).
"""

from __future__ import annotations

import math

from crossmargin.model import Account, MarginMode
from crossmargin.venues.base import VenueRules

__all__ = ["pool_breaches", "pool_keys", "risk_view"]


def pool_breaches(margin_balance: float, requirement: float) -> bool:
    """Return True when a pool with ``margin_balance`` and ``requirement`` (quote) is liquidated.

    Every venue liquidates when the margin balance falls to the maintenance requirement (Binance: margin
    ratio >= 100 %; OKX: health ratio <= 100 %; Hyperliquid: equity < maintenance margin). A pool with no
    requirement has ratio 0 and is never liquidated. This is the one breach rule: the compiled kernels
    use this very function (``kernels.scan.pool_breached`` is its numba compilation).
    """
    return requirement > 0 and margin_balance <= requirement


def risk_view(rules: VenueRules, ratio: float) -> float:
    """Return a pool ratio as the venue shows it turned into requirement / margin balance (1 = liquidation).

    A risk ratio (Binance, Bybit, Hyperliquid) is that already; OKX's health ratio h becomes 1 / h
    (+inf at h = 0, a pool with no margin left).
    """
    if rules.ratio_kind == "risk":
        return ratio
    return math.inf if ratio == 0 else 1 / ratio


def pool_keys(account: Account) -> list[str]:
    """Return the pool of each position: 'cross' or 'isolated:i' with i the position's index."""
    return ["cross" if p.mode is MarginMode.CROSS else f"isolated:{i}" for i, p in enumerate(account.positions)]
