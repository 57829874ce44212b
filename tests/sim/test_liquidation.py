"""``sim.liquidation``: a pool breached at the bar's worst case goes through ``margin.liquidate``."""

from __future__ import annotations

from crossmargin.model import Side
from crossmargin.sim.fills import execute
from crossmargin.sim.liquidation import check_margin
from crossmargin.sim.orders import Order
from tests.sim.parts import flat_market, state_on


def test_a_breached_cross_pool_is_liquidated_and_its_exits_dropped() -> None:
    run = state_on(flat_market([100.0, 100.0, 60.0]))
    execute(run, 0, Order(symbol="BTCUSDT", side=Side.LONG, size=400.0, leverage=5), 100.0, "market")
    exit_order = Order(symbol="BTCUSDT", side=Side.SHORT, size=400.0, type="take_profit", price=150.0, reduce_only=True)
    run.resting = [exit_order]
    check_margin(run, 1)  # bar 1: 99-101, far from liquidation
    assert run.ledger.liquidations == []
    wallet = run.account.cross_wallet_balance
    check_margin(run, 2)  # bar 2: low 59.4, a 40 % fall on 5x
    assert run.account.position("BTCUSDT") is None
    rows = run.ledger.liquidations
    assert rows
    assert all(row["pool"] == "cross" for row in rows)
    assert rows[0]["loss"] == wallet - rows[0]["returned"]
    assert run.ledger.breach[2] >= 1.0
    assert run.resting == []
    assert [t["kind"] for t in run.ledger.trades][-len(rows) :] == ["liquidation"] * len(rows)
