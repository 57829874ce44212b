"""Monte Carlo probability of liquidation within a horizon, per cross account and per isolated position.

Target quantity (risk-methods §3.1): ``p = P(tau <= h)`` with ``tau`` the first step at which a margin pool's
margin balance falls to its requirement, ``E <= R`` (quote currency). Liquidation is a first-passage event:
every step of every path is checked, not only the end.

Return models are fitted on each symbol's hourly mark closes (``return_history``): the real sample shipped in
the package (Binance USDⓈ-M 1h mark prices, 2026-03-01 to 2026-04-27) for its three assets, on any venue
(BTC-USDT-SWAP, BTC, BTCUSDC are the sample's BTCUSDT: the same asset in a USD stablecoin, said in the
notes); any other symbol reads the user's local data store (``crossmargin.data.store``, filled by
``crossmargin data download|import``): the hourly, or finer resampled, mark (else trade) closes of that
venue's perpetual, else of another perpetual of the same underlying, joined with the other symbols on the
hours they share, at least ``MIN_HISTORY_HOURS`` of them and unbroken. A symbol found in neither is an
error naming the command that brings its bars: it never borrows another asset's returns. Each model
simulates hourly log returns of all the portfolio's symbols jointly (§3.3):

- ``FHSModel`` (default), filtered historical simulation: the demeaned hourly log returns are standardised
  by an EWMA (lambda 0.94) or GARCH(1,1) volatility; whole vectors of standardised residuals (one time index
  for all symbols, so their dependence is kept) are bootstrapped and re-scaled by the volatility recursion
  run along the path from the current volatility, so a shock raises the volatility after it.
- ``StudentTModel``: multivariate Student-t with one shared chi-square per step (joint crashes), the
  degrees of freedom fitted by maximum likelihood, the sample correlation and unconditional volatility.
- ``GarchModel``: per-symbol GARCH(1,1) with standardised-t innovations (``arch``), the innovations made
  dependent through the correlation of the joint standardised residuals (Gaussian copula).
- ``GaussianModel``: i.i.d. correlated Gaussian returns with a given volatility (the closed form's world).

All models have zero drift in log price (the sample's two-month drift is not a forecast). With
``steps_per_hour`` k > 1 each simulated hour is split into k steps by a Brownian bridge with that hour's
volatility: the hourly returns keep their distribution and the path is monitored k times an hour, which
shrinks the bias of discrete monitoring (§3.4; a Brownian path checked every ``dt`` hours behaves like
one checked continuously against a barrier farther by ``0.5826 sigma sqrt(dt)``, ``bgk_distance``).

Funding (optional): at every settlement (the venue's interval, counted from the start of the path) each
position pays ``side x size x mark x rate`` out of its pool's wallet on the path's marks; the rate is the
mean of the sample's last ``RECENT_SETTLEMENTS`` 8-hourly rates of the symbol (a stored symbol: of its
stored settlements of the last ``RECENT_FUNDING_HOURS``), scaled to the venue's interval. The compiled path
loop is ``montecarlo_kernel.first_breach``; its plain-Python twin, ``montecarlo_kernel.first_breach_reference``,
is built on ``margin.account.evaluate``.

Paths are drawn in batches of ``BATCH_PATHS``, batch k from the k-th seed spawned from ``seed``: a run is
``plan_paths`` (validate, fit, pack), ``run_batches`` over any split of the batches (``distributed`` sends
runs of batches to Dask workers), ``merge_tallies`` and ``finish``, so every split gives the same figures.
``finish`` refuses a path that carries a position to or past the last tier of its venue's table before its
pool is liquidated (``check_within_table``): the engine never values a position beyond the table.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from crossmargin.data.load import plain_symbol
from crossmargin.data.store import (
    FUNDING_INTERVAL,
    SAMPLE_SYMBOLS,
    DataStore,
    default_data_dir,
    sample_frames,
    sample_funding,
    sample_path,
)
from crossmargin.data.validate import interval_ms, iso_utc
from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import BookArrays, pack_book
from crossmargin.margin.account import evaluate
from crossmargin.margin.position import unrealized_pnl
from crossmargin.model import Account, Instrument, MarginMode, Marks
from crossmargin.numeric import require_positive
from crossmargin.portfolio import Portfolio, all_cross, all_isolated
from crossmargin.progress import stderr_progress
from crossmargin.risk.montecarlo_kernel import NOT_LIQUIDATED, first_breach
from crossmargin.sim.market import FloatArray, IntArray, MarketData, market_from_frames
from crossmargin.venues import VENUES, get_rules
from crossmargin.venues.base import VenueRules

__all__ = [
    "BATCH_PATHS",
    "BGK_BETA",
    "EWMA_LAMBDA",
    "MAX_HORIZON_HOURS",
    "MAX_PATHS",
    "MAX_STEPS_PER_HOUR",
    "MIN_HISTORY_HOURS",
    "MODELS",
    "NOT_LIQUIDATED",
    "RECENT_FUNDING_HOURS",
    "RECENT_SETTLEMENTS",
    "SAME_ASSET_QUOTES",
    "SAMPLE_FUNDING_HOURS",
    "SAMPLE_ORIGIN",
    "STORE_INTERVALS",
    "STORE_KINDS",
    "STORE_ORIGIN",
    "FHSModel",
    "GarchFit",
    "GarchModel",
    "GaussianModel",
    "MCResult",
    "PathPlan",
    "PathTally",
    "PathWork",
    "PoolOdds",
    "ReturnHistory",
    "ReturnModel",
    "ReturnSource",
    "StudentTModel",
    "batch_count",
    "bgk_distance",
    "check_within_table",
    "equity_quantiles",
    "ewma_variance",
    "finish",
    "fit_garch",
    "fit_model",
    "fit_returns",
    "funding_rates",
    "horizon_steps",
    "hourly_closes",
    "liquidation_probability",
    "mean_funding_rate",
    "merge_tallies",
    "pack_for_paths",
    "path_batches",
    "plan_paths",
    "return_history",
    "run_batches",
    "sample_returns",
    "sample_symbol",
    "simulate_paths",
    "stored_funding_rate",
    "wilson_interval",
]

#: Names of the fitted models accepted by ``fit_model`` and ``liquidation_probability``.
MODELS: tuple[str, ...] = ("fhs", "t", "garch")
#: RiskMetrics decay of the EWMA variance (hourly returns).
EWMA_LAMBDA = 0.94
#: Paths simulated at a time (memory and progress granularity). Fixed, so a seed gives one answer.
BATCH_PATHS = 10_000
#: Most paths one estimate may ask for.
MAX_PATHS = 1_000_000
#: Most steps an hour may be split into.
MAX_STEPS_PER_HOUR = 60
#: Longest horizon (hours): 90 days, beyond which an hourly model of two months of data says little.
MAX_HORIZON_HOURS = 2160.0
#: Funding settlements of the sample averaged for the path's rate: 21 x 8 h = the last 7 days.
RECENT_SETTLEMENTS = 21
#: Hours between the sample's (Binance) funding settlements.
SAMPLE_FUNDING_HOURS = 8.0
#: Hours of stored funding settlements averaged for a local-store symbol's rate (the sample's 21 x 8 h).
RECENT_FUNDING_HOURS = RECENT_SETTLEMENTS * SAMPLE_FUNDING_HOURS
#: Fewest hourly closes, common to all the book's symbols and unbroken, a return model is fitted on: 30 days.
MIN_HISTORY_HOURS = 720
#: Quotes in which a symbol of a sample base is the sample's asset (the USD stablecoins the venues settle in).
SAME_ASSET_QUOTES: tuple[str, ...] = ("USDT", "USDC")
#: Kinds of stored bars read for returns, in order of preference: mark prices (as the sample), then trades.
STORE_KINDS: tuple[str, ...] = ("mark", "trades")
#: Intervals of stored bars read for returns, in order of preference; finer ones are resampled to 1h closes.
STORE_INTERVALS: tuple[str, ...] = ("1h", "15m", "5m", "1m")
#: ``ReturnSource.origin`` of the package sample and of the user's local data store.
SAMPLE_ORIGIN = "package sample"
STORE_ORIGIN = "local store"
#: Broadie-Glasserman-Kou constant: -zeta(1/2) / sqrt(2 pi).
BGK_BETA = 0.5826
#: Scale of returns handed to ``arch`` (per mille), where its optimiser is well conditioned.
_ARCH_SCALE = 1000.0
_HOUR_MS = 3_600_000
#: Venue of the package sample's bars.
_SAMPLE_VENUE = "binance"
#: Days of bars a suggested download asks for when no symbol of the book reads the sample (> 30 days).
_DOWNLOAD_DAYS = 45


@lru_cache(maxsize=8)
def sample_returns(symbols: tuple[str, ...]) -> FloatArray:
    """Return hourly log returns of the sample's mark closes, shape ``(hours, symbols)`` (fractions).

    The bars of all ``symbols`` (sample names such as 'BTCUSDT') are aligned on one unbroken hourly grid.
    Raises InputError for a symbol not in the sample, DataError for a gap.
    """
    frames = sample_frames(list(symbols), interval="1h", kind="mark")
    market = market_from_frames(frames, interval_ms=_HOUR_MS)
    returns = np.diff(np.log(market.close), axis=0)
    returns.setflags(write=False)
    return returns


def mean_funding_rate(symbol: str, *, interval_hours: float = SAMPLE_FUNDING_HOURS) -> float:
    """Return the mean of the sample's last ``RECENT_SETTLEMENTS`` funding rates of ``symbol`` (sample name).

    Fraction per settlement, > 0 when longs pay shorts, scaled from the sample's 8-hourly settlements to
    ``interval_hours`` (the same rate per hour).
    """
    rates = sample_funding(symbol)[symbol]["funding_rate"].to_numpy(dtype=np.float64)
    return float(rates[-RECENT_SETTLEMENTS:].mean() * interval_hours / SAMPLE_FUNDING_HOURS)


def _sample_name(instrument: Instrument) -> str | None:
    """Return the sample series standing for ``instrument``: its base's sample name when it is that asset, else None.

    The sample's BTCUSDT stands for BTC quoted in a USD stablecoin of ``SAME_ASSET_QUOTES`` on any venue
    (OKX BTC-USDT-SWAP, Hyperliquid BTC, Binance BTCUSDC): the same asset. Never for another quote (Binance
    ETHBTC is ETH priced in BTC: another asset).
    """
    name = f"{instrument.base.upper()}USDT"
    if name in SAMPLE_SYMBOLS and instrument.quote.upper() in SAME_ASSET_QUOTES:
        return name
    return None


def sample_symbol(symbol: str, rules: VenueRules) -> str:
    """Return the sample's Binance symbol for the venue's ``symbol`` (same base, quoted in USDT or USDC).

    Raises UnknownSymbolError for a symbol the venue does not list, DataError for an asset the sample lacks
    (another base, or a quote outside ``SAME_ASSET_QUOTES``).
    """
    instrument = rules.instrument(symbol)
    name = _sample_name(instrument)
    if name is None:
        raise DataError(
            f"no sample returns for {symbol} on {rules.name} (base {instrument.base}, quote {instrument.quote}); "
            f"the sample holds {', '.join(SAMPLE_SYMBOLS)} (Binance, USDT)"
        )
    return name


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnSource:
    """Where one portfolio symbol's hourly returns come from. Field names are the ``--json`` keys.

    ``symbol`` is the portfolio's symbol; ``origin`` 'package sample' or 'local store'; ``series`` the model
    column it reads (a sample name such as 'BTCUSDT', or 'venue:symbol' for the store); ``venue``,
    ``series_symbol``, ``kind`` ('mark' or 'trades') and ``interval`` ('1h', or finer bars resampled to hourly
    closes) describe the bars read from the file ``path``; ``first`` and ``last`` are the open times (ISO 8601
    UTC) of the first and last hourly close used, ``bars`` their number (one more than the returns);
    ``note`` says when the bars are another symbol's of the same underlying.
    """

    symbol: str
    origin: str
    series: str
    venue: str
    series_symbol: str
    kind: str
    interval: str
    path: str
    first: str
    last: str
    bars: int
    note: str = ""

    def describe(self) -> str:
        """Return one line for people: where the returns come from, their span and bar count."""
        where = "package sample" if self.origin == SAMPLE_ORIGIN else f"local store {self.path}"
        resampled = " resampled to 1h closes" if self.interval != "1h" else ""
        text = (
            f"returns of {self.symbol}: {where} ({self.venue} {self.series_symbol} {self.kind} "
            f"{self.interval}{resampled}), {self.first} to {self.last}, {self.bars:,} hourly closes"
        )
        return f"{text}; {self.note}" if self.note else text


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ReturnHistory:
    """Hourly log returns of a book's symbols on the hours they share, and where each series comes from.

    ``series`` names the columns of ``returns`` ``(hours, series)`` (log returns, fraction per hour);
    ``times`` are the open times (ms UTC) of the hourly closes the returns join (one more than the returns);
    ``column`` maps each portfolio symbol to its series (symbols of one underlying share it); ``sources``
    holds one ``ReturnSource`` per portfolio symbol, in the order asked.
    """

    series: tuple[str, ...]
    returns: FloatArray
    times: IntArray
    column: Mapping[str, str]
    sources: tuple[ReturnSource, ...]

    @property
    def notes(self) -> tuple[str, ...]:
        """Return one line per symbol saying where its returns come from (``ReturnSource.describe``)."""
        return tuple(source.describe() for source in self.sources)


@dataclass(frozen=True, slots=True)
class _Located:
    """The bars found for one portfolio symbol (before they are read and joined)."""

    symbol: str
    origin: str
    series: str
    venue: str
    series_symbol: str
    kind: str
    interval: str
    path: str
    note: str


def _ccxt_name(instrument: Instrument) -> str:
    """Return the store name of ``instrument`` downloaded by its ccxt symbol 'BASE/QUOTE:QUOTE' ('DOGEUSDC')."""
    return f"{instrument.base.upper()}{instrument.quote.upper()}"


def _download_symbol(instrument: Instrument) -> str:
    """Return the ``--symbol`` to give ``crossmargin data download`` for ``instrument`` on its venue."""
    if instrument.venue == "hyperliquid":  # ccxt's Hyperliquid market ids are asset numbers, not 'DOGE'
        return f"{instrument.base.upper()}/{instrument.quote.upper()}:{instrument.quote.upper()}"
    return instrument.symbol


def _store_candidates(instrument: Instrument, store: DataStore) -> Iterator[tuple[str, str, str]]:
    """Yield (venue, stored symbol, note) to look for in ``store``: the instrument itself, then its underlying.

    The same underlying is the same base quoted in ``SAME_ASSET_QUOTES`` (on this venue or another one
    whose folder exists in the store); a symbol quoted in anything else has no stand-in.
    """
    own = dict.fromkeys((plain_symbol(instrument.symbol), _ccxt_name(instrument)))
    for name in own:
        yield instrument.venue, name, ""
    if instrument.quote.upper() not in SAME_ASSET_QUOTES:
        return
    base = instrument.base.upper()
    venues = [instrument.venue, *sorted(v for v in VENUES if v != instrument.venue and (store.root / v).is_dir())]
    for venue in venues:
        rules = get_rules(venue)
        for other in (rules.instrument(name) for name in rules.symbols()):
            if other.base.upper() != base or other.quote.upper() not in SAME_ASSET_QUOTES:
                continue
            if venue == instrument.venue and other.symbol == instrument.symbol:
                continue
            for name in dict.fromkeys((plain_symbol(other.symbol), _ccxt_name(other))):
                note = f"the bars are {venue} {other.symbol}'s: the same underlying ({base}), another symbol"
                yield venue, name, note


def _locate(symbol: str, rules: VenueRules, store: DataStore) -> _Located | None:
    """Return where ``symbol``'s hourly closes are: the package sample, else the local store; None if nowhere."""
    instrument = rules.instrument(symbol)
    name = _sample_name(instrument)
    if name is not None:
        same = rules.name == _SAMPLE_VENUE and symbol == name
        note = (
            ""
            if same
            else f"{symbol} on {rules.name} reads the sample's Binance {name}: the same asset ({instrument.base} in "
            "a USD stablecoin), another symbol or venue"
        )
        sample = str(sample_path(f"{name}-mark-1h.parquet"))
        return _Located(symbol, SAMPLE_ORIGIN, name, _SAMPLE_VENUE, name, "mark", "1h", sample, note)
    for venue, stored, note in _store_candidates(instrument, store):
        for kind in STORE_KINDS:
            for interval in STORE_INTERVALS:
                path = store.path(venue, stored, kind, interval)
                if path.is_file():
                    return _Located(
                        symbol, STORE_ORIGIN, f"{venue}:{stored}", venue, stored, kind, interval, str(path), note
                    )
    return None


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%d")


