"""Where the Monte Carlo's returns come from: the package sample, else the user's local data store.

Return models are fitted on each symbol's hourly mark closes (``return_history``): the real sample shipped in
the package (Binance USDⓈ-M 1h mark prices, 2026-03-01 to 2026-04-27) for its three assets, on any venue
(BTC-USDT-SWAP, BTC, BTCUSDC are the sample's BTCUSDT: the same asset in a USD stablecoin, said in the
notes); any other symbol reads the user's local data store (``crossmargin.data.store``, filled by
``crossmargin data download|import``): the hourly, or finer resampled, mark (else trade) closes of that
venue's perpetual, else of another perpetual of the same underlying, joined with the other symbols on the
hours they share, at least ``MIN_HISTORY_HOURS`` of them and unbroken. A symbol found in neither is an
error naming the command that brings its bars: it never borrows another asset's returns.

Funding rates for the paths (``funding_rates``): the mean of the sample's last ``RECENT_SETTLEMENTS``
8-hourly rates of the symbol (a stored symbol: of its stored settlements of the last
``RECENT_FUNDING_HOURS``), scaled to the venue's interval.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

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
from crossmargin.kernels.layout import FloatArray, IntArray
from crossmargin.model import Instrument
from crossmargin.sim.market import market_from_frames
from crossmargin.venues import VENUES, get_rules
from crossmargin.venues.base import VenueRules

__all__ = [
    "HOUR_MS",
    "MIN_HISTORY_HOURS",
    "RECENT_FUNDING_HOURS",
    "RECENT_SETTLEMENTS",
    "SAME_ASSET_QUOTES",
    "SAMPLE_FUNDING_HOURS",
    "SAMPLE_ORIGIN",
    "SAMPLE_VENUE",
    "STORE_INTERVALS",
    "STORE_KINDS",
    "STORE_ORIGIN",
    "ReturnHistory",
    "ReturnSource",
    "funding_rates",
    "hourly_closes",
    "mean_funding_rate",
    "return_history",
    "sample_name",
    "sample_returns",
    "sample_symbol",
    "stored_funding_rate",
]

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
HOUR_MS = 3_600_000
#: Venue of the package sample's bars.
SAMPLE_VENUE = "binance"
#: Days of bars a suggested download asks for when no symbol of the book reads the sample (> 30 days).
_DOWNLOAD_DAYS = 45


@lru_cache(maxsize=8)
def sample_returns(symbols: tuple[str, ...]) -> FloatArray:
    """Return hourly log returns of the sample's mark closes, shape ``(hours, symbols)`` (fractions).

    The bars of all ``symbols`` (sample names such as 'BTCUSDT') are aligned on one unbroken hourly grid.
    Raises InputError for a symbol not in the sample, DataError for a gap.
    """
    frames = sample_frames(list(symbols), interval="1h", kind="mark")
    market = market_from_frames(frames, interval_ms=HOUR_MS)
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


def sample_name(instrument: Instrument) -> str | None:
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
    name = sample_name(instrument)
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
    name = sample_name(instrument)
    if name is not None:
        same = rules.name == SAMPLE_VENUE and symbol == name
        note = (
            ""
            if same
            else f"{symbol} on {rules.name} reads the sample's Binance {name}: the same asset ({instrument.base} in "
            "a USD stablecoin), another symbol or venue"
        )
        sample = str(sample_path(f"{name}-mark-1h.parquet"))
        return _Located(symbol, SAMPLE_ORIGIN, name, SAMPLE_VENUE, name, "mark", "1h", sample, note)
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
    if step == HOUR_MS:
        return pd.DataFrame({"timestamp": times, "close": closes})
    if step > HOUR_MS or HOUR_MS % step:
        raise DataError(f"{label}: {interval} bars cannot be resampled to hourly closes")
    frame = pd.DataFrame({"hour": times // HOUR_MS * HOUR_MS, "close": closes, "time": times})
    hourly = frame.groupby("hour", sort=True).agg(bars=("close", "size"), end=("time", "max"), close=("close", "last"))
    start = hourly.index.to_numpy(np.int64)
    complete = (hourly["bars"].to_numpy() == HOUR_MS // step) & (hourly["end"].to_numpy() == start + HOUR_MS - step)
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
        holes = np.flatnonzero(np.diff(inside) != HOUR_MS)
        if len(holes):
            after = int(inside[holes[0]])
            missing = int((inside[holes[0] + 1] - after) // HOUR_MS - 1)
            raise DataError(
                f"{_label(item)}: no hourly close for {missing:,} h after {iso_utc(after)} "
                f"({len(holes)} gap(s) between {iso_utc(first)} and {iso_utc(last)}); the return models need "
                "unbroken hourly closes, as the package sample is: import the missing bars "
                f"(crossmargin data import FILE --venue {item.venue} --symbol {item.series_symbol} "
                f"--kind {item.kind} --interval {item.interval})"
            )
    hours = 0 if last < first else (last - first) // HOUR_MS + 1
    if hours < MIN_HISTORY_HOURS:
        raise DataError(_short_message(closes, series, (first, last), fixes))
    grid = np.arange(first, last + 1, HOUR_MS, dtype=np.int64)
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
    hours = 0 if last < first else (last - first) // HOUR_MS + 1
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
    recent = times > times[-1] - (RECENT_FUNDING_HOURS - 0.5) * HOUR_MS
    spacing = float(np.median(np.diff(times))) / HOUR_MS if len(times) > 1 else interval_hours
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
