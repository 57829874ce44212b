"""Market data for a backtest as struct-of-arrays: several symbols on one UTC bar grid.

Times are bar **open** times in milliseconds since the Unix epoch (UTC); prices in the quote currency.
Arrays of prices have shape ``(bars, symbols)``, columns in the order of ``symbols``. ``mark_*`` are the
venue's mark-price klines (what margin and liquidation use); where a venue's mark prices are not given,
the last-trade prices stand in and ``marks_from_trades`` says so. Funding settlements are per symbol:
times (ms, UTC) and rates (fraction per settlement; > 0: longs pay shorts). ``spot_*``, where given, are
spot prices of the same base (for basis trades).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from crossmargin.errors import DataError

__all__ = ["FloatArray", "IntArray", "MarketData"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class MarketData:
    """Aligned bars of several symbols (see the module docstring for units and shapes)."""

    times: IntArray
    symbols: tuple[str, ...]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    mark_open: FloatArray
    mark_high: FloatArray
    mark_low: FloatArray
    mark_close: FloatArray
    interval_ms: int
    funding_times: Mapping[str, IntArray] = field(default_factory=dict)
    funding_rates: Mapping[str, FloatArray] = field(default_factory=dict)
    spot_close: FloatArray | None = None
    marks_from_trades: bool = False

    def __post_init__(self) -> None:
        bars, width = len(self.times), len(self.symbols)
        if bars == 0 or width == 0:
            raise DataError("market data: no bars or no symbols (need at least one bar of one symbol)")
        if len(set(self.symbols)) != width:
            raise DataError(f"market data: duplicate symbols in {self.symbols}")
        if np.any(np.diff(self.times) != self.interval_ms):
            index = int(np.argmax(np.diff(self.times) != self.interval_ms))
            raise DataError(
                f"market data: bars are not every {self.interval_ms} ms after bar {index} "
                f"(time {int(self.times[index])}): a gap, a duplicate or unsorted times"
            )
        arrays: dict[str, FloatArray] = {"open": self.open, "high": self.high, "low": self.low, "close": self.close}
        arrays |= {"mark_open": self.mark_open, "mark_high": self.mark_high}
        arrays |= {"mark_low": self.mark_low, "mark_close": self.mark_close}
        for name, array in arrays.items():
            if array.shape != (bars, width):
                raise DataError(f"market data: {name} has shape {array.shape}, expected {(bars, width)}")
            if not np.all(np.isfinite(array)) or np.any(array <= 0):
                raise DataError(f"market data: {name} holds a non-finite or non-positive price")
        if np.any(self.high < self.low) or np.any(self.mark_high < self.mark_low):
            raise DataError("market data: a bar has high < low")

    @property
    def bars(self) -> int:
        """Return the number of bars."""
        return len(self.times)

    def column(self, symbol: str) -> int:
        """Return the column of ``symbol``; raise DataError for a symbol not in the data."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise DataError(f"market data: no bars for {symbol!r} (have {', '.join(self.symbols)})") from None
