"""The venues' tier tables as files: which copy the engine reads, where it came from, how old it is, and how a
venue's own tier endpoint becomes a table in the shipped layout.

Four files hold the tiers (``TIER_FILES``): Binance's leverage brackets, Bybit's risk-limit tiers, OKX's position
tiers and Hyperliquid's margin tiers. Each ships in ``crossmargin/venues/data/``; ``crossmargin venues refresh``
writes a newer copy of the same name into the user's table folder, ``<data dir>/venues/`` (``user_tables_dir``;
``<data dir>`` is ``$CROSSMARGIN_DATA_DIR`` or the user data folder, as for market data). ``read_table`` returns
the user's copy when it exists and passes ``table_problems`` with no symbol rejected, else the shipped file;
``table_origin`` says which one that is.

The converters (``convert_binance``, ``convert_bybit``, ``convert_okx``, ``convert_hyperliquid``) turn the venue's
raw answer (fields as the venue names them; numbers may arrive as strings, as ccxt passes them through) into the
shipped layout, one entry per symbol with its ``source`` and ``as_of``, and reject every symbol whose tiers do
not pass ``validate_entry``. ``check_refresh`` refuses a refresh that would replace a good table by a worse one,
and ``write_table`` replaces a file atomically. Nothing here opens a network connection (that is
``crossmargin.live.venue_tables``).

When the CLI turns it on (``enable_staleness_warnings``), ``warn_if_stale`` prints one line on stderr, once per
venue and process, for a table whose ``as_of`` is more than ``STALE_AFTER_DAYS`` days before today (UTC).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache, partial
from pathlib import Path
from typing import Any, Literal, TextIO

from crossmargin.errors import DataError
from crossmargin.model import Bracket
from crossmargin.paths import default_data_dir
from crossmargin.venues.base import validate_maint_amounts
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "BTC_SYMBOL",
    "MAX_DROPPED_FRACTION",
    "SOURCES",
    "STALE_AFTER_DAYS",
    "TABLE_NAMES",
    "TIER_FILES",
    "ConvertedTable",
    "TableOrigin",
    "check_refresh",
    "convert_binance",
    "convert_bybit",
    "convert_hyperliquid",
    "convert_okx",
    "enable_staleness_warnings",
    "read_table",
    "shipped_table",
    "stale_warning",
    "table_origin",
    "table_payload",
    "table_problems",
    "user_tables_dir",
    "validate_entry",
    "warn_if_stale",
    "write_table",
]

#: Venue -> its tier file (the same name shipped and in the user's table folder).
TIER_FILES: dict[str, str] = {name: info.tier_file for name, info in VENUE_INFO.items()}
#: Venue -> its BTC perpetual, which a refreshed table must hold.
BTC_SYMBOL: dict[str, str] = {name: info.btc_symbol for name, info in VENUE_INFO.items()}
#: Venue -> what its tiers are called, for messages.
TABLE_NAMES: dict[str, str] = {name: info.tier_name for name, info in VENUE_INFO.items()}
#: Venue -> the endpoint a refreshed table is read from (its file-level ``source``).
SOURCES: dict[str, str] = {
    "binance": "Binance GET /fapi/v1/leverageBracket (notional and leverage brackets of the account's read-only "
    "key, every symbol), through ccxt; written by crossmargin venues refresh",
    "bybit": "Bybit GET /v5/market/risk-limit?category=linear (every page, following nextPageCursor), through ccxt; "
    "written by crossmargin venues refresh",
    "okx": "OKX GET /api/v5/public/position-tiers?instType=SWAP&tdMode=cross (one request per instFamily) and "
    "GET /api/v5/public/instruments?instType=SWAP (ctVal), through ccxt; written by crossmargin venues refresh",
    "hyperliquid": 'Hyperliquid POST /info {"type": "meta"} (universe and marginTables), through ccxt; written by '
    "crossmargin venues refresh",
}
#: A table whose ``as_of`` is more than this many days before today (UTC) is stale.
STALE_AFTER_DAYS = 30
#: A refresh is refused when more than this fraction of the in-scope symbols fail validation (one always may).
MAX_DROPPED_FRACTION = 0.05

_VENUE_OF_FILE = {filename: venue for venue, filename in TIER_FILES.items()}
#: Venue -> (key of a symbol's tier rows, width of a row).
_ROWS: dict[str, tuple[str, int]] = {
    "binance": ("brackets", 5),
    "bybit": ("brackets", 5),
    "okx": ("tiers", 5),
    "hyperliquid": ("margin_tiers", 2),
}
_AS_OF = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?\Z")


@dataclass(slots=True)
class _WarningState:
    """Whether ``warn_if_stale`` prints, and the venues it has already warned about in this process."""

    enabled: bool = False
    warned: set[str] = field(default_factory=set)


_warnings = _WarningState()


@dataclass(frozen=True, slots=True)
class TableOrigin:
    """Where a venue table in use was read: the file, whether shipped or refreshed, and its ``as_of`` and ``source``."""

    path: Path
    origin: Literal["shipped", "refreshed"]
    as_of: str
    source: str


@dataclass(frozen=True, slots=True)
class ConvertedTable:
    """A venue's answer in the shipped layout: validated entries by symbol, the symbols rejected (with the reason)
    and how many listings were out of scope (another settlement currency, dated, inverse or delisted)."""

    venue: str
    symbols: Mapping[str, Mapping[str, Any]]
    dropped: tuple[tuple[str, str], ...]
    skipped: int
    notes: tuple[str, ...] = ()


# -- reading ---------------------------------------------------------------------------------------------------


def user_tables_dir() -> Path:
    """Return the user's table folder, ``<data dir>/venues`` (``crossmargin.paths.default_data_dir``)."""
    return default_data_dir() / "venues"


