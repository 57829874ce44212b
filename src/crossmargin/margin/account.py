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

Cost. Both passes are linear in the number of positions: the positions are grouped by pool once
(``_group``), each pool's sums are taken once, and each symbol's liquidation and bankruptcy prices are
solved from its pool's sums less its own legs. ``account_totals`` is the lean pass a backtester runs at
every bar (the account totals and each pool's margin balance, requirement, ratio and breach flag, no
prices solved); ``evaluate`` adds the prices on the same grouping, so the totals have one code path.
Every sum is ``math.fsum`` (correctly rounded): "the other symbols' sum" is the correctly rounded
difference of the pool's exact sum and the symbol's legs (``_exact_parts``), the very value an fsum over
the other positions gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from crossmargin.errors import InputError
from crossmargin.margin.liquidation import NO_REQUIREMENT, Leg, PoolRoot, solve_pool_price, solve_pool_root
from crossmargin.margin.pools import pool_breaches
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
    "AccountPass",
    "PoolFigures",
    "PositionState",
    "account_totals",
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


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolFigures:
    """One margin pool at the marks: what decides whether the venue liquidates it.

    ``pool`` is ``'cross'`` or ``'isolated:i'`` (``margin.pools.pool_keys``); ``positions`` the indices in
    ``account.positions`` of what it holds. Money in quote currency: ``wallet`` (the cross wallet, or the
    isolated wallet), ``margin_balance = wallet + sum of unrealised PnL``, ``requirement`` (the sum of the
    positions' maintenance requirements, what liquidation compares the margin balance with).
    ``margin_ratio`` is the pool's ratio as the venue shows it (a fraction; ``VenueRules.ratio_kind``);
    ``breached`` is ``margin.pools.pool_breaches(margin_balance, requirement)``.
    """

    pool: str
    positions: tuple[int, ...]
    wallet: float
    margin_balance: float
    requirement: float
    margin_ratio: float
    breached: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPass:
    """The lean pass over an account (``account_totals``): account totals and every pool, no prices solved.

    ``account`` equals ``evaluate(...).account``; ``pools`` are in the order of their first position;
    ``pool_ratios[i]`` is the margin ratio of the pool of position i, equal to ``evaluate(...).pool_ratios``.
    """

    venue: str
    account: AccountTotals
    pools: tuple[PoolFigures, ...]
    pool_ratios: tuple[float, ...]

    @property
    def breached(self) -> bool:
        """Return True when any pool breaches its requirement (the venue would liquidate it)."""
        return any(pool.breached for pool in self.pools)


@dataclass(slots=True)
class _Pool:
    """A pool's positions (in account order) and its figures, each sum taken once (quote currency)."""

    key: str
    wallet: float
    indices: list[int]
    states: list[PositionState]
    upnl: float = 0.0
    margin_balance: float = 0.0
    requirement: float = 0.0
    ratio: float = 0.0


def _group(account: Account, states: Sequence[PositionState], rules: VenueRules) -> list[_Pool]:
    """Return the pools of ``states`` in the order of their first position, each with its figures."""
    cross_wallet = account.cross_wallet_balance
    pools: dict[str, _Pool] = {}
    for index, state in enumerate(states):
        key = "cross" if state.position.mode is MarginMode.CROSS else f"isolated:{index}"
        pool = pools.get(key)
        if pool is None:
            pool = pools[key] = _Pool(key, _pool_wallet(state, cross_wallet), [], [])
        pool.indices.append(index)
        pool.states.append(state)
    for pool in pools.values():
        pool.upnl = math.fsum(s.upnl for s in pool.states)
        pool.margin_balance = pool.wallet + pool.upnl
        pool.requirement = math.fsum(s.requirement for s in pool.states)
        pool.ratio = margin_ratio(rules.ratio_kind, pool.requirement, pool.margin_balance)
    return list(pools.values())


def _account_figures(
    account: Account, states: Sequence[PositionState], pools: Sequence[_Pool], rules: VenueRules
) -> AccountTotals:
    """Return the account-wide figures (Binance's account endpoint; see the module docstring)."""
    cross_wallet = account.cross_wallet_balance
    cross = next((pool for pool in pools if pool.key == "cross"), None)
    cross_upnl = 0.0 if cross is None else cross.upnl  # fsum of nothing
    cross_requirement = 0.0 if cross is None else cross.requirement
    cross_im = 0.0 if cross is None else math.fsum(s.im for s in cross.states)
    total_upnl = math.fsum(s.upnl for s in states)
    return AccountTotals(
        wallet_balance=account.wallet_balance,
        unrealized_pnl=total_upnl,
        margin_balance=account.wallet_balance + total_upnl,
        initial_margin=math.fsum(s.im for s in states),
        maintenance_margin=math.fsum(s.mm for s in states),
        margin_ratio=margin_ratio(rules.ratio_kind, cross_requirement, cross_wallet + cross_upnl),
        available_balance=max(0.0, cross_wallet + cross_upnl - cross_im),
    )


def _pool_ratios(states: Sequence[PositionState], pools: Sequence[_Pool]) -> tuple[float, ...]:
    """Return the margin ratio of each position's pool, in account order."""
    ratios = [0.0] * len(states)
    for pool in pools:
        for index in pool.indices:
            ratios[index] = pool.ratio
    return tuple(ratios)


