"""Margin figures of a whole account: each position, the cross pool, and the account totals.

Pools. All cross positions share the cross wallet (whole wallet less the isolated wallets). Each isolated
position is a pool of its own: its loss is bounded by its isolated wallet and never touches the cross
pool, so nothing of an isolated position enters a cross figure (ring-fencing).

Account totals follow Binance's account endpoint and its 'How to Check Futures Wallet Balance' page:
``margin_balance = wallet_balance + unrealised PnL`` (all positions); ``initial_margin`` and
``maintenance_margin`` sum all positions; ``margin_ratio`` is the cross pool's maintenance margin over the
cross margin balance (what triggers a cross liquidation; isolated positions have their own, see
``pool_margin_ratio``); ``available_balance = max(0, cross wallet + cross unrealised PnL - cross initial
margin)``. Initial margin of an open position is taken at the mark: ``notional at mark / leverage``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from crossmargin.errors import InputError
from crossmargin.margin.liquidation import bankruptcy_price, distance_to_liquidation, liquidation_price
from crossmargin.margin.position import initial_margin, maintenance_margin, notional, unrealized_pnl
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
)
from crossmargin.venues.base import VenueRules

__all__ = ["PositionState", "evaluate", "pool_margin_ratio", "position_states"]


@dataclass(frozen=True, slots=True)
class PositionState:
    """One position at its mark: the intermediate figures every account figure is summed from."""

    position: Position
    instrument: Instrument
    mark: float
    notional: float
    upnl: float
    bracket: Bracket
    mm: float
    im: float


def position_states(account: Account, marks: Marks, rules: VenueRules) -> tuple[PositionState, ...]:
    """Return each position's state at ``marks``; raise InputError for unknown symbols or missing marks."""
    states = []
    for index, position in enumerate(account.positions):
        try:
            instrument = rules.instrument(position.symbol)
            mark = marks.price(position.symbol)
        except InputError as error:
            raise (error.prefixed(f"positions[{index}].") if error.field == "symbol" else error) from None
        value = notional(position.size, mark)
        bracket = instrument.bracket_for(value)
        states.append(
            PositionState(
                position=position,
                instrument=instrument,
                mark=mark,
                notional=value,
                upnl=unrealized_pnl(position.side, position.size, position.entry_price, mark),
                bracket=bracket,
                mm=maintenance_margin(value, bracket),
                im=initial_margin(value, position.leverage),
            )
        )
    return tuple(states)


def _position_risk(state: PositionState, wallet: float, other_upnl: float, other_mm: float) -> PositionRisk:
    position = state.position
    liq = liquidation_price(
        side=position.side,
        size=position.size,
        entry_price=position.entry_price,
        brackets=state.instrument.brackets,
        wallet=wallet,
        other_upnl=other_upnl,
        other_mm=other_mm,
    )
    return PositionRisk(
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
        bankruptcy_price=bankruptcy_price(
            side=position.side,
            size=position.size,
            entry_price=position.entry_price,
            wallet=wallet,
            other_upnl=other_upnl,
        ),
        distance_to_liquidation=distance_to_liquidation(position.side, state.mark, liq),
    )


def evaluate(account: Account, marks: Marks, rules: VenueRules) -> AccountRisk:
    """Return every margin figure of ``account`` at ``marks`` under ``rules`` (see the module docstring)."""
    states = position_states(account, marks, rules)
    cross = [s for s in states if s.position.mode is MarginMode.CROSS]
    cross_wallet = account.cross_wallet_balance
    risks = []
    for state in states:
        if state.position.mode is MarginMode.ISOLATED:
            assert state.position.isolated_margin is not None  # guaranteed by Position
            risks.append(_position_risk(state, state.position.isolated_margin, 0.0, 0.0))
        else:
            others = [s for s in cross if s is not state]
            risks.append(
                _position_risk(
                    state,
                    cross_wallet,
                    math.fsum(s.upnl for s in others),
                    math.fsum(s.mm for s in others),
                )
            )
    cross_upnl = math.fsum(s.upnl for s in cross)
    cross_mm = math.fsum(s.mm for s in cross)
    total_upnl = math.fsum(s.upnl for s in states)
    totals = AccountTotals(
        wallet_balance=account.wallet_balance,
        unrealized_pnl=total_upnl,
        margin_balance=account.wallet_balance + total_upnl,
        initial_margin=math.fsum(s.im for s in states),
        maintenance_margin=math.fsum(s.mm for s in states),
        margin_ratio=rules.margin_ratio(cross_mm, cross_wallet + cross_upnl),
        available_balance=max(0.0, cross_wallet + cross_upnl - math.fsum(s.im for s in cross)),
    )
    return AccountRisk(venue=rules.name, account=totals, positions=tuple(risks))


def pool_margin_ratio(risk: PositionRisk, totals: AccountTotals, rules: VenueRules) -> float:
    """Return the margin ratio (fraction) of the pool of ``risk``: its own if isolated, else the cross pool's."""
    if risk.isolated_margin is None:
        return totals.margin_ratio
    return rules.margin_ratio(risk.maintenance_margin, risk.isolated_margin + risk.unrealized_pnl)