@cache
def shipped_table(filename: str) -> Any:
    """Return the parsed JSON file ``filename`` shipped in ``crossmargin/venues/data``.

    Parsed once per process (package data does not change): the rules' loader and the staleness check read
    the same object, which callers must not mutate.
    """
    return json.loads(_shipped_path(filename).read_text(encoding="utf-8"))


def read_table(filename: str) -> Any:
    """Return the parsed table ``filename``: the user's refreshed copy of a tier file when it is valid, else the
    shipped file (always the shipped file for the parameter files)."""
    venue = _VENUE_OF_FILE.get(filename)
    refreshed = None if venue is None else _refreshed_table(venue)
    return shipped_table(filename) if refreshed is None else refreshed


def table_origin(filename: str) -> TableOrigin:
    """Return which copy of ``filename`` ``read_table`` uses, with its file-level ``as_of`` and ``source``."""
    venue = _VENUE_OF_FILE.get(filename)
    refreshed = None if venue is None else _refreshed_table(venue)
    if refreshed is not None:
        return TableOrigin(user_tables_dir() / filename, "refreshed", refreshed["as_of"], refreshed["source"])
    shipped = _shipped_header(filename)
    return TableOrigin(
        _shipped_path(filename), "shipped", str(shipped.get("as_of", "")), str(shipped.get("source", ""))
    )


def _shipped_path(filename: str) -> Path:
    # The package's own folder (not importlib.resources, whose import costs a command start ~10 ms): the
    # package is installed as files, as every other package-data read here assumes.
    return Path(__file__).with_name("data") / filename


@cache
def _shipped_header(filename: str) -> Mapping[str, Any]:
    """Return the shipped file's top-level fields other than ``symbols`` (read once; callers copy, never mutate)."""
    return {key: value for key, value in shipped_table(filename).items() if key != "symbols"}


