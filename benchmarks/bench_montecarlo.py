"""Monte Carlo at full size: paths drawn in the compiled kernel against the numpy path arrays they replace.

Run: ``.venv/bin/python benchmarks/bench_montecarlo.py`` (prints the work, the figures and this command;
``--repeats N`` interleaved repeats of the steady-state timing, default 3; ``--no-numpy`` skips the old path).

Work: ``examples/case_study.toml`` (long BTC, short ETH, long SOL at 5x on a 10,000 USDT wallet, Binance
rules), ``liquidation_probability`` over 24 h with 60 checks an hour: 100,000 FHS paths x 1,440 steps x 3
symbols, fitted on the package sample (Binance 1h mark prices, 2026-03-01 to 2026-04-27), funding every 8 h,
two books on the same paths: all cross (1 pool of 3 positions) and all isolated (3 pools of 1).

Order: parity first (the kernel's breach steps equal ``first_breach_reference`` on the kernel's own draws, 40
paths of 2 h, both books); compile time of a cold numba cache and load time of a warm one, each in a fresh
process; the steady state in this process, 1 and 2 numba threads interleaved (median of the repeats and their
range); peak memory of a fresh process running one whole estimate (``ru_maxrss``), the kernel and the numpy
path of earlier releases (``PathWork.path_model=None``: ``simulate_paths`` batches of 10,000 paths and
``first_breach``), whose time is that one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numba
import numpy as np

from crossmargin.kernels.montecarlo import (
    draw_returns,
    first_breach_drawn,
    first_breach_reference,
    path_key,
    stack_books,
)
from crossmargin.portfolio import load_portfolio
from crossmargin.risk.montecarlo import finish, plan_paths, run_batches, run_plan

CASE_STUDY = Path(__file__).resolve().parent.parent / "examples" / "case_study.toml"
PATHS = 100_000
HOURS = 24
PER_HOUR = 60
SEED = 0
COMMAND = ".venv/bin/python benchmarks/bench_montecarlo.py"


def _estimate(paths: int, *, numpy_path: bool = False) -> tuple[float, dict[str, int]]:
    """Return the seconds of one whole estimate and its liquidated paths per pool."""
    portfolio = load_portfolio(CASE_STUDY)
    began = time.perf_counter()
    plan = plan_paths(portfolio, horizon_hours=HOURS, paths=paths, seed=SEED, steps_per_hour=PER_HOUR)
    if numpy_path:
        plan = dataclasses.replace(plan, work=dataclasses.replace(plan.work, path_model=None))
        result = finish(plan, run_batches(plan.work, range(plan.work.batches)))
    else:
        result = run_plan(plan, progress=False)
    seconds = time.perf_counter() - began
    return seconds, {f"{o.mode}/{o.pool}": o.liquidated_paths for o in result.pools}


def _child(kind: str) -> None:
    """Run one estimate in this fresh process and print its figures as JSON (the parent reads them)."""
    began = time.perf_counter()
    _estimate(10, numpy_path=kind == "numpy")  # compiles, or loads the cache
    first = time.perf_counter() - began
    seconds, counts = _estimate(PATHS, numpy_path=kind == "numpy") if kind != "compile" else (0.0, {})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"first_call": first, "seconds": seconds, "peak_rss": peak, "counts": counts}))


def _run_child(kind: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _parity() -> None:
    """Exit unless the kernel equals the plain-Python reference on its own draws (both books, 40 paths)."""
    portfolio = load_portfolio(CASE_STUDY)
    plan = plan_paths(portfolio, horizon_hours=2, paths=40, seed=SEED, steps_per_hour=PER_HOUR)
    work = plan.work
    assert work.path_model is not None
    modes = list(work.books)
    stacked = stack_books([work.books[m] for m in modes], [work.funding_rates[m] for m in modes])
    key = path_key(work.entropy)
    firsts, _ = first_breach_drawn(
        stacked, work.path_model, key, work.start, columns=work.columns, first_path=0, paths=40,
        steps=work.steps, steps_per_hour=PER_HOUR, funding_every=work.funding_every,
    )  # fmt: skip
    draws = draw_returns(work.path_model, key, first_path=0, paths=40, steps=work.steps, steps_per_hour=PER_HOUR)
    symbols = tuple(dict.fromkeys(p.symbol for p in portfolio.account.positions))
    for mode, first in zip(modes, firsts, strict=True):
        reference = first_breach_reference(
            plan.accounts[mode], plan.rules, portfolio.marks, symbols, draws[:, :, list(work.columns)],
            funding_rate=work.funding_rates[mode], funding_every=work.funding_every,
        )  # fmt: skip
        if not np.array_equal(first, reference):
            raise SystemExit(f"parity failed for the {mode} book: the kernel and the reference disagree")


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s (range {min(values):.2f} .. {max(values):.2f}, n={len(values)})"


def main() -> None:
    """Check parity, then time compile, the steady state (1 vs 2 threads) and memory, kernel against numpy."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-numpy", action="store_true")
    parser.add_argument("--child", choices=["kernel", "numpy", "compile"])
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return

    _parity()
    with tempfile.TemporaryDirectory() as cache:
        cold = _run_child("compile", {"NUMBA_CACHE_DIR": cache})
        warm = _run_child("compile", {"NUMBA_CACHE_DIR": cache})

    _estimate(10)
    threads: dict[int, list[float]] = {1: [], 2: []}
    counts: dict[str, int] = {}
    for _ in range(args.repeats):
        for count, values in threads.items():
            numba.set_num_threads(count)
            seconds, counts = _estimate(PATHS)
            values.append(seconds)
    numba.set_num_threads(2)
    tracemalloc.start()
    _estimate(PATHS)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    kernel = _run_child("kernel")
    old = None if args.no_numpy else _run_child("numpy")

    steps = HOURS * PER_HOUR
    work = PATHS * steps
    print("command: " + " ".join([COMMAND, *sys.argv[1:]]))
    print(
        f"work: {PATHS:,} paths x {steps:,} steps ({HOURS} h x {PER_HOUR} checks an hour) x 3 symbols, FHS, "
        "funding every 8 h, both books of examples/case_study.toml (cross: 1 pool of 3; isolated: 3 pools of 1)"
    )
    print(
        f"machine: {os.cpu_count()} cpus, numba {numba.__version__}, threading layer {numba.threading_layer()}, "  # type: ignore[attr-defined]
        f"NUMBA_NUM_THREADS {numba.config.NUMBA_NUM_THREADS}, load average {os.getloadavg()[0]:.1f}"  # type: ignore[attr-defined]
    )
    print("parity: kernel == first_breach_reference on the kernel's draws (40 paths x 120 steps, both books)")
    print(f"compile (cold numba cache, fresh process): {cold['first_call']:.1f} s to the first estimate")
    print(f"load (warm numba cache, fresh process): {warm['first_call']:.1f} s to the first estimate")
    for count, values in threads.items():
        rate = work / statistics.median(values)
        print(f"steady state, {count} numba thread(s): {_spread(values)} = {rate:,.0f} path-steps/s")
    ratio = statistics.median(threads[1]) / statistics.median(threads[2])
    print(f"2 threads vs 1: {ratio:.2f}x faster (medians of interleaved repeats)")
    print(f"liquidated paths: {counts}")
    print(f"kernel, fresh process: {kernel['seconds']:.2f} s, peak RSS {int(kernel['peak_rss']) / 2**20:,.0f} MiB")
    print(f"kernel, in process: tracemalloc peak of one estimate {traced / 2**20:,.1f} MiB (numpy arrays)")
    if old is not None:
        print(
            f"numpy path arrays (earlier releases), fresh process, one run: {old['seconds']:.2f} s, "
            f"peak RSS {int(old['peak_rss']) / 2**20:,.0f} MiB; liquidated paths {old['counts']}"
        )
        speed_up = float(old["seconds"]) / statistics.median(threads[2])
        print(f"speed-up of the kernel (2 threads) over the numpy path: {speed_up:.1f}x")


if __name__ == "__main__":
    main()
