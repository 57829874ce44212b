"""``sim.ledger``: the records of a run and the summary computed from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crossmargin.sim.ledger import Ledger
from tests.sim.parts import flat_market


def test_an_empty_book_is_one_empty_snapshot_row() -> None:
    ledger = Ledger(3)
    ledger.snapshot(pd.Timestamp(0, unit="ms", tz="UTC"), ())
    assert ledger.positions == [
        {
            "time": pd.Timestamp(0, unit="ms", tz="UTC"),
            "symbol": "",
            "side": "",
            "size": 0.0,
            "entry_price": 0.0,
            "margin_mode": "",
        }
    ]


def test_result_summarises_the_series() -> None:
    market = flat_market([100.0, 100.0, 100.0, 100.0])
    ledger = Ledger(market.bars)
    ledger.equity[:] = [10_000.0, 11_000.0, 8_800.0, 9_900.0]
    ledger.spot[:] = [0.0, 0.0, 0.0, 100.0]
    ledger.ratio[:] = [0.1, 0.2, 0.85, 0.3]
    ledger.breach[2] = 1.2
    ledger.gross[:] = [0.0, 20_000.0, 20_000.0, 0.0]
    ledger.note(pd.Timestamp(0, unit="ms", tz="UTC"), "refused", "no")
    result = ledger.result("cross", market, 10_000.0)
    summary = result.summary
    assert summary.final_equity == 10_000.0
    assert summary.return_on_collateral == 0.0
    assert summary.max_drawdown == pytest.approx(0.2)  # 11,000 -> 8,800
    assert summary.peak_margin_ratio == 1.2  # the liquidated bar at its worst-case ratio
    assert summary.time_above_80pct == 0.25
    assert summary.capital_efficiency == 1.0
    assert summary.rejected_orders == 1
    np.testing.assert_array_equal(result.equity["equity"].to_numpy(), [10_000.0, 11_000.0, 8_800.0, 10_000.0])
    assert list(result.trades.columns) == ["time", "symbol", "side", "size", "price", "fee", "realized_pnl", "kind"]
