"""Commit account snapshots to a store in a loop, printing each committed id: the durability test's victim.

Usage: ``python tests/store/writer.py <store URL>``. It records the case-study account (examples/
case_study.toml, evaluated by the engine) once per iteration, 1 s apart in ``time_ms``, and prints the id
of each snapshot only after its transaction has committed. It runs until killed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crossmargin.live.base import ReportedFigures, VenueSnapshot
from crossmargin.margin import evaluate
from crossmargin.portfolio import load_portfolio
from crossmargin.store import Store

CASE_STUDY = Path(__file__).resolve().parents[2] / "examples" / "case_study.toml"
#: 2026-04-27 00:00 UTC in ms since the Unix epoch: the time of the case study's marks.
START_MS = 1_777_248_000_000


def main(url: str) -> None:
    """Write snapshots to the store at ``url`` until the process is killed."""
    portfolio = load_portfolio(CASE_STUDY)
    risk = evaluate(portfolio.account, portfolio.marks, portfolio.rules)
    reported = {p.symbol: ReportedFigures(liquidation_price=p.liquidation_price) for p in risk.positions}
    with Store(url) as store:
        step = 0
        while True:
            snapshot = VenueSnapshot(
                venue=risk.venue,
                time_ms=START_MS + step * 1_000,
                account=portfolio.account,
                marks=portfolio.marks,
                reported=reported,
            )
            committed = store.record_snapshot(snapshot, risk)
            print(committed, flush=True)
            step += 1


if __name__ == "__main__":
    main(sys.argv[1])
