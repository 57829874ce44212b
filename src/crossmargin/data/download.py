"""Download bars and funding history through ccxt into a :class:`DataStore`, resumable page by page.

Each page is written to the store as soon as it arrives, so an interrupted download keeps what it got and
a rerun resumes after the last stored timestamp. Times are ms since the Unix epoch (UTC); ``since_ms`` is
inclusive and ``until_ms`` exclusive (a bar is taken if its open time is in [since_ms, until_ms)); bars
still open at the time of the download are never stored, since their values would change.

ccxt is imported only by :func:`make_exchange`: it takes a while to import and only downloads need it.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from crossmargin.data.load import bars_from_ccxt, funding_from_ccxt
from crossmargin.data.store import FUNDING_INTERVAL, DataStore
from crossmargin.data.validate import interval_ms, iso_utc
from crossmargin.errors import InputError, suggest
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "BAR_KINDS",
    "EXCHANGES",
    "FundingSource",
    "OhlcvSource",
    "download_bars",
    "download_funding",
    "known_venue",
    "make_exchange",
]

#: Venue name -> ccxt exchange class name (perpetual swaps).
EXCHANGES: dict[str, str] = {name: info.ccxt_id for name, info in VENUE_INFO.items()}
#: Kinds of bar series a download can fetch.
BAR_KINDS: tuple[str, ...] = ("trades", "mark", "spot")
_HOUR_MS = 3_600_000


class OhlcvSource(Protocol):
    """What :func:`download_bars` needs of an exchange: ccxt's ``fetch_ohlcv``."""

    def fetch_ohlcv(
        self, symbol: str, timeframe: str, since: int | None, limit: int | None, params: dict[str, Any]
    ) -> list[list[Any]]:
        """Return up to ``limit`` bars ``[ms, open, high, low, close, volume]`` from ``since`` on."""
        ...


