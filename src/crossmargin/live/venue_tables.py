"""Fetch each venue's current tier tables through ccxt and write them where the engine reads them.

``refresh_venue('bybit')`` reads the venue's public tier endpoint (Binance's needs a read-only key), converts the
answer to the shipped layout and validates it (``crossmargin.venues.tables``), refuses a result that would
replace a good table by a worse one (``check_refresh``), and writes ``<data dir>/venues/<file>`` atomically.

=============  =======================================================================================
venue          endpoint (ccxt implicit method)
=============  =======================================================================================
Binance        ``GET /fapi/v1/leverageBracket`` (``fapiPrivateGetLeverageBracket``), signed with the key
               the live monitor reads (``crossmargin.live.credentials.load_credentials('binance')``)
Bybit          ``GET /v5/market/risk-limit?category=linear`` (``publicGetV5MarketRiskLimit``), every page
               by ``nextPageCursor``
OKX            ``GET /api/v5/public/instruments?instType=SWAP`` (``publicGetPublicInstruments``), then
               ``GET /api/v5/public/position-tiers?instType=SWAP&tdMode=cross&instFamily=<family>``
               (``publicGetPublicPositionTiers``) for each linear USDT swap
Hyperliquid    ``POST /info {"type": "meta"}`` (``publicPostInfo``)
=============  =======================================================================================

Every failure is a ``CrossmarginError`` with a one-line message and nothing is written: the network or the venue
failing (``DataError``, the error class and its text without query strings or credentials), an answer of an
unexpected shape, a refusal by ``check_refresh``, a missing or refused Binance key (``InputError``). An OKX family
whose tiers the venue refuses (an error answer, not a network failure) drops that one swap, named in the report.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from crossmargin.errors import DataError, InputError
from crossmargin.live.credentials import REQUIRED, Credentials, env_var, known_venue, load_credentials
from crossmargin.venues.registry import VENUE_INFO
from crossmargin.venues.tables import (
    ConvertedTable,
    check_refresh,
    convert_binance,
    convert_bybit,
    convert_hyperliquid,
    convert_okx,
    table_payload,
    write_table,
)

__all__ = ["RefreshReport", "make_exchange", "refresh_venue"]

#: Venue -> ccxt exchange class.
_CCXT_CLASSES = {name: info.ccxt_id for name, info in VENUE_INFO.items()}
#: Most pages of Bybit's risk limits read (15 symbols a page: far more than Bybit lists).
_MAX_PAGES = 500
_TIMEOUT_MS = 30_000
_MAX_ERROR_CHARS = 300
_URL_QUERY = re.compile(r"(https?://[^\s?]+)\?\S*")


@dataclass(frozen=True, slots=True)
class RefreshReport:
    """What a refresh wrote: the file, its ``as_of`` (UTC date), the symbols written, the symbols dropped with the
    reason, and how many listings were out of scope."""

    venue: str
    path: Path
    as_of: str
    written: tuple[str, ...]
    dropped: tuple[tuple[str, str], ...]
    skipped: int


def make_exchange(venue: str, credentials: Credentials | None) -> Any:
    """Return the ccxt exchange that reads ``venue``'s tiers (rate-limited, 30 s timeout; the key for Binance)."""
    import ccxt  # noqa: PLC0415 - ccxt is loaded only when a table is refreshed

    config: dict[str, Any] = {"enableRateLimit": True, "timeout": _TIMEOUT_MS}
    if credentials is not None:
        config |= {"apiKey": credentials.api_key, "secret": credentials.api_secret}
    return getattr(ccxt, _CCXT_CLASSES[venue])(config)


def refresh_venue(
    venue: str,
    *,
    exchange: Any | None = None,
    directory: Path | None = None,
    today: date | None = None,
    factory: Callable[[str, Credentials | None], Any] | None = None,
) -> RefreshReport:
    """Fetch, convert, check and write ``venue``'s tier table; return what was written.

    ``directory``: where to write (default ``<data dir>/venues``); ``exchange``: a ccxt exchange to read through
    (default ``factory(venue, credentials)``, ``factory`` defaulting to ``make_exchange``); ``today``: the fetch
    date written as ``as_of`` (default today's UTC date). Raises ``CrossmarginError`` (one line) and writes
    nothing when the refresh fails.
    """
    key = known_venue(venue)
    as_of = (today or datetime.now(UTC).date()).isoformat()
    if exchange is None:
        credentials = _binance_key() if key == "binance" else None
        exchange = (factory or make_exchange)(key, credentials)
    converted = _fetch(key, exchange, as_of)
    check_refresh(converted)
    path = write_table(key, table_payload(converted, as_of=as_of), directory)
    return RefreshReport(key, path, as_of, tuple(converted.symbols), converted.dropped, converted.skipped)


