"""The case study: long BTC, short ETH, long SOL on one wallet, opened once and held at fixed leverage.

Each leg gets ``exposure / 3`` of the starting equity as notional (quote), at the run's leverage; the
positions are never resized. Under cross, BTC's and SOL's gains carry ETH's loss; under isolated each leg
stands on its own margin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossmargin.model import Side
from crossmargin.sim.orders import Order
from crossmargin.sim.strategy import BarContext, Strategy

__all__ = ["CaseStudy"]


@dataclass
class CaseStudy(Strategy):
    """Parameters: ``exposure`` gross notional / starting equity (3.0 = 3x), ``legs`` symbol -> side."""

    exposure: float = 3.0
    legs: tuple[tuple[str, Side], ...] = (("BTCUSDT", Side.LONG), ("ETHUSDT", Side.SHORT), ("SOLUSDT", Side.LONG))

    def __post_init__(self) -> None:
        self.name = "case-study"
        self.symbols = tuple(symbol for symbol, _ in self.legs)
        self.every = None
        self.warmup = 0

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Open every leg with an equal share of the exposure, once."""
        notional = ctx.equity * self.exposure / len(self.legs)
        return [
            Order(symbol=symbol, side=side, size=notional / ctx.close(symbol)[-1], tag="case-study")
            for symbol, side in self.legs
        ]
