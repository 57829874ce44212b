"""Throughput of ``kernels.batch.remark``: 100k accounts, 1M positions, re-marked 1000 times.

Plain script: ``.venv/bin/python benchmarks/batch_remark.py [--accounts N] [--updates U]``. Accounts hold 10
distinct symbols each, drawn from the shipped Binance table, cross or isolated at random, notionals of
100 .. 200k quote (several brackets). Marks start at each position's entry level and walk: every update
multiplies each symbol's mark by ``exp(normal x 0.001)`` (seed fixed, synthetic, no market data).

Figures: positions re-marked per second by ``remark``; the same per second by ``remark_reference`` on the
first 1,000 accounts over a few updates (extrapolated per position); and by a numpy pass that reads the
position arrays once (``sum(side x size x (mark - entry))``, the memory-bandwidth floor of any re-mark).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from crossmargin.kernels.batch import pack_accounts, remark, remark_reference
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules

SEED = 20261125
PER_ACCOUNT = 10
SIGMA = 0.001
REFERENCE_ACCOUNTS = 1_000
REFERENCE_UPDATES = 3


def _accounts(count: int, rng: np.random.Generator) -> tuple[list[Account], tuple[str, ...], np.ndarray]:
    """Return ``count`` accounts, the symbols (mark columns) and each symbol's starting mark (quote)."""
    rules = get_rules("binance")
    symbols = tuple(rules.symbols())
    levels = np.exp(rng.uniform(np.log(0.01), np.log(50_000.0), len(symbols)))
    instruments = [rules.instrument(s) for s in symbols]
    accounts = []
    for _ in range(count):
        picks = rng.choice(len(symbols), PER_ACCOUNT, replace=False)
        positions = []
        isolated_total = 0.0
        gross = 0.0
        for k in picks:
            entry = float(levels[k] * rng.uniform(0.9, 1.1))
            notional = float(np.exp(rng.uniform(np.log(100.0), np.log(200_000.0))))
            size = notional / entry
            instrument = instruments[k]
            cap = instrument.bracket_for(instrument.tier_value(size, entry)).max_leverage
            leverage = float(max(1, min(10, int(cap))))
            isolated = rng.random() < 0.3
            margin = notional / leverage * 1.5 if isolated else None
            isolated_total += margin or 0.0
            gross += notional
            positions.append(
                Position(
                    symbol=symbols[k],
                    side=Side.LONG if rng.random() < 0.5 else Side.SHORT,
                    size=size,
                    entry_price=entry,
                    leverage=leverage,
                    mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
                    isolated_margin=margin,
                )
            )
        wallet = isolated_total + gross * float(rng.uniform(0.05, 0.5))
        accounts.append(Account(venue="binance", wallet_balance=wallet, positions=tuple(positions)))
    return accounts, symbols, levels


def main() -> None:
    """Build the book, time the three passes and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=1_000)
    args = parser.parse_args()
    print("$", " ".join(["python", *sys.argv]))
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    accounts, symbols, marks = _accounts(args.accounts, rng)
    rules = get_rules("binance")
    book = pack_accounts(accounts, rules, symbols)
    print(
        f"accounts {book.accounts:,}  positions {book.positions:,}  symbols {len(symbols)}  "
        f"brackets <= {book.caps.shape[1]}"
    )
    print(f"build + pack: {time.perf_counter() - started:.1f} s")
    steps = np.exp(rng.normal(0.0, SIGMA, (args.updates, len(symbols))))
    remark(book, marks)  # compile (or load the cache) outside the timing

    started = time.perf_counter()
    flagged = 0
    current = marks.copy()
    for update in range(args.updates):
        current *= steps[update]
        flagged += int(remark(book, current).liquidated.sum())
    kernel = time.perf_counter() - started
    kernel_rate = book.positions * args.updates / kernel
    print(f"remark: {args.updates} updates in {kernel:.2f} s = {kernel_rate:,.0f} positions/s (flags seen {flagged:,})")

    started = time.perf_counter()
    total = 0.0
    current = marks.copy()
    for update in range(args.updates):
        current *= steps[update]
        total += float(np.sum(book.side * book.size * (current[book.symbol] - book.entry)))
    floor = time.perf_counter() - started
    floor_rate = book.positions * args.updates / floor
    print(
        f"numpy one-read floor: {floor:.2f} s = {floor_rate:,.0f} positions/s; "
        f"remark takes {kernel / floor:.2f}x the floor's time"
    )

    subset = accounts[:REFERENCE_ACCOUNTS]
    count = sum(len(a.positions) for a in subset)
    started = time.perf_counter()
    current = marks.copy()
    for update in range(REFERENCE_UPDATES):
        current *= steps[update]
        remark_reference(subset, rules, Marks(dict(zip(symbols, current.tolist(), strict=True))))
    reference = time.perf_counter() - started
    reference_rate = count * REFERENCE_UPDATES / reference
    print(
        f"remark_reference: {len(subset):,} accounts x {REFERENCE_UPDATES} updates in {reference:.2f} s = "
        f"{reference_rate:,.0f} positions/s (extrapolated); remark is {kernel_rate / reference_rate:,.0f}x faster"
    )


if __name__ == "__main__":
    main()
