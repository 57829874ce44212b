"""The one registry of venues: for each, its ccxt exchange, settlement currency, tier file, credentials and
the fields of its raw API answers that the live reader reads.

Every module that names a venue's ccxt id, settle currency, tier table or credential keys reads them here
(``crossmargin.venues.get_rules`` for the rules, ``live.ccxt_reader``, ``live.credentials``,
``live.venue_tables``, ``data.download``, ``venues.tables``), so that a venue is added in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from crossmargin.errors import InputError, suggest

__all__ = ["VENUE_INFO", "LiveFields", "VenueInfo", "venue_info"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveFields:
    """Where a venue's raw figures live in ccxt's ``info`` of a position or ticker.

    ``raw_id``: the venue's id of a position or ticker; ``raw_mark``: a ticker's mark price;
    ``maint_margin``: a position's maintenance margin (quote currency), None where the venue gives none;
    ``ticker_params`` / ``position_params``: params of ``fetch_tickers`` (where ``fetch_mark_prices`` is
    missing) and ``fetch_positions`` that restrict them to the perpetual swaps.
    """

    raw_id: str
    raw_mark: str
    maint_margin: str | None
    ticker_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    position_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueInfo:
    """One venue: ``name`` as portfolio files spell it, ``ccxt_id`` (the ccxt exchange class of its linear
    perpetuals), ``settle`` (settlement currency), ``tier_file`` (its tier table in ``venues/data`` and in the
    user's table folder), ``tier_name`` (what the venue calls its tiers), ``btc_symbol`` (its BTC perpetual),
    ``credential_keys`` (what a read-only account reader needs) and ``live`` (fields of its raw answers).
    """

    name: str
    ccxt_id: str
    settle: str
    tier_file: str
    tier_name: str
    btc_symbol: str
    credential_keys: tuple[str, ...]
    live: LiveFields


VENUE_INFO: Mapping[str, VenueInfo] = MappingProxyType(
    {
        "binance": VenueInfo(
            name="binance",
            ccxt_id="binanceusdm",
            settle="USDT",
            tier_file="binance_usdm.json",
            tier_name="leverage brackets",
            btc_symbol="BTCUSDT",
            credential_keys=("api_key", "api_secret"),
            live=LiveFields(raw_id="symbol", raw_mark="markPrice", maint_margin="maintMargin"),
        ),
        "bybit": VenueInfo(
            name="bybit",
            ccxt_id="bybit",
            settle="USDT",
            tier_file="bybit_linear.json",
            tier_name="risk-limit tiers",
            btc_symbol="BTCUSDT",
            credential_keys=("api_key", "api_secret"),
            live=LiveFields(
                raw_id="symbol",
                raw_mark="markPrice",
                maint_margin="positionMM",
                ticker_params=MappingProxyType({"type": "swap", "subType": "linear"}),
            ),
        ),
        "okx": VenueInfo(
            name="okx",
            ccxt_id="okx",
            settle="USDT",
            tier_file="okx_swap.json",
            tier_name="position tiers",
            btc_symbol="BTC-USDT-SWAP",
            credential_keys=("api_key", "api_secret", "password"),
            live=LiveFields(
                raw_id="instId",
                raw_mark="markPx",
                maint_margin="mmr",
                position_params=MappingProxyType({"instType": "SWAP"}),
            ),
        ),
        "hyperliquid": VenueInfo(
            name="hyperliquid",
            ccxt_id="hyperliquid",
            settle="USDC",
            tier_file="hyperliquid_perps.json",
            tier_name="margin tiers",
            btc_symbol="BTC",
            credential_keys=("wallet",),
            live=LiveFields(
                raw_id="coin", raw_mark="markPx", maint_margin=None, ticker_params=MappingProxyType({"type": "swap"})
            ),
        ),
    }
)


def venue_info(name: object, *, field: str = "venue") -> VenueInfo:
    """Return the registry entry of venue ``name`` (any case); raise InputError naming ``field`` otherwise."""
    key = name.lower() if isinstance(name, str) else name
    if not isinstance(key, str) or key not in VENUE_INFO:
        hint = suggest(str(name), VENUE_INFO)
        detail = f"unknown venue {name!r}" + (f" (did you mean {hint}?)" if hint else "")
        raise InputError(field, name, " | ".join(sorted(VENUE_INFO)), detail=detail)
    return VENUE_INFO[key]
