"""Scalping: fast mean reversion on one-minute bars, with a stop-loss and a take-profit on every entry.

When flat, a close more than ``entry_z`` standard deviations below its ``window``-bar mean buys (above:
sells) ``exposure`` x equity of notional; the entry carries a stop-loss ``stop`` (fraction) away and a
take-profit at the mean. A position still open after ``max_hold`` bars is closed at market.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from crossmargin.model import Side
from crossmargin.sim.orders import Order
from crossmargin.sim.strategy import BarContext, Strategy

__all__ = ["Scalp"]


@dataclass
class Scalp(Strategy):
    """Parameters: ``window`` bars, ``entry_z``, ``stop`` fraction, ``exposure``, ``max_hold`` bars."""

    window: int = 60
    entry_z: float = 3.0
    stop: float = 0.004
    exposure: float = 1.0
    max_hold: int = 120
    trade_symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
    opened: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = "scalp"
        self.symbols = self.trade_symbols
        self.every = 1
        self.warmup = self.window

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Enter on stretched closes, exit on time; stops and take-profits rest with the venue."""
        orders: list[Order] = []
        share = ctx.equity * self.exposure / len(self.symbols)
        for symbol in self.symbols:
            closes = ctx.close(symbol)[-self.window :]
            mean, spread = float(np.mean(closes)), float(np.std(closes))
            price = float(closes[-1])
            held = ctx.signed_size(symbol)
            if held != 0.0:
                if ctx.bar - self.opened.get(symbol, ctx.bar) >= self.max_hold:
                    ctx.cancel(symbol)
                    orders += ctx.target(symbol, 0.0, tag="time exit")
                continue
            self.opened.pop(symbol, None)
            if spread == 0 or share <= 0 or any(o.symbol == symbol for o in ctx.resting):
                continue
            z = (price - mean) / spread
            if abs(z) < self.entry_z:
                continue
            side = Side.LONG if z < 0 else Side.SHORT
            exit_side = Side.SHORT if side is Side.LONG else Side.LONG
            size = share / price
            stop_price = price * (1 - int(side) * self.stop)
            orders += [
                Order(symbol=symbol, side=side, size=size, tag="entry"),
                Order(symbol=symbol, side=exit_side, size=size, type="stop", price=stop_price, reduce_only=True),
                Order(symbol=symbol, side=exit_side, size=size, type="take_profit", price=mean, reduce_only=True),
            ]
            self.opened[symbol] = ctx.bar + 1
        return orders
