"""Basis / cash-and-carry: long spot BTC, short the BTC perpetual of the same size, collecting funding.

At the first bar ``spot_share`` of the equity buys spot; the perpetual short matches the spot size and is
re-matched every ``rebalance`` bars (the spot leg is never sold). The perpetual is margined from the rest
of the wallet, so the run shows what a squeeze does to the short's margin under cross and isolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crossmargin.model import Side
from crossmargin.sim.orders import Order
from crossmargin.sim.strategy import BarContext, Strategy

__all__ = ["Basis"]


@dataclass
class Basis(Strategy):
    """Parameters: ``spot_share`` of the equity in spot (fraction), ``rebalance`` bars, ``symbol``."""

    spot_share: float = 0.7
    rebalance: int = 24
    symbol: str = "BTCUSDT"

    def __post_init__(self) -> None:
        self.name = "basis"
        self.symbols = (self.symbol,)
        self.every = self.rebalance
        self.warmup = 0
        self.needs_spot = True

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Buy spot once; keep the perpetual short equal to the spot held."""
        held = ctx.spot.get(self.symbol, 0.0)
        orders: list[Order] = []
        if held == 0.0 and ctx.bar == self.warmup:
            held = ctx.equity * self.spot_share / ctx.spot_price(self.symbol)
            orders.append(Order(symbol=self.symbol, side=Side.LONG, size=held, market="spot", tag="carry"))
        orders += ctx.target(self.symbol, -held, tag="hedge", tolerance=1e-3)
        return orders
