"""Whole backtests per second: the per-bar event loop and the compiled signal run, on real and synthesised bars.

Run: ``.venv/bin/python benchmarks/bench_backtest.py`` (``--repeats N``, default 5). Each figure is the median
of N interleaved repeats (the runs of one section alternate, so a load on the shared machine falls on all
of them alike), with the spread (min .. max); the first call of each run, which loads or compiles the
numba kernels, is timed apart. For the compile time of a cold cache:
``NUMBA_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/bench_backtest.py --repeats 1``. The kernels
are single-threaded (no ``prange``): ``NUMBA_NUM_THREADS`` does not change them.

1. A year of one-minute bars x 3 perpetuals, both margin modes. The market is the synthesised year of
   ``bench_scan.py`` (525,600 1m bars x BTC/ETH/SOL, block-bootstrapped from the real Binance bars of
   ``benchmarks/data``) with funding every 8 h at a constant 0.01 % (synthesised too, to give the loop its
   1,095 settlements); the strategies are the built-in case study (held) and hedge pair (rebalanced every
   1,440 bars) on the per-bar engine with the compiled scan, and the SMA(60/240) cross of each symbol on the
   signal API (0.3 x equity each; SMA(10/30) on 1m bars pays its equity away in fees within months).
   Parity first: the per-bar engine with the compiled scan against the plain-Python reference on the
   first bars.
2. SMA(10/30) cross on the real 72,000 BTCUSDT 1m bars of ``benchmarks/data/BTCUSDT-1m-72k.parquet``
   (2025-05-05 .. 06-23; marks = trades; no funding), long/short, each position 1 x equity of notional at
   5x, fills at the next open with 2 bps slippage and the taker fee (0.05 %): ``SmaCross`` on the per-bar
   engine called at every close (as backtesting.py calls ``next``), the same called only at its cross bars
   (``due_bars``), and its signals on the compiled signal API. Parity first: the three runs trade alike.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from bench_scan import synthetic_year

from crossmargin.kernels.layout import BoolArray, MarketData
from crossmargin.sim.backtest import KernelScanner, kernel_scan, run_backtest
from crossmargin.sim.config import RunConfig
from crossmargin.sim.engine import run_mode
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.result import BacktestResult
from crossmargin.sim.scan import scan_reference
from crossmargin.sim.signals import run_signals
from crossmargin.sim.strategies import CaseStudy, HedgePair, SmaCross, sma_cross_signals
from crossmargin.venues import get_rules

DATA = Path(__file__).resolve().parent / "data"
EIGHT_HOURS = 8 * 3_600_000
RULES = get_rules("binance")
PARITY_BARS = 3_000


def year_market() -> MarketData:
    """Return the synthesised year with a settlement every 8 h at 0.01 % for each symbol."""
    market = synthetic_year()
    start, stop = int(market.times[0]), int(market.times[-1])
    settlements = np.arange(start - start % EIGHT_HOURS + EIGHT_HOURS, stop, EIGHT_HOURS, dtype=np.int64)
    return replace(
        market,
        funding_times=dict.fromkeys(market.symbols, settlements),
        funding_rates={s: np.full(len(settlements), 0.0001) for s in market.symbols},
    )


def btc_72k() -> MarketData:
    """Return the real 72,000 BTCUSDT 1m bars (marks = trades, no funding)."""
    return market_from_frames({"BTCUSDT": pd.read_parquet(DATA / "BTCUSDT-1m-72k.parquet")}, interval_ms=60_000)


def crosses(market: MarketData, fast: int, slow: int) -> tuple[BoolArray, BoolArray]:
    """Return the SMA(fast/slow) crosses of every symbol as long and short entries, (bars, symbols)."""
    pairs = [sma_cross_signals(market.close[:, j], fast, slow) for j in range(len(market.symbols))]
    return np.column_stack([up for up, _ in pairs]), np.column_stack([down for _, down in pairs])


def timed(runs: dict[str, Callable[[], BacktestResult]], repeats: int) -> dict[str, tuple[float, list[float]]]:
    """Return, per run, its first call's time and the times of ``repeats`` interleaved further calls (s)."""
    first = {}
    for name, run in runs.items():
        began = time.perf_counter()
        run()
        first[name] = time.perf_counter() - began
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            began = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - began)
    return {name: (first[name], times[name]) for name in runs}


def report(results: dict[str, tuple[float, list[float]]], bars: int) -> None:
    """Print each run's median time, spread, bars per second and first-call time."""
    for name, (first, times) in results.items():
        median = float(np.median(times))
        print(
            f"  {name:<44} {median:8.3f} s  ({min(times):.3f} .. {max(times):.3f})  "
            f"{bars / median:>12,.0f} bars/s   first call {first:6.2f} s"
        )


