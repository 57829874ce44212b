"""Risk controls of a run: the leverage cap, the volatility target, stops beyond liquidation, auto-leverage.

Each is a setting of ``RunConfig`` (off by default except the stop check); each records what it did as an
event. Money in the quote currency, sizes in base units, volatilities and probabilities as fractions.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from crossmargin.margin.account import account_totals, evaluate, position_states
from crossmargin.margin.operations import add_isolated_margin
from crossmargin.model import Side
from crossmargin.sim.config import MS_PER_YEAR
from crossmargin.sim.orders import Order
from crossmargin.sim.state import RunState
from crossmargin.sim.strategy import BarContext

__all__ = ["auto_leverage", "capped_size", "ewma_sigma", "stop_allowed", "vol_scaled"]


def capped_size(run: RunState, bar: int, order: Order, size: float, price: float) -> float:
    """Return ``size`` (base) after the leverage cap (gross notional / equity at the mark open of ``bar``)."""
    cap = run.config.leverage_cap
    if cap is None:
        return size
    marks = run.marks_at(bar, run.market.mark_open)
    equity = account_totals(run.account, marks, run.rules).account.margin_balance
    gross = sum(p.notional for p in position_states(run.account, marks, run.rules))
    room = max(0.0, cap * equity - gross) / price
    if room < size:
        run.note(bar, "leverage_cap", f"{order.symbol}: order cut from {size:g} to {room:g} (cap {cap:g}x)")
        return room
    return size


def vol_scaled(run: RunState, bar: int, order: Order, context: BarContext) -> Order:
    """Return ``order`` scaled down to ``RunConfig.vol_target`` (opening orders only; reducing ones as sent)."""
    target = run.config.vol_target
    if target is None or order.reduce_only or order.market == "spot":
        return order
    position = run.account.position(order.symbol)
    if position is not None and position.side is not order.side:
        return order  # reducing exposure is never scaled
    bars_per_year = MS_PER_YEAR / run.market.interval_ms
    vol = context.realized_volatility(order.symbol, run.config.vol_lookback, bars_per_year)
    if not math.isfinite(vol) or vol <= target:
        return order
    factor = target / vol
    run.note(bar, "vol_target", f"{order.symbol}: volatility {vol:.1%} > {target:.1%}, order x {factor:.3f}")
    return replace(order, size=order.size * factor)


def stop_allowed(run: RunState, bar: int, order: Order) -> bool:
    """Return whether a resting ``order`` may rest: a stop beyond the liquidation price warns or is refused.

    For a position still to open (a pending market order), the bankruptcy price at the order's leverage
    bounds the liquidation price.
    """
    if order.type != "stop" or run.config.stop_policy == "off":
        return True
    position = run.account.position(order.symbol)
    pending = next((o for o in run.pending if o.symbol == order.symbol and o.side is not order.side), None)
    if position is None or position.side is order.side:
        if pending is None:
            return True
        side = pending.side
        entry = float(run.market.close[bar, run.market.column(order.symbol)])
        lev = pending.leverage or run.config.leverage
        liq = entry * (1 - int(side) / lev)  # the bankruptcy price bounds the liquidation price
    else:
        risk = evaluate(run.account, run.marks_at(bar, run.market.mark_close), run.rules)
        found = next(p for p in risk.positions if p.symbol == order.symbol)
        if found.liquidation_price is None:
            return True
        side, liq = position.side, found.liquidation_price
    beyond = (order.price <= liq) if side is Side.LONG else (order.price >= liq)  # type: ignore[operator]
    if not beyond:
        return True
    text = f"{order.symbol}: stop {order.price:,.4g} is beyond the liquidation price {liq:,.4g}"
    if run.config.stop_policy == "refuse":
        run.note(bar, "stop_refused", text + " (refused)")
        return False
    run.note(bar, "stop_warning", text)
    return True


def ewma_sigma(run: RunState, symbol: str, bar: int, decay: float) -> float:
    """Return the EWMA volatility of ``symbol``'s log returns per bar up to ``bar`` (fraction)."""
    closes = run.market.close[: bar + 1, run.market.column(symbol)]
    returns = np.diff(np.log(closes[-min(len(closes), 2000) :]))
    if len(returns) < 2:
        return math.nan
    weights = decay ** np.arange(len(returns) - 1, -1, -1)
    return float(math.sqrt(np.sum(weights * returns**2) / np.sum(weights)))


def auto_leverage(run: RunState, bar: int) -> None:
    """Apply ``RunConfig.auto_leverage`` at the close of ``bar`` (see ``sim.config.AutoLeverage``)."""
    policy = run.config.auto_leverage
    if policy is None or bar < policy.warmup or not run.account.positions:
        return
    marks = run.marks_at(bar, run.market.mark_close)
    states = position_states(run.account, marks, run.rules)  # the lean pass: no price is solved
    available = account_totals(run.account, marks, run.rules).account.available_balance
    cross = [p for p in states if p.position.isolated_margin is None]
    cross_equity = run.account.cross_wallet_balance + sum(p.upnl for p in cross)
    cross_gross = sum(p.notional for p in cross)
    for position, state in zip(run.account.positions, states, strict=True):
        sigma = ewma_sigma(run, position.symbol, bar, policy.ewma_lambda)
        if not math.isfinite(sigma) or sigma <= 0 or state.notional <= 0:
            continue
        instrument = run.rules.instrument(position.symbol)
        venue_cap = instrument.bracket_for(instrument.tier_value(position.size, state.mark)).max_leverage
        cap = min(
            venue_cap,
            policy.cap(position.side, sigma, policy.horizon_bars, state.bracket.mm_rate, policy.max_liq_prob),
        )
        isolated = position.isolated_margin
        if isolated is not None:
            margin = isolated + state.upnl
        else:
            margin = cross_equity * state.notional / cross_gross if cross_gross else 0.0
        if margin > 0 and state.notional / margin <= cap * (1 + policy.band):
            continue
        target_margin = state.notional / max(cap, 1e-9)
        if isolated is not None and margin < target_margin:
            free = min(available, run.account.cross_wallet_balance)
            amount = min(target_margin - margin, free)
            if amount > 1e-9:
                moved = add_isolated_margin(run.account, marks, run.rules, symbol=position.symbol, amount=amount)
                run.set_account(moved.account)
                margin += amount
                run.note(bar, "auto_leverage", f"{position.symbol}: added {amount:,.2f} margin (cap {cap:.2f}x)")
            if margin >= target_margin * (1 - 1e-9):
                continue
        keep = max(0.0, min(position.size, cap * max(margin, 0.0) / state.mark))
        if position.size - keep <= 1e-12:
            continue
        run.pending.append(
            Order(
                symbol=position.symbol,
                side=Side.SHORT if position.side is Side.LONG else Side.LONG,
                size=position.size - keep,
                reduce_only=True,
                tag="auto-leverage",
            )
        )
        run.note(bar, "auto_leverage", f"{position.symbol}: cut to {keep:g} (cap {cap:.2f}x, sigma {sigma:.4f})")
