"""Hedge pair: long BTC, short ETH, notional- or beta-neutral, rebalanced every ``every`` bars.

Each rebalance sets the BTC leg to ``exposure / 2`` of the current equity in notional and the ETH leg to
the same notional (``neutral = "notional"``) or to the BTC notional times ETH's beta to BTC over
``lookback`` bars of log returns, so that a BTC move is hedged (``neutral = "beta"``; the ETH leg is
``notional_btc / beta``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from crossmargin.sim.orders import Order
from crossmargin.sim.strategy import BarContext, Strategy

__all__ = ["HedgePair"]


@dataclass
class HedgePair(Strategy):
    """Parameters: ``exposure`` (gross / equity), ``rebalance`` bars, ``neutral``, ``lookback`` bars."""

    exposure: float = 3.0
    rebalance: int = 24
    neutral: Literal["notional", "beta"] = "notional"
    lookback: int = 168
    long_symbol: str = "BTCUSDT"
    short_symbol: str = "ETHUSDT"

    def __post_init__(self) -> None:
        self.name = "hedge-pair"
        self.symbols = (self.long_symbol, self.short_symbol)
        self.every = self.rebalance
        self.warmup = self.lookback if self.neutral == "beta" else 0

    def beta(self, ctx: BarContext) -> float:
        """Return the short leg's beta to the long leg over ``lookback`` bars (1 when undefined)."""
        a = np.diff(np.log(ctx.close(self.long_symbol)[-(self.lookback + 1) :]))
        b = np.diff(np.log(ctx.close(self.short_symbol)[-(self.lookback + 1) :]))
        variance = float(np.var(a))
        if len(a) < 3 or variance == 0:
            return 1.0
        return float(np.cov(b, a, ddof=0)[0, 1] / variance)

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Move both legs to their targets."""
        notional = ctx.equity * self.exposure / 2
        if notional <= 0:
            return []
        long_price = ctx.close(self.long_symbol)[-1]
        short_price = ctx.close(self.short_symbol)[-1]
        hedge = notional if self.neutral == "notional" else notional / max(self.beta(ctx), 0.1)
        return [
            *ctx.target(self.long_symbol, notional / long_price, tag="rebalance"),
            *ctx.target(self.short_symbol, -hedge / short_price, tag="rebalance"),
        ]