def _download_command(instrument: Instrument, *, since_ms: int, until_ms: int | None) -> str:
    """Return the ``crossmargin data download`` command that brings ``instrument``'s hourly closes for a span."""
    kind = "trades" if instrument.venue == "hyperliquid" else "mark"  # ccxt has no Hyperliquid mark candles
    until = f" --until {_day(until_ms + 86_400_000)}" if until_ms is not None else ""
    return (
        f"crossmargin data download --venue {instrument.venue} --symbol {_download_symbol(instrument)} "
        f"--kind {kind} --interval 1h --since {_day(since_ms)}{until}"
    )


def _needed_span(sample_span: tuple[int, int] | None) -> tuple[int, int | None]:
    """Return (since, until) in ms UTC that a download must cover: the sample's span, else the last days."""
    if sample_span is not None:
        return sample_span
    now = int(datetime.now(UTC).timestamp() * 1000)
    return now - _DOWNLOAD_DAYS * 86_400_000, None


def hourly_closes(frame: pd.DataFrame, interval: str, *, label: str = "bars") -> pd.DataFrame:
    """Return the hourly closes of bars of ``interval`` ('1h', or finer): ``timestamp`` (hour open, ms UTC), ``close``.

    ``frame`` holds bars (open time ms UTC, prices in the quote currency), in time order. Finer bars are
    resampled as the sample's 1h klines are made: an hour's close is the close of its last bar, and only
    hours whose every bar is present count (a partial hour is missing, like a gap). ``label`` names the bars
    in the DataError raised for an interval that does not divide an hour.
    """
    step = interval_ms(interval)
    times = frame["timestamp"].to_numpy(np.int64)
    closes = frame["close"].to_numpy(np.float64)
    if step == _HOUR_MS:
        return pd.DataFrame({"timestamp": times, "close": closes})
    if step > _HOUR_MS or _HOUR_MS % step:
        raise DataError(f"{label}: {interval} bars cannot be resampled to hourly closes")
    frame = pd.DataFrame({"hour": times // _HOUR_MS * _HOUR_MS, "close": closes, "time": times})
    hourly = frame.groupby("hour", sort=True).agg(bars=("close", "size"), end=("time", "max"), close=("close", "last"))
    start = hourly.index.to_numpy(np.int64)
    complete = (hourly["bars"].to_numpy() == _HOUR_MS // step) & (hourly["end"].to_numpy() == start + _HOUR_MS - step)
    return pd.DataFrame({"timestamp": start[complete], "close": hourly["close"].to_numpy(np.float64)[complete]})


def _read_closes(located: _Located, store: DataStore) -> pd.DataFrame:
    if located.origin == SAMPLE_ORIGIN:
        frame = sample_frames([located.series_symbol], interval="1h", kind="mark")[located.series_symbol]
    else:
        frame = store.read(located.venue, located.series_symbol, located.kind, located.interval)
    return hourly_closes(frame, located.interval, label=located.path)


def _label(located: _Located) -> str:
    if located.origin == SAMPLE_ORIGIN:
        return f"{located.symbol} (package sample {located.series_symbol})"
    return f"{located.symbol} (local store {located.path})"


@lru_cache(maxsize=8)
def _joined(
    located: tuple[_Located, ...], root: str, stamps: tuple[tuple[int, int], ...], fixes: tuple[str, ...]
) -> ReturnHistory:
    """Return the history of ``located``, cached while the store files keep their ``stamps`` (mtime, size).

    ``fixes`` are the download commands a too-short history's error proposes.
    """
    store = DataStore(root)
    series: dict[str, _Located] = {}
    for item in located:
        series.setdefault(item.series, item)
    closes = {key: _read_closes(item, store) for key, item in series.items()}
    for key, frame in closes.items():
        if len(frame) == 0:
            raise DataError(f"{_label(series[key])}: no complete hour of {series[key].interval} bars")
    first = max(int(frame["timestamp"].min()) for frame in closes.values())
    last = min(int(frame["timestamp"].max()) for frame in closes.values())
    for key, frame in closes.items():
        item = series[key]
        times = frame["timestamp"].to_numpy(np.int64)
        inside = times[(times >= first) & (times <= last)]
        holes = np.flatnonzero(np.diff(inside) != _HOUR_MS)
        if len(holes):
            after = int(inside[holes[0]])
            missing = int((inside[holes[0] + 1] - after) // _HOUR_MS - 1)
            raise DataError(
                f"{_label(item)}: no hourly close for {missing:,} h after {iso_utc(after)} "
                f"({len(holes)} gap(s) between {iso_utc(first)} and {iso_utc(last)}); the return models need "
                "unbroken hourly closes, as the package sample is: import the missing bars "
                f"(crossmargin data import FILE --venue {item.venue} --symbol {item.series_symbol} "
                f"--kind {item.kind} --interval {item.interval})"
            )
    hours = 0 if last < first else (last - first) // _HOUR_MS + 1
    if hours < MIN_HISTORY_HOURS:
        raise DataError(_short_message(closes, series, (first, last), fixes))
    grid = np.arange(first, last + 1, _HOUR_MS, dtype=np.int64)
    matrix = np.column_stack(
        [frame.set_index("timestamp").loc[grid, "close"].to_numpy(np.float64) for frame in closes.values()]
    )
    if not np.all(np.isfinite(matrix) & (matrix > 0)):
        raise DataError(f"hourly closes of {', '.join(closes)}: a close that is not a positive number")
    returns = np.diff(np.log(matrix), axis=0)
    returns.setflags(write=False)
    grid.setflags(write=False)
    sources = tuple(
        ReturnSource(
            symbol=item.symbol,
            origin=item.origin,
            series=item.series,
            venue=item.venue,
            series_symbol=item.series_symbol,
            kind=item.kind,
            interval=item.interval,
            path=item.path,
            first=iso_utc(first),
            last=iso_utc(last),
            bars=len(grid),
            note=item.note,
        )
        for item in located
    )
    return ReturnHistory(
        series=tuple(closes),
        returns=returns,
        times=grid,
        column=MappingProxyType({item.symbol: item.series for item in located}),
        sources=sources,
    )


@lru_cache(maxsize=1)
def _sample_bounds() -> tuple[int, int]:
    """Return the open times (ms UTC) of the first and last hourly mark close of the package sample."""
    frame = sample_frames([SAMPLE_SYMBOLS[0]], interval="1h", kind="mark")[SAMPLE_SYMBOLS[0]]
    times = frame["timestamp"].to_numpy(np.int64)
    return int(times.min()), int(times.max())


def _sample_span(located: Sequence[_Located]) -> tuple[int, int] | None:
    """Return the package sample's span when some symbol reads it (the others must then cover it), else None."""
    return _sample_bounds() if any(item.origin == SAMPLE_ORIGIN for item in located) else None


def _short_message(
    closes: Mapping[str, pd.DataFrame],
    series: Mapping[str, _Located],
    span: tuple[int, int],
    fixes: Sequence[str],
) -> str:
    """Return the one-line error for a common ``span`` (first, last ms) shorter than ``MIN_HISTORY_HOURS``."""
    first, last = span
    hours = 0 if last < first else (last - first) // _HOUR_MS + 1
    spans = "; ".join(
        f"{_label(item)} {iso_utc(int(closes[key]['timestamp'].min()))} to "
        f"{iso_utc(int(closes[key]['timestamp'].max()))}"
        for key, item in series.items()
    )
    common = f"{hours:,} hourly closes" + (f" ({iso_utc(first)} to {iso_utc(last)})" if hours else "")
    fix = f"; bring more bars: {' ; '.join(fixes)}" if fixes else ""
    return (
        f"the book's symbols share {common}, fewer than the {MIN_HISTORY_HOURS:,} the return models need "
        f"({MIN_HISTORY_HOURS / 24:g} days): {spans}{fix}"
    )


def return_history(symbols: Sequence[str], rules: VenueRules, *, store: DataStore | None = None) -> ReturnHistory:
    """Return hourly log returns of ``symbols`` (the venue's names) joined on the hours they all have.

    Each symbol reads the package sample when the sample holds its asset (``sample_symbol``), else the
    local store (``crossmargin.data.store``, ``$CROSSMARGIN_DATA_DIR``): the hourly (or finer, resampled)
    mark, else trade, closes of that venue's perpetual, else of another perpetual of the same underlying
    (``_store_candidates``). The joined span must be unbroken (a gap is an error, as for the sample) and at
    least ``MIN_HISTORY_HOURS`` long. Raises UnknownSymbolError for a symbol the venue does not list, and
    DataError naming the symbol and the ``crossmargin data download`` command that brings its bars when
    neither source has them, or when they are too short or broken.
    """
    names = tuple(dict.fromkeys(symbols))
    if not names:
        raise InputError("symbols", (), "at least one symbol")
    where = store if store is not None else DataStore(default_data_dir())
    found = {symbol: _locate(symbol, rules, where) for symbol in names}
    located = tuple(item for item in found.values() if item is not None)
    missing = [symbol for symbol, item in found.items() if item is None]
    since, until = _needed_span(_sample_span(located))
    if missing:
        symbol = missing[0]
        instrument = rules.instrument(symbol)
        others = (
            f" or of another {instrument.base} perpetual in {' or '.join(SAME_ASSET_QUOTES)}"
            if instrument.quote.upper() in SAME_ASSET_QUOTES
            else ""
        )
        raise DataError(
            f"no return history for {symbol} on {rules.name}: the package sample holds "
            f"{', '.join(SAMPLE_SYMBOLS)} (Binance) and the local store {where.root} has no hourly or finer mark "
            f"or trade bars of {symbol}{others}; bring them with: "
            + _download_command(instrument, since_ms=since, until_ms=until)
        )
    stored = [item for item in located if item.origin == STORE_ORIGIN]
    stamps = tuple((os.stat(item.path).st_mtime_ns, os.stat(item.path).st_size) for item in stored)
    fixes = tuple(
        dict.fromkeys(
            _download_command(rules.instrument(item.symbol), since_ms=since, until_ms=until) for item in stored
        )
    )
    return _joined(located, str(where.root), stamps, fixes)


def _stored_funding(store: DataStore, located: ReturnSource, rules: VenueRules) -> tuple[Path | None, pd.DataFrame]:
    """Return the stored funding settlements of ``located``'s symbol: its venue's own, else its bars' series."""
    instrument = rules.instrument(located.symbol)
    candidates = [(rules.name, plain_symbol(instrument.symbol)), (rules.name, _ccxt_name(instrument))]
    candidates.append((located.venue, located.series_symbol))
    for venue, name in dict.fromkeys(candidates):
        path = store.path(venue, name, "funding", FUNDING_INTERVAL)
        if path.is_file():
            return path, store.read(venue, name, "funding", FUNDING_INTERVAL)
    return None, pd.DataFrame()


def stored_funding_rate(frame: pd.DataFrame, *, interval_hours: float) -> float:
    """Return the mean funding rate of the last ``RECENT_FUNDING_HOURS`` of settlements, per ``interval_hours``.

    ``frame`` holds settlement times (ms UTC) and rates (fraction per settlement, > 0: longs pay). The mean
    rate is divided by the settlements' spacing (median, hours; the venue's interval when there is one
    settlement) and multiplied by ``interval_hours``: the same rate per hour, as ``mean_funding_rate`` does.
    """
    times = frame["timestamp"].to_numpy(np.int64)
    rates = frame["funding_rate"].to_numpy(np.float64)
    recent = times > times[-1] - (RECENT_FUNDING_HOURS - 0.5) * _HOUR_MS
    spacing = float(np.median(np.diff(times))) / _HOUR_MS if len(times) > 1 else interval_hours
    return float(rates[recent].mean() / spacing * interval_hours)


def funding_rates(
    sources: Sequence[ReturnSource], rules: VenueRules, *, interval_hours: float, store: DataStore | None = None
) -> tuple[dict[str, float], tuple[str, ...]]:
    """Return the funding rate of each source's symbol per ``interval_hours`` settlement, and notes.

    Package sample symbols: ``mean_funding_rate`` of their sample series. Local store symbols: the stored
    settlements of the symbol on its venue (else of the series its bars come from), ``stored_funding_rate``;
    without any, 0 with a note naming the command that brings them. Rates are fractions, > 0: longs pay.
    """
    where = store if store is not None else DataStore(default_data_dir())
    rates: dict[str, float] = {}
    notes: list[str] = []
    for source in sources:
        if source.origin == SAMPLE_ORIGIN:
            rates[source.symbol] = mean_funding_rate(source.series_symbol, interval_hours=interval_hours)
            continue
        path, frame = _stored_funding(where, source, rules)
        if path is None or frame.empty:
            rates[source.symbol] = 0.0
            instrument = rules.instrument(source.symbol)
            since = _day(int(datetime.now(UTC).timestamp() * 1000) - 8 * 86_400_000)
            notes.append(
                f"no funding settlements of {source.symbol} in the local store {where.root}: its funding is taken "
                f"as 0 (bring them: crossmargin data download --venue {rules.name} --symbol "
                f"{_download_symbol(instrument)} --kind funding --since {since})"
            )
            continue
        rates[source.symbol] = stored_funding_rate(frame, interval_hours=interval_hours)
        notes.append(
            f"funding of {source.symbol}: local store {path}, mean of the settlements of the "
            f"{RECENT_FUNDING_HOURS:g} h to {iso_utc(int(frame['timestamp'].max()))}"
        )
    return rates, tuple(notes)


def ewma_variance(returns: FloatArray, lam: float = EWMA_LAMBDA) -> tuple[FloatArray, FloatArray]:
    """Return the EWMA variance before each return and the forecast for the next hour (fraction^2 per hour).

    ``var_t = lam var_{t-1} + (1 - lam) r_{t-1}^2``, started at the mean square of ``returns``
    (``(hours, symbols)``). Shapes: ``(hours, symbols)`` and ``(symbols,)``.
    """
    if not 0 < lam < 1:
        raise InputError("lam", lam, "a decay in (0, 1)")
    series = np.asarray(returns, dtype=np.float64)
    variance = np.empty_like(series)
    current = np.mean(series**2, axis=0)
    for t in range(series.shape[0]):
        variance[t] = current
        current = lam * current + (1 - lam) * series[t] ** 2
    return variance, current


@dataclass(frozen=True, slots=True, kw_only=True)
class GarchFit:
    """GARCH(1,1)-t of one symbol's hourly log returns: ``var_t = omega + alpha r_{t-1}^2 + beta var_{t-1}``.

    ``omega`` in fraction^2 per hour; ``nu`` the degrees of freedom of the standardised-t innovations;
    ``variance`` the fitted conditional variance of each hour and ``next_variance`` the forecast for the
    hour after the sample (fraction^2 per hour).
    """

    omega: float
    alpha: float
    beta: float
    nu: float
    variance: FloatArray
    next_variance: float

    def horizon_variance(self, hours: int) -> float:
        """Return the mean forecast variance per hour over the next ``hours`` (fraction^2 per hour)."""
        total = 0.0
        current = self.next_variance
        for _ in range(hours):
            total += current
            current = self.omega + (self.alpha + self.beta) * current
        return total / hours


def fit_garch(returns: FloatArray) -> GarchFit:
    """Return the GARCH(1,1)-t fit (``arch``, zero mean) of one series of hourly log returns (fractions).

    Raises DataError when the optimiser does not converge.
    """
    from arch import arch_model  # noqa: PLC0415 - arch is slow to import; only the GARCH paths need it

    series = np.asarray(returns, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arch warns about starting values it then improves on
        result = arch_model(series * _ARCH_SCALE, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
            disp="off"
        )
    if result.convergence_flag != 0:
        raise DataError(f"GARCH(1,1)-t fit did not converge (flag {result.convergence_flag})")
    params = result.params
    omega = float(params["omega"]) / _ARCH_SCALE**2
    alpha, beta = float(params["alpha[1]"]), float(params["beta[1]"])
    variance = np.asarray(result.conditional_volatility, dtype=np.float64) ** 2 / _ARCH_SCALE**2
    return GarchFit(
        omega=omega,
        alpha=alpha,
        beta=beta,
        nu=float(params["nu"]),
        variance=variance,
        next_variance=omega + alpha * float(series[-1]) ** 2 + beta * float(variance[-1]),
    )


class ReturnModel(Protocol):
    """A joint model of hourly log returns of ``symbols`` (sample names), simulated path by path."""

    @property
    def name(self) -> str:
        """Return the model's short name ('fhs', 't', 'garch', 'gaussian')."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """Return the symbols of the model's columns."""
        ...

    @property
    def sigma(self) -> FloatArray:
        """Return each symbol's volatility for the next hour (fraction per sqrt hour)."""
        ...

    @property
    def correlation(self) -> FloatArray:
        """Return the correlation of the symbols' shocks (used to split hours into steps)."""
        ...

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return log returns and the volatility they were drawn with, each ``(paths, hours, symbols)``."""
        ...


def _cholesky(correlation: FloatArray) -> FloatArray:
    return np.asarray(np.linalg.cholesky(correlation + 1e-12 * np.eye(len(correlation))), dtype=np.float64)


def _check_symbols(symbols: Sequence[str], width: int) -> tuple[str, ...]:
    names = tuple(symbols)
    if len(names) != width or len(set(names)) != width:
        raise InputError("symbols", names, f"{width} distinct names, one per column")
    return names


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GaussianModel:
    """I.i.d. Gaussian log returns with volatility ``sigma`` (fraction per sqrt hour) and zero drift.

    Brownian log prices: the world of the closed form (``risk.leverage``), for tests and comparisons.
    """

    sigma: FloatArray
    symbols: tuple[str, ...]
    correlation: FloatArray
    name: str = "gaussian"

    @classmethod
    def of(
        cls, sigma: float | Sequence[float], symbols: Sequence[str], correlation: FloatArray | None = None
    ) -> GaussianModel:
        """Return the model of ``symbols`` with hourly volatilities ``sigma`` (one, or one per symbol)."""
        names = tuple(symbols)
        sigmas = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (len(names),)).copy()
        for value in sigmas:
            require_positive("sigma", float(value))
        corr = np.eye(len(names)) if correlation is None else np.asarray(correlation, dtype=np.float64)
        if corr.shape != (len(names), len(names)):
            raise InputError("correlation", corr.shape, f"a {len(names)} x {len(names)} matrix")
        return cls(sigma=sigmas, symbols=_check_symbols(names, len(names)), correlation=corr)

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return ``sigma x C eps`` per hour (C the Cholesky factor of the correlation) and the sigmas."""
        shocks = rng.standard_normal((paths, hours, len(self.symbols))) @ _cholesky(self.correlation).T
        scale = np.broadcast_to(self.sigma, shocks.shape)
        return shocks * scale, np.array(scale)


def _volatility_path(
    residuals: Iterator[FloatArray], hours: int, paths: int, start_variance: FloatArray, fits: Sequence[GarchFit]
) -> tuple[FloatArray, FloatArray]:
    """Run ``var_{k+1} = omega + alpha r_k^2 + beta var_k`` along paths, ``r_k = sqrt(var_k) z_k``."""
    omega = np.array([f.omega for f in fits])
    alpha = np.array([f.alpha for f in fits])
    beta = np.array([f.beta for f in fits])
    width = len(fits)
    returns = np.empty((paths, hours, width))
    sigmas = np.empty((paths, hours, width))
    variance = np.broadcast_to(start_variance, (paths, width)).copy()
    for k in range(hours):
        sigma = np.sqrt(variance)
        shock = sigma * next(residuals)
        returns[:, k] = shock
        sigmas[:, k] = sigma
        variance = omega + alpha * shock**2 + beta * variance
    return returns, sigmas


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FHSModel:
    """Filtered historical simulation: bootstrapped joint standardised residuals under a volatility recursion.

    ``residuals`` ``(hours, symbols)`` are the sample's demeaned returns over their filtered volatility;
    ``filters`` hold each symbol's recursion (EWMA: omega 0, alpha 1 - lambda, beta lambda);
    ``sigma`` the volatility of the hour after the sample (fraction per sqrt hour).
    """

    symbols: tuple[str, ...]
    residuals: FloatArray
    filters: tuple[GarchFit, ...]
    sigma: FloatArray
    correlation: FloatArray
    filter: Literal["ewma", "garch"] = "ewma"
    name: str = "fhs"

    @classmethod
    def from_returns(
        cls, returns: FloatArray, symbols: Sequence[str], *, filter: Literal["ewma", "garch"] = "ewma"
    ) -> FHSModel:
        """Return the model fitted on hourly log ``returns`` ``(hours, symbols)`` (fractions)."""
        series = np.asarray(returns, dtype=np.float64)
        names = _check_symbols(symbols, series.shape[1])
        demeaned = series - series.mean(axis=0)
        if filter == "ewma":
            variance, forecast = ewma_variance(demeaned)
            fits = tuple(
                GarchFit(
                    omega=0.0,
                    alpha=1 - EWMA_LAMBDA,
                    beta=EWMA_LAMBDA,
                    nu=math.inf,
                    variance=variance[:, j],
                    next_variance=float(forecast[j]),
                )
                for j in range(len(names))
            )
        elif filter == "garch":
            fits = tuple(fit_garch(demeaned[:, j]) for j in range(len(names)))
            variance = np.column_stack([fit.variance for fit in fits])
        else:
            raise InputError("filter", filter, "'ewma' or 'garch'")
        standardised = demeaned / np.sqrt(variance)
        # A filtered variance is a noisy estimate, so E[r^2 / var] > 1 even when it is unbiased (Jensen):
        # residuals are scaled to unit variance so the next hour's volatility is the filter's forecast.
        residuals = standardised / np.sqrt(np.mean(standardised**2, axis=0))
        residuals.setflags(write=False)
        return cls(
            symbols=names,
            residuals=residuals,
            filters=fits,
            sigma=np.sqrt([fit.next_variance for fit in fits]),
            correlation=np.atleast_2d(np.corrcoef(residuals, rowvar=False)),
            filter=filter,
        )

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return bootstrapped paths: one residual row (time index) per path and hour, re-scaled."""
        rows = self.residuals.shape[0]
        draws = (self.residuals[rng.integers(0, rows, size=paths)] for _ in range(hours))
        return _volatility_path(draws, hours, paths, self.sigma**2, self.filters)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StudentTModel:
    """Multivariate Student-t log returns: ``r = sigma x C eps x sqrt((dof - 2) / W)``, ``W ~ chi2(dof)``.

    One ``W`` per path and hour is shared by all symbols, so large moves come together (tail dependence).
    ``sigma`` is the sample's hourly volatility (unconditional, fraction per sqrt hour), ``dof`` fitted by
    maximum likelihood.
    """

    symbols: tuple[str, ...]
    sigma: FloatArray
    correlation: FloatArray
    dof: float
    name: str = "t"

    @classmethod
    def from_returns(cls, returns: FloatArray, symbols: Sequence[str]) -> StudentTModel:
        """Return the model fitted on hourly log ``returns`` ``(hours, symbols)`` (fractions)."""
        series = np.asarray(returns, dtype=np.float64)
        names = _check_symbols(symbols, series.shape[1])
        demeaned = series - series.mean(axis=0)
        sigma = demeaned.std(axis=0)
        standard = demeaned / sigma
        correlation = np.atleast_2d(np.corrcoef(standard, rowvar=False))

        def loss(dof: float) -> float:
            shape = correlation * (dof - 2) / dof
            return -float(np.sum(stats.multivariate_t.logpdf(standard, shape=shape, df=dof)))

        fitted = optimize.minimize_scalar(loss, bounds=(2.05, 100.0), method="bounded")
        return cls(symbols=names, sigma=sigma, correlation=correlation, dof=float(fitted.x))

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return multivariate-t hourly returns with unit-variance shocks scaled by ``sigma``."""
        shocks = rng.standard_normal((paths, hours, len(self.symbols))) @ _cholesky(self.correlation).T
        mixing = np.sqrt((self.dof - 2) / rng.chisquare(self.dof, size=(paths, hours, 1)))
        scale = np.broadcast_to(self.sigma, shocks.shape)
        return shocks * mixing * scale, np.array(scale)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GarchModel:
    """Per-symbol GARCH(1,1)-t simulated forward, innovations joined by their residual correlation.

    Innovations: ``z_i = t_nu_i^-1(Phi(x_i)) sqrt((nu_i - 2) / nu_i)`` with ``x ~ N(0, R)``, R the correlation
    of the sample's standardised residuals: each symbol keeps its fitted fat tail, the symbols their
    dependence.
    """

    symbols: tuple[str, ...]
    fits: tuple[GarchFit, ...]
    sigma: FloatArray
    correlation: FloatArray
    name: str = "garch"

    @classmethod
    def from_returns(cls, returns: FloatArray, symbols: Sequence[str]) -> GarchModel:
        """Return the model fitted on hourly log ``returns`` ``(hours, symbols)`` (fractions)."""
        series = np.asarray(returns, dtype=np.float64)
        names = _check_symbols(symbols, series.shape[1])
        demeaned = series - series.mean(axis=0)
        fits = tuple(fit_garch(demeaned[:, j]) for j in range(len(names)))
        residuals = demeaned / np.sqrt(np.column_stack([fit.variance for fit in fits]))
        return cls(
            symbols=names,
            fits=fits,
            sigma=np.sqrt([fit.next_variance for fit in fits]),
            correlation=np.atleast_2d(np.corrcoef(residuals, rowvar=False)),
        )

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return GARCH paths from the current variance with copula-joined standardised-t innovations."""
        chol = _cholesky(self.correlation)
        nu = np.array([fit.nu for fit in self.fits])
        width = len(self.symbols)

        def innovations() -> Iterator[FloatArray]:
            while True:
                gauss = rng.standard_normal((paths, width)) @ chol.T
                yield special.stdtrit(nu, special.ndtr(gauss)) * np.sqrt((nu - 2) / nu)

        return _volatility_path(innovations(), hours, paths, self.sigma**2, self.fits)


@lru_cache(maxsize=16)
def fit_model(name: str, symbols: tuple[str, ...]) -> ReturnModel:
    """Return the model ``name`` ('fhs', 't', 'garch') fitted on the sample returns of ``symbols``.

    Raises InputError for an unknown model name (with near matches) or symbol.
    """
    return fit_returns(name, sample_returns(symbols), symbols)


def fit_returns(name: str, returns: FloatArray, symbols: Sequence[str]) -> ReturnModel:
    """Return the model ``name`` ('fhs', 't', 'garch') fitted on hourly log ``returns`` ``(hours, symbols)``.

    Raises InputError for an unknown model name.
    """
    names = tuple(symbols)
    if name == "fhs":
        return FHSModel.from_returns(returns, names)
    if name == "t":
        return StudentTModel.from_returns(returns, names)
    if name == "garch":
        return GarchModel.from_returns(returns, names)
    raise InputError("model", name, " | ".join(MODELS), detail=f"unknown model {name!r}")


@lru_cache(maxsize=16)
def _fitted(name: str, history: ReturnHistory) -> ReturnModel:
    """Return ``fit_returns`` on ``history`` (cached: one history object per set of files and their dates)."""
    return fit_returns(name, history.returns, history.series)


def _split_hours(
    returns: FloatArray, sigmas: FloatArray, steps_per_hour: int, correlation: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Return each hour's return split into ``steps_per_hour`` steps by a Brownian bridge of that hour's sigma.

    Increments ``d_j = r / k + s (e_j - mean(e))`` with ``e_j ~ N(0, R / k)``: Gaussian increments conditioned
    on their sum ``r`` (exact for Brownian motion).
    """
    paths, hours, width = returns.shape
    noise = rng.standard_normal((paths, hours, steps_per_hour, width)) @ _cholesky(correlation).T
    noise *= (sigmas / math.sqrt(steps_per_hour))[:, :, None, :]
    noise -= noise.mean(axis=2, keepdims=True)
    noise += (returns / steps_per_hour)[:, :, None, :]
    return noise.reshape(paths, hours * steps_per_hour, width)


def _simulate(model: ReturnModel, steps: int, paths: int, rng: np.random.Generator, steps_per_hour: int) -> FloatArray:
    hours = -(-steps // steps_per_hour)
    returns, sigmas = model.hourly(hours, paths, rng)
    if steps_per_hour == 1:
        return np.ascontiguousarray(returns[:, :steps])
    return np.ascontiguousarray(_split_hours(returns, sigmas, steps_per_hour, model.correlation, rng)[:, :steps])


def _check_count(field_name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InputError(field_name, value, f"an integer {low:,} .. {high:,}")
    return int(value)


def horizon_steps(horizon_hours: float, steps_per_hour: int) -> int:
    """Return the number of steps of ``1 / steps_per_hour`` hours in ``horizon_hours``.

    Raises InputError unless the horizon is a whole number (>= 1) of steps.
    """
    steps = round(horizon_hours * steps_per_hour)
    if steps < 1 or not math.isclose(steps, horizon_hours * steps_per_hour, rel_tol=0.0, abs_tol=1e-9):
        raise InputError(
            "horizon_hours",
            horizon_hours,
            f"a whole number of steps of 1/{steps_per_hour} h (raise steps_per_hour)",
            detail=f"{horizon_hours:g} h is not a whole number of {60 / steps_per_hour:g}-minute steps",
        )
    return steps


def simulate_paths(
    model: ReturnModel, steps: int, paths: int, seed: int | None = 0, *, steps_per_hour: int = 1
) -> FloatArray:
    """Return simulated log returns, shape ``(paths, steps, symbols)`` (fraction per step; columns ``model.symbols``).

    Each step lasts ``1 / steps_per_hour`` hours; the same ``seed`` gives the same paths.
    """
    steps = _check_count("steps", steps, 1, int(MAX_HORIZON_HOURS) * MAX_STEPS_PER_HOUR)
    paths = _check_count("paths", paths, 1, MAX_PATHS)
    steps_per_hour = _check_count("steps_per_hour", steps_per_hour, 1, MAX_STEPS_PER_HOUR)
    return _simulate(model, steps, paths, np.random.default_rng(seed), steps_per_hour)


def bgk_distance(distance: float, sigma: float, step_hours: float) -> float:
    """Return the log distance a continuously monitored barrier needs to match monitoring every ``step_hours``.

    ``b + 0.5826 sigma sqrt(dt)`` (Broadie, Glasserman and Kou 1997), ``sigma`` per sqrt hour.
    """
    return distance + BGK_BETA * sigma * math.sqrt(step_hours)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval (fractions) of a probability estimated as ``successes / trials``."""
    if trials <= 0:
        raise InputError("trials", trials, "> 0")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolOdds:
    """Liquidation odds of one margin pool within the horizon. Field names are the ``--json`` keys.

    ``mode``: 'cross' (all positions cross, one pool), 'isolated' (every position its own pool) or
    'as given'; ``pool``: 'cross' or the isolated position ('ETHUSDT short'). ``probability`` and its 95 %
    Wilson interval are fractions; ``median_hours`` is the median time to liquidation of the liquidated
    paths (hours from now), None when no path was liquidated.
    """

    mode: str
    pool: str
    symbols: tuple[str, ...]
    liquidated_paths: int
    probability: float
    ci_low: float
    ci_high: float
    median_hours: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MCResult:
    """What ``liquidation_probability`` found. ``dataclasses.asdict`` of it is the ``--json`` object.

    ``sigma_hourly`` is each symbol's current model volatility (fraction per sqrt hour); ``funding_rates``
    the rate applied to each symbol per settlement (fraction, > 0: longs pay) every
    ``funding_interval_hours``; ``sample_symbols`` the model column each symbol's returns come from (a sample
    name such as 'BTCUSDT', or 'venue:symbol' of the local store); ``sources`` where each symbol's returns
    were read (empty for a given model); ``notes`` say that in words, and what else the reader should know.
    """

    venue: str
    model: str
    seed: int | None
    paths: int
    horizon_hours: float
    steps_per_hour: int
    symbols: tuple[str, ...]
    sample_symbols: tuple[str, ...]
    sigma_hourly: tuple[float, ...]
    funding: bool
    funding_interval_hours: float
    funding_rates: dict[str, float]
    pools: tuple[PoolOdds, ...]
    sources: tuple[ReturnSource, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def odds(self, mode: str, pool: str = "cross") -> PoolOdds:
        """Return the odds of ``pool`` in ``mode``; raise InputError when there is none."""
        for odds in self.pools:
            if odds.mode == mode and odds.pool == pool:
                return odds
        known = ", ".join(f"{o.mode}/{o.pool}" for o in self.pools)
        raise InputError("pool", f"{mode}/{pool}", known)


def _marks_market(symbols: tuple[str, ...], marks: Marks) -> MarketData:
    """Return a one-bar market at ``marks``: the columns ``pack_book`` lays the book out on."""
    row = np.array([[marks.price(s) for s in symbols]], dtype=np.float64)
    return MarketData(
        times=np.zeros(1, dtype=np.int64),
        symbols=symbols,
        open=row,
        high=row,
        low=row,
        close=row,
        mark_open=row,
        mark_high=row,
        mark_low=row,
        mark_close=row,
        interval_ms=_HOUR_MS,
    )


def pack_for_paths(account: Account, rules: VenueRules, symbols: tuple[str, ...], marks: Marks) -> BookArrays:
    """Return ``account``'s book laid out on the columns ``symbols`` (``kernels.layout.pack_book``)."""
    return pack_book(account, rules, _marks_market(symbols, marks))


def _pool_labels(account: Account) -> list[str]:
    """Return the label of each pool in ``pack_book`` order: 'cross', then each isolated position."""
    labels = ["cross"]
    for position in account.positions:
        if position.mode is MarginMode.ISOLATED:
            labels.append(f"{position.symbol} {position.side.label}")
    return labels


def _books(account: Account) -> tuple[dict[str, Account], list[str]]:
    books = {"cross": all_cross(account)}
    notes = []
    try:
        books["isolated"] = all_isolated(account)
    except InputError as error:
        notes.append(f"isolated not simulated: {error}")
    modes = {p.mode for p in account.positions}
    if len(modes) > 1:
        books["as given"] = account
    return books, notes


def batch_count(paths: int) -> int:
    """Return the number of batches of ``BATCH_PATHS`` that ``paths`` paths are drawn in (the last smaller)."""
    return -(-paths // BATCH_PATHS)


def _batch_rng(entropy: int | Sequence[int], index: int) -> np.random.Generator:
    """Return the generator of batch ``index``: ``np.random.SeedSequence(seed).spawn(n)[index]`` for any n."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index,)))


def path_batches(
    model: ReturnModel, steps: int, paths: int, seed: int | None, *, steps_per_hour: int = 1
) -> Iterator[FloatArray]:
    """Yield ``simulate_paths`` in batches of ``BATCH_PATHS`` (the last smaller), each from its own seed.

    The batch seeds are spawned from ``seed``, so a seed and a number of paths give one answer.
    """
    entropy = np.random.SeedSequence(seed).entropy
    for index in range(batch_count(paths)):
        size = min(BATCH_PATHS, paths - index * BATCH_PATHS)
        yield _simulate(model, steps, size, _batch_rng(_entropy(entropy), index), steps_per_hour)


def _entropy(value: object) -> int | Sequence[int]:
    if isinstance(value, int):
        return value
    if isinstance(value, Sequence):
        return tuple(int(v) for v in value)
    raise InputError("seed", value, "an integer >= 0 or None")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PathWork:
    """The simulation behind one estimate, fixed before any path is drawn: all a worker needs (picklable).

    ``paths`` paths of ``steps`` steps of ``1 / steps_per_hour`` h drawn from ``model`` in ``batch_count(paths)``
    batches of ``BATCH_PATHS``, batch k from ``SeedSequence(entropy, spawn_key=(k,))`` (the k-th child that
    ``SeedSequence(seed).spawn`` gives); ``columns`` are each symbol's model column, ``start`` the marks at
    step 0 (quote). Per mode ('cross', 'isolated', 'as given'): the packed ``books``, each position's
    ``funding_rates`` (fraction per settlement, > 0: longs pay), settled every ``funding_every`` steps (0: never).
    """

    model: ReturnModel
    steps: int
    steps_per_hour: int
    paths: int
    entropy: int | Sequence[int]
    columns: tuple[int, ...]
    start: FloatArray
    books: Mapping[str, BookArrays]
    funding_rates: Mapping[str, FloatArray]
    funding_every: int

    @property
    def batches(self) -> int:
        """Return the number of batches the paths are drawn in."""
        return batch_count(self.paths)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PathTally:
    """What some batches of a ``PathWork`` found, per mode.

    ``batches`` are the batch indices run, in order; ``liquidated[mode][pool]`` the first-breach step of
    each liquidated path of the pool (int64, in path order); ``peak_marks[mode]`` each position's highest
    mark (quote) over all those paths while its pool was alive. Tallies of disjoint batches merge
    (``merge_tallies``) into exactly what one run over all of them gives.
    """

    batches: tuple[int, ...]
    liquidated: Mapping[str, tuple[IntArray, ...]]
    peak_marks: Mapping[str, FloatArray]


def run_batches(work: PathWork, batches: Sequence[int], *, advance: Callable[[int], None] | None = None) -> PathTally:
    """Simulate the batches ``batches`` of ``work`` and return what they found (``advance(paths)`` after each).

    A batch's paths depend on its index only, so any split of the batches gives the same paths.
    """
    steps: dict[str, list[list[IntArray]]] = {
        mode: [[] for _ in range(book.pools)] for mode, book in work.books.items()
    }
    peaks = {mode: np.zeros(book.positions) for mode, book in work.books.items()}
    for index in batches:
        if not 0 <= index < work.batches:
            raise InputError("batches", index, f"batch indices 0 .. {work.batches - 1}")
        size = min(BATCH_PATHS, work.paths - index * BATCH_PATHS)
        batch = _simulate(work.model, work.steps, size, _batch_rng(work.entropy, index), work.steps_per_hour)
        moves = np.ascontiguousarray(batch[:, :, list(work.columns)])
        for mode, book in work.books.items():
            peak = np.empty((size, book.positions))
            first = first_breach(
                book,
                moves,
                work.start,
                funding_rate=work.funding_rates[mode],
                funding_every=work.funding_every,
                peak_marks=peak,
            )
            for pool in range(book.pools):
                column = first[:, pool]
                steps[mode][pool].append(column[column != NOT_LIQUIDATED])
            if size:
                np.maximum(peaks[mode], peak.max(axis=0), out=peaks[mode])
        if advance is not None:
            advance(size)
    return PathTally(
        batches=tuple(batches),
        liquidated={
            mode: tuple(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64) for parts in pools)
            for mode, pools in steps.items()
        },
        peak_marks=peaks,
    )


def merge_tallies(parts: Sequence[PathTally]) -> PathTally:
    """Return the tally of all ``parts`` (disjoint batches), in batch order: counts add, peaks are the maxima."""
    if not parts:
        raise InputError("parts", (), "at least one tally")
    ordered = sorted(parts, key=lambda part: part.batches[0] if part.batches else -1)
    batches = tuple(index for part in ordered for index in part.batches)
    if len(set(batches)) != len(batches):
        raise InputError("parts", batches, "tallies of disjoint batches")
    first = ordered[0]
    return PathTally(
        batches=batches,
        liquidated={
            mode: tuple(np.concatenate([part.liquidated[mode][pool] for part in ordered]) for pool in range(len(pools)))
            for mode, pools in first.liquidated.items()
        },
        peak_marks={mode: np.max([part.peak_marks[mode] for part in ordered], axis=0) for mode in first.peak_marks},
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PathPlan:
    """One estimate, ready to run: the ``work`` to simulate and what turns its tally into an ``MCResult``.

    ``accounts`` are the books per mode (their positions in the portfolio's order), ``rules`` the venue's;
    ``result`` holds every field of the answer but the pools.
    """

    work: PathWork
    accounts: Mapping[str, Account]
    rules: VenueRules
    result: MCResult


def _model_columns(symbols: Sequence[str], model: ReturnModel, rules: VenueRules) -> tuple[str, ...]:
    """Return the column of ``model`` each symbol reads: its own name, else its sample series."""
    names = []
    for symbol in symbols:
        if symbol in model.symbols:
            names.append(symbol)
            continue
        sample = _sample_name(rules.instrument(symbol))
        if sample is None or sample not in model.symbols:
            raise InputError(
                "model",
                model.name,
                f"a model with a column for each of {', '.join(symbols)}",
                detail=f"no column for {symbol}",
            )
        names.append(sample)
    return tuple(names)


def plan_paths(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    model: str | ReturnModel = "fhs",
    seed: int | None = 0,
    steps_per_hour: int = 1,
    funding: bool = True,
    store: DataStore | None = None,
) -> PathPlan:
    """Return the plan of ``liquidation_probability`` (same arguments): validated, model fitted, books packed.

    Raises what ``liquidation_probability`` raises, before any path is drawn.
    """
    horizon = require_positive("horizon_hours", horizon_hours)
    if horizon > MAX_HORIZON_HOURS:
        raise InputError("horizon_hours", horizon_hours, f"at most {MAX_HORIZON_HOURS:g} h (90 days)")
    paths = _check_count("paths", paths, 1, MAX_PATHS)
    steps_per_hour = _check_count("steps_per_hour", steps_per_hour, 1, MAX_STEPS_PER_HOUR)
    steps = horizon_steps(horizon, steps_per_hour)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError("seed", seed, "an integer >= 0, or None for fresh entropy")
    account, rules = portfolio.account, portfolio.rules
    if not account.positions:
        raise InputError("positions", (), "at least one position")
    if isinstance(model, str) and model not in MODELS:
        raise InputError("model", model, " | ".join(MODELS), detail=f"unknown model {model!r}")
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    notes: list[str] = []
    sources: tuple[ReturnSource, ...] = ()
    if isinstance(model, str):
        history = return_history(symbols, rules, store=store)
        fitted = _fitted(model, history)
        samples = tuple(history.column[s] for s in symbols)
        sources = history.sources
        notes.extend(history.notes)
    else:
        fitted = model
        samples = _model_columns(symbols, fitted, rules)
        notes.append(f"returns drawn from the given {fitted.name} model of {', '.join(fitted.symbols)}")
    columns = tuple(fitted.symbols.index(s) for s in samples)
    interval = float(getattr(rules, "funding_interval_hours", SAMPLE_FUNDING_HOURS))
    rates: dict[str, float] = {}
    if funding:
        funding_sources = sources or _funding_sources(symbols, rules, store)
        rates, funding_notes = funding_rates(funding_sources, rules, interval_hours=interval, store=store)
        notes.extend(funding_notes)
    books, book_notes = _books(account)
    notes.extend(book_notes)
    packed = {mode: pack_for_paths(book, rules, symbols, portfolio.marks) for mode, book in books.items()}
    work = PathWork(
        model=fitted,
        steps=steps,
        steps_per_hour=steps_per_hour,
        paths=paths,
        entropy=_entropy(np.random.SeedSequence(seed).entropy),
        columns=columns,
        start=np.array([portfolio.marks.price(s) for s in symbols]),
        books=packed,
        funding_rates={
            mode: np.array([rates.get(p.symbol, 0.0) for p in book.positions]) for mode, book in books.items()
        },
        funding_every=round(interval * steps_per_hour) if funding else 0,
    )
    result = MCResult(
        venue=rules.name,
        model=fitted.name,
        seed=seed,
        paths=paths,
        horizon_hours=horizon,
        steps_per_hour=steps_per_hour,
        symbols=symbols,
        sample_symbols=samples,
        sigma_hourly=tuple(float(fitted.sigma[c]) for c in columns),
        funding=funding,
        funding_interval_hours=interval,
        funding_rates=rates,
        pools=(),
        sources=sources,
        notes=tuple(notes),
    )
    return PathPlan(work=work, accounts=books, rules=rules, result=result)


def _funding_sources(symbols: Sequence[str], rules: VenueRules, store: DataStore | None) -> tuple[ReturnSource, ...]:
    """Return, for a given model, where each symbol's funding is read: the sample, else the local store."""
    out = []
    for symbol in symbols:
        name = _sample_name(rules.instrument(symbol))
        origin = SAMPLE_ORIGIN if name is not None else STORE_ORIGIN
        series_symbol = name if name is not None else plain_symbol(symbol)
        venue = _SAMPLE_VENUE if name is not None else rules.name
        out.append(
            ReturnSource(
                symbol=symbol,
                origin=origin,
                series=series_symbol,
                venue=venue,
                series_symbol=series_symbol,
                kind="funding",
                interval=FUNDING_INTERVAL,
                path="",
                first="",
                last="",
                bars=0,
            )
        )
    return tuple(out)


def check_within_table(rules: VenueRules, account: Account, peak_marks: FloatArray, *, context: str) -> None:
    """Raise BeyondTableError when a position's highest simulated mark takes it to or past its last tier.

    ``peak_marks`` holds each position's highest mark (quote) over the simulated steps before its pool was
    liquidated. A position's tier value at that mark (``Instrument.tier_value`` at ``rules.tier_price``:
    notional at the mark, or at entry where the venue values the tier so; the size on OKX, which a path
    cannot move) must stay below the instrument's finite ``last_cap``: past it the venue lists no tier and
    the engine does not extrapolate one. ``context`` says which simulation, for the message; the field is
    ``positions[i].size``.
    """
    for index, (position, peak) in enumerate(zip(account.positions, peak_marks, strict=True)):
        instrument = rules.instrument(position.symbol)
        cap = instrument.last_cap
        if not math.isfinite(cap) or not peak > 0:
            continue
        mark = float(peak)
        value = instrument.tier_value(position.size, rules.tier_price(position, mark))
        if value >= cap:
            error = instrument.beyond_table(value, field=f"positions[{index}].size")
            clone = error.prefixed("")
            clone.detail = (
                f"a simulated path ({context}) takes the {position.symbol} mark to {mark:,.6g} {instrument.quote} "
                f"before the pool is liquidated, where {error.detail}"
            )
            clone.reason = f"{clone.detail} (allowed: {clone.allowed})"
            clone.args = (f"{clone.field}: {clone.reason}",)
            raise clone


def finish(plan: PathPlan, tally: PathTally) -> MCResult:
    """Return the estimate from the tally of all of ``plan``'s batches (fractions, 95 % Wilson intervals).

    Raises BeyondTableError (``check_within_table``) when a path takes a position past its venue's last tier
    before its pool is liquidated, and InputError when the tally does not cover every batch once.
    """
    work, result = plan.work, plan.result
    if sorted(tally.batches) != list(range(work.batches)):
        raise InputError("tally", tally.batches, f"every batch 0 .. {work.batches - 1} once")
    for mode, account in plan.accounts.items():
        check_within_table(
            plan.rules, account, tally.peak_marks[mode], context=f"{mode} margin, within {result.horizon_hours:g} h"
        )
    odds = []
    for mode, book in plan.accounts.items():
        arrays = work.books[mode]
        members = np.diff(arrays.pool_offsets)
        for pool, label in enumerate(_pool_labels(book)):
            if members[pool] == 0:
                continue
            steps = tally.liquidated[mode][pool]
            count = len(steps)
            low, high = wilson_interval(count, work.paths)
            held = arrays.pool_members[arrays.pool_offsets[pool] : arrays.pool_offsets[pool + 1]]
            odds.append(
                PoolOdds(
                    mode=mode,
                    pool=label,
                    symbols=tuple(dict.fromkeys(book.positions[i].symbol for i in held)),
                    liquidated_paths=count,
                    probability=count / work.paths,
                    ci_low=low,
                    ci_high=high,
                    median_hours=float(np.median(steps + 1) / work.steps_per_hour) if count else None,
                )
            )
    return dataclasses.replace(result, pools=tuple(odds))


def liquidation_probability(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    model: str | ReturnModel = "fhs",
    seed: int | None = 0,
    steps_per_hour: int = 1,
    funding: bool = True,
    progress: bool | None = None,
    store: DataStore | None = None,
) -> MCResult:
    """Return the probability that each margin pool is liquidated within ``horizon_hours`` (fractions, 95 % CI).

    The portfolio is simulated twice on the same paths: all positions cross (one pool) and all isolated
    (one pool each), plus as given when it mixes modes. ``model`` is a name of ``MODELS``, fitted on each
    symbol's history (``return_history``: the package sample, else the local ``store``, default
    ``$CROSSMARGIN_DATA_DIR``), or a ``ReturnModel`` with a column per symbol (its own name or its sample
    name). ``progress`` None shows a bar on stderr only on a terminal. Raises InputError for a bad horizon,
    path count, step count or model, DataError for a symbol without usable history, BeyondTableError for a
    path that takes a position past its venue's last tier before its pool is liquidated.
    """
    plan = plan_paths(
        portfolio,
        horizon_hours=horizon_hours,
        paths=paths,
        model=model,
        seed=seed,
        steps_per_hour=steps_per_hour,
        funding=funding,
        store=store,
    )
    with stderr_progress("Monte Carlo paths", show=progress) as bar:
        task = bar.add_task("paths", total=plan.work.paths)
        tally = run_batches(plan.work, range(plan.work.batches), advance=lambda size: bar.advance(task, size))
    return finish(plan, tally)


def equity_quantiles(
    portfolio: Portfolio,
    *,
    horizon_hours: float,
    seed: int,
    model: str = "fhs",
    paths: int = 2000,
    quantiles: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
    store: DataStore | None = None,
) -> dict[str, Any]:
    """Return quantiles of the all-cross margin balance (quote) per hour over ``paths`` simulated paths.

    Marks follow ``simulate_paths`` of ``model`` fitted on ``return_history``; each position's PnL is
    ``margin.unrealized_pnl`` (applied element-wise). ``maintenance_margin`` is today's requirement of the
    cross account, the level the fan is read against. Keys: ``hours``, ``quantiles`` (label -> array),
    ``equity_now``, ``maintenance_margin``.
    """
    account, rules = all_cross(portfolio.account), portfolio.rules
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    history = return_history(symbols, rules, store=store)
    fitted = _fitted(model, history)
    samples = tuple(history.column[s] for s in symbols)
    steps = horizon_steps(float(horizon_hours), 1)
    returns = simulate_paths(fitted, steps, paths, seed)
    growth = {
        s: np.exp(np.cumsum(returns[:, :, fitted.symbols.index(samples[j])], axis=1)) for j, s in enumerate(symbols)
    }
    equity = np.full((paths, steps), account.wallet_balance, dtype=np.float64)
    for position in account.positions:
        marks: Any = portfolio.marks.price(position.symbol) * growth[position.symbol]
        equity += unrealized_pnl(position.side, position.size, position.entry_price, marks)
    today = evaluate(account, portfolio.marks, rules)
    bands = np.quantile(equity, quantiles, axis=0)
    return {
        "hours": list(range(1, steps + 1)),
        "quantiles": {f"{q:g}": band for q, band in zip(quantiles, bands, strict=True)},
        "equity_now": today.account.margin_balance,
        "maintenance_margin": today.account.maintenance_margin,
    }
