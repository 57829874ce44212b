"""Check bar and funding series before use, and make the few repairs a user asks for by name.

Bars: ``timestamp`` is the bar open time in ms since the Unix epoch (UTC), prices are in the quote
currency, volume in base units. Funding: ``timestamp`` is the settlement time (ms, UTC) and ``funding_rate``
a fraction per settlement.

Every failed check raises DataError naming the series, the problem, the first offending timestamp (ISO
8601, UTC) and how many rows (or bars) are affected. Nothing is repaired unless asked, and every repair
that changes the data adds a line to the returned log:

- ``sort``: put rows in time order (stable, so equal times keep their file order);
- ``drop_duplicates``: drop rows identical in every column to an earlier row; a timestamp that appears
  with different values stays an error, since there is no telling which row the venue meant;
- ``fill_gaps``: insert the missing bars as flat bars at the previous close (open = high = low = close),
  volume 0: what a venue shows for a minute without trades.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from crossmargin.data.load import BAR_COLUMNS, FUNDING_COLUMNS
from crossmargin.errors import DataError, InputError

__all__ = ["INTERVALS", "REPAIRS", "interval_ms", "iso_utc", "validate_bars", "validate_funding"]

#: Bar intervals understood, in ms (ccxt's and Binance's spelling).
INTERVALS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "8h": 28_800_000,
    "1d": 86_400_000,
}
#: Repairs ``validate_bars`` can make when asked, in the order it makes them.
REPAIRS: tuple[str, ...] = ("sort", "drop_duplicates", "fill_gaps")

_PRICES = ["open", "high", "low", "close"]


def interval_ms(text: str) -> int:
    """Return the length in ms of the bar interval ``text`` ('1m', '5m', '15m', '1h', '4h', '8h', '1d').

    Raises InputError (field ``interval``) for any other text.
    """
    if text not in INTERVALS:
        raise InputError("interval", text, ", ".join(INTERVALS), detail=f"unknown bar interval {text!r}")
    return INTERVALS[text]


def iso_utc(ms: int) -> str:
    """Return ``ms`` since the Unix epoch as ISO 8601 UTC: '2018-02-08T01:00:00Z' (milliseconds shown if not 0)."""
    seconds, millis = divmod(int(ms), 1000)
    text = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def validate_bars(
    frame: pd.DataFrame, *, interval_ms: int, name: str, repair: Collection[str] = ()
) -> tuple[pd.DataFrame, list[str]]:
    """Return the checked (and, if asked, repaired) bars and the log of repairs made.

    ``frame`` has the bar columns (open time in ms UTC, quote-currency prices, base volume); ``interval_ms``
    is the bar length in ms; ``name`` labels the series in messages; ``repair`` names repairs from
    :data:`REPAIRS`. Checks, in order: not empty; times in order; no duplicate times; every bar present
    (consecutive open times ``interval_ms`` apart); prices finite and > 0; volume finite and >= 0;
    high >= low; open and close within [low, high].

    Raises DataError for the first failed check, InputError for an unknown repair or a non-positive interval.
    """
    unknown = sorted(set(repair) - set(REPAIRS))
    if unknown:
        raise InputError("repair", ",".join(unknown), ", ".join(REPAIRS), detail=f"unknown repair {unknown[0]!r}")
    if interval_ms <= 0:
        raise InputError("interval_ms", interval_ms, "a bar length in ms > 0")
    missing = [column for column in BAR_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"{name}: columns {list(frame.columns)} lack {missing} (expected {list(BAR_COLUMNS)})")
    bars = frame.loc[:, list(BAR_COLUMNS)].reset_index(drop=True)
    if bars.empty:
        raise DataError(f"{name}: no bars (the data is empty)")
    log: list[str] = []
    bars = _order(bars, name, "sort" in repair, log)
    bars = _deduplicate(bars, name, "drop_duplicates" in repair, log)
    bars = _complete(bars, name, interval_ms, "fill_gaps" in repair, log)
    _check_values(bars, name)
    return bars, log


def validate_funding(frame: pd.DataFrame, *, name: str) -> pd.DataFrame:
    """Return the funding frame (settlement time ms UTC, rate as a fraction) after checking it.

    Checks: not empty; times strictly increasing (in order, no duplicates); rates finite with
    |rate| < 1 (a rate is a fraction per settlement: 0.0001 = 0.01 %; 1 would be 100 %). Raises DataError.
    """
    missing = [column for column in FUNDING_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(f"{name}: columns {list(frame.columns)} lack {missing} (expected {list(FUNDING_COLUMNS)})")
    funding = frame.loc[:, list(FUNDING_COLUMNS)].reset_index(drop=True)
    if funding.empty:
        raise DataError(f"{name}: no funding settlements (the data is empty)")
    times = funding["timestamp"].to_numpy(np.int64)
    steps = np.diff(times)
    _raise_if(steps < 0, times[1:], name, "timestamps out of time order")
    _raise_if(steps == 0, times[1:], name, "duplicate timestamps")
    rates = funding["funding_rate"].to_numpy(np.float64)
    _raise_if(~np.isfinite(rates), times, name, "non-finite funding rate (NaN or infinite)")
    _raise_if(np.abs(rates) >= 1, times, name, "funding rate of magnitude >= 1 (rates are fractions: 0.0001 = 0.01 %)")
    return funding


def _order(bars: pd.DataFrame, name: str, repair: bool, log: list[str]) -> pd.DataFrame:
    times = bars["timestamp"].to_numpy(np.int64)
    backwards = np.diff(times) < 0
    if not backwards.any():
        return bars
    if not repair:
        _raise_if(backwards, times[1:], name, "timestamps out of time order", hint="repair with 'sort'")
    order = np.argsort(times, kind="stable")
    moved = int(np.count_nonzero(order != np.arange(len(order))))
    first = iso_utc(times[1:][backwards][0])
    log.append(f"sort: moved {_plural(moved, 'row')} into time order (first bar out of order: {first})")
    return bars.iloc[order].reset_index(drop=True)


def _deduplicate(bars: pd.DataFrame, name: str, repair: bool, log: list[str]) -> pd.DataFrame:
    repeated = bars["timestamp"].duplicated().to_numpy()
    if not repeated.any():
        return bars
    times = bars["timestamp"].to_numpy(np.int64)
    distinct = bars.drop_duplicates()
    conflicting = distinct["timestamp"].duplicated().to_numpy()
    if conflicting.any():
        _raise_if(
            conflicting,
            distinct["timestamp"].to_numpy(np.int64),
            name,
            "duplicate timestamps with different values (neither row can be preferred)",
        )
    if not repair:
        _raise_if(repeated, times, name, "duplicate timestamps", hint="repair with 'drop_duplicates'")
    log.append(
        f"drop_duplicates: dropped {_plural(int(repeated.sum()), 'row')} identical to an earlier row "
        f"(first at {iso_utc(times[repeated][0])})"
    )
    return distinct.reset_index(drop=True)


def _complete(bars: pd.DataFrame, name: str, step: int, repair: bool, log: list[str]) -> pd.DataFrame:
    times = bars["timestamp"].to_numpy(np.int64)
    spacing = np.diff(times)
    off_grid = spacing % step != 0
    _raise_if(
        off_grid,
        times[1:],
        name,
        f"bars not {step} ms apart (the open times are off the interval's grid: wrong interval?)",
    )
    gaps = spacing > step
    if not gaps.any():
        return bars
    missing_per_gap = spacing[gaps] // step - 1
    total = int(missing_per_gap.sum())
    first_missing = int(times[:-1][gaps][0]) + step
    summary = (
        f"{_plural(total, 'missing bar')} in {_plural(int(gaps.sum()), 'gap')}, "
        f"first missing bar {iso_utc(first_missing)} (after the bar at {iso_utc(first_missing - step)})"
    )
    if not repair:
        raise DataError(f"{name}: {summary}; repair with 'fill_gaps'")
    grid = np.arange(times[0], times[-1] + step, step, dtype=np.int64)
    filled = bars.set_index("timestamp").reindex(grid)
    added = ~np.isin(grid, times)
    previous_close = filled["close"].ffill()
    for column in _PRICES:
        filled[column] = filled[column].where(~added, previous_close)
    filled["volume"] = filled["volume"].where(~added, 0.0)
    log.append(f"fill_gaps: filled {summary} with flat bars at the previous close, volume 0")
    return filled.rename_axis("timestamp").reset_index()


def _check_values(bars: pd.DataFrame, name: str) -> None:
    times = bars["timestamp"].to_numpy(np.int64)
    prices = bars[_PRICES].to_numpy(np.float64)
    open_, high, low, close = prices.T
    volume = bars["volume"].to_numpy(np.float64)
    _raise_if(~np.isfinite(prices).all(axis=1), times, name, "non-finite price (NaN or infinite)")
    _raise_if((prices <= 0).any(axis=1), times, name, "price <= 0")
    _raise_if(~np.isfinite(volume), times, name, "non-finite volume (NaN or infinite)")
    _raise_if(volume < 0, times, name, "negative volume")
    _raise_if(high < low, times, name, "high below low")
    outside = (open_ < low) | (open_ > high) | (close < low) | (close > high)
    _raise_if(outside, times, name, "open or close outside [low, high]")


def _raise_if(mask: np.ndarray, times: np.ndarray, name: str, problem: str, *, hint: str = "") -> None:
    """Raise DataError for ``problem`` if any of ``mask`` is set; ``times`` gives each row's ms UTC."""
    if not mask.any():
        return
    first = int(times[np.argmax(mask)])
    count = _plural(int(np.count_nonzero(mask)), "row")
    raise DataError(f"{name}: {problem} at {iso_utc(first)} ({count} in all)" + (f"; {hint}" if hint else ""))


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
