"""A local store of market data as Parquet files, and the small real sample shipped with the package.

Layout: ``<root>/<venue>/<kind>/<symbol>-<interval>.parquet``, ``kind`` one of :data:`KINDS`. Bar files
(kinds ``trades``, ``mark``, ``spot``) hold the bar columns: open time in ms since the Unix epoch (UTC),
prices in the quote currency, volume in base units. Funding files hold settlement time (ms, UTC) and rate
(a fraction per settlement) and use the interval label ``event``. Symbols are stored without separators
('BTC/USDT:USDT' is stored as 'BTCUSDT'). Each file carries its venue, symbol, kind and interval as JSON in
the Parquet schema metadata under ``crossmargin.dataset``.

Writes are atomic (a temporary file in the same folder, then a rename) and merge with what is stored:
rows are united by timestamp, stored rows are kept, and a timestamp stored with other values is an error.

The package sample (``crossmargin/data/sample``, see its ``PROVENANCE.md``) is real Binance data:
``<SYMBOL>-<kind>-<interval>.parquet`` and ``<SYMBOL>-funding.csv`` for 2026-03-01 00:00 to 2026-04-27
10:00 UTC (1h trades and mark of BTCUSDT, ETHUSDT, SOLUSDT, 1h spot of BTCUSDT); the 1m trades of the same
symbols for 2025-06-10 to 2025-06-16 (``<SYMBOL>-trades-1m.parquet``), with the mark prices and funding of
those days under the window suffix ``-2025-06``.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import tempfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from crossmargin.data.load import BAR_COLUMNS, FUNDING_COLUMNS, load_bars, load_funding, plain_symbol
from crossmargin.data.validate import interval_ms, iso_utc
from crossmargin.errors import DataError, InputError, suggest
from crossmargin.paths import DATA_DIR_ENV, default_data_dir

__all__ = [
    "DATA_DIR_ENV",
    "FUNDING_INTERVAL",
    "KINDS",
    "SAMPLE_SYMBOLS",
    "DataStore",
    "default_data_dir",
    "sample_frames",
    "sample_funding",
    "sample_names",
    "sample_path",
]

#: Environment variable that overrides :func:`default_data_dir`.
#: Kinds of series: last-trade bars, mark-price bars, funding settlements, spot bars.
KINDS: tuple[str, ...] = ("trades", "mark", "funding", "spot")
#: Interval label of funding files: settlements are events, not bars.
FUNDING_INTERVAL = "event"
#: Symbols in the package sample.
SAMPLE_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")

_DATASET_KEY = b"crossmargin.dataset"
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DataStore:
    """Parquet files of bars and funding under ``root`` (see the module docstring for layout and units)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"DataStore({str(self.root)!r})"

    def path(self, venue: str, symbol: str, kind: str, interval: str) -> Path:
        """Return the file of one series: ``<root>/<venue>/<kind>/<symbol>-<interval>.parquet``.

        Raises InputError for an unknown kind, an unknown interval (funding: only ``event``), or a venue or
        symbol that cannot be a file name.
        """
        if kind not in KINDS:
            raise InputError("kind", kind, " | ".join(KINDS), detail=f"unknown kind {kind!r}")
        if kind == "funding":
            if interval != FUNDING_INTERVAL:
                raise InputError(
                    "interval", interval, FUNDING_INTERVAL, detail="funding settlements are stored as events"
                )
        else:
            interval_ms(interval)
        if not _SAFE_NAME.match(venue):
            raise InputError("venue", venue, "letters, digits, '.', '_' or '-'", detail=f"bad venue name {venue!r}")
        stored = plain_symbol(symbol)
        if not _SAFE_NAME.match(stored):
            raise InputError("symbol", symbol, "letters, digits, '.', '_' or '-'", detail=f"bad symbol {symbol!r}")
        return self.root / venue / kind / f"{stored}-{interval}.parquet"

    def write(self, frame: pd.DataFrame, venue: str, symbol: str, kind: str, interval: str) -> int:
        """Merge ``frame`` into the stored series and return how many rows were new.

        ``frame`` has the bar columns (kinds trades, mark, spot) or the funding columns (kind funding).
        Rows are united by timestamp; identical rows collapse; a timestamp whose values differ from the
        stored ones (or twice in ``frame`` with different values) raises DataError and leaves the file as
        it was. The file is replaced atomically.
        """
        target = self.path(venue, symbol, kind, interval)
        columns = FUNDING_COLUMNS if kind == "funding" else BAR_COLUMNS
        incoming = _conform(frame, columns, f"data for {target}").drop_duplicates()
        clashes = incoming["timestamp"].duplicated(keep=False).to_numpy()
        if clashes.any():
            first = int(incoming["timestamp"].to_numpy()[clashes].min())
            raise DataError(f"{target}: the new data has one timestamp with different values, {iso_utc(first)}")
        stored = self._read_file(target, columns) if target.exists() else None
        if stored is not None:
            _check_agreement(stored, incoming, target)
            incoming = incoming[~incoming["timestamp"].isin(stored["timestamp"])]
        if incoming.empty:
            return 0
        merged = incoming if stored is None else pd.concat([stored, incoming], ignore_index=True)
        merged = merged.sort_values("timestamp", kind="stable").reset_index(drop=True)
        description = {"venue": venue, "symbol": plain_symbol(symbol), "kind": kind, "interval": interval}
        _write_atomic(merged, target, description)
        return len(incoming)

    def read(self, venue: str, symbol: str, kind: str, interval: str) -> pd.DataFrame:
        """Return one stored series (bar or funding columns, times in ms UTC), sorted by time.

        Raises DataError with the path and a hint when nothing is stored for it.
        """
        target = self.path(venue, symbol, kind, interval)
        if not target.exists():
            raise DataError(
                f"no {kind} data for {symbol} {interval} on {venue} (no file {target}); "
                "run `crossmargin data import` or `crossmargin data download` first"
            )
        return self._read_file(target, FUNDING_COLUMNS if kind == "funding" else BAR_COLUMNS)

    def span(self, venue: str, symbol: str, kind: str, interval: str) -> tuple[int, int, int] | None:
        """Return (first, last, rows) of one stored series, times in ms UTC, or None if nothing is stored."""
        target = self.path(venue, symbol, kind, interval)
        return _summary(target) if target.exists() else None

    def list(self) -> builtins.list[dict[str, Any]]:
        """Return one entry per stored series: venue, symbol, kind, interval, first and last (ms UTC), rows, path."""
        entries: builtins.list[dict[str, Any]] = []
        if not self.root.is_dir():
            return entries
        for file in sorted(self.root.glob("*/*/*.parquet")):
            kind, venue = file.parent.name, file.parent.parent.name
            if file.name.startswith(".") or kind not in KINDS or "-" not in file.stem:
                continue
            symbol, interval = file.stem.rsplit("-", 1)
            first, last, rows = _summary(file)
            entries.append(
                {
                    "venue": venue,
                    "symbol": symbol,
                    "kind": kind,
                    "interval": interval,
                    "first": first,
                    "last": last,
                    "rows": rows,
                    "path": str(file),
                }
            )
        return entries

    @staticmethod
    def _read_file(target: Path, columns: tuple[str, ...]) -> pd.DataFrame:
        try:
            table = pq.read_table(target)
        except (OSError, ValueError) as error:
            raise DataError(f"{target}: unreadable Parquet ({' '.join(str(error).split())})") from None
        return _conform(table.to_pandas(), columns, str(target))


