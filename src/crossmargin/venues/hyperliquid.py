"""Hyperliquid USDC perpetuals: margin tiers from max leverage, fees, hourly funding, partial liquidation.

Tables: ``data/hyperliquid_perps.json`` (per asset, margin tiers as ``[lower bound notional, max
leverage]``) and ``data/hyperliquid_perps_params.json`` (fees, funding, leverage, the maintenance and
liquidation-price rules, liquidation procedure, transfer rule), each with ``source`` and ``as_of``.

What differs from Binance (the rest is ``TieredRules``):

- Maintenance margin rate is half the initial margin rate at the tier's max leverage,
  ``1 / (2 x max leverage)``; the tier's deduction follows the same recursion as Binance's ``cum``. The
  docs' liquidation price ``liq = price - side x margin_available / size / (1 - l x side)`` is the shared
  formula with ``m = l`` (``crossmargin.margin.liquidation``).
- No hedge mode; integer leverage; funding every hour on the oracle price; no liquidation fee; positions
  above 100,000 USDC are liquidated 20 % at a time, and a backstop takes pools below 2/3 of their MM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from crossmargin.model import Bracket, Instrument
from crossmargin.venues.base import LazyInstruments, LiquidationPolicy, TieredRules, read_package_json, shared_settings
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "PARAMS_FILE",
    "TIERS_FILE",
    "HyperliquidRules",
    "tier_brackets",
]

TIERS_FILE = "hyperliquid_perps.json"
PARAMS_FILE = "hyperliquid_perps_params.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class HyperliquidRules(TieredRules):
    """Rules of Hyperliquid's USDC perpetuals. Build it with ``HyperliquidRules.load()``."""

    @classmethod
    def load(cls) -> HyperliquidRules:
        """Return the rules from the package data (read once, then cached)."""
        return _load()


def tier_brackets(tiers: list[list[float]]) -> tuple[Bracket, ...]:
    """Return brackets from margin tiers ``[[lower bound (USDC notional), max leverage], ...]``.

    Rate ``1 / (2 x max leverage)``; deduction ``d_1 = 0``, ``d_n = d_(n-1) + bound_n x (rate_n - rate_(n-1))``.
    """
    brackets = []
    deduction = 0.0
    previous_rate = 1 / (2 * tiers[0][1])
    for index, (bound, leverage) in enumerate(tiers):
        rate = 1 / (2 * leverage)
        deduction += bound * (rate - previous_rate)
        previous_rate = rate
        cap = tiers[index + 1][0] if index + 1 < len(tiers) else math.inf
        brackets.append(
            Bracket(floor=float(bound), cap=float(cap), mm_rate=rate, maint_amount=deduction, max_leverage=leverage)
        )
    return tuple(brackets)


def _instrument(symbol: str, entry: Mapping[str, Any]) -> Instrument:
    return Instrument(
        symbol=symbol,
        venue="hyperliquid",
        base=entry["base"],
        quote=entry["quote"],
        brackets=tier_brackets(entry["margin_tiers"]),
        as_of=str(entry.get("as_of", "")),
    )


@lru_cache(maxsize=1)
def _load() -> HyperliquidRules:
    table = read_package_json(TIERS_FILE)
    params = read_package_json(PARAMS_FILE)
    procedure = params["liquidation_procedure"]
    return HyperliquidRules(
        venue="hyperliquid",
        settle=VENUE_INFO["hyperliquid"].settle,
        instruments=LazyInstruments(table["symbols"], _instrument),
        hedge_mode=False,
        liquidation=LiquidationPolicy(
            style="partial_slices",
            slice_fraction=float(procedure["partial_fraction"]),
            slice_threshold=float(procedure["partial_above_notional"]),
            backstop_fraction=float(procedure["backstop_below_fraction_of_mm"]),
        ),
        **shared_settings(table, params, "tiers"),
    )
