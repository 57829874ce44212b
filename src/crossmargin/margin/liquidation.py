"""Liquidation and bankruptcy prices of one position in its margin pool, and distance to liquidation.

A margin pool is the cross wallet with all cross positions, or one isolated position with its isolated
wallet. Holding every other position's mark fixed, the liquidation price P of position k solves
``margin balance(P) = maintenance margin(P)``:

    W + U_other - MM_other + s q (P - E) = q P m - c

    P = (W + U_other - MM_other + c - s q E) / (q m - s q)

W: pool wallet (cross wallet, or the isolated wallet); U_other, MM_other: unrealised PnL and maintenance
margin of the pool's other positions at their marks (0 when isolated); s, q, E: side, size and entry of
k; m, c: maintenance margin rate and amount of the bracket that holds the notional q P **at the
liquidation price**. This is Binance's published formula ('How to Calculate Liquidation Price of USDⓈ-M
Futures Contracts', one-way mode; read 2026-11-25), whose WB, TMM1, UPNL1, cum, MMR are W, MM_other,
U_other, c and m.

Bracket at the liquidation price. Binance tells users to re-substitute when the bracket at the solved
price differs from the one used ('How to Calculate Liquidation Price of COIN-M Futures Contracts'). Since
``g(P) = s x (margin balance - maintenance margin)`` rises strictly with P (its slope is
``q (1 - s m) > 0``) and the brackets make maintenance margin continuous, the root is unique: it lies in
the first bracket whose upper price bound has ``g >= 0``, and the formula is solved with that bracket.
This equals Binance's "try each bracket, keep the one whose range contains the answer", without its
roundoff trouble at bracket bounds.
"""

from __future__ import annotations

from collections.abc import Sequence

from crossmargin.model import Bracket, Side
from crossmargin.numeric import NEGLIGIBLE

__all__ = ["bankruptcy_price", "distance_to_liquidation", "liquidation_price"]


def liquidation_price(
    *,
    side: Side | int,
    size: float,
    entry_price: float,
    brackets: Sequence[Bracket],
    wallet: float,
    other_upnl: float = 0.0,
    other_mm: float = 0.0,
) -> float | None:
    """Return the mark price (quote currency) at which the pool's margin ratio reaches 100 %, or None.

    ``wallet``, ``other_upnl`` and ``other_mm`` are the pool's wallet and the other positions' unrealised
    PnL and maintenance margin (quote currency). None when no positive price reaches liquidation (a long
    whose pool covers a fall to zero; a short whose pool is already short of margin at any price, which
    its margin ratio >= 1 shows), or when the solved price is roundoff of zero (``numeric.NEGLIGIBLE``).
    """
    sign = int(side)
    base = wallet + other_upnl - other_mm  # the pool's margin net of the others' maintenance

    def excess(price: float, bracket: Bracket) -> float:
        """g(P) = s x (margin balance - maintenance margin) at ``price``, with ``bracket``."""
        balance = base + sign * size * (price - entry_price)
        return sign * (balance - (size * price * bracket.mm_rate - bracket.maint_amount))

    if excess(0.0, brackets[0]) >= 0:
        return None
    chosen = brackets[-1]
    for bracket in brackets[:-1]:
        if excess(bracket.cap / size, bracket) >= 0:
            chosen = bracket
            break
    price = (base + chosen.maint_amount - sign * size * entry_price) / (size * chosen.mm_rate - sign * size)
    return price if price > entry_price * NEGLIGIBLE else None


def bankruptcy_price(
    *, side: Side | int, size: float, entry_price: float, wallet: float, other_upnl: float = 0.0
) -> float | None:
    """Return the mark price (quote currency) at which the pool's margin balance is 0, or None.

    ``P = E - s (W + U_other) / q``: the liquidation formula with no maintenance margin. Binance publishes
    no formula; this is where the insurance fund takes a liquidated position over. None when <= 0
    (or negligible, as for the liquidation price).
    """
    price = entry_price - int(side) * (wallet + other_upnl) / size
    return price if price > entry_price * NEGLIGIBLE else None


def distance_to_liquidation(side: Side | int, mark_price: float, liq_price: float | None) -> float | None:
    """Return how far the mark may move against the position before liquidation, as a fraction of mark.

    ``s x (M - P_liq) / M``: positive while safe (a long's mark above its liquidation price), negative when
    already past it; None when there is no liquidation price.
    """
    if liq_price is None:
        return None
    return int(side) * (mark_price - liq_price) / mark_price
