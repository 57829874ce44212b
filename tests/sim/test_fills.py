"""``sim.fills``: perpetual fills through ``margin.operations``, refusals as events, resting orders in rank order."""

from __future__ import annotations

import pytest

from crossmargin.model import Side
from crossmargin.sim.fills import execute, fill_pending, fire_resting
from crossmargin.sim.orders import Order, fill_price
from tests.sim.parts import BINANCE, flat_market, state_on


def test_execute_opens_through_margin_operations_and_records_the_fee() -> None:
    run = state_on(flat_market([100.0, 101.0, 102.0]))
    execute(run, 1, Order(symbol="BTCUSDT", side=Side.LONG, size=2.0), 100.5, "market")
    position = run.account.position("BTCUSDT")
    assert position is not None
    assert (position.side, position.size, position.entry_price) == (Side.LONG, 2.0, 100.5)
    (trade,) = run.ledger.trades
    assert trade["kind"] == "open"
    assert trade["fee"] == pytest.approx(2.0 * 100.5 * BINANCE.fee_rate("taker"))
    assert run.ledger.fees == trade["fee"]


def test_reduce_only_without_a_position_is_cancelled_as_an_event() -> None:
    run = state_on(flat_market([100.0, 101.0]))
    execute(run, 0, Order(symbol="BTCUSDT", side=Side.SHORT, size=1.0, reduce_only=True, tag="exit"), 100.0, "market")
    assert run.account.positions == ()
    assert [(e["kind"], e["text"]) for e in run.ledger.events] == [
        ("cancelled", "reduce-only exit in BTCUSDT: no position")
    ]


def test_pending_orders_fill_at_the_open_with_slippage() -> None:
    run = state_on(flat_market([100.0, 110.0, 120.0]))
    order = Order(symbol="BTCUSDT", side=Side.LONG, size=1.0)
    run.pending.append(order)
    fill_pending(run, 2)
    assert run.pending == []
    (trade,) = run.ledger.trades
    assert trade["price"] == fill_price(order, 110.0, run.config.slippage)  # bar 2 opens at bar 1's close


def test_a_reached_stop_fills_first_and_drops_the_positions_other_exits() -> None:
    run = state_on(flat_market([100.0, 100.0, 90.0]))
    execute(run, 0, Order(symbol="BTCUSDT", side=Side.LONG, size=1.0), 100.0, "market")
    take_profit = Order(symbol="BTCUSDT", side=Side.SHORT, size=1.0, type="take_profit", price=99.5, reduce_only=True)
    stop = Order(symbol="BTCUSDT", side=Side.SHORT, size=1.0, type="stop", price=95.0, reduce_only=True)
    run.resting = [take_profit, stop]  # both reached by bar 2 (high 101, low 89.1)
    fire_resting(run, 2)
    assert run.account.position("BTCUSDT") is None
    assert [t["kind"] for t in run.ledger.trades] == ["open", "stop"]
    assert run.resting == []
