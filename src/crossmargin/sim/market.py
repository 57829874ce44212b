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
from typing import Any

import numpy as np
import pandas as pd

from crossmargin.errors import DataError
from crossmargin.kernels.layout import FloatArray, IntArray, MarketData

__all__ = ["funding_bars", "market_from_frames"]


def market_from_frames(
    trades: Mapping[str, Any],
    *,
    interval_ms: int,
    marks: Mapping[str, Any] | None = None,
    funding: Mapping[str, Any] | None = None,
    spot: Mapping[str, Any] | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> MarketData:
    """Return market data from per-symbol frames (``timestamp`` ms, ``open, high, low, close``), aligned.

    Bars are kept on the timestamps every symbol (and its marks and spot, where given) has, within
    ``[start_ms, end_ms)``; the result must be one unbroken grid of ``interval_ms``, else DataError names
    the first gap. Without ``marks`` the last-trade bars stand in for the mark price
    (``marks_from_trades``). ``funding`` frames have ``timestamp`` and ``funding_rate``.
    """
    if not trades:
        raise DataError("market data: no symbols given")
    symbols = tuple(trades)
    frames = [trades[s] for s in symbols]
    frames += [marks[s] for s in symbols] if marks else []
    frames += [spot[s] for s in symbols if s in spot] if spot else []
    common: set[int] | None = None
    for frame in frames:
        stamps = set(np.asarray(frame["timestamp"], dtype=np.int64).tolist())
        common = stamps if common is None else common & stamps
    grid = np.array(sorted(common or ()), dtype=np.int64)
    if start_ms is not None:
        grid = grid[grid >= start_ms]
    if end_ms is not None:
        grid = grid[grid < end_ms]
    if len(grid) == 0:
        raise DataError("market data: the symbols share no bar in the requested span")
    gaps = np.flatnonzero(np.diff(grid) != interval_ms)
    if len(gaps):
        first = pd.Timestamp(int(grid[gaps[0]]), unit="ms", tz="UTC").isoformat()
        raise DataError(f"market data: bars missing after {first} ({len(gaps)} gaps in the common span)")

    def block(source: Mapping[str, Any], column: str) -> FloatArray:
        out = np.empty((len(grid), len(symbols)))
        for j, symbol in enumerate(symbols):
            frame = source[symbol].set_index("timestamp")
            out[:, j] = frame.loc[grid, column].to_numpy(dtype=np.float64)
        return out

    mark_source = marks or trades
    spot_close = None
    if spot and all(s in spot for s in symbols):
        spot_close = block(spot, "close")
    elif spot:
        spot_close = np.stack(
            [
                spot[s].set_index("timestamp").loc[grid, "close"].to_numpy(dtype=np.float64)
                if s in spot
                else np.full(len(grid), np.nan)
                for s in symbols
            ],
            axis=1,
        )
    times: dict[str, IntArray] = {}
    rates: dict[str, FloatArray] = {}
    for symbol, frame in (funding or {}).items():
        times[symbol] = np.asarray(frame["timestamp"], dtype=np.int64)
        rates[symbol] = np.asarray(frame["funding_rate"], dtype=np.float64)
    return MarketData(
        times=grid,
        symbols=symbols,
        open=block(trades, "open"),
        high=block(trades, "high"),
        low=block(trades, "low"),
        close=block(trades, "close"),
        mark_open=block(mark_source, "open"),
        mark_high=block(mark_source, "high"),
        mark_low=block(mark_source, "low"),
        mark_close=block(mark_source, "close"),
        interval_ms=interval_ms,
        funding_times=times,
        funding_rates=rates,
        spot_close=spot_close,
        marks_from_trades=marks is None,
    )


def funding_bars(market: MarketData) -> dict[str, IntArray]:
    """Return, per symbol with funding, the bar that holds each settlement of ``market.funding_times[symbol]``.

    Bar ``b`` holds the times ``t`` with ``times[b] <= t < times[b] + interval_ms``, so on the run's unbroken
    grid ``b = (t - times[0]) // interval_ms`` (the arrays are aligned with the funding times and, like them,
    sorted); a settlement outside the bars maps to a bar below 0 or at or past ``market.bars``.
    """
    first, interval = int(market.times[0]), market.interval_ms
    return {s: (np.asarray(t, dtype=np.int64) - first) // interval for s, t in market.funding_times.items()}