def _conform(frame: pd.DataFrame, columns: tuple[str, ...], label: str) -> pd.DataFrame:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise DataError(f"{label}: columns {[str(c) for c in frame.columns]} lack {missing} (expected {list(columns)})")
    if not pd.api.types.is_integer_dtype(frame["timestamp"]):
        raise DataError(f"{label}: timestamp must be int64 ms since the epoch, not {frame['timestamp'].dtype}")
    conformed = {"timestamp": frame["timestamp"].to_numpy(np.int64)}
    for column in columns[1:]:
        conformed[column] = pd.to_numeric(frame[column]).to_numpy(np.float64)
    return pd.DataFrame(conformed)


def _check_agreement(stored: pd.DataFrame, incoming: pd.DataFrame, target: Path) -> None:
    """Raise DataError if a timestamp in both frames carries different values (NaN equals NaN)."""
    both = stored.merge(incoming, on="timestamp", suffixes=("_stored", "_new"))
    if both.empty:
        return
    columns = [column for column in stored.columns if column != "timestamp"]
    old = both[[f"{column}_stored" for column in columns]].to_numpy(np.float64)
    new = both[[f"{column}_new" for column in columns]].to_numpy(np.float64)
    differs = (old != new) & ~(np.isnan(old) & np.isnan(new))
    rows = differs.any(axis=1)
    if not rows.any():
        return
    index = int(np.argmax(rows))
    column = int(np.argmax(differs[index]))
    raise DataError(
        f"{target}: {int(rows.sum())} new rows conflict with stored rows, first at "
        f"{iso_utc(int(both['timestamp'].iloc[index]))} ({columns[column]}: stored {old[index, column]!r}, "
        f"new {new[index, column]!r}); the stored file is unchanged"
    )