def same_trades(left: BacktestResult, right: BacktestResult, what: str) -> None:
    """Stop unless both results hold the same trades and equity in every mode."""
    for mode in left.modes:
        a, b = left.modes[mode], right.modes[mode]
        try:
            pd.testing.assert_frame_equal(a.trades, b.trades, rtol=1e-12)
            pd.testing.assert_frame_equal(a.equity, b.equity, rtol=1e-12)
        except AssertionError as error:
            raise SystemExit(f"parity check failed ({what}, {mode}): {error}") from None


def year_section(repeats: int) -> None:
    """Section 1: the year x 3 perpetuals, both modes."""
    market = year_market()
    bars = 2 * market.bars  # both modes
    print(
        f"\n1. year: {market.bars:,} 1m bars x {len(market.symbols)} symbols (SYNTHESISED from real returns), "
        "both modes"
    )
    short = replace(
        market,
        times=market.times[:PARITY_BARS],
        **{f: getattr(market, f)[:PARITY_BARS] for f in ("open", "high", "low", "close")},
        **{f: getattr(market, f)[:PARITY_BARS] for f in ("mark_open", "mark_high", "mark_low", "mark_close")},
    )
    hedge = HedgePair(rebalance=1440)
    for mode in ("cross", "isolated"):
        fast = run_mode(HedgePair(rebalance=1440), short, RULES, mode, scanner=KernelScanner())
        slow = run_mode(hedge, short, RULES, mode, scanner=scan_reference)
        pd.testing.assert_frame_equal(fast.equity, slow.equity, rtol=1e-12)
        pd.testing.assert_frame_equal(fast.trades, slow.trades, rtol=1e-12)
    print(f"  parity: hedge pair on bars 0..{PARITY_BARS:,}, compiled scan = plain-Python scan (both modes)")
    up, down = crosses(market, 60, 240)
    runs: dict[str, Callable[[], BacktestResult]] = {
        "case-study, per-bar engine": lambda: run_backtest(CaseStudy, market, RULES, mode="both", scanner=kernel_scan),
        "hedge-pair (1,440 bars), per-bar engine": lambda: run_backtest(
            lambda: HedgePair(rebalance=1440), market, RULES, mode="both", scanner=kernel_scan
        ),
        "SMA(60/240) x 3 symbols, signal API": lambda: run_signals(
            market, RULES, entries=up, short_entries=down, size=0.3, mode="both"
        ),
    }
    results = timed(runs, repeats)
    report(results, bars)
    sample = runs["SMA(60/240) x 3 symbols, signal API"]()
    trades = {mode: len(run.trades) for mode, run in sample.modes.items()}
    liquidated = {mode: run.summary.liquidations for mode, run in sample.modes.items()}
    print(f"  SMA x 3: trades {trades}, liquidations {liquidated}, engine {sample.settings['engine']}")


def sma_section(repeats: int) -> None:
    """Section 2: SMA(10/30) cross on the real 72,000 BTCUSDT bars."""
    market = btc_72k()
    config = RunConfig(leverage=5)
    up, down = sma_cross_signals(market.close[:, 0], 10, 30)
    print(
        f"\n2. SMA(10/30) cross, real BTCUSDT 1m: {market.bars:,} bars, cross margin, "
        f"{int((up | down).sum()):,} crosses"
    )
    runs: dict[str, Callable[[], BacktestResult]] = {
        "Strategy (SmaCross) called at every close": lambda: run_backtest(
            SmaCross, market, RULES, mode="cross", config=config, scanner=kernel_scan
        ),
        "Strategy called at its cross bars (due_bars)": lambda: run_backtest(
            lambda: SmaCross(every_bar=False), market, RULES, mode="cross", config=config, scanner=kernel_scan
        ),
        "signal API (run_signals, compiled)": lambda: run_signals(
            market, RULES, entries=up, short_entries=down, mode="cross", config=config
        ),
    }
    reference = runs["Strategy (SmaCross) called at every close"]()
    for name, run in runs.items():
        same_trades(run(), reference, name)
    trades = len(reference.modes["cross"].trades)
    print(f"  parity: the three runs make the same {trades:,} trades and the same equity to 1e-12")
    report(timed(runs, repeats), market.bars)


def main() -> None:
    """Print the figures of both sections."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"command: .venv/bin/python benchmarks/bench_backtest.py --repeats {args.repeats}")
    print(f"medians of {args.repeats} interleaved repeats (min .. max); first call (kernel load / compile) apart")
    year_section(args.repeats)
    sma_section(args.repeats)


if __name__ == "__main__":
    main()
