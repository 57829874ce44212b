"""Binance USDⓈ-M (linear perpetuals): brackets, fees, funding schedule and clearance fee, as data.

Tables: ``data/binance_usdm.json`` (leverage brackets of every linear perpetual, built from Binance's
``GET /fapi/v1/leverageBracket`` by ``scripts/import_binance_brackets.py``) and
``data/binance_usdm_params.json`` (fees, funding interval, clearance fee, leverage rule); each carries
``source`` and ``as_of``. Binance is the reference shape of ``TieredRules``: brackets by notional at the
mark, maintenance margin ``notional x mmr - cum``, risk ratio ``MM / margin balance``, integer leverage,
hedge mode, full liquidation with a clearance fee.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from types import MappingProxyType
from typing import Any

from crossmargin.model import Bracket, Instrument
from crossmargin.venues.base import (
    LazyInstruments,
    LiquidationPolicy,
    TieredRules,
    read_package_json,
    shared_settings,
    validate_maint_amounts,
)
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "BRACKETS_FILE",
    "PARAMS_FILE",
    "BinanceRules",
    "instrument_from_table",
    "validate_maint_amounts",
]

BRACKETS_FILE = "binance_usdm.json"
PARAMS_FILE = "binance_usdm_params.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class BinanceRules(TieredRules):
    """Rules of Binance USDⓈ-M futures. Build it with ``BinanceRules.load()``."""

    @classmethod
    def load(cls) -> BinanceRules:
        """Return the rules from the package data (read once, then cached)."""
        return _load()

    def clearance_fee_rate(self, symbol: str) -> float:
        """Return the liquidation clearance fee rate of ``symbol`` (fraction of liquidated notional)."""
        return self.liquidation.fee_rate_of(symbol)


def instrument_from_table(venue: str, symbol: str, entry: Mapping[str, Any], *, as_of: str = "") -> Instrument:
    """Return the instrument of one ``symbols`` entry of a bracket file ([floor, cap, mmr, amount, max lev]).

    ``as_of``: the table's date, used where the entry carries none of its own.
    """
    brackets = tuple(
        Bracket(floor=floor, cap=cap, mm_rate=rate, maint_amount=amount, max_leverage=lev)
        for floor, cap, rate, amount, lev in entry["brackets"]
    )
    validate_maint_amounts(symbol, brackets)
    return Instrument(
        symbol=symbol,
        venue=venue,
        base=entry["base"],
        quote=entry["quote"],
        brackets=brackets,
        as_of=str(entry.get("as_of", as_of)),
    )


@lru_cache(maxsize=1)
def _load() -> BinanceRules:
    table = read_package_json(BRACKETS_FILE)
    params = read_package_json(PARAMS_FILE)
    instruments = LazyInstruments(table["symbols"], partial(instrument_from_table, "binance", as_of=table["as_of"]))
    clearance = params["liquidation_clearance_fee"]
    return BinanceRules(
        venue="binance",
        settle=VENUE_INFO["binance"].settle,
        instruments=instruments,
        hedge_mode=True,
        liquidation=LiquidationPolicy(
            style="full",
            fee_rate=float(clearance["default_rate"]),
            fee_rates=MappingProxyType({k: float(v) for k, v in clearance["rates"].items()}),
        ),
        **shared_settings(table, params, "brackets"),
    )
