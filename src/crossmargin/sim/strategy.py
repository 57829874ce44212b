"""What a strategy is: a function of the bars seen so far that returns orders.

A strategy has a ``name``, the ``symbols`` it trades, ``every`` (its ``on_bar`` is called at the close of
every ``every``-th bar from ``warmup``; None: once, at the close of bar ``warmup``) and
``on_bar(ctx) -> orders``. It sees only bars up to the current close (``ctx.close(symbol)`` and the like),
never the future. ``ctx.target(symbol, signed_size)`` turns a target position into market orders, so a
strategy may think in targets or in orders. Write one's own by subclassing ``Strategy`` or with
``FunctionStrategy(name, symbols, fn, every=...)``; ``docs/backtest.md`` shows one.

When it is called. ``due(bar)`` says whether ``on_bar`` runs at the close of ``bar``; ``due_bars(start,
stop)`` lists those bars of a span, and is what the engine asks. From ``every`` and ``warmup`` they are
arithmetic (a ``range``), so bars between two calls cost the engine nothing in Python: they are scanned
by the compiled kernel. A strategy that knows in advance where it can act (a precomputed signal, a
calendar) overrides ``due`` (then ``due_bars`` asks it bar by bar) or, faster, ``due_bars``. A call that
returns no order and cancels nothing leaves the run as it was: the engine goes on from the kernel's
figures for the following bars.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from crossmargin.kernels.layout import FloatArray, MarketData
from crossmargin.model import Account, Position, Side
from crossmargin.sim.orders import Order

__all__ = ["BarContext", "FunctionStrategy", "Strategy"]


@dataclass(eq=False, slots=True)
class BarContext:
    """The state a strategy sees at the close of bar ``bar``. Money in quote, sizes in base units."""

    bar: int
    market: MarketData
    account: Account
    spot: dict[str, float]
    equity: float
    leverage: float
    resting: tuple[Order, ...]
    cancels: list[str] = field(default_factory=list)

    @property
    def time_ms(self) -> int:
        """Return the bar's open time (ms since the Unix epoch, UTC)."""
        return int(self.market.times[self.bar])

    def close(self, symbol: str) -> FloatArray:
        """Return the last-trade closes of ``symbol`` up to and including this bar."""
        return self.market.close[: self.bar + 1, self.market.column(symbol)]

    def mark(self, symbol: str) -> float:
        """Return the mark close of ``symbol`` at this bar."""
        return float(self.market.mark_close[self.bar, self.market.column(symbol)])

    def spot_price(self, symbol: str) -> float:
        """Return the spot close of ``symbol`` at this bar (quote); raises when the run has no spot prices."""
        if self.market.spot_close is None:
            raise ValueError("this run has no spot prices")
        return float(self.market.spot_close[self.bar, self.market.column(symbol)])

    def position(self, symbol: str) -> Position | None:
        """Return the open perpetual position in ``symbol``, or None."""
        return self.account.position(symbol)

    def signed_size(self, symbol: str) -> float:
        """Return the position in ``symbol`` as a signed size (base; > 0 long, < 0 short, 0 flat)."""
        position = self.position(symbol)
        return 0.0 if position is None else int(position.side) * position.size

    def target(self, symbol: str, signed_size: float, *, tag: str = "", tolerance: float = 1e-9) -> list[Order]:
        """Return market orders that move the position in ``symbol`` to ``signed_size`` (base units)."""
        change = signed_size - self.signed_size(symbol)
        if abs(change) <= tolerance * max(abs(signed_size), 1.0):
            return []
        side = Side.LONG if change > 0 else Side.SHORT
        return [Order(symbol=symbol, side=side, size=abs(change), tag=tag)]

    def cancel(self, symbol: str) -> None:
        """Cancel every resting order in ``symbol`` (after this call returns)."""
        self.cancels.append(symbol)

    def realized_volatility(self, symbol: str, lookback: int, bars_per_year: float) -> float:
        """Return the annualised standard deviation of log returns of the last ``lookback`` closes (fraction)."""
        closes = self.close(symbol)[-(lookback + 1) :]
        if len(closes) < 3:
            return math.nan
        return float(np.std(np.diff(np.log(closes)), ddof=1) * math.sqrt(bars_per_year))


class Strategy:
    """Base class: set ``name``, ``symbols``, ``every``, ``warmup`` and override ``on_bar``."""

    name: str = "strategy"
    symbols: tuple[str, ...] = ()
    every: int | None = None
    warmup: int = 0
    needs_spot: bool = False

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Return the orders to send at the close of ``ctx.bar``."""
        raise NotImplementedError

    def due(self, bar: int) -> bool:
        """Return True when ``on_bar`` is called at the close of ``bar`` (a row index of the run's market).

        Default: at ``warmup`` and every ``every`` bars after it (``every`` None: at ``warmup`` only).
        Override it to be called where the strategy can act; ``due_bars`` then follows it.
        """
        if bar < self.warmup:
            return False
        if self.every is None:
            return bar == self.warmup
        return (bar - self.warmup) % self.every == 0

    def due_bars(self, start: int, stop: int) -> Sequence[int]:
        """Return, in order, the bars of ``[start, stop)`` at whose close ``on_bar`` is called.

        From ``every`` and ``warmup`` it is a ``range``, found without a loop; when a subclass overrides
        ``due``, each bar of the span is asked. Override this too (returning, say, a slice of a sorted array
        of bars) when ``due`` is overridden and speed matters. The engine asks only this method.
        """
        if type(self).due is not Strategy.due:
            return [bar for bar in range(start, stop) if self.due(bar)]
        first = max(start, self.warmup)
        if self.every is None:
            return range(first, min(stop, first + 1)) if first == self.warmup else range(0)
        late = (first - self.warmup) % self.every
        return range(first + (self.every - late) % self.every, stop, self.every)


class FunctionStrategy(Strategy):
    """A strategy made of a plain function ``fn(ctx) -> orders``."""

    def __init__(
        self,
        name: str,
        symbols: Sequence[str],
        fn: Callable[[BarContext], Sequence[Order]],
        *,
        every: int | None = 1,
        warmup: int = 0,
    ) -> None:
        self.name = name
        self.symbols = tuple(symbols)
        self.every = every
        self.warmup = warmup
        self._fn = fn

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Return ``fn(ctx)``."""
        return self._fn(ctx)
