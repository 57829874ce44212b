"""``sim.controls``: the leverage cap, the volatility estimate and stops beyond the liquidation price."""

from __future__ import annotations

import math

import numpy as np
import pytest

from crossmargin.model import Side
from crossmargin.sim.config import RunConfig
from crossmargin.sim.controls import capped_size, ewma_sigma, stop_allowed
from crossmargin.sim.fills import execute
from crossmargin.sim.orders import Order
from tests.sim.parts import flat_market, state_on


def test_the_leverage_cap_cuts_an_order_to_the_room_left() -> None:
    run = state_on(flat_market([100.0, 100.0]), config=RunConfig(leverage_cap=2.0))
    order = Order(symbol="BTCUSDT", side=Side.LONG, size=500.0)
    size = capped_size(run, 0, order, 500.0, 100.0)
    assert size == pytest.approx(2.0 * 10_000.0 / 100.0)  # no position yet: equity is the wallet
    assert run.ledger.events[0]["kind"] == "leverage_cap"
    assert capped_size(run, 0, order, 10.0, 100.0) == 10.0


def test_ewma_sigma_is_the_weighted_rms_of_log_returns() -> None:
    closes = [100.0, 101.0, 99.0, 102.0, 100.5]
    run = state_on(flat_market(closes))
    returns = np.diff(np.log(closes))
    weights = 0.9 ** np.arange(len(returns) - 1, -1, -1)
    expected = math.sqrt(float(np.sum(weights * returns**2) / np.sum(weights)))
    assert ewma_sigma(run, "BTCUSDT", 4, 0.9) == pytest.approx(expected, rel=1e-12)
    assert math.isnan(ewma_sigma(run, "BTCUSDT", 1, 0.9))  # one return: no estimate


@pytest.mark.parametrize(
    ("policy", "allowed", "kind"), [("refuse", False, "stop_refused"), ("warn", True, "stop_warning")]
)
def test_a_stop_beyond_the_liquidation_price_is_refused_or_warned(policy: str, allowed: bool, kind: str) -> None:
    run = state_on(flat_market([100.0, 100.0]), config=RunConfig(stop_policy=policy))  # type: ignore[arg-type]
    execute(run, 0, Order(symbol="BTCUSDT", side=Side.LONG, size=400.0, leverage=5), 100.0, "market")
    beyond = Order(symbol="BTCUSDT", side=Side.SHORT, size=400.0, type="stop", price=50.0, reduce_only=True)
    inside = Order(symbol="BTCUSDT", side=Side.SHORT, size=400.0, type="stop", price=95.0, reduce_only=True)
    assert stop_allowed(run, 1, inside)
    assert stop_allowed(run, 1, beyond) is allowed
    assert run.ledger.events[-1]["kind"] == kind
