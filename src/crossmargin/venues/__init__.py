"""Venue rules by name: ``get_rules('binance')``. Each venue is data plus the few lines that differ.

The venues, with their ccxt ids, settle currencies, tier files and credential keys, are listed once in
``crossmargin.venues.registry``; ``VENUES`` maps the same names to their rules' loaders.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib import import_module

from crossmargin.venues.base import VenueRules
from crossmargin.venues.registry import VENUE_INFO, venue_info
from crossmargin.venues.tables import warn_if_stale

__all__ = ["VENUES", "VenueRules", "get_rules"]

#: Venue name -> (its module under ``crossmargin.venues``, its rules class): a venue's module is imported when its
#: rules are first asked for, so that a command on one venue does not build the classes of the other three.
_RULES_CLASSES: dict[str, tuple[str, str]] = {
    "binance": ("binance", "BinanceRules"),
    "bybit": ("bybit", "BybitRules"),
    "okx": ("okx", "OkxRules"),
    "hyperliquid": ("hyperliquid", "HyperliquidRules"),
}


def _load(venue: str) -> VenueRules:
    """Return the rules of ``venue`` (a key of ``_RULES_CLASSES``), importing its module on first use."""
    module, name = _RULES_CLASSES[venue]
    rules: VenueRules = getattr(import_module(f"crossmargin.venues.{module}"), name).load()
    return rules


_LOADERS: dict[str, Callable[[], VenueRules]] = {venue: partial(_load, venue) for venue in _RULES_CLASSES}
#: Venue name -> loader of its rules, in the registry's order (every registered venue has rules).
VENUES: dict[str, Callable[[], VenueRules]] = {name: _LOADERS[name] for name in VENUE_INFO}


def get_rules(name: str, *, field: str = "venue") -> VenueRules:
    """Return the rules of venue ``name``; raise InputError naming ``field`` for an unknown venue.

    When the CLI has turned staleness warnings on, a tier table more than 30 days old is reported once on stderr
    (``crossmargin.venues.tables.warn_if_stale``).
    """
    key = venue_info(name, field=field).name
    rules = VENUES[key]()
    warn_if_stale(key)
    return rules
