"""``sim.funding``: a settlement inside a bar pays ``funding_payment`` at the mark open into the right wallet."""

from __future__ import annotations

import pytest

from crossmargin.margin.funding import funding_payment
from crossmargin.model import MarginMode, Side
from crossmargin.sim.fills import execute
from crossmargin.sim.funding import funding_due, settle_funding
from crossmargin.sim.orders import Order
from tests.sim.parts import flat_market, state_on


def test_funding_is_due_only_where_a_held_symbol_settles() -> None:
    run = state_on(flat_market([100.0, 100.0, 100.0, 100.0], funding=[(2, 0.001)]))
    assert not funding_due(run, 2)  # nothing held
    execute(run, 0, Order(symbol="BTCUSDT", side=Side.LONG, size=1.0), 100.0, "market")
    assert [funding_due(run, bar) for bar in range(4)] == [False, False, True, False]


def test_cross_funding_goes_to_the_wallet_and_isolated_to_its_margin() -> None:
    market = flat_market([100.0, 100.0, 104.0, 100.0], funding=[(2, 0.001)])
    for mode in (MarginMode.CROSS, MarginMode.ISOLATED):
        run = state_on(market)
        execute(run, 0, Order(symbol="BTCUSDT", side=Side.LONG, size=3.0, margin_mode=mode), 100.0, "market")
        before = run.account.position("BTCUSDT")
        assert before is not None
        wallet = run.account.wallet_balance
        settle_funding(run, 2)
        expected = funding_payment(Side.LONG, 3.0, float(market.mark_open[2, 0]), 0.001)
        assert expected < 0  # a long pays a positive rate
        (row,) = run.ledger.funding
        assert row["rate"] == 0.001
        assert row["payment"] == pytest.approx(expected, rel=1e-12)  # isolated: the margin's change, rounded
        assert run.account.wallet_balance == wallet + row["payment"]
        after = run.account.position("BTCUSDT")
        assert after is not None
        if mode is MarginMode.ISOLATED:
            assert before.isolated_margin is not None
            assert after.isolated_margin == pytest.approx(before.isolated_margin + expected, rel=1e-12)
        else:
            assert after.isolated_margin is None
