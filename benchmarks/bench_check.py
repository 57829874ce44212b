"""Throughput of the reference margin core: ``evaluate`` and ``liquidation_price`` on real-sized accounts.

Run: ``.venv/bin/python benchmarks/bench_check.py`` (prints the command, the work size and the figures).
Accounts are the case study (``examples/case_study.toml``, and its Bybit, OKX and Hyperliquid versions) and a
20-position cross account on the shipped Binance tables.

Scaling: ``evaluate`` and the lean per-bar pass ``account_totals`` on cross accounts of 10, 100 and 1,000
positions on real symbols of the shipped Binance table. 1,000 positions do not fit one per symbol on its 858
USDT symbols, so every size has the same shape: n / 2 symbols, each held in hedge mode as a long leg and a
short leg. Parity first: at every size ``account_totals`` must give ``evaluate``'s account figures and pool
ratios. The six cases are timed interleaved (evaluate 10, 100, 1,000, account_totals 10, 100, 1,000,
evaluate 10, ...) in ``ROUNDS`` rounds, each round of a case timing enough calls to last ``SAMPLE_S``;
printed: the median time per call with its spread (min .. max over the rounds) and t(1,000) / t(10), which
is 100 for a linear cost (the goal for ``evaluate``: within 150).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from crossmargin.margin.account import account_totals, evaluate
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.liquidation import liquidation_price
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.portfolio import load_portfolio
from crossmargin.venues.binance import BinanceRules

ROOT = Path(__file__).resolve().parent.parent
#: Position counts of the scaling accounts.
SIZES = (10, 100, 1_000)
#: Interleaved rounds of the scaling table, and the least seconds one round of one case lasts.
ROUNDS = 11
SAMPLE_S = 0.2


def _rate(label: str, work: Callable[[], object], repeats: int) -> None:
    work()  # warm caches (bracket tables are loaded once)
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {repeats:>7} calls  {elapsed:7.3f} s  {repeats / elapsed:>10,.0f} calls/s")


def _wide_account(rules: BinanceRules) -> tuple[Account, Marks]:
    """Twenty cross positions, alternately long and short, 5,000 USDT notional each, at leverage 5."""
    symbols = [symbol for symbol in rules.symbols() if symbol.endswith("USDT")][:20]
    positions = tuple(
        Position(
            symbol=symbol,
            side=Side.LONG if index % 2 == 0 else Side.SHORT,
            size=50.0,
            entry_price=100.0,
            leverage=5,
            mode=MarginMode.CROSS,
        )
        for index, symbol in enumerate(symbols)
    )
    account = Account(venue="binance", wallet_balance=20_000.0, positions=positions)
    marks = Marks({symbol: 100.0 * (1.0 + 0.01 * (index % 5 - 2)) for index, symbol in enumerate(symbols)})
    return account, marks


def _hedged_account(rules: BinanceRules, count: int) -> tuple[Account, Marks]:
    """``count`` cross positions on ``count / 2`` USDT symbols: each a long leg of 50 and a short leg of 30.

    Entries 100 USDT (5,000 and 3,000 USDT notional, in every symbol's first bracket), leverage 5, marks
    within 2 % of entry, a wallet of 1,000 USDT per position.
    """
    symbols = [symbol for symbol in rules.symbols() if symbol.endswith("USDT")][: count // 2]
    positions = tuple(
        Position(
            symbol=symbol,
            side=side,
            size=50.0 if side is Side.LONG else 30.0,
            entry_price=100.0,
            leverage=5,
            mode=MarginMode.CROSS,
            position_side="long" if side is Side.LONG else "short",
        )
        for symbol in symbols
        for side in (Side.LONG, Side.SHORT)
    )
    account = Account(venue="binance", wallet_balance=1_000.0 * count, positions=positions)
    marks = Marks({symbol: 100.0 * (1.0 + 0.01 * (index % 5 - 2)) for index, symbol in enumerate(symbols)})
    return account, marks


def _per_call(work: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - start) / calls


def _scaling(cases: dict[tuple[str, int], Callable[[], object]]) -> dict[tuple[str, int], list[float]]:
    """Return the seconds per call of each case in each of ``ROUNDS`` interleaved rounds."""
    calls = {}
    for label, work in cases.items():
        once = _per_call(work, 1)  # also warms caches (instruments are built on first use)
        calls[label] = max(1, round(SAMPLE_S / max(once, 1e-9)))
    times: dict[tuple[str, int], list[float]] = {label: [] for label in cases}
    for _ in range(ROUNDS):
        for label, work in cases.items():
            times[label].append(_per_call(work, calls[label]))
    return times


def _print_scaling(name: str, times: dict[int, list[float]]) -> None:
    print(f"{name}: median of {ROUNDS} interleaved rounds (spread min .. max), per call")
    for size, samples in times.items():
        spread = f"{min(samples) * 1e3:.3f} .. {max(samples) * 1e3:.3f} ms"
        print(f"  {size:>5} cross positions {statistics.median(samples) * 1e3:>10.3f} ms   {spread:>26}")
    ratio = statistics.median(times[SIZES[-1]]) / statistics.median(times[SIZES[0]])
    print(f"  t({SIZES[-1]:,}) / t({SIZES[0]}) = {ratio:.1f}  (linear: {SIZES[-1] // SIZES[0]})")


def main() -> None:
    """Print calls per second of the check path, then how ``evaluate`` and ``account_totals`` scale with size."""
    print(f"command: {os.path.relpath(sys.executable, ROOT)} benchmarks/bench_check.py  (cwd {ROOT})")
    rules = BinanceRules.load()
    portfolio = load_portfolio(ROOT / "examples" / "case_study.toml")
    _rate("evaluate(case study: 3 cross positions)", lambda: evaluate(portfolio.account, portfolio.marks, rules), 2_000)
    wide, marks = _wide_account(rules)
    _rate("evaluate(20 cross positions)", lambda: evaluate(wide, marks, rules), 200)
    for venue in ("bybit", "okx", "hyperliquid"):
        example = load_portfolio(ROOT / "examples" / f"{venue}.toml")
        _rate(
            f"evaluate(examples/{venue}.toml)", partial(evaluate, example.account, example.marks, example.rules), 2_000
        )
    crashed = portfolio.marks.with_price("ETHUSDT", 4_500.0)  # past the cross liquidation price of the ETH short
    _rate(
        "liquidate(case study at ETH 4,500: full cross liquidation)",
        lambda: liquidate(portfolio.account, crashed, rules),
        2_000,
    )
    btc = rules.instrument("BTCUSDT")
    _rate(
        "liquidation_price(BTCUSDT long 20 @ 60000, cross wallet 100k)",
        lambda: liquidation_price(
            side=Side.LONG, size=20.0, entry_price=60_000.0, wallet=100_000.0, brackets=btc.brackets
        ),
        20_000,
    )
    accounts = {size: _hedged_account(rules, size) for size in SIZES}
    for size, (account, marks) in accounts.items():
        lean, risk = account_totals(account, marks, rules), evaluate(account, marks, rules)
        if (lean.account, lean.pool_ratios) != (risk.account, risk.pool_ratios):
            raise SystemExit(f"account_totals differs from evaluate on {size} positions")
    cases: dict[tuple[str, int], Callable[[], object]] = {}
    for name, work in (("evaluate", evaluate), ("account_totals", account_totals)):
        cases |= {(name, size): partial(work, account, marks, rules) for size, (account, marks) in accounts.items()}
    times = _scaling(cases)
    for name in ("evaluate", "account_totals"):
        _print_scaling(name, {size: times[(name, size)] for size in SIZES})
    ratios = [
        statistics.median(times[("account_totals", n)]) / statistics.median(times[("evaluate", n)]) for n in SIZES
    ]
    print("account_totals / evaluate: " + ", ".join(f"{r:.3f} at {n:,}" for n, r in zip(SIZES, ratios, strict=True)))


if __name__ == "__main__":
    main()
