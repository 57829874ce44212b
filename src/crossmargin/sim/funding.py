"""Funding settled during a run: ``-s x q x mark open x rate`` at each settlement time inside a bar.

Each settlement is ``margin.operations.settle_funding``: the payment (quote currency) goes into the cross
wallet, or into the position's isolated wallet (never below ``ISOLATED_FLOOR``: the rest is a loss the venue's
liquidation takes).
"""

from __future__ import annotations

import numpy as np

from crossmargin.margin.operations import settle_funding as settle
from crossmargin.sim.state import RunState

__all__ = ["funding_due", "settle_funding"]


def funding_due(run: RunState, bar: int) -> bool:
    """Return whether a funding settlement time of a held symbol falls inside ``bar``."""
    start = int(run.market.times[bar])
    end = start + run.market.interval_ms
    for symbol in {p.symbol for p in run.account.positions}:
        times = run.market.funding_times.get(symbol)
        if times is None:
            continue
        index = int(np.searchsorted(times, start, side="left"))
        if index < len(times) and times[index] < end:
            return True
    return False


def settle_funding(run: RunState, bar: int) -> None:
    """Settle every funding time inside ``bar`` for every held position, at the mark open; record each payment."""
    start = int(run.market.times[bar])
    end = start + run.market.interval_ms
    for position in run.account.positions:
        times = run.market.funding_times.get(position.symbol)
        if times is None:
            continue
        index = int(np.searchsorted(times, start, side="left"))
        while index < len(times) and times[index] < end:
            rate = float(run.market.funding_rates[position.symbol][index])
            mark = float(run.market.mark_open[bar, run.market.column(position.symbol)])
            result = settle(
                run.account, symbol=position.symbol, mark=mark, rate=rate, position_side=position.position_side
            )
            run.set_account(result.account)
            run.ledger.funding.append(
                {"time": run.time(bar), "symbol": position.symbol, "rate": rate, "payment": result.event.realized_pnl}
            )
            index += 1