def _refreshed_table(venue: str) -> dict[str, Any] | None:
    """Return the user's table of ``venue`` if it is readable JSON of the expected shape, every symbol valid.

    Parsed and validated once per version of the file (its inode, size and modification time): a command reads
    the rules and the staleness line from one validation. Callers must not mutate the result.
    """
    path = user_tables_dir() / TIER_FILES[venue]
    try:
        stat = path.stat()
    except OSError:  # absent or unreadable folder
        return None
    return _validated_table(venue, path, (stat.st_ino, stat.st_size, stat.st_mtime_ns))


@lru_cache(maxsize=16)
def _validated_table(venue: str, path: Path, version: tuple[int, int, int]) -> dict[str, Any] | None:
    """Return the parsed table at ``path`` when valid for ``venue``, else None (``version``: the cache key only)."""
    del version
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if table_problems(venue, payload):
            return None
    except (OSError, ValueError):  # unreadable, not JSON (UnicodeDecodeError is a ValueError) or wrong shape
        return None
    return dict(payload)


def table_problems(venue: str, payload: Any) -> list[tuple[str, str]]:
    """Return ``[(symbol, reason)]`` for every symbol of a table that fails ``validate_entry``.

    Raises ValueError when the file itself is not a table of ``venue`` in the shipped layout: not an object, another
    venue, other columns, no ``source`` or readable ``as_of``, or no symbols.
    """
    if not isinstance(payload, dict) or payload.get("venue") != venue:
        raise ValueError(f"not a {venue} table")
    if payload.get("columns") != _shipped_header(TIER_FILES[venue])["columns"]:
        raise ValueError("columns differ from the shipped table")
    if not isinstance(payload.get("source"), str) or _as_of_date(payload.get("as_of")) is None:
        raise ValueError("no source or no readable as_of")
    symbols = payload.get("symbols")
    if not isinstance(symbols, dict) or not symbols:
        raise ValueError("no symbols")
    return [(symbol, reason) for symbol, entry in symbols.items() if (reason := _entry_problem(venue, symbol, entry))]


def _entry_problem(venue: str, symbol: str, entry: Any) -> str:
    try:
        validate_entry(venue, symbol, entry)
    except ValueError as error:
        return str(error)
    return ""


# -- validation ------------------------------------------------------------------------------------------------


def validate_entry(venue: str, symbol: str, entry: Any) -> None:
    """Raise ValueError (the reason) unless one symbol's entry is a valid table of ``venue`` in the shipped layout.

    Checked: ``base``, ``quote`` (and OKX's ``contract_value``) present; every tier row of the right width and of
    finite numbers; floors contiguous from 0 (each tier starts where the previous one ends), caps strictly
    increasing, maintenance rates non-decreasing within (0, 1), max leverage non-increasing and >= 1; and, for
    Binance, Bybit and Hyperliquid, maintenance amounts following the deduction recursion
    (``validate_maint_amounts``). Hyperliquid's rows are ``[lower bound, max leverage]``, its rate
    ``1 / (2 x max leverage)`` and its last tier open-ended.
    """
    if not isinstance(entry, dict):
        raise ValueError("entry is not an object")
    for key in ("base", "quote"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ValueError(f"no {key}")
    if venue == "okx" and not _positive(entry.get("contract_value")):
        raise ValueError("contract_value is not a positive number")
    key, width = _ROWS[venue]
    rows = entry.get(key)
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"no {key}")
    for index, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != width or not all(_finite(value) for value in row):
            raise ValueError(f"tier {index} is not a row of {width} finite numbers")
    tiers = _tiers(venue, rows)
    _check_ladder(tiers)
    if venue != "okx":  # OKX charges the tier's rate on the whole position: there is no deduction
        brackets = tuple(
            Bracket(floor=floor, cap=cap, mm_rate=rate, maint_amount=amount, max_leverage=leverage)
            for floor, cap, rate, amount, leverage in tiers
        )
        validate_maint_amounts(symbol, brackets)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _positive(value: Any) -> bool:
    return _finite(value) and value > 0


#: One tier as validated: (floor, cap, maintenance rate, maintenance amount, max leverage).
_Tier = tuple[float, float, float, float, float]


