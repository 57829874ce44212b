"""The liquidation process of a run: each pool checked at the bar's intrabar worst case, then liquidated.

A pool whose ratio (``sim.scan.pool_ratio``, requirement / margin balance, 1 = liquidation) reaches 1 at
the worst-case marks (``sim.scan.worst_marks``) goes through the venue's procedure (``margin.liquidate``)
at those marks; the fills, fees and each pool's loss (quote currency) go to the ledger.
"""

from __future__ import annotations

from crossmargin.margin.account import account_totals
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.pools import pool_keys
from crossmargin.sim.scan import pool_ratio, worst_marks
from crossmargin.sim.state import RunState

__all__ = ["check_margin"]


def check_margin(run: RunState, bar: int) -> None:
    """Check every pool at the worst case of ``bar``; liquidate what breaches and drop orphaned exits."""
    pools = pool_keys(run.account)
    for pool in sorted(set(pools)):
        pools = pool_keys(run.account)
        if pool not in pools:
            continue
        marks = worst_marks(run.account, run.market, bar, pools, pool)
        ratio = pool_ratio(run.rules, account_totals(run.account, marks, run.rules), pool)
        if ratio < 1.0:
            continue
        wallets = {"cross": run.account.cross_wallet_balance}
        wallets |= {
            f"isolated:{p.symbol}" + ("" if p.position_side == "both" else f":{p.position_side}"): p.isolated_margin
            for p in run.account.positions
            if p.isolated_margin is not None
        }
        ledger = run.ledger
        ledger.breach[bar] = max(ledger.breach[bar], ratio)
        outcome = liquidate(run.account, marks, run.rules)
        for event in outcome.events:
            ledger.liquidation(run.time(bar), event, wallets.get(event.pool, event.margin_before))
        held = {p.symbol for p in outcome.account.positions}
        run.resting = [o for o in run.resting if o.symbol in held or not o.reduce_only]
        run.set_account(outcome.account)
