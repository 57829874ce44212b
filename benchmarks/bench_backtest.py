"""Whole backtests per second: the event loop with the compiled scan, on a year of one-minute bars.

Run: ``.venv/bin/python benchmarks/bench_backtest.py``. The market is the synthesised year of
``bench_scan.py`` (525,600 one-minute bars x BTC/ETH/SOL, block-bootstrapped from real Binance returns)
with funding every 8 h at a constant 0.01 % (synthesised too, to give the loop its 1,095 settlements);
the strategies are the built-in case study (held) and hedge pair (rebalanced every 1,440 bars), run under
cross and isolated margin.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
from bench_scan import synthetic_year

from crossmargin.sim.backtest import kernel_scan, run_backtest
from crossmargin.sim.strategies import CaseStudy, HedgePair
from crossmargin.venues import get_rules

EIGHT_HOURS = 8 * 3_600_000


def main() -> None:
    """Print bars per second of whole runs (both modes) for two strategies."""
    market = synthetic_year()
    start, stop = int(market.times[0]), int(market.times[-1])
    settlements = np.arange(start - start % EIGHT_HOURS + EIGHT_HOURS, stop, EIGHT_HOURS, dtype=np.int64)
    market = replace(
        market,
        funding_times=dict.fromkeys(market.symbols, settlements),
        funding_rates={s: np.full(len(settlements), 0.0001) for s in market.symbols},
    )
    rules = get_rules("binance")
    print("command: .venv/bin/python benchmarks/bench_backtest.py")
    print(f"market: {market.bars:,} 1m bars x {len(market.symbols)} symbols (synthesised from real returns)")
    for name, factory in (("case-study", CaseStudy), ("hedge-pair", lambda: HedgePair(rebalance=1440))):
        run_backtest(factory, market, rules, mode="cross", scanner=kernel_scan)  # compile and warm
        began = time.perf_counter()
        result = run_backtest(factory, market, rules, mode="both", scanner=kernel_scan)
        elapsed = time.perf_counter() - began
        bars = 2 * market.bars
        liquidations = {mode: run.summary.liquidations for mode, run in result.modes.items()}
        print(
            f"{name:<11} both modes: {bars:,} bars in {elapsed:6.2f} s = {bars / elapsed:>12,.0f} bars/s {liquidations}"
        )


if __name__ == "__main__":
    main()