def _write_atomic(frame: pd.DataFrame, target: Path, description: dict[str, str]) -> None:
    """Write ``frame`` to a temporary file beside ``target``, then rename it over ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[_DATASET_KEY] = json.dumps(description).encode()
    table = table.replace_schema_metadata(metadata)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    try:
        pq.write_table(table, temporary, compression="zstd")
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _summary(target: Path) -> tuple[int, int, int]:
    try:
        times = pq.read_table(target, columns=["timestamp"]).column("timestamp").to_numpy()
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{target}: unreadable Parquet ({' '.join(str(error).split())})") from None
    if len(times) == 0:
        return 0, 0, 0
    return int(times.min()), int(times.max()), len(times)


def sample_names() -> list[str]:
    """Return the file names of the package sample, sorted."""
    folder = resources.files("crossmargin.data").joinpath("sample")
    return sorted(item.name for item in folder.iterdir() if item.name.endswith((".parquet", ".csv")))


def sample_path(name: str) -> Path:
    """Return the path of the package sample file ``name`` (e.g. 'BTCUSDT-trades-1h.parquet').

    Raises InputError listing the sample files for an unknown name.
    """
    resource = resources.files("crossmargin.data").joinpath("sample", name)
    if not name or "/" in name or not resource.is_file():
        known = sample_names()
        hint = suggest(name, known)
        detail = f"no sample file {name!r}" + (f" (did you mean {hint}?)" if hint else "")
        raise InputError("name", name, ", ".join(known), detail=detail)
    return Path(str(resource))


def sample_frames(
    symbols: str | Iterable[str], *, interval: str = "1h", kind: str = "trades", window: str | None = None
) -> dict[str, pd.DataFrame]:
    """Return the sample bars of each symbol (open time ms UTC, quote-currency prices, base volume).

    ``kind`` is trades, mark or spot; ``window`` None selects the main span (2026-03-01 to 2026-04-27
    10:00 UTC; and 2025-06-10 to 2025-06-16 for the 1m trades), '2025-06' the mark prices of the 1m days.
    Raises InputError for a combination the sample does not hold.
    """
    suffix = f"-{window}" if window else ""
    return {
        symbol: load_bars(sample_path(f"{symbol}-{kind}-{interval}{suffix}.parquet"), symbol=symbol)
        for symbol in _symbol_list(symbols)
    }


def sample_funding(symbols: str | Iterable[str], *, window: str | None = None) -> dict[str, pd.DataFrame]:
    """Return the sample funding settlements of each symbol (time ms UTC, rate as a fraction per settlement).

    ``window`` None gives the main span (2026-03-01 to 2026-04-27 10:00 UTC), '2025-06' the 1m days.
    """
    suffix = f"-{window}" if window else ""
    return {symbol: load_funding(sample_path(f"{symbol}-funding{suffix}.csv")) for symbol in _symbol_list(symbols)}


def _symbol_list(symbols: str | Iterable[str]) -> list[str]:
    return [symbols] if isinstance(symbols, str) else list(symbols)
