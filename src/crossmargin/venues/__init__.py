"""Venue rules by name: ``get_rules('binance')``. Each venue is data plus the few lines that differ."""

from __future__ import annotations

from collections.abc import Callable

from crossmargin.errors import InputError, suggest
from crossmargin.venues.base import VenueRules
from crossmargin.venues.binance import BinanceRules
from crossmargin.venues.bybit import BybitRules
from crossmargin.venues.hyperliquid import HyperliquidRules
from crossmargin.venues.okx import OkxRules
from crossmargin.venues.tables import warn_if_stale

__all__ = ["VENUES", "VenueRules", "get_rules"]

#: Venue name -> loader of its rules.
VENUES: dict[str, Callable[[], VenueRules]] = {
    "binance": BinanceRules.load,
    "bybit": BybitRules.load,
    "okx": OkxRules.load,
    "hyperliquid": HyperliquidRules.load,
}


def get_rules(name: str, *, field: str = "venue") -> VenueRules:
    """Return the rules of venue ``name``; raise InputError naming ``field`` for an unknown venue.

    When the CLI has turned staleness warnings on, a tier table more than 30 days old is reported once on stderr
    (``crossmargin.venues.tables.warn_if_stale``).
    """
    key = name.lower() if isinstance(name, str) else name
    if key not in VENUES:
        hint = suggest(str(name), VENUES)
        detail = f"unknown venue {name!r}" + (f" (did you mean {hint}?)" if hint else "")
        raise InputError(field, name, " | ".join(sorted(VENUES)), detail=detail)
    rules = VENUES[key]()
    warn_if_stale(key)
    return rules
