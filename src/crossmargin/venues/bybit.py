"""Bybit USDT perpetuals (linear): risk-limit tiers, fees, funding, isolated and cross margin, as data.

Tables: ``data/bybit_linear.json`` (risk-limit tiers with Bybit's MM deduction) and
``data/bybit_linear_params.json`` (fees, funding, leverage step, margin definitions, liquidation
procedure), each with ``source`` and ``as_of``; the ``notes`` in both files record where sources disagree.

What differs from Binance (the rest is ``TieredRules``):

- Isolated positions follow Bybit's published isolated formula, ``LP = E - s (IM - MM) / q`` with
  ``IM = q E / L`` and ``MM = q E x MMR - deduction``: both are valued at the **entry** price, and the tier
  is that of the entry value. Their requirement is therefore a constant (a schedule with rate 0), and the
  position ratio ``MM / (isolated margin + uPnL)`` reaches 1 exactly at that price.
- Cross positions (Unified Trading Account) are valued at the mark, like Binance: the account MM rate
  ``total MM / margin balance`` triggers liquidation at 100 %.
- Leverage moves in steps of 0.01; liquidation steps down the risk-limit tiers before a take-over.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial

from crossmargin.model import MarginMode, Position
from crossmargin.venues.base import LazyInstruments, LiquidationPolicy, TieredRules, read_package_json, shared_settings
from crossmargin.venues.binance import instrument_from_table
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "PARAMS_FILE",
    "TIERS_FILE",
    "BybitRules",
]

TIERS_FILE = "bybit_linear.json"
PARAMS_FILE = "bybit_linear_params.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class BybitRules(TieredRules):
    """Rules of Bybit USDT perpetuals. Build it with ``BybitRules.load()``."""

    @classmethod
    def load(cls) -> BybitRules:
        """Return the rules from the package data (read once, then cached)."""
        return _load()

    def tier_price(self, position: Position, mark: float) -> float:
        """Return the entry price for isolated positions (Bybit's isolated formula), the mark for cross ones."""
        return mark if position.mode is MarginMode.CROSS else position.entry_price

    def requirement_follows_mark(self, position: Position) -> bool:
        """Return True for cross; False for isolated, whose requirement is the MM at the entry value."""
        return position.mode is MarginMode.CROSS

    def im_price(self, position: Position, mark: float) -> float:
        """Return the mark for cross, the entry price for isolated (Bybit's position margin ``q E / L``)."""
        return mark if position.mode is MarginMode.CROSS else position.entry_price


@lru_cache(maxsize=1)
def _load() -> BybitRules:
    table = read_package_json(TIERS_FILE)
    params = read_package_json(PARAMS_FILE)
    instruments = LazyInstruments(table["symbols"], partial(instrument_from_table, "bybit", as_of=table["as_of"]))
    return BybitRules(
        venue="bybit",
        settle=VENUE_INFO["bybit"].settle,
        instruments=instruments,
        hedge_mode=True,
        liquidation=LiquidationPolicy(style="tier_step_down"),
        **shared_settings(table, params, "tiers"),
    )
