"""Throughput of the Monte Carlo path loop: compiled ``first_breach`` against ``first_breach_reference``.

Run: ``.venv/bin/python benchmarks/bench_montecarlo.py`` (prints the work size, the figures and this command).
For the compile time of a cold cache: ``NUMBA_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/bench_montecarlo.py``.

Work: ``examples/case_study.toml`` (long BTC, short ETH, long SOL at 5x on a 10,000 USDT wallet, Binance
rules), 100,000 FHS paths x 24 hourly steps x 3 symbols, fitted on the package sample (Binance 1h mark
prices, 2026-03-01 to 2026-04-27), funding every 8 h. Two books on the same paths: all cross (1 pool of 3
positions) and all isolated (3 pools of 1). The reference runs the first 200 paths; parity is checked first.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from crossmargin.kernels.montecarlo import first_breach, first_breach_reference
from crossmargin.portfolio import all_cross, all_isolated, load_portfolio
from crossmargin.risk.montecarlo import (
    fit_model,
    liquidation_probability,
    mean_funding_rate,
    pack_for_paths,
    sample_symbol,
    simulate_paths,
)

CASE_STUDY = Path(__file__).resolve().parent.parent / "examples" / "case_study.toml"
PATHS = 100_000
STEPS = 24
REFERENCE_PATHS = 200
SEED = 7


def main() -> None:
    """Check parity, then time path generation, the kernel, the reference and a whole estimate."""
    portfolio = load_portfolio(CASE_STUDY)
    rules = portfolio.rules
    symbols = tuple(dict.fromkeys(p.symbol for p in portfolio.account.positions))
    samples = tuple(sample_symbol(s, rules) for s in symbols)
    model = fit_model("fhs", samples)
    start = np.array([portfolio.marks.price(s) for s in symbols])
    rates = {s: mean_funding_rate(sample) for s, sample in zip(symbols, samples, strict=True)}
    books = {"cross": all_cross(portfolio.account), "isolated": all_isolated(portfolio.account)}

    began = time.perf_counter()
    paths = simulate_paths(model, STEPS, PATHS, SEED)
    generate = time.perf_counter() - began

    timings: dict[str, tuple[float, float, int]] = {}
    for name, account in books.items():
        book = pack_for_paths(account, rules, symbols, portfolio.marks)
        funding = np.array([rates[p.symbol] for p in account.positions])
        head = np.ascontiguousarray(paths[:REFERENCE_PATHS])
        kernel_head = first_breach(book, head, start, funding_rate=funding, funding_every=8)  # also compiles
        began = time.perf_counter()
        reference = first_breach_reference(
            account, rules, portfolio.marks, symbols, head, funding_rate=funding, funding_every=8
        )
        reference_seconds = time.perf_counter() - began
        if not np.array_equal(kernel_head, reference):
            raise SystemExit(f"parity failed for the {name} book: the kernel and the reference disagree")
        began = time.perf_counter()
        first = first_breach(book, paths, start, funding_rate=funding, funding_every=8)
        kernel_seconds = time.perf_counter() - began
        timings[name] = (kernel_seconds, reference_seconds, int((first != -1).any(axis=1).sum()))

    began = time.perf_counter()
    liquidation_probability(portfolio, horizon_hours=STEPS, paths=PATHS, seed=SEED, progress=False)
    whole = time.perf_counter() - began

    work = PATHS * STEPS
    print(f"work: {PATHS:,} paths x {STEPS} steps x {len(symbols)} symbols (case study, FHS, funding every 8 h)")
    print(f"threads: numba {os.environ.get('NUMBA_NUM_THREADS', 'default')}, cpus {os.cpu_count()}")
    print(f"path generation (FHS): {generate:.3f} s = {work / generate:,.0f} path-steps/s")
    for name, (kernel_seconds, reference_seconds, hit) in timings.items():
        reference_rate = REFERENCE_PATHS * STEPS / reference_seconds
        print(
            f"{name:>8} book: kernel {kernel_seconds:.3f} s = {work / kernel_seconds:,.0f} path-steps/s; "
            f"reference {REFERENCE_PATHS} paths {reference_seconds:.2f} s = {reference_rate:,.0f} path-steps/s; "
            f"speed-up {work / kernel_seconds / reference_rate:,.0f}x; paths with a liquidation {hit:,}"
        )
    print(f"whole estimate (liquidation_probability, both books, 100,000 paths): {whole:.2f} s")
    print("command: .venv/bin/python benchmarks/bench_montecarlo.py")


if __name__ == "__main__":
    main()
