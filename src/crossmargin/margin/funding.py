"""Funding payments of perpetual positions."""

from __future__ import annotations

from crossmargin.model import Side

__all__ = ["funding_payment"]


def funding_payment(side: Side | int, size: float, mark_price: float, funding_rate: float) -> float:
    """Return the funding the position receives at one settlement (quote currency; < 0 means it pays).

    ``-s x q x M x F`` with F the funding rate (fraction per settlement, > 0 means longs pay shorts) and M the
    mark price at settlement. Source: Binance 'Introduction to Binance Futures Funding Rates' (payment =
    position value at mark x funding rate), read 2026-11-25.
    """
    return -int(side) * size * mark_price * funding_rate
