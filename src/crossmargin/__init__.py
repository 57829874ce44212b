"""crossmargin: what cross and isolated margin do to a perpetual-futures account, computed as the venue does.

The public API: value types (``crossmargin.model``), venue rules (``get_rules``), the margin arithmetic
(``evaluate`` and the per-concept functions of ``crossmargin.margin``), account operations and portfolio
files. See the README for a tour.

Names are imported on first use (PEP 562): ``import crossmargin`` costs nothing, and a command that needs only
the margin arithmetic does not build the operations, portfolio files or the other venues' classes.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossmargin.errors import (
        CrossmarginError,
        DataError,
        InputError,
        LeverageError,
        PortfolioFileError,
        RejectedError,
        UnknownSymbolError,
    )
    from crossmargin.margin import (
        bankruptcy_price,
        distance_to_liquidation,
        evaluate,
        fee,
        initial_margin,
        liquidation_price,
        maintenance_margin,
        notional,
        pool_margin_ratio,
        unrealized_pnl,
    )
    from crossmargin.margin.funding import funding_payment
    from crossmargin.margin.operations import (
        OperationEvent,
        OperationResult,
        add_isolated_margin,
        change_leverage,
        close_position,
        increase_position,
        open_position,
        reduce_position,
        remove_isolated_margin,
    )
    from crossmargin.model import (
        Account,
        AccountRisk,
        AccountTotals,
        Bracket,
        Instrument,
        MarginMode,
        Marks,
        Position,
        PositionRisk,
        Side,
    )
    from crossmargin.portfolio import Portfolio, load_portfolio, parse_portfolio
    from crossmargin.venues import get_rules

__version__ = "0.1.0"


__all__ = [
    "Account",
    "AccountRisk",
    "AccountTotals",
    "Bracket",
    "CrossmarginError",
    "DataError",
    "InputError",
    "Instrument",
    "LeverageError",
    "MarginMode",
    "Marks",
    "OperationEvent",
    "OperationResult",
    "Portfolio",
    "PortfolioFileError",
    "Position",
    "PositionRisk",
    "RejectedError",
    "Side",
    "UnknownSymbolError",
    "add_isolated_margin",
    "bankruptcy_price",
    "change_leverage",
    "close_position",
    "distance_to_liquidation",
    "evaluate",
    "fee",
    "funding_payment",
    "get_rules",
    "increase_position",
    "initial_margin",
    "liquidation_price",
    "load_portfolio",
    "maintenance_margin",
    "notional",
    "open_position",
    "parse_portfolio",
    "pool_margin_ratio",
    "reduce_position",
    "remove_isolated_margin",
    "unrealized_pnl",
]

#: Each public name -> the module that defines it.
_HOMES: dict[str, str] = {
    "Account": "crossmargin.model",
    "AccountRisk": "crossmargin.model",
    "AccountTotals": "crossmargin.model",
    "Bracket": "crossmargin.model",
    "CrossmarginError": "crossmargin.errors",
    "DataError": "crossmargin.errors",
    "InputError": "crossmargin.errors",
    "Instrument": "crossmargin.model",
    "LeverageError": "crossmargin.errors",
    "MarginMode": "crossmargin.model",
    "Marks": "crossmargin.model",
    "OperationEvent": "crossmargin.margin.operations",
    "OperationResult": "crossmargin.margin.operations",
    "Portfolio": "crossmargin.portfolio",
    "PortfolioFileError": "crossmargin.errors",
    "Position": "crossmargin.model",
    "PositionRisk": "crossmargin.model",
    "RejectedError": "crossmargin.errors",
    "Side": "crossmargin.model",
    "UnknownSymbolError": "crossmargin.errors",
    "add_isolated_margin": "crossmargin.margin.operations",
    "bankruptcy_price": "crossmargin.margin",
    "change_leverage": "crossmargin.margin.operations",
    "close_position": "crossmargin.margin.operations",
    "distance_to_liquidation": "crossmargin.margin",
    "evaluate": "crossmargin.margin",
    "fee": "crossmargin.margin",
    "funding_payment": "crossmargin.margin.funding",
    "get_rules": "crossmargin.venues",
    "increase_position": "crossmargin.margin.operations",
    "initial_margin": "crossmargin.margin",
    "liquidation_price": "crossmargin.margin",
    "load_portfolio": "crossmargin.portfolio",
    "maintenance_margin": "crossmargin.margin",
    "notional": "crossmargin.margin",
    "open_position": "crossmargin.margin.operations",
    "parse_portfolio": "crossmargin.portfolio",
    "pool_margin_ratio": "crossmargin.margin",
    "reduce_position": "crossmargin.margin.operations",
    "remove_isolated_margin": "crossmargin.margin.operations",
    "unrealized_pnl": "crossmargin.margin",
}


def __getattr__(name: str) -> Any:
    """Return the public name ``name`` from its home module (imported on first use), cached in this module."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
