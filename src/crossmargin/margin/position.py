"""Per-position margin arithmetic: notional, unrealised PnL, initial and maintenance margin, fees.

Pure functions on numbers, no I/O. Money in quote currency, sizes in base units (> 0), the direction as
``side`` (+1 long, -1 short), rates as fractions.
"""

from __future__ import annotations

from crossmargin.model import Bracket, Side

__all__ = ["fee", "initial_margin", "maintenance_margin", "notional", "unrealized_pnl"]


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
