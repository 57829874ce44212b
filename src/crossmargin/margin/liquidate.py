"""What a venue does to an account whose pool breaches its maintenance requirement: the liquidation procedure.

``liquidate(account, marks, rules)`` checks every pool (each isolated position, then the cross pool) at
``marks`` and, where ``margin balance <= requirement``, applies the venue's procedure
(``rules.liquidation.style``). It returns the account after and one event per pool liquidated, with every
fill. This is what the backtester calls at each bar whose mark breaches.

Procedures (sources in each venue's params file and ``docs/venues.md``):

- ``full`` (Binance USDⓈ-M): every position of the pool is closed at the mark. The clearance fee
  ``min(remaining margin, fee rate x liquidated notional)`` goes to the insurance fund; what is left of
  the pool's margin balance stays with the trader; a negative balance is reset to 0 by the fund (the
  position is then, in effect, closed at its bankruptcy price). At tier 1 the maintenance margin is below
  the fee, so the trader keeps nothing, as Binance states.
- ``tier_step_down`` (Bybit): a position above the lowest risk-limit tier is first reduced, at the mark,
  to the largest size inside a lower tier at which the pool meets its requirement (highest such tier
  first); if no lower tier does, or the position is in the lowest tier, the whole pool is taken over at
  the bankruptcy price: the trader loses the pool's margin, which goes to the insurance fund.
- ``two_tiers_down`` (OKX): a position in tier 3 or above is reduced to the top of the tier two below, at
  the mark, with the liquidation fee on the reduced notional; repeated while the pool breaches; once in
  tier 1 or 2 the whole pool is taken over at the bankruptcy price.
- ``partial_slices`` (Hyperliquid): below ``backstop_fraction`` of the requirement the backstop takes the
  whole pool (the trader loses its margin). Otherwise a position above ``slice_threshold`` notional loses
  ``slice_fraction`` of its size at the mark; if the pool still breaches, the rest is closed (the cooldown
  after a partial liquidation sends orders for the whole position). Smaller positions are closed whole.
  What remains of the margin stays with the trader; there is no liquidation fee.

The breach rule is ``pool_breaches`` (defined in ``margin.pools``, re-exported here). Fills are at the mark
moved against the position by ``slippage`` (a fraction, default 0): the venues do not publish fill prices,
so slippage is the caller's model. Positions of a cross pool are taken in decreasing order of requirement.
Money in quote currency, sizes in base units.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from crossmargin.errors import EngineError, InputError
from crossmargin.margin.account import PositionState, position_states
from crossmargin.margin.pools import pool_breaches
from crossmargin.model import Account, MarginMode, Marks, Position
from crossmargin.venues.base import VenueRules

__all__ = [
    "FillKind",
    "LiquidationEvent",
    "LiquidationFill",
    "LiquidationOutcome",
    "liquidate",
    "pool_breaches",
]

FillKind = Literal["reduce", "close", "takeover"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationFill:
    """One liquidation fill: ``size`` (base) of the position closed at ``price`` (quote).

    ``realized_pnl`` is that part's PnL at ``price``; ``fee`` the liquidation fee charged to the trader
    (>= 0). ``kind``: 'reduce' (part of the position), 'close' (the rest of it), 'takeover' (taken by the
    insurance fund or backstop at the bankruptcy price).
    """

    symbol: str
    side: str
    position_side: str
    size: float
    price: float
    kind: FillKind
    realized_pnl: float
    fee: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationEvent:
    """The liquidation of one pool: 'cross' or 'isolated:SYMBOL[:side]'.

    ``margin_before``: the pool's margin balance at the trigger; ``requirement``: what it fell to;
    ``insurance_fund``: what the insurance fund or backstop received (> 0) or paid to cover a deficit
    (< 0); ``returned``: the pool's margin left to the trader after the procedure (>= 0).
    """

    pool: str
    margin_before: float
    requirement: float
    fills: tuple[LiquidationFill, ...]
    insurance_fund: float
    returned: float


@dataclass(frozen=True, slots=True)
class LiquidationOutcome:
    """The account after liquidation and the events that made it (empty when no pool breached)."""

    account: Account
    events: tuple[LiquidationEvent, ...]

    @property
    def liquidated(self) -> bool:
        """Return True when any pool was liquidated."""
        return bool(self.events)


def _pool_of(state: PositionState) -> str:
    p = state.position
    if p.mode is MarginMode.CROSS:
        return "cross"
    return f"isolated:{p.symbol}" + ("" if p.position_side == "both" else f":{p.position_side}")


def _summed(account: Account, pool: str, states: list[PositionState]) -> tuple[float, float, list[PositionState]]:
    """Return the margin balance and requirement (quote) of ``pool`` holding ``states``, and the states."""
    if not states and pool != "cross":  # the isolated position is closed: its pool is empty
        return 0.0, 0.0, states
    wallet = account.cross_wallet_balance if pool == "cross" else (states[0].position.isolated_margin or 0.0)
    equity = wallet + math.fsum(s.upnl for s in states)
    return equity, math.fsum(s.requirement for s in states), states


def _status(account: Account, marks: Marks, rules: VenueRules, pool: str) -> tuple[float, float, list[PositionState]]:
    return _summed(account, pool, [s for s in position_states(account, marks, rules) if _pool_of(s) == pool])


def _fill_price(position: Position, mark: float, slippage: float) -> float:
    return mark * (1 - int(position.side) * slippage)


def _settled(account: Account) -> Account:
    """Return ``account`` as a normal account again unless its cross wallet is really in deficit.

    A cross wallet emptied to zero may sit a roundoff below the isolated wallets it holds: it is set to
    them exactly. A true deficit (carried by other cross positions' profit) keeps the account flagged.
    """
    isolated = account.isolated_wallet_total
    if account.wallet_balance < isolated * (1 + 1e-12) - 1e-9:
        return account if account.cross_deficit_allowed else replace(account, cross_deficit_allowed=True)
    return replace(account, wallet_balance=max(account.wallet_balance, isolated), cross_deficit_allowed=False)


def _with_position(account: Account, old: Position, new: Position | None, wallet_delta: float) -> Account:
    positions = tuple(p for p in account.positions if p is not old)
    if new is not None:
        positions = tuple(new if p is old else p for p in account.positions)
    return replace(
        account,
        wallet_balance=account.wallet_balance + wallet_delta,
        positions=positions,
        cross_deficit_allowed=True,  # realised cross losses may run ahead of other positions' profits
    )


def _reduce(
    account: Account, position: Position, new_size: float, *, price: float, fee_rate: float, kind: FillKind
) -> tuple[Account, LiquidationFill]:
    """Close ``position.size - new_size`` at ``price``; PnL and fee stay in the pool (isolated wallet or cross)."""
    closed = position.size - new_size
    pnl = int(position.side) * closed * (price - position.entry_price)
    fee = fee_rate * closed * price
    fill = LiquidationFill(
        symbol=position.symbol,
        side=position.side.label,
        position_side=position.position_side,
        size=closed,
        price=price,
        kind=kind,
        realized_pnl=pnl,
        fee=fee,
    )
    delta = pnl - fee
    if position.isolated_margin is not None:  # an isolated pool never loses more than its wallet
        delta = max(delta, -position.isolated_margin)
    if new_size <= 0:  # what is left of an isolated wallet returns to the cross wallet
        return _with_position(account, position, None, delta), fill
    new = replace(position, size=new_size)
    if position.isolated_margin is not None:
        kept = max(position.isolated_margin + delta, 1e-12)  # a position keeps a (positive) wallet
        new = replace(new, isolated_margin=kept)
        delta = kept - position.isolated_margin
    return _with_position(account, position, new, delta), fill


def _whole_fill(position: Position, price: float, kind: FillKind) -> LiquidationFill:
    """Return the fill that closes all of ``position`` at ``price`` (no fee yet)."""
    return LiquidationFill(
        symbol=position.symbol,
        side=position.side.label,
        position_side=position.position_side,
        size=position.size,
        price=price,
        kind=kind,
        realized_pnl=int(position.side) * position.size * (price - position.entry_price),
        fee=0.0,
    )


def _take_over(
    account: Account, states: Sequence[PositionState], equity: float, requirement: float, pool: str
) -> tuple[Account, LiquidationEvent]:
    """The fund takes every position of the pool at its bankruptcy price: the trader's pool margin is gone."""
    fills = []
    for state in states:
        fills.append(_whole_fill(state.position, state.mark, "takeover"))
    held = {id(s.position) for s in states}
    positions = tuple(p for p in account.positions if id(p) not in held)
    if pool == "cross":  # the cross wallet is gone; isolated wallets are untouched
        wallet = sum(p.isolated_margin or 0.0 for p in positions)
    else:
        wallet = account.wallet_balance - (states[0].position.isolated_margin or 0.0)
    event = LiquidationEvent(
        pool=pool,
        margin_before=equity,
        requirement=requirement,
        fills=tuple(fills),
        insurance_fund=equity,
        returned=0.0,
    )
    return replace(account, wallet_balance=max(wallet, 0.0), positions=positions, cross_deficit_allowed=True), event


def _close_all(
    account: Account, marks: Marks, rules: VenueRules, pool: str, slippage: float
) -> tuple[Account, LiquidationEvent]:
    """Binance: close every position of the pool at the mark, charge the clearance fee, floor the pool at 0."""
    equity, requirement, states = _status(account, marks, rules, pool)
    fills = []
    pool_margin = equity
    for state in states:
        p = state.position
        price = _fill_price(p, state.mark, slippage)
        pnl = int(p.side) * p.size * (price - p.entry_price)
        pool_margin += pnl - state.upnl  # slippage moves the balance from what the mark said
        fills.append(_whole_fill(p, price, "close"))
    fee_cap = math.fsum(rules.liquidation.fee_rate_of(f.symbol) * f.size * f.price for f in fills)
    fee = min(max(pool_margin, 0.0), fee_cap)
    returned = max(pool_margin - fee, 0.0)
    if fee_cap > 0:  # the fee is shared among the fills by their share of the fee cap
        fills = [
            replace(f, fee=fee * rules.liquidation.fee_rate_of(f.symbol) * f.size * f.price / fee_cap) for f in fills
        ]
    held = {id(s.position) for s in states}
    positions = tuple(p for p in account.positions if id(p) not in held)
    isolated_left = sum(p.isolated_margin or 0.0 for p in positions)
    wallet = isolated_left + returned + (0.0 if pool == "cross" else account.cross_wallet_balance)
    event = LiquidationEvent(
        pool=pool,
        margin_before=equity,
        requirement=requirement,
        fills=tuple(fills),
        insurance_fund=fee - max(-pool_margin, 0.0),
        returned=returned,
    )
    return replace(account, wallet_balance=wallet, positions=positions, cross_deficit_allowed=True), event


def _tier_index(state: PositionState) -> int:
    """Return the index of the position's bracket (the venue's tier) in its instrument's table."""
    return state.instrument.brackets.index(state.bracket)


def _size_at_top_of(state: PositionState, tier: int, rules: VenueRules) -> float:
    """Return the largest size (base) inside bracket ``tier``, just below its cap."""
    cap = state.instrument.brackets[tier].cap * (1 - 1e-12)
    if state.instrument.tier_basis == "size":
        return cap
    return cap / rules.tier_price(state.position, state.mark)


def _hedged_pair(states: Sequence[PositionState]) -> tuple[PositionState, PositionState] | None:
    """Return the long and the short leg of the first symbol held both ways in the pool, or None."""
    legs: dict[str, dict[str, PositionState]] = {}
    for state in states:
        legs.setdefault(state.position.symbol, {})[state.position.position_side] = state
    for by_side in legs.values():
        if "long" in by_side and "short" in by_side:
            return by_side["long"], by_side["short"]
    return None


def _step_bound(states: Sequence[PositionState]) -> int:
    """Return an upper bound on the steps of a stepwise liquidation of a pool holding ``states``.

    Every step closes a hedged pair, takes a position down at least one tier, slices it once, or closes
    it: at most (tiers + 2) steps per position, plus one per hedged pair.
    """
    return sum(len(s.instrument.brackets) + 3 for s in states) + 1


def _stepwise(
    account: Account, marks: Marks, rules: VenueRules, pool: str, slippage: float
) -> tuple[Account, LiquidationEvent]:
    """Bybit, OKX and Hyperliquid: reduce the largest positions step by step, take over what still breaches.

    Every step strictly reduces the pool's exposure (a position's size, or a hedged pair closed); the
    number of steps is bounded by ``_step_bound``, past which ``EngineError`` is raised instead of looping.
    """
    policy = rules.liquidation
    equity0, requirement0, states0 = _status(account, marks, rules, pool)
    fills: list[LiquidationFill] = []
    fees = 0.0
    covered = 0.0  # what the insurance fund paid to cover fills beyond an isolated wallet (<= 0)
    bound = _step_bound(states0)
    for _ in range(bound):
        equity, requirement, states = _status(account, marks, rules, pool)
        if not states or not pool_breaches(equity, requirement):
            isolated0 = 0.0 if pool == "cross" else (states0[0].position.isolated_margin or 0.0)
            return _finish(
                account,
                marks,
                rules,
                pool,
                equity0=equity0,
                requirement0=requirement0,
                fills=fills,
                fees=fees,
                covered=covered,
                isolated0=isolated0,
            )
        backstop = policy.style == "partial_slices" and equity < policy.backstop_fraction * requirement
        pair = _hedged_pair(states) if policy.style == "two_tiers_down" else None
        if pair is not None:  # OKX: the long and short legs of one contract are closed against each other first
            closed = min(pair[0].position.size, pair[1].position.size)
            reductions = [(s.position, s.position.size - closed, s.mark) for s in pair]
        else:
            state = max(states, key=lambda s: s.requirement)
            bankrupt = equity <= 0 and policy.style != "partial_slices"  # no reduction can save a bankrupt pool
            target = (
                None if bankrupt or backstop else _target_size(account, marks, rules, pool, state=state, fills=fills)
            )
            if target is None:
                account, event = _take_over(account, states, equity, requirement, pool)
                fills.extend(event.fills)
                return account, replace(
                    event,
                    margin_before=equity0,
                    requirement=requirement0,
                    fills=tuple(fills),
                    insurance_fund=equity + fees + covered,
                )
            reductions = [(state.position, target, state.mark)]
        for position, target_size, mark in reductions:
            if not 0 <= target_size < position.size:
                raise EngineError(
                    f"liquidation of pool {pool} on {rules.name} would take {position.symbol} "
                    f"({position.position_side}) from {position.size!r} to {target_size!r}: not a reduction"
                )
            kind: FillKind = "reduce" if target_size > 0 else "close"
            price = _fill_price(position, mark, slippage)
            account, fill = _reduce(
                account, position, target_size, price=price, fee_rate=policy.fee_rate_of(position.symbol), kind=kind
            )
            fees += fill.fee
            fills.append(fill)
            if position.isolated_margin is not None:  # a loss beyond the isolated wallet is the fund's
                covered += min(0.0, position.isolated_margin + fill.realized_pnl - fill.fee)
    raise EngineError(f"liquidation of pool {pool} on {rules.name} did not end within {bound} steps")


def _finish(
    account: Account,
    marks: Marks,
    rules: VenueRules,
    pool: str,
    *,
    equity0: float,
    requirement0: float,
    fills: Sequence[LiquidationFill],
    fees: float,
    covered: float,
    isolated0: float,
) -> tuple[Account, LiquidationEvent]:
    """Close the event of a pool that no longer breaches (or was emptied by reductions).

    What the pool holds afterwards is returned to the trader; a cross pool emptied with a negative
    balance is reset to 0 by the insurance fund (which then pays that deficit). ``fees``: liquidation fees
    charged; ``covered`` (<= 0): what the fund paid for fills beyond an isolated wallet; ``isolated0``: the
    isolated wallet at the trigger (0 for the cross pool).
    """
    equity, _, states = _status(account, marks, rules, pool)
    if pool != "cross" and not states:  # what was left of the isolated wallet went back to the cross wallet
        equity = isolated0 + math.fsum(f.realized_pnl - f.fee for f in fills) - covered
    deficit = min(equity, 0.0)
    if pool == "cross" and not states and deficit < 0:
        account = replace(account, wallet_balance=account.isolated_wallet_total, cross_deficit_allowed=True)
    return account, LiquidationEvent(
        pool=pool,
        margin_before=equity0,
        requirement=requirement0,
        fills=tuple(fills),
        insurance_fund=fees + covered + deficit,
        returned=max(equity, 0.0),
    )


def _target_size(
    account: Account,
    marks: Marks,
    rules: VenueRules,
    pool: str,
    *,
    state: PositionState,
    fills: Sequence[LiquidationFill],
) -> float | None:
    """Return the size the position is reduced to (0 = closed), or None for a take-over of the pool."""
    policy = rules.liquidation
    position = state.position
    if policy.style == "partial_slices":
        already_sliced = any(f.symbol == position.symbol and f.position_side == position.position_side for f in fills)
        if state.notional > policy.slice_threshold and not already_sliced:
            return position.size * (1 - policy.slice_fraction)
        return 0.0
    tier = _tier_index(state)
    if policy.style == "two_tiers_down":
        return _size_at_top_of(state, tier - 2, rules) if tier >= 2 else None
    # tier_step_down: the highest lower tier whose size restores the pool
    for lower in range(tier - 1, -1, -1):
        size = min(position.size, _size_at_top_of(state, lower, rules))
        trial, _ = _reduce(
            account, position, size, price=state.mark, fee_rate=policy.fee_rate_of(position.symbol), kind="reduce"
        )
        equity, requirement, _ = _status(trial, marks, rules, pool)
        if not pool_breaches(equity, requirement):
            return size
    return None


def liquidate(account: Account, marks: Marks, rules: VenueRules, *, slippage: float = 0.0) -> LiquidationOutcome:
    """Return the account after the venue's liquidation of every pool that breaches at ``marks``.

    ``slippage``: a fraction of the mark by which market fills are worse for the position (>= 0).
    """
    if not (isinstance(slippage, (int, float)) and math.isfinite(slippage) and 0 <= slippage < 1):
        raise InputError("slippage", slippage, "a fraction in [0, 1)")
    events: list[LiquidationEvent] = []
    grouped: dict[str, list[PositionState]] = {}
    for state in position_states(account, marks, rules):
        grouped.setdefault(_pool_of(state), []).append(state)
    # One pass finds every pool's status; only once a pool is liquidated (the account changed) is it
    # recomputed, so a check that liquidates nothing is linear in the number of positions.
    initial = {pool: _summed(account, pool, states) for pool, states in grouped.items()}
    pools = [pool for pool in initial if pool != "cross"] + (["cross"] if "cross" in initial else [])
    for pool in pools:
        equity, requirement, pool_states_ = _status(account, marks, rules, pool) if events else initial[pool]
        if not pool_states_ or not pool_breaches(equity, requirement):
            continue
        if rules.liquidation.style == "full":
            account, event = _close_all(account, marks, rules, pool, slippage)
        else:
            account, event = _stepwise(account, marks, rules, pool, slippage)
        events.append(event)
    return LiquidationOutcome(_settled(account), tuple(events))
