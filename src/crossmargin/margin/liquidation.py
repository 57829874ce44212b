"""Liquidation and bankruptcy prices of one symbol in its margin pool, and distance to liquidation.

A margin pool is the cross wallet with all cross positions, or one isolated position with its isolated
wallet. Holding every other symbol's mark fixed, the liquidation price P of a symbol solves
``margin balance(P) = maintenance requirement(P)`` over the symbol's legs j in the pool (one leg in
one-way mode; a long and a short leg in hedge mode):

    W + U_other - R_other + sum_j s_j q_j (P - E_j) = sum_j (q_j P m_j - c_j)

    P = (W + U_other - R_other + sum_j c_j - sum_j s_j q_j E_j) / (sum_j q_j m_j - sum_j s_j q_j)

W: pool wallet (cross wallet, or the isolated wallet); U_other, R_other: unrealised PnL and maintenance
requirement of the pool's other symbols at their marks (0 when isolated); s, q, E: side, size and entry
of each leg; m, c: rate and amount of the bracket of the leg's requirement schedule that holds its
notional ``q P`` **at the liquidation price**. This is Binance's published formula ('How to Calculate
Liquidation Price of USDⓈ-M Futures Contracts', one-way and hedge mode; read 2026-11-25), whose WB, TMM1,
UPNL1, cum, MMR are W, R_other, U_other, c and m. Other venues differ only in the schedule their rules
give (``VenueRules.requirement_schedule``): OKX adds its liquidation fee to m and has c = 0, Bybit's
isolated requirement is fixed at entry (m = 0), Hyperliquid's m is 1 / (2 x max leverage).

Bracket at the liquidation price. Binance tells users to re-substitute when the bracket at the solved
price differs from the one used ('How to Calculate Liquidation Price of COIN-M Futures Contracts'). The
solver does this exactly: the bracket caps of every leg split the price axis into segments on which
``h(P) = margin balance - requirement`` is linear; each segment with a sign change of h holds a root,
solved with that segment's brackets. One leg gives at most one root (h is monotone: its slope is
``q (s - m)``, and m < 1); a hedged pair can give two, and the one nearest the mark is reported.

Beyond the table. Where a leg's notional at a root is at or past the cap of its schedule's last bracket
(the venue lists no tier there), the root is not a liquidation price the engine can vouch for: it is
discarded, and when no other root remains the price is None with the note ``BEYOND_LAST_BRACKET``
(``solve_pool_root``). Open-ended schedules (a last cap of +inf) have no such segment.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from crossmargin.model import Bracket, Side
from crossmargin.numeric import NEGLIGIBLE

__all__ = [
    "BEYOND_LAST_BRACKET",
    "NO_REQUIREMENT",
    "Leg",
    "PoolRoot",
    "bankruptcy_price",
    "distance_to_liquidation",
    "liquidation_price",
    "solve_pool_price",
    "solve_pool_root",
]

#: Why a liquidation price is None although the pool's formula has a root: it lies past the last tier.
BEYOND_LAST_BRACKET = "beyond the last bracket"

#: The schedule of a pool with no maintenance requirement: its root is the bankruptcy price.
NO_REQUIREMENT: tuple[Bracket, ...] = (Bracket(floor=0.0, cap=math.inf, mm_rate=0.0, maint_amount=0.0, max_leverage=1),)


@dataclass(frozen=True, slots=True)
class Leg:
    """One position of the symbol whose price moves.

    ``side`` +1 long / -1 short; ``size`` base units (> 0); ``entry_price`` quote currency; ``schedule``
    the leg's maintenance requirement by its notional: the bracket holding ``size x price`` gives
    ``size x price x mm_rate - maint_amount`` (quote currency).
    """

    side: Side | int
    size: float
    entry_price: float
    schedule: Sequence[Bracket]


@dataclass(frozen=True, slots=True)
class PoolRoot:
    """The root of a pool's ``h(P)`` nearest the reference price: ``price`` (quote) or None, and why None.

    ``note`` is ``BEYOND_LAST_BRACKET`` when the only roots lie where a leg's notional is past its last
    bracket; None otherwise (a price was found, or no positive price is a root at all).
    """

    price: float | None
    note: str | None = None


def solve_pool_root(legs: Sequence[Leg], base: float, reference: float) -> PoolRoot:
    """Return the price of the legs' symbol at which ``h(P) = 0`` nearest to ``reference`` (see ``PoolRoot``).

    ``h(P) = base + sum_j s_j q_j (P - E_j) - requirement_j(P)`` with ``base = W + U_other - R_other``
    (quote currency). No price when no positive price is a root, when the root is below
    ``reference x numeric.NEGLIGIBLE`` (roundoff of zero), or when it lies beyond a leg's last bracket.
    """
    breaks = sorted({b.cap / leg.size for leg in legs for b in leg.schedule if math.isfinite(b.cap)})
    edges = [0.0, *(x for x in breaks if x > 0), math.inf]
    roots: list[float] = []
    beyond: list[float] = []
    index = [0] * len(legs)  # each leg's bracket: the probe only rises, so each index only moves up
    for low, high in itertools.pairwise(edges):
        probe = (low + high) / 2 if math.isfinite(high) else 2 * low + 1.0
        constant, slope = base, 0.0
        past_table = False
        for j, leg in enumerate(legs):
            schedule = leg.schedule
            while index[j] < len(schedule) - 1 and leg.size * probe >= schedule[index[j]].cap:
                index[j] += 1
            bracket = schedule[index[j]]
            past_table = past_table or leg.size * probe >= bracket.cap
            sign = int(leg.side)
            constant += bracket.maint_amount - sign * leg.size * leg.entry_price
            slope += sign * leg.size - leg.size * bracket.mm_rate
        at_low = constant + slope * low
        at_high = constant + slope * high if math.isfinite(high) else math.copysign(math.inf, slope)
        if slope == 0:
            continue
        if at_low == 0 or (at_low > 0) != (at_high > 0):
            (beyond if past_table else roots).append(min(max(-constant / slope, low), high))
    candidates = [root for root in roots if root > reference * NEGLIGIBLE]
    if candidates:
        return PoolRoot(min(candidates, key=lambda root: abs(root - reference)))
    return PoolRoot(None, BEYOND_LAST_BRACKET if beyond else None)


def solve_pool_price(legs: Sequence[Leg], base: float, reference: float) -> float | None:
    """Return ``solve_pool_root(legs, base, reference).price``: the root nearest ``reference``, or None."""
    return solve_pool_root(legs, base, reference).price


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
    """Return the mark price (quote currency) at which one position's pool reaches its requirement, or None.

    ``wallet``, ``other_upnl`` and ``other_mm`` are the pool's wallet and the other symbols' unrealised
    PnL and maintenance requirement (quote currency); ``brackets`` the position's requirement schedule.
    None when no positive price reaches liquidation (a long whose pool covers a fall to zero; a short
    whose pool is short of margin at any price, which its margin ratio shows), or when the solved price is
    roundoff of zero (``numeric.NEGLIGIBLE``).
    """
    leg = Leg(side, size, entry_price, brackets)
    return solve_pool_price((leg,), wallet + other_upnl - other_mm, entry_price)


def bankruptcy_price(
    *, side: Side | int, size: float, entry_price: float, wallet: float, other_upnl: float = 0.0
) -> float | None:
    """Return the mark price (quote currency) at which the pool's margin balance is 0, or None.

    ``P = E - s (W + U_other) / q``: the liquidation formula with no requirement. Binance publishes no
    formula; Bybit's ``E (1 - s / L)`` for an isolated position is this with W = q E / L. None when <= 0.
    """
    leg = Leg(side, size, entry_price, NO_REQUIREMENT)
    return solve_pool_price((leg,), wallet + other_upnl, entry_price)


def distance_to_liquidation(side: Side | int, mark_price: float, liq_price: float | None) -> float | None:
    """Return how far the mark may move against the position before liquidation, as a fraction of mark.

    ``s x (M - P_liq) / M``: positive while safe (a long's mark above its liquidation price), negative when
    already past it; None when there is no liquidation price. (For hedge-mode legs, whose pool may be
    liquidated by a move either way, ``margin.account`` signs the distance by the pool's state instead.)
    """
    if liq_price is None:
        return None
    return int(side) * (mark_price - liq_price) / mark_price