def _binance_key() -> Credentials:
    credentials = load_credentials("binance")
    if credentials is None:
        names = " and ".join(env_var("binance", name) for name in REQUIRED["binance"])
        raise InputError(
            env_var("binance", "api_key"),
            None,
            f"a read-only Binance key in {names}",
            detail="Binance's leverage brackets (GET /fapi/v1/leverageBracket) need a read-only API key",
        )
    return credentials


def _fetch(venue: str, exchange: Any, as_of: str) -> ConvertedTable:
    """Read the venue's answer and convert it; every ccxt failure or odd shape becomes a one-line error."""
    import ccxt  # noqa: PLC0415 - see make_exchange

    readers: dict[str, Callable[[Any, str], ConvertedTable]] = {
        "binance": _read_binance,
        "bybit": _read_bybit,
        "okx": _read_okx,
        "hyperliquid": _read_hyperliquid,
    }
    secrets = tuple(s for s in (getattr(exchange, "apiKey", None), getattr(exchange, "secret", None)) if s)
    try:
        return readers[venue](exchange, as_of)
    except ccxt.AuthenticationError as error:
        raise InputError(
            env_var(venue, "api_key"),
            None,
            "a valid read-only key",
            detail=f"the venue refused the key ({_text(error, secrets)})",
        ) from None
    except ccxt.BaseError as error:
        raise DataError(_text(error, secrets)) from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise DataError(f"the venue's answer has an unexpected shape ({type(error).__name__}: {error})") from None


def _text(error: Exception, secrets: Iterable[str]) -> str:
    """Return ``Class: message`` of a ccxt error on one line, without query strings or credential values."""
    message = _URL_QUERY.sub(r"\1", " ".join(str(error).split()))
    for secret in secrets:
        message = message.replace(secret, "***")
    if len(message) > _MAX_ERROR_CHARS:
        message = message[: _MAX_ERROR_CHARS - 3] + "..."
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _read_binance(exchange: Any, as_of: str) -> ConvertedTable:
    return convert_binance(exchange.fapiPrivateGetLeverageBracket(), as_of=as_of)


def _read_bybit(exchange: Any, as_of: str) -> ConvertedTable:
    rows: list[Mapping[str, Any]] = []
    params: dict[str, str] = {"category": "linear"}
    seen: set[str] = set()
    for _ in range(_MAX_PAGES):
        result = exchange.publicGetV5MarketRiskLimit(params)["result"]
        rows.extend(result["list"])
        cursor = result.get("nextPageCursor") or ""
        if not cursor:
            return convert_bybit(rows, as_of=as_of)
        if cursor in seen:
            raise DataError(f"GET /v5/market/risk-limit returned the cursor {cursor!r} twice")
        seen.add(cursor)
        params = {"category": "linear", "cursor": cursor}
    raise DataError(f"GET /v5/market/risk-limit still had pages after {_MAX_PAGES}")


def _read_okx(exchange: Any, as_of: str) -> ConvertedTable:
    import ccxt  # noqa: PLC0415 - see make_exchange

    instruments = exchange.publicGetPublicInstruments({"instType": "SWAP"})["data"]
    families = sorted(
        {
            str(inst.get("instFamily") or inst.get("uly"))
            for inst in instruments
            if (inst.get("ctType"), inst.get("settleCcy"), inst.get("state")) == ("linear", "USDT", "live")
        }
    )
    tiers: dict[str, Any] = {}
    for family in families:
        query = {"instType": "SWAP", "tdMode": "cross", "instFamily": family}
        try:
            tiers[family] = exchange.publicGetPublicPositionTiers(query)["data"]
        except ccxt.NetworkError:
            raise
        except ccxt.ExchangeError as error:  # the venue answered, refusing this family: that swap alone is dropped
            tiers[family] = _text(error, ())
    return convert_okx(instruments, tiers, as_of=as_of)


def _read_hyperliquid(exchange: Any, as_of: str) -> ConvertedTable:
    return convert_hyperliquid(exchange.publicPostInfo({"type": "meta"}), as_of=as_of)