class FundingSource(Protocol):
    """What :func:`download_funding` needs of an exchange: ccxt's ``fetch_funding_rate_history``."""

    def fetch_funding_rate_history(
        self, symbol: str, since: int | None, limit: int | None, params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Return up to ``limit`` settlements (dicts with ``timestamp`` ms and ``fundingRate``) from ``since`` on."""
        ...


def known_venue(venue: str) -> str:
    """Return ``venue`` in lower case if it is one of :data:`EXCHANGES`; raise InputError (field ``venue``) if not."""
    key = venue.lower()
    if key not in EXCHANGES:
        hint = suggest(venue, EXCHANGES)
        detail = f"unknown venue {venue!r}" + (f" (did you mean {hint}?)" if hint else "")
        raise InputError("venue", venue, " | ".join(EXCHANGES), detail=detail)
    return key


def make_exchange(venue: str, *, kind: str = "trades") -> Any:
    """Return a ccxt exchange for ``venue``: binance (USDⓈ-M; spot for kind 'spot'), bybit, okx or hyperliquid.

    No network traffic happens here. Raises InputError (field ``venue``) for an unknown venue.
    """
    key = known_venue(venue)
    import ccxt  # noqa: PLC0415 - see the module docstring

    name = "binance" if key == "binance" and kind == "spot" else EXCHANGES[key]
    return getattr(ccxt, name)({"enableRateLimit": True})


def download_bars(
    exchange: OhlcvSource,
    symbol: str,
    *,
    timeframe: str,
    since_ms: int,
    until_ms: int,
    store: DataStore,
    venue: str,
    kind: str = "trades",
    progress: bool = True,
    page_limit: int = 1000,
) -> int:
    """Download the bars of ``symbol`` with open times in [since_ms, until_ms) (ms UTC); return rows newly stored.

    Pages of up to ``page_limit`` bars come from ``exchange.fetch_ohlcv`` (mark prices with
    ``params={'price': 'mark'}``) and go to ``store`` under (venue, symbol, kind, timeframe) one by one.
    When the store already covers ``since_ms``, the download starts after its last bar. Raises InputError
    for a bad timeframe, kind, limit or range; DataError if a page conflicts with stored bars; whatever
    ccxt raises (network errors) after storing the pages already fetched.
    """
    step = interval_ms(timeframe)
    if kind not in BAR_KINDS:
        raise InputError("kind", kind, " | ".join(BAR_KINDS), detail=f"{kind!r} is not a kind of bars")
    _check_range(since_ms, until_ms, page_limit)
    # Bars whose open time is before the start of the current bar are closed and final.
    until_ms = min(until_ms, _now_ms() // step * step)
    cursor = _resume_point(
        store, venue=venue, symbol=symbol, kind=kind, interval=timeframe, since_ms=since_ms, step=step
    )
    params = {"price": "mark"} if kind == "mark" else {}
    written = 0
    with _Tracker(progress, f"{symbol} {kind} {timeframe} bars", cursor, until_ms, step) as tracker:
        while cursor < until_ms:
            rows = exchange.fetch_ohlcv(symbol, timeframe, cursor, page_limit, dict(params))
            page = bars_from_ccxt(rows, source=f"{venue} {symbol} {timeframe} bars from {iso_utc(cursor)}")
            page = page[(page["timestamp"] >= cursor) & (page["timestamp"] < until_ms)]
            if page.empty:
                break
            written += store.write(page, venue, symbol, kind, timeframe)
            cursor = int(page["timestamp"].max()) + step
            tracker.reached(cursor)
    return written


def download_funding(
    exchange: FundingSource,
    symbol: str,
    *,
    since_ms: int,
    until_ms: int,
    store: DataStore,
    venue: str,
    progress: bool = True,
    page_limit: int = 1000,
) -> int:
    """Download the funding settlements of ``symbol`` timed in [since_ms, until_ms) (ms UTC); return rows newly stored.

    Pages come from ``exchange.fetch_funding_rate_history`` and go to ``store`` (kind 'funding', interval
    'event') one by one; a rerun resumes after the last stored settlement. Rates are stored as the venue
    gives them: a fraction per settlement, > 0 when longs pay shorts.
    """
    _check_range(since_ms, until_ms, page_limit)
    cursor = _resume_point(
        store, venue=venue, symbol=symbol, kind="funding", interval=FUNDING_INTERVAL, since_ms=since_ms, step=1
    )
    written = 0
    with _Tracker(progress, f"{symbol} funding (hours)", cursor, until_ms, _HOUR_MS) as tracker:
        while cursor < until_ms:
            rows = exchange.fetch_funding_rate_history(symbol, cursor, page_limit, {})
            page = funding_from_ccxt(rows, source=f"{venue} {symbol} funding from {iso_utc(cursor)}")
            page = page[(page["timestamp"] >= cursor) & (page["timestamp"] < until_ms)]
            if page.empty:
                break
            written += store.write(page, venue, symbol, "funding", FUNDING_INTERVAL)
            cursor = int(page["timestamp"].max()) + 1
            tracker.reached(cursor)
    return written


def _check_range(since_ms: int, until_ms: int, page_limit: int) -> None:
    if until_ms <= since_ms:
        raise InputError("until", iso_utc(until_ms), f"a time after since ({iso_utc(since_ms)})")
    if page_limit < 1:
        raise InputError("page_limit", page_limit, "a number of rows >= 1")


def _resume_point(
    store: DataStore, *, venue: str, symbol: str, kind: str, interval: str, since_ms: int, step: int
) -> int:
    """Return where to start: after the last stored row if the store already covers ``since_ms``."""
    span = store.span(venue, symbol, kind, interval)
    if span is not None and span[2] > 0 and span[0] <= since_ms <= span[1]:
        return span[1] + step
    return since_ms


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class _Tracker:
    """A rich progress bar on stderr counting ``unit_ms`` steps from ``start_ms`` to ``end_ms``.

    Shown only on a terminal, so that piped output and error lines stay clean.
    """

    def __init__(self, show: bool, description: str, start_ms: int, end_ms: int, unit_ms: int) -> None:
        console = Console(stderr=True)
        self._start_ms = start_ms
        self._unit_ms = unit_ms
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not (show and console.is_terminal),
        )
        self._task = self._bar.add_task(description, total=max(0, -(-(end_ms - start_ms) // unit_ms)))

    def __enter__(self) -> _Tracker:
        self._bar.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._bar.stop()

    def reached(self, time_ms: int) -> None:
        """Show the work done up to ``time_ms`` (ms UTC)."""
        self._bar.update(self._task, completed=(time_ms - self._start_ms) // self._unit_ms)
