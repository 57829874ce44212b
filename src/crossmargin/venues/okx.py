"""OKX USDT-margined perpetual swaps: position tiers by contract count, fees, funding, margin ratio, as data.

Tables: ``data/okx_swap.json`` (position tiers per swap: contracts, MMR, IMR, max leverage, with the
contract value) and ``data/okx_swap_params.json`` (fees, funding, leverage step, margin-ratio definition,
liquidation fee, liquidation procedure, tier aggregation), each with ``source`` and ``as_of``; the
``notes`` record where sources disagree and which vintage each table is.

What differs from Binance (the rest is ``TieredRules``):

- Tiers count **contracts**, converted here to base units (``contracts x contract value``): the
  instrument's ``tier_basis`` is 'size'. The tier's rate applies to the whole position, with no
  deduction, so maintenance margin ``q x mark x MMR`` jumps at a tier bound and does not move tier with
  price. Cross sums both directions of one swap to find the tier; isolated tiers each position alone.
- The requirement adds the liquidation fee, ``q x mark x taker rate``; the margin ratio is OKX's
  health ratio ``margin balance / (MM + liquidation fee)``, liquidated at <= 100 %.
- A size beyond the last shipped tier is refused (``Instrument.bracket_for``, as on every venue).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from crossmargin.model import Bracket, Instrument, Position
from crossmargin.venues.base import LazyInstruments, LiquidationPolicy, TieredRules, read_package_json, shared_settings
from crossmargin.venues.registry import VENUE_INFO

__all__ = [
    "PARAMS_FILE",
    "TIERS_FILE",
    "OkxRules",
]

TIERS_FILE = "okx_swap.json"
PARAMS_FILE = "okx_swap_params.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class OkxRules(TieredRules):
    """Rules of OKX USDT-margined swaps. Build it with ``OkxRules.load()``."""

    @classmethod
    def load(cls) -> OkxRules:
        """Return the rules from the package data (read once, then cached)."""
        return _load()

    def requirement_schedule(self, instrument: Instrument, position: Position, pool_size: float) -> tuple[Bracket, ...]:
        """Return one bracket: the tier's MMR plus the taker rate (liquidation fee), on the whole notional."""
        tier = instrument.bracket_for(pool_size)
        return (
            Bracket(
                floor=0.0,
                cap=math.inf,
                mm_rate=tier.mm_rate + self.taker_rate,
                maint_amount=0.0,
                max_leverage=tier.max_leverage,
            ),
        )

    def maintenance_basis(
        self, instrument: Instrument, position: Position, mark: float, pool_size: float
    ) -> tuple[float, Bracket]:
        """Return the notional ``q x mark`` and the tier of the pool's size of this swap (no deduction)."""
        return position.size * mark, instrument.bracket_for(pool_size)


def _instrument(symbol: str, entry: Mapping[str, Any]) -> Instrument:
    value = float(entry["contract_value"])
    brackets = []
    floor = 0.0
    for _, max_contracts, mm_rate, _, max_leverage in entry["tiers"]:
        cap = float(max_contracts) * value
        brackets.append(Bracket(floor=floor, cap=cap, mm_rate=mm_rate, maint_amount=0.0, max_leverage=max_leverage))
        floor = cap
    return Instrument(
        symbol=symbol,
        venue="okx",
        base=entry["base"],
        quote=entry["quote"],
        brackets=tuple(brackets),
        contract_size=value,
        step=value,
        tier_basis="size",
        as_of=str(entry.get("as_of", "")),
    )


@lru_cache(maxsize=1)
def _load() -> OkxRules:
    table = read_package_json(TIERS_FILE)
    params = read_package_json(PARAMS_FILE)
    settings = shared_settings(table, params, "tiers")
    return OkxRules(
        venue="okx",
        settle=VENUE_INFO["okx"].settle,
        instruments=LazyInstruments(table["symbols"], _instrument),
        hedge_mode=True,
        liquidation=LiquidationPolicy(style="two_tiers_down", fee_rate=settings["taker_rate"]),
        ratio_kind="health",
        **settings,
    )
