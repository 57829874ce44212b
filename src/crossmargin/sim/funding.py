"""Funding settled during a run: ``-s x q x mark open x rate`` at each settlement time inside a bar.

Each settlement is ``margin.operations.settle_funding``: the payment (quote currency) goes into the cross
wallet, or into the position's isolated wallet (never below ``ISOLATED_FLOOR``: the rest is a loss the venue's
liquidation takes). The settlement times are mapped to bars once per run (``RunState.funding_bars``), so
finding the next settlement is a binary search, not a walk over the bars.
"""

from __future__ import annotations

import numpy as np

from crossmargin.margin.operations import settle_funding as settle
from crossmargin.sim.state import RunState

__all__ = ["funding_due", "next_funding", "settle_funding"]


def _held(run: RunState) -> set[str]:
    return {p.symbol for p in run.account.positions}


def funding_due(run: RunState, bar: int) -> bool:
    """Return whether a funding settlement time of a held symbol falls inside ``bar``."""
    return next_funding(run, bar) == bar


def next_funding(run: RunState, bar: int) -> int:
    """Return the first bar from ``bar`` on holding a settlement of a held symbol (``market.bars`` when none)."""
    found = run.market.bars
    for symbol in _held(run):
        bars = run.funding_bars.get(symbol)
        if bars is None:
            continue
        index = int(np.searchsorted(bars, bar, side="left"))
        if index < len(bars):
            found = min(found, int(bars[index]))
    return found


def settle_funding(run: RunState, bar: int) -> None:
    """Settle every funding time inside ``bar`` for every held position, at the mark open; record each payment."""
    for position in run.account.positions:
        bars = run.funding_bars.get(position.symbol)
        if bars is None:
            continue
        first = int(np.searchsorted(bars, bar, side="left"))
        last = int(np.searchsorted(bars, bar, side="right"))
        for index in range(first, last):
            rate = float(run.market.funding_rates[position.symbol][index])
            mark = float(run.market.mark_open[bar, run.market.column(position.symbol)])
            result = settle(
                run.account, symbol=position.symbol, mark=mark, rate=rate, position_side=position.position_side
            )
            run.set_account(result.account)
            run.ledger.funding.append(
                {"time": run.time(bar), "symbol": position.symbol, "rate": rate, "payment": result.event.realized_pnl}
            )