def _tiers(venue: str, rows: list[list[float]]) -> list[_Tier]:
    if venue == "hyperliquid":
        for index, row in enumerate(rows, start=1):
            if row[1] < 1:
                raise ValueError(f"tier {index}: max leverage {row[1]:g} is below 1")
        bounds = [float(row[0]) for row in rows]
        rates = [1 / (2 * row[1]) for row in rows]
        amounts = [0.0]
        for index in range(1, len(rows)):
            amounts.append(amounts[-1] + bounds[index] * (rates[index] - rates[index - 1]))
        caps = [*bounds[1:], math.inf]
        return [(bounds[i], caps[i], rates[i], amounts[i], rows[i][1]) for i in range(len(rows))]
    if venue == "okx":  # [min contracts, max contracts, mm rate, im rate, max leverage]: no maintenance amount
        return [(r[0], r[1], r[2], 0.0, r[4]) for r in rows]
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def _check_ladder(tiers: Sequence[_Tier]) -> None:
    """Raise ValueError unless the tiers form one ladder from 0 without gaps, as ``validate_entry`` describes."""
    previous: _Tier | None = None
    for index, (floor, cap, mm_rate, _, leverage) in enumerate(tiers, start=1):
        expected_floor = 0.0 if previous is None else previous[1]
        if floor != expected_floor:
            raise ValueError(f"tier {index} starts at {floor:g}, not at {expected_floor:g}: a gap or overlap")
        if not cap > floor:
            raise ValueError(f"tier {index}: cap {cap:g} is not above its floor {floor:g}")
        if not 0 < mm_rate < 1:
            raise ValueError(f"tier {index}: maintenance rate {mm_rate:g} is not in (0, 1)")
        if leverage < 1:
            raise ValueError(f"tier {index}: max leverage {leverage:g} is below 1")
        if previous is not None and mm_rate < previous[2]:
            raise ValueError(f"tier {index}: maintenance rate {mm_rate:g} falls below tier {index - 1}'s")
        if previous is not None and leverage > previous[4]:
            raise ValueError(f"tier {index}: max leverage {leverage:g} rises above tier {index - 1}'s")
        previous = (floor, cap, mm_rate, 0.0, leverage)


# -- conversion of the venues' answers ---------------------------------------------------------------------------


