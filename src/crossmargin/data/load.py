"""Read bars and funding rates from the file formats venues and tools produce, into one frame layout.

Bars come out as columns ``timestamp`` (int64, bar **open** time in ms since the Unix epoch, UTC) and
``open, high, low, close`` (float64, price in the quote currency) and ``volume`` (float64, base units; 0
for mark-price klines), in file order. Funding comes out as ``timestamp`` (int64, settlement time in ms
since the epoch, UTC) and ``funding_rate`` (float64, a fraction per settlement: 0.0001 = 0.01 %; > 0 means
longs pay shorts). Loading converts and checks the layout only; ``validate.py`` checks the values.

Bar formats read by :func:`load_bars`:

- Parquet with the bar columns (the layout of the shared data files and of ``DataStore``);
- CSV with the bar columns, with a header line or, if headerless, exactly those six columns in that order;
- Binance public-data kline CSV (``open_time,open,high,low,close,volume,close_time,quote_volume,count,
  taker_buy_volume,taker_buy_quote_volume,ignore``), with or without the header line, or a ``.zip``
  holding such a CSV. Binance's spot dumps from 2025 on give times in microseconds; they are read as such;
- JSON holding a ccxt OHLCV list ``[[ms, open, high, low, close, volume], ...]``.

Funding formats read by :func:`load_funding`: CSV, JSON (a list of objects) or Parquet whose time column
is ``timestamp`` (this package, ccxt), ``fundingTime`` (Binance API) or ``calc_time`` (Binance public
data), and whose rate column is ``funding_rate``, ``fundingRate`` or ``last_funding_rate``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow.parquet as pq

from crossmargin.errors import DataError

__all__ = [
    "BAR_COLUMNS",
    "BINANCE_KLINE_COLUMNS",
    "FUNDING_COLUMNS",
    "bars_from_ccxt",
    "funding_from_ccxt",
    "load_bars",
    "load_funding",
    "plain_symbol",
]

#: Columns of a bar frame, in order: open time (ms, UTC), prices (quote currency), volume (base units).
BAR_COLUMNS: tuple[str, ...] = ("timestamp", "open", "high", "low", "close", "volume")
#: Columns of a funding frame: settlement time (ms, UTC) and rate (fraction per settlement).
FUNDING_COLUMNS: tuple[str, ...] = ("timestamp", "funding_rate")
#: Binance's public-data kline CSV header.
BINANCE_KLINE_COLUMNS: tuple[str, ...] = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)

_FUNDING_TIME_NAMES = ("timestamp", "fundingTime", "calc_time")
_FUNDING_RATE_NAMES = ("funding_rate", "fundingRate", "last_funding_rate")
# Binance public-data file names: BTCUSDT-5m-2025-10-10.csv (daily) or BTCUSDT-1h-2025-10.csv (monthly).
_BINANCE_DUMP_NAME = re.compile(r"^(?P<symbol>[A-Z0-9]+)-\d+[smhdwM]-\d{4}-\d{2}(-\d{2})?\.(csv|zip)$")
# Any ms timestamp before the year 5000 is below this; Binance's microsecond times are above it.
_MICROSECOND_FLOOR = 10**14


def plain_symbol(symbol: str) -> str:
    """Return ``symbol`` as a venue id without separators: 'BTC/USDT:USDT' (ccxt) -> 'BTCUSDT'; 'BTCUSDT' unchanged."""
    return symbol.split(":", 1)[0].replace("/", "")


def load_bars(path: Path | str, *, symbol: str | None = None) -> pd.DataFrame:
    """Return the bars in ``path`` as a frame with :data:`BAR_COLUMNS` (ms UTC, quote-currency prices), file order.

    ``symbol``, when given, must match the symbol the file declares (Parquet ``crossmargin.dataset``
    metadata, or a Binance public-data file name such as ``BTCUSDT-5m-2025-10-10.zip``); in a zip with
    several CSVs it selects the one named after it. Symbols compare without separators ('BTC/USDT:USDT'
    matches 'BTCUSDT').

    Raises DataError for a missing file, an unknown format, or columns that match no known layout (the
    message names the file and the columns found and expected).
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    suffix = source.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _bars_from_parquet(source, symbol)
    if suffix == ".csv":
        _check_dump_symbol(source.name, symbol, str(source))
        with source.open("rb") as handle:
            head = handle.read(4096)
        return _bars_from_csv(source, _first_line(head), str(source))
    if suffix == ".zip":
        return _bars_from_zip(source, symbol)
    if suffix == ".json":
        return _bars_from_json(source)
    raise DataError(
        f"{source}: unknown bar file type {source.suffix!r} "
        "(expected .parquet, .csv, .zip holding one Binance kline CSV, or .json with a ccxt OHLCV list)"
    )


