"""Per-position margin arithmetic: notional, unrealised PnL, initial and maintenance margin, fees, ratios.

Pure functions on numbers, no I/O. Money in quote currency, sizes in base units (> 0), the direction as
``side`` (+1 long, -1 short), rates as fractions.
"""

from __future__ import annotations

import math

from crossmargin.model import Bracket, Side
from crossmargin.venues.base import RatioKind

__all__ = [
    "fee",
    "health_ratio",
    "initial_margin",
    "maintenance_margin",
    "margin_ratio",
    "notional",
    "risk_ratio",
    "unrealized_pnl",
]


def notional(size: float, price: float) -> float:
    """Return the position value ``size x price`` (quote currency, >= 0)."""
    return size * price


def unrealized_pnl(side: Side | int, size: float, entry_price: float, mark_price: float) -> float:
    """Return the unrealised PnL at the mark (quote currency; > 0 is a profit).

    ``u = s x q x (M - E)`` with s = +1 long / -1 short, q the size, E the entry and M the mark price.
    Source: Binance 'Liquidation Protocols' (PnL at mark price), the same on every linear venue.
    """
    return int(side) * size * (mark_price - entry_price)


def initial_margin(notional_value: float, leverage: float) -> float:
    """Return the initial margin ``notional / leverage`` (quote currency)."""
    return notional_value / leverage


def maintenance_margin(notional_value: float, bracket: Bracket) -> float:
    """Return the maintenance margin ``notional x mm_rate - maint_amount`` of the bracket (quote currency).

    Source: Binance 'Notional and Leverage Brackets' (``maintMarginRatio``, ``cum``); Bybit's risk-limit
    deduction and Hyperliquid's tier deduction play the part of ``maint_amount``.
    """
    return notional_value * bracket.mm_rate - bracket.maint_amount


def fee(notional_value: float, rate: float) -> float:
    """Return the trading fee ``notional x rate`` (quote currency, charged to the wallet)."""
    return notional_value * rate


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


def health_ratio(requirement: float, margin_balance: float) -> float:
    """Return margin balance / requirement (fraction): large when safe, 1 at liquidation (OKX's sense).

    +inf when nothing is required; 0 when the margin balance is <= 0.
    """
    if requirement <= 0:
        return math.inf
    return max(0.0, margin_balance) / requirement


def margin_ratio(kind: RatioKind, requirement: float, margin_balance: float) -> float:
    """Return a pool's margin ratio as the venue shows it (fraction): ``risk_ratio`` or ``health_ratio`` by ``kind``."""
    if kind == "health":
        return health_ratio(requirement, margin_balance)
    return risk_ratio(requirement, margin_balance)