def _number(value: Any, field: str) -> float:
    """Return ``value`` (a JSON number, or a numeric string as ccxt passes numbers on) as a finite float."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{field} {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{field} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} {value!r} is not finite")
    return number


def _compact(number: float) -> int | float:
    """Return ``number`` as an int when it is whole (leverage and contract counts, as the venues list them)."""
    return int(number) if number.is_integer() else number


def _reason(error: Exception) -> str:
    return f"missing field {error}" if isinstance(error, KeyError) else str(error)


def _finish(
    venue: str,
    candidates: Mapping[str, Callable[[], dict[str, Any]]],
    *,
    dropped: Iterable[tuple[str, str]] = (),
    skipped: int = 0,
    notes: tuple[str, ...] = (),
) -> ConvertedTable:
    """Build each candidate entry and keep those that pass ``validate_entry``; the others are dropped, named."""
    kept: dict[str, dict[str, Any]] = {}
    rejected = list(dropped)
    for symbol, build in candidates.items():
        try:
            entry = build()
            validate_entry(venue, symbol, entry)
        except (KeyError, TypeError, ValueError) as error:
            rejected.append((symbol, _reason(error)))
            continue
        kept[symbol] = entry
    return ConvertedTable(venue, dict(sorted(kept.items())), tuple(sorted(rejected)), skipped, notes)


def convert_binance(answer: Any, *, as_of: str) -> ConvertedTable:
    """Return Binance's ``GET /fapi/v1/leverageBracket`` answer in the shipped layout.

    ``answer``: ``[{symbol, notionalCoef?, brackets: [{bracket, initialLeverage, notionalCap, notionalFloor,
    maintMarginRatio, cum}]}]``. Kept: the linear perpetuals settled in USDT or USDC (symbol ending in the
    currency, no ``_`` delivery date); ``[floor, cap, mm_rate, maint_amount, max_leverage]`` =
    ``[notionalFloor, notionalCap, maintMarginRatio, cum, initialLeverage]`` (USDT/USDC notional; fractions).
    A ``notionalCoef`` means the account's own brackets differ from the default: those symbols are named in notes.
    """
    candidates: dict[str, Callable[[], dict[str, Any]]] = {}
    skipped = 0
    adjusted: list[str] = []
    for item in answer:
        symbol = str(item.get("symbol", ""))
        quote = next((q for q in ("USDT", "USDC") if symbol.endswith(q) and len(symbol) > len(q)), None)
        if quote is None or "_" in symbol:
            skipped += 1
            continue
        if item.get("notionalCoef") not in (None, 1, 1.0, "1", "1.0"):
            adjusted.append(symbol)
        candidates[symbol] = partial(_binance_entry, item, symbol, quote, as_of)
    notes = (
        (f"notionalCoef set (the key's account has its own brackets) for: {', '.join(sorted(adjusted))}",)
        if adjusted
        else ()
    )
    return _finish("binance", candidates, skipped=skipped, notes=notes)


def _binance_entry(item: Mapping[str, Any], symbol: str, quote: str, as_of: str) -> dict[str, Any]:
    rows = sorted(item["brackets"], key=lambda row: _number(row["bracket"], "bracket"))
    brackets = [
        [
            _number(row["notionalFloor"], "notionalFloor"),
            _number(row["notionalCap"], "notionalCap"),
            _number(row["maintMarginRatio"], "maintMarginRatio"),
            _number(row["cum"], "cum"),
            _compact(_number(row["initialLeverage"], "initialLeverage")),
        ]
        for row in rows
    ]
    return {
        "base": symbol.removesuffix(quote),
        "quote": quote,
        "source": f"GET /fapi/v1/leverageBracket, symbol {symbol}",
        "as_of": as_of,
        "brackets": brackets,
    }


def convert_bybit(rows: Any, *, as_of: str) -> ConvertedTable:
    """Return Bybit's ``GET /v5/market/risk-limit?category=linear`` rows (all pages) in the shipped layout.

    A row is one tier: ``{symbol, riskLimitValue, maintenanceMargin, mmDeduction, maxLeverage, ...}``. Kept: the
    USDT perpetuals (symbol ending in USDT, no ``-`` delivery date). A symbol's tiers are sorted by risk limit;
    ``floor`` = the previous tier's risk limit (0 for the first), ``cap`` = its risk limit, ``maint_amount`` =
    ``mmDeduction`` (USDT of position value; Bybit sends it empty on the first tier, where it is 0; empty on a later
    tier the symbol is dropped).
    """
    tiers_of: dict[str, list[Mapping[str, Any]]] = {}
    outside: set[str] = set()
    for row in rows:
        symbol = str(row.get("symbol", ""))
        if symbol.endswith("USDT") and len(symbol) > 4 and "-" not in symbol:
            tiers_of.setdefault(symbol, []).append(row)
        else:
            outside.add(symbol)
    candidates = {symbol: partial(_bybit_entry, symbol, tiers, as_of) for symbol, tiers in tiers_of.items()}
    return _finish("bybit", candidates, skipped=len(outside))


def _bybit_entry(symbol: str, tiers: Sequence[Mapping[str, Any]], as_of: str) -> dict[str, Any]:
    return {
        "base": symbol.removesuffix("USDT"),
        "quote": "USDT",
        "source": f"GET /v5/market/risk-limit?category=linear, symbol {symbol}",
        "as_of": as_of,
        "brackets": _bybit_rows(tiers),
    }


def _bybit_rows(tiers: Sequence[Mapping[str, Any]]) -> list[list[float]]:
    rows: list[list[float]] = []
    floor = 0.0
    for index, tier in enumerate(sorted(tiers, key=lambda t: _number(t["riskLimitValue"], "riskLimitValue")), start=1):
        cap = _number(tier["riskLimitValue"], "riskLimitValue")
        deduction = tier.get("mmDeduction")
        if deduction in (None, "") and index > 1:
            raise ValueError(f"tier {index} has no mmDeduction")
        amount = 0.0 if deduction in (None, "") else _number(deduction, "mmDeduction")
        mm_rate = _number(tier["maintenanceMargin"], "maintenanceMargin")
        rows.append([floor, cap, mm_rate, amount, _compact(_number(tier["maxLeverage"], "maxLeverage"))])
        floor = cap
    return rows


def convert_okx(instruments: Any, tiers_by_family: Mapping[str, Any], *, as_of: str) -> ConvertedTable:
    """Return OKX's swap instruments and position tiers in the shipped layout.

    ``instruments``: the ``data`` of ``GET /api/v5/public/instruments?instType=SWAP``; kept: live linear swaps
    settled in USDT, ``contract_value`` = ``ctVal`` (``ctValCcy`` units per contract). ``tiers_by_family``: instrument
    family -> the ``data`` of ``GET /api/v5/public/position-tiers`` for it (rows of other families are ignored), or
    the venue's refusal as text (the symbol is dropped with it). Rows ``[min, max contracts, mmr, imr, max
    leverage]`` with min = the previous tier's max (OKX's minSz is the previous maxSz + 1; tier 1 must start at 0).
    """
    candidates: dict[str, Callable[[], dict[str, Any]]] = {}
    dropped: list[tuple[str, str]] = []
    skipped = 0
    for inst in instruments:
        if (inst.get("ctType"), inst.get("settleCcy"), inst.get("state")) != ("linear", "USDT", "live"):
            skipped += 1
            continue
        symbol = str(inst.get("instId", ""))
        family = inst.get("instFamily") or inst.get("uly")
        answer = tiers_by_family.get(family)
        if isinstance(answer, str):
            dropped.append((symbol, f"position-tiers refused: {answer}"))
            continue
        rows = [row for row in answer or () if (row.get("instFamily") or row.get("uly")) == family]
        candidates[symbol] = partial(_okx_entry, inst, rows, str(family), as_of)
    return _finish("okx", candidates, dropped=dropped, skipped=skipped)


def _okx_entry(inst: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], family: str, as_of: str) -> dict[str, Any]:
    if not rows:
        raise ValueError(f"no position tiers returned for {family}")
    tiers: list[list[float]] = []
    previous_max = 0.0
    for index, row in enumerate(sorted(rows, key=lambda r: _number(r["tier"], "tier")), start=1):
        low, high = _number(row["minSz"], "minSz"), _number(row["maxSz"], "maxSz")
        allowed = (0.0,) if index == 1 else (previous_max, previous_max + 1)
        if low not in allowed:
            raise ValueError(f"tier {index} starts at {low:g} contracts, after {previous_max:g}: a gap or overlap")
        mmr, imr = _number(row["mmr"], "mmr"), _number(row["imr"], "imr")
        leverage = _compact(_number(row["maxLever"], "maxLever"))
        tiers.append([_compact(previous_max), _compact(high), mmr, imr, leverage])
        previous_max = high
    return {
        "base": str(inst["ctValCcy"]),
        "quote": "USDT",
        "contract_value": _number(inst["ctVal"], "ctVal"),
        "source": f"GET /api/v5/public/position-tiers?instType=SWAP&tdMode=cross&instFamily={family}; ctVal from "
        "GET /api/v5/public/instruments?instType=SWAP",
        "as_of": as_of,
        "tdMode": "cross",
        "tiers_complete": True,
        "explicit_tiers": len(tiers),
        "tiers": tiers,
    }


def convert_hyperliquid(meta: Any, *, as_of: str) -> ConvertedTable:
    """Return Hyperliquid's ``POST /info {"type": "meta"}`` answer in the shipped layout.

    ``universe`` lists the perps (``name``, ``maxLeverage``, ``marginTableId``, ``isDelisted``); ``marginTables``
    is ``[[id, {marginTiers: [{lowerBound, maxLeverage}]}]]``. A table id below 50 is one tier whose max leverage is
    the id (Hyperliquid docs 'Margin tiers'); an asset without ``marginTableId`` has one tier at its
    ``maxLeverage``. Rows ``[lower bound (USDC notional), max leverage]``. Delisted perps are left out; an asset
    whose first tier disagrees with its ``maxLeverage``, or whose table is not in the answer, is dropped.
    """
    tables = {
        int(_number(table_id, "marginTableId")): body["marginTiers"] for table_id, body in meta.get("marginTables", ())
    }
    candidates: dict[str, Callable[[], dict[str, Any]]] = {}
    skipped = 0
    for asset in meta["universe"]:
        if asset.get("isDelisted"):
            skipped += 1
            continue
        candidates[str(asset["name"])] = partial(_hyperliquid_entry, asset, tables, as_of)
    return _finish("hyperliquid", candidates, skipped=skipped)


def _hyperliquid_entry(asset: Mapping[str, Any], tables: Mapping[int, Any], as_of: str) -> dict[str, Any]:
    return {
        "base": str(asset["name"]),
        "quote": "USDC",
        "source": 'POST /info {"type": "meta"}, universe and marginTables',
        "as_of": as_of,
        "margin_tiers": _hyperliquid_rows(asset, tables),
    }


def _hyperliquid_rows(asset: Mapping[str, Any], tables: Mapping[int, Any]) -> list[list[float]]:
    leverage = _number(asset["maxLeverage"], "maxLeverage")
    if "marginTableId" not in asset:  # answers from before margin tables: one tier at the asset's max leverage
        return [[0, _compact(leverage)]]
    table_id = int(_number(asset["marginTableId"], "marginTableId"))
    if table_id in tables:
        tiers = sorted(tables[table_id], key=lambda t: _number(t["lowerBound"], "lowerBound"))
        rows = [
            [_compact(_number(t["lowerBound"], "lowerBound")), _compact(_number(t["maxLeverage"], "maxLeverage"))]
            for t in tiers
        ]
    elif table_id < 50:
        rows = [[0, table_id]]
    else:
        raise ValueError(f"margin table {table_id} is not in the answer")
    if not rows or rows[0][1] != leverage:
        raise ValueError(f"margin table {table_id} does not start at the asset's max leverage {leverage:g}")
    return rows


# -- refreshing ------------------------------------------------------------------------------------------------


def check_refresh(converted: ConvertedTable) -> None:
    """Raise DataError unless ``converted`` may replace the venue's table: it holds symbols, among them the venue's
    BTC perpetual, and no more than ``MAX_DROPPED_FRACTION`` of the in-scope symbols (at least one) failed."""
    venue, kept, dropped = converted.venue, converted.symbols, converted.dropped
    reasons = dict(dropped)
    btc = BTC_SYMBOL[venue]
    if btc in reasons:
        raise DataError(f"{btc} was dropped ({reasons[btc]})")
    if not kept:
        detail = f": {_listed(dropped)}" if dropped else ""
        raise DataError(f"the answer held no valid {venue} perpetual{detail}")
    if btc not in kept:
        raise DataError(f"{btc} is missing from the answer")
    allowed = max(1.0, MAX_DROPPED_FRACTION * (len(kept) + len(dropped)))
    if len(dropped) > allowed:
        raise DataError(
            f"{len(dropped)} of {len(kept) + len(dropped)} symbols failed validation (at most {int(allowed)} may): "
            f"{_listed(dropped)}"
        )


def _listed(dropped: Sequence[tuple[str, str]], limit: int = 5) -> str:
    shown = "; ".join(f"{symbol} ({reason})" for symbol, reason in dropped[:limit])
    return shown + (f"; and {len(dropped) - limit} more" if len(dropped) > limit else "")


def table_payload(converted: ConvertedTable, *, as_of: str) -> dict[str, Any]:
    """Return the file of a refreshed table: the shipped file's header (venue, market, columns, units ...), the
    endpoint as ``source``, the fetch date as ``as_of``, notes on what was left out, and the symbols."""
    venue = converted.venue
    header = {
        key: value
        for key, value in _shipped_header(TIER_FILES[venue]).items()
        if key not in ("source", "as_of", "notes")
    }
    notes = [
        f"Refreshed from the venue on {as_of} (UTC): {len(converted.symbols)} symbols; {converted.skipped} listings "
        "out of scope (another settlement currency, dated, inverse or delisted) were left out.",
        *converted.notes,
    ]
    if converted.dropped:
        notes.append(f"Dropped, failing validation: {_listed(converted.dropped, limit=len(converted.dropped))}")
    return {**header, "source": SOURCES[venue], "as_of": as_of, "notes": notes, "symbols": dict(converted.symbols)}


def write_table(venue: str, payload: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write ``payload`` as the venue's tier file in ``directory`` (default ``user_tables_dir()``) and return its path.

    Atomic: the JSON goes to a temporary file in the same folder, which then replaces the old file
    (``os.replace``), so a reader sees either the old table or the new one. Raises DataError if it cannot be written
    (the old file is then untouched).
    """
    folder = user_tables_dir() if directory is None else directory
    target = folder / TIER_FILES[venue]
    temporary: str | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        import tempfile  # noqa: PLC0415 - only a refresh writes a table

        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=f".{target.name}.", suffix=".tmp", delete=False
        ) as handle:
            temporary = handle.name
            json.dump(payload, handle, indent=1, allow_nan=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except (OSError, ValueError) as error:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
        raise DataError(f"cannot write {target}: {error}") from None
    return target


# -- staleness ---------------------------------------------------------------------------------------------------


def enable_staleness_warnings(enabled: bool = True) -> None:
    """Turn ``warn_if_stale`` on (the CLI does, at start) or off (the default: library use stays silent)."""
    _warnings.enabled = enabled


def _as_of_date(as_of: Any) -> date | None:
    """Return the last day an ``as_of`` ('YYYY-MM-DD', or 'YYYY-MM': that month's last day) can mean, or None."""
    match = _AS_OF.match(as_of) if isinstance(as_of, str) else None
    if match is None:
        return None
    year, month = int(match[1]), int(match[2])
    try:
        if match[3]:
            return date(year, month, int(match[3]))
        if not 1 <= month <= 12:
            return None
        return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)  # the month's last day
    except ValueError:
        return None


def stale_warning(venue: str, *, today: date | None = None) -> str | None:
    """Return the warning line for ``venue``'s table in use when it is more than ``STALE_AFTER_DAYS`` days old
    (against today's UTC date; a month-only ``as_of`` counts from that month's last day), else None."""
    origin = table_origin(TIER_FILES[venue])
    current = today or datetime.now(UTC).date()
    as_of = _as_of_date(origin.as_of)
    if as_of is not None and (current - as_of).days <= STALE_AFTER_DAYS:
        return None
    shown = origin.as_of if as_of is not None else f"{origin.as_of or 'an unknown date'} (unreadable)"
    return (
        f"warning: {venue} {TABLE_NAMES[venue]} are as of {shown} (more than {STALE_AFTER_DAYS} days old); "
        f"refresh with: crossmargin venues refresh --venue {venue}"
    )


def warn_if_stale(venue: str, *, today: date | None = None, stream: TextIO | None = None) -> None:
    """Print ``stale_warning(venue)`` on ``stream`` (stderr) once per venue and process, when warnings are on."""
    if not _warnings.enabled or venue in _warnings.warned:
        return
    _warnings.warned.add(venue)
    line = stale_warning(venue, today=today)
    if line is not None:
        print(line, file=stream or sys.stderr)