def bars_from_ccxt(rows: Sequence[Sequence[Any]], *, source: str = "ccxt OHLCV") -> pd.DataFrame:
    """Return ccxt ``fetch_ohlcv`` rows ``[ms, open, high, low, close, volume]`` as a bar frame (ms UTC, quote prices).

    A ``None`` (ccxt's 'not given') becomes NaN, which validation then reports. Raises DataError naming
    ``source`` and the row for a row that is not a list of at least six numbers.
    """
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise DataError(
            f"{source}: expected a list of [ms, open, high, low, close, volume] rows, got {type(rows).__name__}"
        )
    for index, row in enumerate(rows):
        if not isinstance(row, Sequence) or isinstance(row, (str, bytes)) or len(row) < len(BAR_COLUMNS):
            raise DataError(f"{source}: row {index} is {row!r}, not [ms, open, high, low, close, volume]")
    frame = pd.DataFrame([list(row[: len(BAR_COLUMNS)]) for row in rows], columns=list(BAR_COLUMNS))
    return _conform_bars(frame, source)


def funding_from_ccxt(rows: Sequence[Mapping[str, Any]], *, source: str = "ccxt funding history") -> pd.DataFrame:
    """Return ccxt ``fetch_funding_rate_history`` dicts as a funding frame (ms UTC, rate as a fraction)."""
    if not isinstance(rows, Sequence) or isinstance(rows, (str, bytes)):
        raise DataError(f"{source}: expected a list of funding-rate objects, got {type(rows).__name__}")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise DataError(f"{source}: row {index} is {row!r}, not an object with 'timestamp' and 'fundingRate'")
    return _conform_funding(pd.DataFrame(list(rows)), source)


def load_funding(path: Path | str) -> pd.DataFrame:
    """Return the funding settlements in ``path`` with :data:`FUNDING_COLUMNS` (ms UTC, fraction), file order.

    Reads CSV, JSON (a list of objects, as ccxt or the Binance API return them) and Parquet; see the module
    docstring for the column names understood. Raises DataError for a missing file, an unknown format or
    columns that match no funding layout.
    """
    source = Path(path)
    if not source.is_file():
        raise DataError(f"{source}: no such file")
    suffix = source.suffix.lower()
    if suffix == ".csv":
        frame = _read_csv(source, header=True, label=str(source))
    elif suffix == ".json":
        records = _read_json(source)
        if not isinstance(records, list) or not all(isinstance(item, dict) for item in records):
            raise DataError(f"{source}: expected a JSON list of funding-rate objects (ccxt or Binance API)")
        frame = pd.DataFrame(records)
    elif suffix in (".parquet", ".pq"):
        frame = _read_parquet(source).to_pandas()
    else:
        raise DataError(f"{source}: unknown funding file type {source.suffix!r} (expected .csv, .json or .parquet)")
    return _conform_funding(frame, str(source))


