"""Orders filled: market orders at the open, resting orders when the bar reaches them, spot trades.

Every fill goes through ``margin.operations`` (open, increase, reduce; ``spot_trade`` for spot), so the venue's
refusals apply; a refusal is recorded as an event, never raised. Prices in the quote currency, sizes in base units.
"""

from __future__ import annotations

from typing import Literal

from crossmargin.errors import CrossmarginError, InputError, RejectedError
from crossmargin.margin.operations import increase_position, open_position, reduce_position, spot_trade
from crossmargin.model import MarginMode, Side
from crossmargin.sim.controls import capped_size
from crossmargin.sim.orders import Order, fill_price, trigger_direction
from crossmargin.sim.state import RunState

__all__ = [
    "ORDER_RANK",
    "execute",
    "fill_pending",
    "fire_resting",
    "spot_fill",
]

#: Resting orders a bar reaches fill in this order: stops first.
ORDER_RANK = {"stop": 0, "take_profit": 1, "limit": 2}


def execute(run: RunState, bar: int, order: Order, price: float, kind: str) -> None:
    """Fill ``order`` at ``price`` through ``margin.operations``; record a refusal as an event."""
    liquidity: Literal["maker", "taker"] = "maker" if order.type == "limit" else "taker"
    if order.market == "spot":
        _fill_spot(run, bar, order, price)
        return
    marks = run.marks_at(bar, run.market.mark_open)
    position = run.account.position(order.symbol)
    size = order.size
    try:
        if position is not None and position.side is not order.side:
            closing = min(size, position.size)
            result = reduce_position(
                run.account, run.rules, symbol=order.symbol, size=closing, price=price, liquidity=liquidity
            )
            label = kind if kind != "market" else ("reduce" if closing < position.size else "close")
            run.ledger.fill(run.time(bar), order, result.event, label)
            run.set_account(result.account)
            size -= closing
            position = None
            if size <= 1e-12 or order.reduce_only:
                return
        elif order.reduce_only:
            if position is None:
                run.note(bar, "cancelled", f"reduce-only {order.tag or order.type} in {order.symbol}: no position")
            return
        size = capped_size(run, bar, order, size, price)
        if size <= 0:
            return
        if position is None:
            mode = order.margin_mode or (MarginMode.CROSS if run.mode == "cross" else MarginMode.ISOLATED)
            result = open_position(
                run.account,
                marks,
                run.rules,
                symbol=order.symbol,
                side=order.side,
                size=size,
                price=price,
                leverage=order.leverage or run.config.leverage,
                mode=mode,
                liquidity=liquidity,
            )
            run.ledger.fill(run.time(bar), order, result.event, kind if kind != "market" else "open")
        else:
            result = increase_position(
                run.account, marks, run.rules, symbol=order.symbol, size=size, price=price, liquidity=liquidity
            )
            run.ledger.fill(run.time(bar), order, result.event, kind if kind != "market" else "increase")
        run.set_account(result.account)
    except CrossmarginError as error:
        run.note(bar, "refused", f"{order.side.label} {size:g} {order.symbol} ({order.type}): {error}")


def _fill_spot(run: RunState, bar: int, order: Order, price: float) -> None:
    """Buy or sell spot at ``price`` from the cross wallet, taker fee; a buy the wallet cannot pay is refused."""
    held = run.spot.get(order.symbol, 0.0)
    size = order.size if order.side is Side.LONG else min(order.size, held)
    if size <= 0:
        return  # a sale with no spot held sells nothing
    try:
        result = spot_trade(
            run.account,
            symbol=order.symbol,
            side=order.side,
            size=size,
            price=price,
            fee_rate=run.rules.fee_rate("taker"),
        )
    except RejectedError as error:
        run.note(bar, "refused", str(error))
        return
    run.spot[order.symbol] = held + int(order.side) * size
    run.ledger.fees += result.event.fee
    run.set_account(result.account)
    run.ledger.trade(
        run.time(bar),
        symbol=order.symbol,
        side=order.side.label,
        size=size,
        price=price,
        fee=result.event.fee,
        pnl=0.0,
        kind="spot",
    )


def spot_fill(run: RunState, bar: int, order: Order) -> float:
    """Return the price a spot market ``order`` fills at: the spot close of ``bar`` with slippage (quote)."""
    if run.market.spot_close is None:
        raise InputError("market", "spot", "a run with spot prices (the strategy needs them)")
    price = float(run.market.spot_close[bar, run.market.column(order.symbol)])
    return price * (1 + int(order.side) * run.config.slippage)


def fill_pending(run: RunState, bar: int) -> None:
    """Fill the market orders sent at the previous close at the open of ``bar``, with slippage."""
    orders, run.pending = run.pending, []
    for order in orders:
        column = run.market.column(order.symbol)
        price = fill_price(order, float(run.market.open[bar, column]), run.config.slippage)
        execute(run, bar, order, price, "market")


def fire_resting(run: RunState, bar: int) -> None:
    """Fill the resting orders whose price ``bar`` reaches (stops first); drop the exits of a closed position."""
    for order in sorted(run.resting, key=lambda o: ORDER_RANK[o.type]):
        if order not in run.resting:
            continue
        column = run.market.column(order.symbol)
        direction = trigger_direction(order)
        reached = (
            run.market.high[bar, column] >= order.price if direction > 0 else run.market.low[bar, column] <= order.price
        )
        if not reached:
            continue
        run.resting.remove(order)
        price = fill_price(order, float(run.market.open[bar, column]), run.config.slippage)
        execute(run, bar, order, price, order.type)
        if run.account.position(order.symbol) is None:  # the position is gone: drop its exits
            run.resting = [o for o in run.resting if not (o.symbol == order.symbol and o.reduce_only)]
