"""Margin pools of an account: which pool holds each position, and a pool's ratio in one direction.

A position is in the cross pool or in its own isolated pool. ``pool_keys`` names each position's pool the
way the backtester, the scan kernel and the Monte Carlo key them; ``risk_view`` turns a pool ratio as the
venue shows it (a risk ratio, or OKX's health ratio) into requirement / margin balance, so that every
caller compares with one threshold (1 = liquidation).
"""

from __future__ import annotations

import math

from crossmargin.model import Account, MarginMode
from crossmargin.venues.base import VenueRules

__all__ = ["pool_keys", "risk_view"]


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
