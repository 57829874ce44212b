"""Exact margin arithmetic of one account: pure functions, no I/O, one function per concept."""

from crossmargin.margin.account import account_totals, evaluate, pool_margin_ratio
from crossmargin.margin.liquidation import bankruptcy_price, distance_to_liquidation, liquidation_price
from crossmargin.margin.position import fee, initial_margin, maintenance_margin, notional, unrealized_pnl

__all__ = [
    "account_totals",
    "bankruptcy_price",
    "distance_to_liquidation",
    "evaluate",
    "fee",
    "initial_margin",
    "liquidation_price",
    "maintenance_margin",
    "notional",
    "pool_margin_ratio",
    "unrealized_pnl",
]
