"""Margin figures of a whole account: each position, the cross pool, and the account totals.

Pools. All cross positions share the cross wallet (whole wallet less the isolated wallets). Each isolated
position is a pool of its own: its loss is bounded by its isolated wallet and never touches the cross
pool, so nothing of an isolated position enters a cross figure (ring-fencing). In hedge mode the long and
short legs of a cross symbol move together: they share one liquidation price (Binance 'Liquidation
Protocols'); isolated legs are each a pool of their own.

Account totals follow Binance's account endpoint and its 'How to Check Futures Wallet Balance' page:
``margin_balance = wallet_balance + unrealised PnL`` (all positions); ``initial_margin`` and
``maintenance_margin`` sum all positions as the venue shows them; ``margin_ratio`` is the cross pool's
ratio as the venue defines it (``VenueRules.margin_ratio`` of the cross requirement and cross margin
balance: what triggers a cross liquidation; isolated positions have their own, in ``pool_ratios``);
``available_balance = max(0, cross wallet + cross unrealised PnL - cross initial margin)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from crossmargin.errors import InputError
from crossmargin.margin.liquidation import NO_REQUIREMENT, Leg, solve_pool_price, solve_pool_root
from crossmargin.margin.position import initial_margin, maintenance_margin, margin_ratio, notional, unrealized_pnl
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

__all__ = [
    "PositionState",
    "evaluate",
    "fixed_requirement",
    "pool_margin_ratio",
    "position_initial_margin",
    "position_states",
]


@dataclass(frozen=True, slots=True)
class PositionState:
    """One position at its mark: the intermediate figures every account figure is summed from.

    Money in quote currency. ``mm`` and ``bracket`` are what the venue shows; ``schedule`` and
    ``requirement`` are what liquidation compares the pool's margin balance with (equal to ``mm`` except
    where the venue adds to it, e.g. OKX's liquidation fee).
    """

    position: Position
    instrument: Instrument
    mark: float
    notional: float
    upnl: float
    bracket: Bracket
    mm: float
    im: float
    schedule: tuple[Bracket, ...]
    requirement: float

    @property
    def pool(self) -> object:
        """Return the key of the position's margin pool: 'cross', or the position itself when isolated."""
        return "cross" if self.position.mode is MarginMode.CROSS else self.position

    def leg(self, schedule: Sequence[Bracket] | None = None) -> Leg:
        """Return the position as a leg of the liquidation solver (with ``schedule``, default its own)."""
        p = self.position
        return Leg(p.side, p.size, p.entry_price, self.schedule if schedule is None else schedule)


def _requirement(schedule: Sequence[Bracket], size: float, mark: float) -> float:
    value = size * mark
    return maintenance_margin(value, next((b for b in schedule if value < b.cap), schedule[-1]))


def fixed_requirement(mm: float, bracket: Bracket) -> tuple[Bracket, ...]:
    """Return the schedule of a requirement fixed at ``mm`` (quote) whatever the mark: rate 0, amount -mm."""
    return (Bracket(floor=0.0, cap=math.inf, mm_rate=0.0, maint_amount=-mm, max_leverage=bracket.max_leverage),)


def position_initial_margin(position: Position, mark: float, rules: VenueRules) -> float:
    """Return the initial margin (quote) of ``position`` at ``mark``: ``q x im_price / leverage``."""
    return initial_margin(position.size * rules.im_price(position, mark), position.leverage)


def position_states(account: Account, marks: Marks, rules: VenueRules) -> tuple[PositionState, ...]:
    """Return each position's state at ``marks``; raise InputError for unknown symbols or missing marks."""
    pool_sizes: dict[tuple[object, str], float] = {}
    for position in account.positions:
        pool = "cross" if position.mode is MarginMode.CROSS else position
        pool_sizes[(pool, position.symbol)] = pool_sizes.get((pool, position.symbol), 0.0) + position.size
    states = []
    for index, position in enumerate(account.positions):
        pool = "cross" if position.mode is MarginMode.CROSS else position
        pool_size = pool_sizes[(pool, position.symbol)]
        try:
            instrument = rules.instrument(position.symbol)
            rules.check_position(position)
            mark = marks.price(position.symbol)
            value, bracket = rules.maintenance_basis(instrument, position, mark, pool_size)
            mm = maintenance_margin(value, bracket)
            follows = rules.requirement_follows_mark(position)
            schedule = rules.requirement_schedule(instrument, position, pool_size) if follows else None
        except InputError as error:
            raise (error.prefixed(f"positions[{index}].") if not error.field.startswith("marks.") else error) from None
        states.append(
            PositionState(
                position=position,
                instrument=instrument,
                mark=mark,
                notional=notional(position.size, mark),
                upnl=unrealized_pnl(position.side, position.size, position.entry_price, mark),
                bracket=bracket,
                mm=mm,
                im=position_initial_margin(position, mark, rules),
                schedule=fixed_requirement(mm, bracket) if schedule is None else schedule,
                requirement=mm if schedule is None else _requirement(schedule, position.size, mark),
            )
        )
    return tuple(states)


def _pool_wallet(state: PositionState, cross_wallet: float) -> float:
    isolated = state.position.isolated_margin
    return cross_wallet if isolated is None else isolated


def evaluate(account: Account, marks: Marks, rules: VenueRules) -> AccountRisk:
    """Return every margin figure of ``account`` at ``marks`` under ``rules`` (see the module docstring)."""
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


def pool_margin_ratio(risk: AccountRisk, position: PositionRisk) -> float:
    """Return the margin ratio (fraction, as the venue shows it) of the pool that holds ``position``."""
    return risk.pool_ratios[risk.positions.index(position)]