def account_totals(account: Account, marks: Marks, rules: VenueRules) -> AccountPass:
    """Return the account totals and each pool's figures at ``marks``, without solving any price.

    The lean per-bar pass of a backtester: the same figures as ``evaluate`` (``account`` and
    ``pool_ratios`` equal, bit for bit), at the cost of ``position_states`` and one sum per pool (linear in
    the number of positions). Raises InputError where ``position_states`` does.
    """
    states = position_states(account, marks, rules)
    pools = _group(account, states, rules)
    figures = tuple(
        PoolFigures(
            pool=pool.key,
            positions=tuple(pool.indices),
            wallet=pool.wallet,
            margin_balance=pool.margin_balance,
            requirement=pool.requirement,
            margin_ratio=pool.ratio,
            breached=pool_breaches(pool.margin_balance, pool.requirement),
        )
        for pool in pools
    )
    return AccountPass(
        venue=rules.name,
        account=_account_figures(account, states, pools, rules),
        pools=figures,
        pool_ratios=_pool_ratios(states, pools),
    )


def _exact_parts(values: Sequence[float]) -> list[float] | None:
    """Return floats whose exact sum is the exact sum of ``values``, or None when that sum is not finite.

    CPython's ``math.fsum`` is correctly rounded (Shewchuk's exact partials, then round-half-even), so
    ``fsum(parts + more)`` is the correctly rounded value of ``sum(values) + sum(more)``: bit for bit what
    an fsum over the values and ``more`` gives, in any order. Each part is the rounding error of the ones
    before (at least 53 bits smaller), and sums of floats are multiples of 2**-1074, so a finite sum takes
    at most 40 parts (in practice one or two).
    """
    parts: list[float] = []
    rest = math.fsum(values)
    while rest != 0 and math.isfinite(rest):
        parts.append(rest)
        rest = math.fsum([*values, *(-part for part in parts)])
    return parts if rest == 0 else None


def _solve_symbols(pool: _Pool) -> dict[str, tuple[PoolRoot, float | None, int]]:
    """Return the liquidation root, the bankruptcy price and the number of legs of each symbol of ``pool``.

    The pool's other symbols enter through their unrealised PnL and requirement at their marks:
    ``W + U_other - R_other`` (liquidation) and ``W + U_other`` (bankruptcy), ``margin.liquidation``'s
    base. ``U_other`` and ``R_other`` are the pool's exact sums less the symbol's legs, correctly rounded.
    """
    by_symbol: dict[str, list[PositionState]] = {}
    for state in pool.states:
        by_symbol.setdefault(state.position.symbol, []).append(state)
    upnl_parts = _exact_parts([s.upnl for s in pool.states])
    requirement_parts = _exact_parts([s.requirement for s in pool.states])
    solved = {}
    for symbol, legs in by_symbol.items():
        if upnl_parts is None or requirement_parts is None:  # sums that overflow: add the others up directly
            others = [s for s in pool.states if s.position.symbol != symbol]
            other_upnl = math.fsum(s.upnl for s in others)
            other_requirement = math.fsum(s.requirement for s in others)
        else:
            other_upnl = math.fsum([*upnl_parts, *(-s.upnl for s in legs)])
            other_requirement = math.fsum([*requirement_parts, *(-s.requirement for s in legs)])
        mark = legs[0].mark
        root = solve_pool_root([s.leg() for s in legs], pool.wallet + other_upnl - other_requirement, mark)
        bankrupt = solve_pool_price([s.leg(NO_REQUIREMENT) for s in legs], pool.wallet + other_upnl, mark)
        solved[symbol] = (root, bankrupt, len(legs))
    return solved


def evaluate(account: Account, marks: Marks, rules: VenueRules) -> AccountRisk:
    """Return every margin figure of ``account`` at ``marks`` under ``rules`` (see the module docstring).

    Linear in the number of positions: ``account_totals``' pools, then one liquidation and one bankruptcy
    solve per symbol of each pool (hedged legs share theirs). Raises InputError where ``position_states`` does.
    """
    states = position_states(account, marks, rules)
    pools = _group(account, states, rules)
    risks: dict[int, PositionRisk] = {}
    for pool in pools:
        solved = _solve_symbols(pool)
        for index, state in zip(pool.indices, pool.states, strict=True):
            position = state.position
            root, bankrupt, legs = solved[position.symbol]
            liq = root.price
            if liq is None:
                distance = None
            elif legs == 1:
                distance = int(position.side) * (state.mark - liq) / state.mark
            else:  # hedged legs: the pool is liquidated by a move either way; sign by the pool's state now
                distance = math.copysign(abs(state.mark - liq) / state.mark, pool.margin_balance - pool.requirement)
            risks[index] = PositionRisk(
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
    return AccountRisk(
        venue=rules.name,
        account=_account_figures(account, states, pools, rules),
        positions=tuple(risks[index] for index in range(len(states))),
        pool_ratios=_pool_ratios(states, pools),
    )


def pool_margin_ratio(risk: AccountRisk, position: PositionRisk) -> float:
    """Return the margin ratio (fraction, as the venue shows it) of the pool that holds ``position``."""
    return risk.pool_ratios[risk.positions.index(position)]
