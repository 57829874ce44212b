"""The plain reference of ``margin.account.evaluate``: the quadratic pass it replaced, kept to hold it equal.

For every position this filters the whole account for the position's pool and its symbol's legs and sums
them again (``math.fsum``), exactly as ``evaluate`` did before it grouped the positions by pool once.
``tests/margin/test_evaluate_linear.py`` holds the fast pass equal to it, bit for bit.
"""

from __future__ import annotations

import math

from crossmargin.margin.account import PositionState, position_states
from crossmargin.margin.liquidation import NO_REQUIREMENT, solve_pool_price, solve_pool_root
from crossmargin.margin.position import margin_ratio
from crossmargin.model import Account, AccountRisk, AccountTotals, MarginMode, Marks, PositionRisk
from crossmargin.venues.base import VenueRules

__all__ = ["evaluate_reference"]


def _pool_wallet(state: PositionState, cross_wallet: float) -> float:
    isolated = state.position.isolated_margin
    return cross_wallet if isolated is None else isolated


def evaluate_reference(account: Account, marks: Marks, rules: VenueRules) -> AccountRisk:
    """Return ``margin.account.evaluate(account, marks, rules)`` the plain way: every pool re-summed per position."""
    states = position_states(account, marks, rules)
    cross_wallet = account.cross_wallet_balance
    risks = []
    ratios = []
    for state in states:
        pool = [s for s in states if s.pool == state.pool]
        legs = [s for s in pool if s.position.symbol == state.position.symbol]
        others = [s for s in pool if s.position.symbol != state.position.symbol]
        wallet = _pool_wallet(state, cross_wallet)
        other_upnl = math.fsum(s.upnl for s in others)
        equity = wallet + math.fsum(s.upnl for s in pool)
        requirement = math.fsum(s.requirement for s in pool)
        root = solve_pool_root(
            [s.leg() for s in legs], wallet + other_upnl - math.fsum(s.requirement for s in others), state.mark
        )
        liq = root.price
        bankrupt = solve_pool_price([s.leg(NO_REQUIREMENT) for s in legs], wallet + other_upnl, state.mark)
        position = state.position
        if liq is None:
            distance = None
        elif len(legs) == 1:
            distance = int(position.side) * (state.mark - liq) / state.mark
        else:  # hedged legs: the pool is liquidated by a move either way; sign by the pool's state now
            distance = math.copysign(abs(state.mark - liq) / state.mark, equity - requirement)
        ratios.append(margin_ratio(rules.ratio_kind, requirement, equity))
        risks.append(
            PositionRisk(
                symbol=position.symbol,
                side=position.side.label,
                size=position.size,
                entry_price=position.entry_price,
                mark_price=state.mark,
                margin_mode=position.mode.value,
                leverage=position.leverage,
                notional=state.notional,
                unrealized_pnl=state.upnl,
                initial_margin=state.im,
                maintenance_margin=state.mm,
                mm_rate=state.bracket.mm_rate,
                maint_amount=state.bracket.maint_amount,
                isolated_margin=position.isolated_margin,
                liquidation_price=liq,
                liquidation_note=root.note,
                bankruptcy_price=bankrupt,
                distance_to_liquidation=distance,
            )
        )
    cross = [s for s in states if s.position.mode is MarginMode.CROSS]
    cross_upnl = math.fsum(s.upnl for s in cross)
    total_upnl = math.fsum(s.upnl for s in states)
    totals = AccountTotals(
        wallet_balance=account.wallet_balance,
        unrealized_pnl=total_upnl,
        margin_balance=account.wallet_balance + total_upnl,
        initial_margin=math.fsum(s.im for s in states),
        maintenance_margin=math.fsum(s.mm for s in states),
        margin_ratio=margin_ratio(rules.ratio_kind, math.fsum(s.requirement for s in cross), cross_wallet + cross_upnl),
        available_balance=max(0.0, cross_wallet + cross_upnl - math.fsum(s.im for s in cross)),
    )
    return AccountRisk(venue=rules.name, account=totals, positions=tuple(risks), pool_ratios=tuple(ratios))
