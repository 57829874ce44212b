"""SMA cross: long where the fast moving average of closes crosses above the slow one, short where it crosses below.

backtesting.py's example strategy on a perpetual. At the close of a bar where the fast simple moving average
(``fast`` bars) crosses above the slow one (``slow`` bars) the position goes long (reversing a short); where
it crosses below, short (``short=False``: flat instead). Orders fill at the next open. A cross at bar t is
``fast[t-1] < slow[t-1] and fast[t] > slow[t]`` (backtesting.py's ``crossover``). The size of a new
position is ``size`` base units, or (``size_type='equity'``) ``size`` x the equity at the close of notional
(quote), in base units at that close.

``sma_cross_signals`` returns the crosses as boolean arrays, the entries and exits of the signal API
(``crossmargin.sim.signals``): long/short is ``entries=up, short_entries=down``, long-only
``entries=up, exits=down``. The averages are computed once over all closes; the value at bar t is the mean
of the closes of bars t-n+1 .. t, so neither the strategy nor the signals see a bar after their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from crossmargin.errors import InputError
from crossmargin.kernels.layout import BoolArray, FloatArray, MarketData
from crossmargin.sim.orders import Order
from crossmargin.sim.strategy import BarContext, Strategy

__all__ = ["SmaCross", "sma", "sma_cross_signals"]


def sma(close: FloatArray, window: int) -> FloatArray:
    """Return the simple moving average of ``close`` over ``window`` bars (quote); NaN for the first window - 1."""
    if window < 1:
        raise InputError("window", window, ">= 1 bar")
    out = np.full(len(close), np.nan)
    if len(close) >= window:
        out[window - 1 :] = np.lib.stride_tricks.sliding_window_view(close, window).mean(axis=1)
    return out


def sma_cross_signals(close: FloatArray, fast: int = 10, slow: int = 30) -> tuple[BoolArray, BoolArray]:
    """Return ``(up, down)``: the bars where the ``fast``-bar SMA of ``close`` crosses above / below the slow one."""
    if not 1 <= fast < slow:
        raise InputError("fast", fast, f"1 <= fast < slow ({slow})")
    quick, steady = sma(np.asarray(close, dtype=np.float64), fast), sma(np.asarray(close, dtype=np.float64), slow)
    up = np.zeros(len(quick), dtype=np.bool_)
    down = np.zeros(len(quick), dtype=np.bool_)
    up[1:] = (quick[:-1] < steady[:-1]) & (quick[1:] > steady[1:])
    down[1:] = (quick[:-1] > steady[:-1]) & (quick[1:] < steady[1:])
    return up, down


@dataclass
class SmaCross(Strategy):
    """Parameters: ``fast`` / ``slow`` bars, ``size`` and ``size_type`` ('equity' | 'base'), ``short``, ``symbol``.

    ``every_bar`` (default True): ``on_bar`` is called at every close, as backtesting.py calls ``next``;
    False: only at the cross bars (``due_bars``), which the engine finds without calling it.
    """

    fast: int = 10
    slow: int = 30
    size: float = 1.0
    size_type: Literal["equity", "base"] = "equity"
    short: bool = True
    symbol: str = "BTCUSDT"
    every_bar: bool = True
    _crosses: list[int] = field(default_factory=list, init=False, repr=False)
    _cross_bars: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64), init=False, repr=False)
    _market: MarketData | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.name = "sma-cross"
        self.symbols = (self.symbol,)
        self.every = 1
        self.warmup = self.slow
        if self.size_type not in ("equity", "base"):
            raise InputError("size_type", self.size_type, "equity | base")
        if not (self.size > 0 and np.isfinite(self.size)):
            raise InputError("size", self.size, "> 0 (base units, or a fraction of equity)")
        sma_cross_signals(np.zeros(0), self.fast, self.slow)  # checks the windows

    def _prepare(self, market: MarketData) -> None:
        up, down = sma_cross_signals(market.close[:, market.column(self.symbol)], self.fast, self.slow)
        self._crosses = (up.astype(np.int64) - down.astype(np.int64)).tolist()
        self._cross_bars = np.flatnonzero(up | down).astype(np.int64)
        self._market = market

    def due_bars(self, start: int, stop: int) -> Sequence[int]:
        """Return every bar from ``warmup`` (``every_bar``), or only the cross bars of ``[start, stop)``."""
        if self.every_bar or self._market is None:
            return super().due_bars(start, stop)
        bars = self._cross_bars
        due: list[int] = bars[np.searchsorted(bars, start) : np.searchsorted(bars, stop)].tolist()
        return due

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """At a cross, move the position to the cross's side (a reversal is one order)."""
        if ctx.market is not self._market:
            self._prepare(ctx.market)
        direction = self._crosses[ctx.bar]
        if direction == 0:
            return ()
        held = ctx.signed_size(self.symbol)
        if (direction > 0 and held > 0) or (direction < 0 and held < 0):
            return ()
        if direction < 0 and not self.short:
            return ctx.target(self.symbol, 0.0) if held > 0 else ()
        size = self.size
        if self.size_type == "equity":
            size = size * ctx.equity / float(ctx.market.close[ctx.bar, ctx.market.column(self.symbol)])
        if not size > 0:
            return ()
        return ctx.target(self.symbol, direction * size)
