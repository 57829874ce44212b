"""crossmargin: what cross and isolated margin do to a perpetual-futures account, computed as the venue does.

The public API: value types (``crossmargin.model``), venue rules (``get_rules``), the margin arithmetic
(``evaluate`` and the per-concept functions of ``crossmargin.margin``), account operations and portfolio
files. See the README for a tour.
"""

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
