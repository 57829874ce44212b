"""What a venue's rules object answers (the ``VenueRules`` protocol) and helpers shared by venues."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal, Protocol, Self

from crossmargin.model import Bracket, Instrument

__all__ = ["Liquidity", "Sourced", "VenueRules", "read_package_json", "risk_ratio"]

Liquidity = Literal["maker", "taker"]


@dataclass(frozen=True, slots=True)
class Sourced:
    """Where a rule was read: the venue page or API, and the date it was read (ISO 8601)."""

    source: str
    as_of: str


class VenueRules(Protocol):
    """The rules of one venue: data tables plus the few lines in which venues differ."""

    @property
    def name(self) -> str:
        """Return the venue's name as used in portfolio files ('binance')."""
        ...

    def symbols(self) -> tuple[str, ...]:
        """Return every symbol the venue lists, sorted."""
        ...

    def instrument(self, symbol: str, *, field: str = "symbol") -> Instrument:
        """Return the instrument of ``symbol``; raise UnknownSymbolError naming ``field`` otherwise."""
        ...

    def fee_rate(self, liquidity: Liquidity) -> float:
        """Return the default trading fee rate (fraction of fill notional) for maker or taker fills."""
        ...

    def check_leverage(self, symbol: str, leverage: float, notional: float, *, field: str = "leverage") -> None:
        """Raise LeverageError when ``leverage`` is not allowed for ``notional`` (quote) of ``symbol``."""
        ...

    def margin_ratio(self, maintenance_margin: float, margin_balance: float) -> float:
        """Return the venue's displayed margin ratio of a margin pool (fraction)."""
        ...

    def with_brackets(self, brackets: Mapping[str, tuple[Bracket, ...]]) -> Self:
        """Return a copy in which the given symbols use ``brackets`` (to replay examples made with old tables)."""
        ...


def read_package_json(filename: str) -> Any:
    """Return the parsed JSON file ``filename`` shipped in ``crossmargin/venues/data``."""
    text = resources.files("crossmargin.venues").joinpath("data", filename).read_text(encoding="utf-8")
    return json.loads(text)


def risk_ratio(maintenance_margin: float, margin_balance: float) -> float:
    """Return maintenance margin / margin balance (fraction): 0 when safe, 1 at liquidation.

    A pool with no maintenance margin has ratio 0; a pool with maintenance margin and a margin balance
    <= 0 (bankrupt) has ratio +inf. Used by venues that display risk this way (Binance, Bybit).
    """
    if maintenance_margin <= 0:
        return 0.0
    if margin_balance <= 0:
        return math.inf
    return maintenance_margin / margin_balance