def _conform_funding(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    columns = [str(column) for column in frame.columns]
    time_name = next((name for name in _FUNDING_TIME_NAMES if name in columns), None)
    rate_name = next((name for name in _FUNDING_RATE_NAMES if name in columns), None)
    if time_name is None or rate_name is None:
        if frame.empty and not columns:
            return pd.DataFrame({"timestamp": np.array([], np.int64), "funding_rate": np.array([], np.float64)})
        raise DataError(
            f"{label}: columns {columns} match no funding layout (expected a time column, one of "
            f"{list(_FUNDING_TIME_NAMES)}, and a rate column, one of {list(_FUNDING_RATE_NAMES)})"
        )
    return pd.DataFrame(
        {
            "timestamp": _as_ms(frame[time_name], label, time_name),
            "funding_rate": _as_float(frame[rate_name], label, rate_name),
        }
    )


def _bars_from_parquet(source: Path, symbol: str | None) -> pd.DataFrame:
    table = _read_parquet(source)
    metadata = table.schema.metadata or {}
    described = metadata.get(b"crossmargin.dataset")
    if symbol is not None and described is not None:
        try:
            declared = json.loads(described).get("symbol")
        except (ValueError, AttributeError):
            declared = None
        if isinstance(declared, str) and plain_symbol(declared) != plain_symbol(symbol):
            raise DataError(f"{source}: the file holds {declared}, not {symbol}")
    frame = table.to_pandas()
    missing = [column for column in BAR_COLUMNS if column not in frame.columns]
    if missing:
        raise DataError(
            f"{source}: columns {[str(c) for c in frame.columns]} lack {missing} (expected {list(BAR_COLUMNS)})"
        )
    return _conform_bars(frame, str(source))


def _bars_from_zip(source: Path, symbol: str | None) -> pd.DataFrame:
    try:
        with zipfile.ZipFile(source) as archive:
            members = [name for name in archive.namelist() if name.lower().endswith(".csv")]
            if symbol is not None and len(members) > 1:
                members = [name for name in members if Path(name).name.startswith(f"{plain_symbol(symbol)}-")]
            if len(members) != 1:
                raise DataError(
                    f"{source}: expected one kline CSV in the zip"
                    + (f" for {symbol}" if symbol else "")
                    + f", found {len(members)}: {archive.namelist()}"
                )
            member = members[0]
            data = archive.read(member)
    except zipfile.BadZipFile as error:
        raise DataError(f"{source}: not a readable zip file ({error})") from None
    label = f"{source}!{member}"
    _check_dump_symbol(Path(member).name, symbol, label)
    return _bars_from_csv(io.BytesIO(data), _first_line(data[:4096]), label)


def _bars_from_json(source: Path) -> pd.DataFrame:
    rows = _read_json(source)
    if not isinstance(rows, list):
        raise DataError(f"{source}: expected a JSON list of [ms, open, high, low, close, volume] rows (ccxt OHLCV)")
    return bars_from_ccxt(rows, source=str(source))


def _bars_from_csv(source: Path | io.BytesIO, first_line: str, label: str) -> pd.DataFrame:
    fields = [field.strip() for field in first_line.split(",")]
    if not first_line.strip():
        return _conform_bars(pd.DataFrame(columns=list(BAR_COLUMNS)), label)
    if _is_number(fields[0]):
        frame = _read_csv(source, header=False, label=label)
        if frame.shape[1] == len(BINANCE_KLINE_COLUMNS):
            frame.columns = list(BINANCE_KLINE_COLUMNS)
            return _from_binance_klines(frame, label)
        if frame.shape[1] == len(BAR_COLUMNS):
            frame.columns = list(BAR_COLUMNS)
            return _conform_bars(frame, label)
        raise DataError(
            f"{label}: {frame.shape[1]} unnamed columns match no bar layout (expected 6, {list(BAR_COLUMNS)}, "
            f"or Binance's 12, {list(BINANCE_KLINE_COLUMNS)})"
        )
    frame = _read_csv(source, header=True, label=label)
    frame.columns = [str(column).strip() for column in frame.columns]
    if all(column in frame.columns for column in BAR_COLUMNS):
        return _conform_bars(frame, label)
    if all(column in frame.columns for column in BINANCE_KLINE_COLUMNS[:6]):
        return _from_binance_klines(frame, label)
    raise DataError(
        f"{label}: columns {list(frame.columns)} match no bar layout "
        f"(expected {list(BAR_COLUMNS)} or Binance's {list(BINANCE_KLINE_COLUMNS)})"
    )


def _from_binance_klines(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    bars = frame.loc[:, list(BINANCE_KLINE_COLUMNS[:6])].rename(columns={"open_time": "timestamp"})
    bars = _conform_bars(bars, label)
    if len(bars) and int(bars["timestamp"].max()) >= _MICROSECOND_FLOOR:
        bars["timestamp"] = bars["timestamp"] // 1000
    return bars


def _conform_bars(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    converted: dict[str, Any] = {"timestamp": _as_ms(frame["timestamp"], label, "timestamp")}
    for column in BAR_COLUMNS[1:]:
        converted[column] = _as_float(frame[column], label, column)
    return pd.DataFrame(converted)


def _as_ms(series: pd.Series, label: str, column: str) -> npt.NDArray[np.int64]:
    """Return ``series`` as int64 ms since the epoch (UTC): integers, whole floats, datetimes or ISO strings."""
    if pd.api.types.is_datetime64_any_dtype(series):
        stamps = pd.DatetimeIndex(series)
        stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
        if stamps.hasnans:
            raise DataError(f"{label}: column {column!r} has missing times")
        return np.asarray((stamps - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1), dtype=np.int64)
    if pd.api.types.is_integer_dtype(series):
        return np.asarray(series.to_numpy(dtype=np.int64), dtype=np.int64)
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{label}: column {column!r} holds booleans, not times in ms since the epoch")
    numbers = pd.to_numeric(series, errors="coerce")
    textual = pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series)
    if textual and (numbers.isna() & series.notna()).any():
        try:
            parsed = pd.to_datetime(series, utc=True, format="ISO8601")
        except (ValueError, TypeError):
            bad = series[numbers.isna() & series.notna()].iloc[0]
            raise DataError(
                f"{label}: column {column!r} value {bad!r} is neither ms since the epoch nor an ISO 8601 time"
            ) from None
        return _as_ms(pd.Series(parsed), label, column)
    values = np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    bad_mask = ~np.isfinite(values) | (values != np.floor(values))
    if bad_mask.any():
        raise DataError(
            f"{label}: column {column!r} has values that are not whole ms since the epoch "
            f"({int(bad_mask.sum())} in all, first: {series.iloc[int(np.argmax(bad_mask))]})"
        )
    return values.astype(np.int64)


def _as_float(series: pd.Series, label: str, column: str) -> npt.NDArray[np.float64]:
    if pd.api.types.is_bool_dtype(series):
        raise DataError(f"{label}: column {column!r} holds booleans, not numbers")
    numbers = pd.to_numeric(series, errors="coerce")
    unreadable = numbers.isna() & series.notna()
    if unreadable.any():
        raise DataError(f"{label}: column {column!r} value {series[unreadable].iloc[0]!r} is not a number")
    return np.asarray(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _read_csv(source: Path | io.BytesIO, *, header: bool, label: str) -> pd.DataFrame:
    try:
        if not header:
            return pd.read_csv(source, header=None)
        return pd.read_csv(source)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{label}: unreadable CSV ({' '.join(str(error).split())})") from None


def _read_parquet(source: Path) -> Any:
    try:
        return pq.read_table(source)
    except (OSError, ValueError) as error:
        raise DataError(f"{source}: unreadable Parquet ({' '.join(str(error).split())})") from None


def _read_json(source: Path) -> Any:
    try:
        return json.loads(source.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise DataError(f"{source}: unreadable JSON ({error})") from None


def _first_line(head: bytes) -> str:
    return head.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff").strip()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_dump_symbol(file_name: str, symbol: str | None, label: str) -> None:
    """Raise DataError when a Binance dump's file name declares a symbol other than ``symbol``."""
    match = _BINANCE_DUMP_NAME.match(file_name)
    if symbol is not None and match is not None and match["symbol"] != plain_symbol(symbol):
        raise DataError(f"{label}: the file holds {match['symbol']}, not {symbol}")
