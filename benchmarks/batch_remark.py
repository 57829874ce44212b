"""Throughput of ``kernels.batch.remark``: 100k accounts, 1M positions, re-marked 1,000 times.

Plain script: ``.venv/bin/python benchmarks/batch_remark.py [--accounts N] [--updates U] [--quick]``
(``--quick``: 20k accounts, 200 updates). Accounts hold 10 distinct symbols each, drawn from the shipped
Binance table (the symbols whose last tier reaches 400k quote, so no mark of the walk carries a position
past its table), cross or isolated at random (30 % isolated), notionals of 100 .. 200k quote (several
brackets). Marks start at each symbol's level and walk: every update multiplies each symbol's mark by
``exp(normal x 0.001)`` (seed fixed, synthetic, no market data).

Parity first: on the first 300 accounts ``remark`` equals ``remark_reference``, and on the whole book the
lean re-mark's account figures are the full one's. Then the passes are interleaved update by update (at
each update every pass due runs once), each with its own bracket hints:

- numpy floor: ``sum(side x size x (mark[symbol] - entry))`` over float64 side and size, int64 symbol and
  entry, one read of the position arrays (the floor the issue measures against), every update;
- lean: ``remark(book, marks, liquidation_prices=False, out=last)`` (balance, requirement, ratio, breach per
  account, written into the previous update's result) with numba's threads, every update; with 1 thread
  (``numba.set_num_threads``: do the 2 threads run in parallel on this machine?) every 4th; and with a
  fresh result (no ``out``) every 4th;
- flagged: liquidation prices for accounts in breach or with a pool at risk ratio >= 0.8, every 4th;
- the numpy floor over the book's own lean arrays (``signed_size x (mark[symbol] - entry)``, int32 symbol),
  every 4th;
- priced: ``remark(book, marks, out=last)``, liquidation prices of every position, every 20th;
- reference: ``remark_reference`` on the first 500 accounts, 5 times over the walk (extrapolated).

Printed per pass: the median wall time per update with its spread (10th .. 90th percentile over the updates
it ran), positions per second, and its time over the numpy floor's at the same update (median, spread). For
the one-thread passes the same again in CPU time of the calling thread (``time.thread_time``), which leaves
out the waits for a core when other processes share the machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections.abc import Callable

import numba
import numpy as np

from crossmargin.kernels.batch import BatchBook, pack_accounts, remark, remark_reference
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules

SEED = 20261125
PER_ACCOUNT = 10
SIGMA = 0.001
#: Notionals are drawn in [MIN_NOTIONAL, MAX_NOTIONAL] (quote); symbols need a last cap of LAST_CAP_AT_LEAST.
MIN_NOTIONAL, MAX_NOTIONAL, LAST_CAP_AT_LEAST = 100.0, 200_000.0, 400_000.0
ISOLATED_SHARE = 0.3
PARITY_ACCOUNTS = 300
FLAG_RATIO = 0.8
#: The side passes run at every EVERY_SIDE-th update, all prices at every EVERY_PRICED-th (to keep the run short).
EVERY_SIDE, EVERY_PRICED = 4, 20
#: ``remark_reference`` runs REFERENCE_SAMPLES times over the walk, on the first REFERENCE_ACCOUNTS accounts.
REFERENCE_ACCOUNTS, REFERENCE_SAMPLES = 500, 5


def _accounts(count: int, rng: np.random.Generator) -> tuple[list[Account], tuple[str, ...], np.ndarray]:
    """Return ``count`` accounts, the symbols (mark columns) and each symbol's starting mark (quote)."""
    rules = get_rules("binance")
    symbols = tuple(s for s in rules.symbols() if rules.instrument(s).last_cap >= LAST_CAP_AT_LEAST)
    instruments = [rules.instrument(s) for s in symbols]
    width = max(len(i.brackets) for i in instruments)
    caps = np.full((len(symbols), width), np.inf)
    max_leverage = np.zeros((len(symbols), width))
    for k, instrument in enumerate(instruments):
        caps[k, : len(instrument.brackets)] = [b.cap for b in instrument.brackets]
        max_leverage[k, : len(instrument.brackets)] = [b.max_leverage for b in instrument.brackets]
    levels = np.exp(rng.uniform(np.log(0.01), np.log(50_000.0), len(symbols)))
    picks = np.array([rng.choice(len(symbols), PER_ACCOUNT, replace=False) for _ in range(count)]).reshape(count, -1)
    entry = levels[picks] * rng.uniform(0.9, 1.1, picks.shape)
    notional = np.exp(rng.uniform(np.log(MIN_NOTIONAL), np.log(MAX_NOTIONAL), picks.shape))
    bracket = np.sum(caps[picks] <= notional[..., None], axis=-1)  # the first bracket with cap > notional
    leverage = np.clip(np.floor(max_leverage[picks, bracket]), 1, 10)
    isolated = rng.random(picks.shape) < ISOLATED_SHARE
    margin = np.where(isolated, notional / leverage * 1.5, 0.0)
    long = rng.random(picks.shape) < 0.5
    wallet = margin.sum(axis=1) + notional.sum(axis=1) * rng.uniform(0.05, 0.5, count)
    accounts = []
    rows = zip(
        picks.tolist(),
        entry.tolist(),
        (notional / entry).tolist(),
        leverage.tolist(),
        isolated.tolist(),
        margin.tolist(),
        long.tolist(),
        strict=True,
    )
    for a, row in enumerate(rows):
        positions = tuple(
            Position(
                symbol=symbols[k],
                side=Side.LONG if is_long else Side.SHORT,
                size=size,
                entry_price=price,
                leverage=lev,
                mode=MarginMode.ISOLATED if iso else MarginMode.CROSS,
                isolated_margin=wallet_k if iso else None,
            )
            for k, price, size, lev, iso, wallet_k, is_long in zip(*row, strict=True)
        )
        accounts.append(Account(venue="binance", wallet_balance=float(wallet[a]), positions=positions))
    return accounts, symbols, levels


def _padded_bytes(book: BatchBook) -> int:
    """Return the bytes of this book in the padded layout this module replaced (schedules as (n, B) arrays).

    That layout held per position account, symbol, pool, brackets (int64), side, size, entry (float64) and four
    (n, B) float64 tables (caps, mm_rates, maint_amounts, breaks), B the longest schedule; the per-account
    and per-pool arrays were the same as now.
    """
    n = book.positions
    widest = int(np.max(np.diff(book.table_start), initial=1))
    shared = book.wallet.nbytes + book.cross_pool.nbytes + book.offsets.nbytes + book.pool_wallet.nbytes
    return n * 7 * 8 + 4 * n * widest * 8 + shared


def _check_parity(accounts: list[Account], book: BatchBook, symbols: tuple[str, ...], marks: np.ndarray) -> None:
    """Exit with a message unless ``remark`` equals the reference and the lean pass the full one (see the docstring)."""
    rules = get_rules("binance")
    subset = accounts[:PARITY_ACCOUNTS]
    small = pack_accounts(subset, rules, symbols)
    got = remark(small, marks)
    want = remark_reference(subset, rules, Marks(dict(zip(symbols, marks.tolist(), strict=True))))
    checks = [
        np.allclose(got.margin_balance, want.margin_balance, rtol=1e-12, atol=1e-9),
        np.allclose(got.requirement, want.requirement, rtol=1e-12, atol=1e-9),
        np.allclose(got.margin_ratio, want.margin_ratio, rtol=1e-12),
        np.array_equal(got.liquidated, want.liquidated),
        np.allclose(got.liquidation_price, want.liquidation_price, rtol=1e-9, equal_nan=True),
    ]
    full = remark(dataclasses.replace(book, bracket=book.bracket.copy()), marks)
    lean = remark(dataclasses.replace(book, bracket=book.bracket.copy()), marks, liquidation_prices=False)
    checks += [
        np.array_equal(getattr(full, name), getattr(lean, name))
        for name in ("margin_balance", "requirement", "margin_ratio", "liquidated")
    ]
    if not all(checks):
        sys.exit(f"parity check failed: {checks}")
    print(f"parity: remark = remark_reference on {len(subset)} accounts; lean = full account figures on the book")


def _spread(values: list[float], unit: str = "", scale: float = 1.0, digits: int = 2) -> str:
    """Return ``median (10th .. 90th percentile)`` of ``values`` x ``scale`` with ``unit``."""
    low, mid, high = (scale * float(np.percentile(values, q)) for q in (10, 50, 90))
    return f"{mid:.{digits}f}{unit} ({low:.{digits}f} .. {high:.{digits}f})"


def main() -> None:  # noqa: PLR0915 - a script: build, check, time, print
    """Build the book, check parity, time the passes interleaved and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="20k accounts, 200 updates")
    args = parser.parse_args()
    if args.quick:
        args.accounts, args.updates = 20_000, 200
    print("$", " ".join([".venv/bin/python", *sys.argv]))
    threads = numba.get_num_threads()
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    accounts, symbols, marks = _accounts(args.accounts, rng)
    built = time.perf_counter() - started
    rules = get_rules("binance")
    started = time.perf_counter()
    book = pack_accounts(accounts, rules, symbols)
    packed = time.perf_counter() - started
    print(
        f"accounts {book.accounts:,}  positions {book.positions:,}  pools {len(book.pool_wallet):,}  "
        f"symbols {len(symbols)}  tables {len(book.table_symbol)} of {len(book.caps):,} brackets  "
        f"numba threads {threads}"
    )
    print(f"build {built:.1f} s + pack {packed:.1f} s")
    table_bytes = book.table_symbol.nbytes + book.table_start.nbytes + book.brackets.nbytes
    print(
        f"packed book: {book.nbytes / 1e6:.1f} MB (tables {table_bytes / 1e6:.3f} MB); "
        f"the padded (n, B) layout before: {_padded_bytes(book) / 1e6:.1f} MB"
    )
    steps = np.exp(rng.normal(0.0, SIGMA, (args.updates, len(symbols))))
    walk = marks * np.cumprod(steps, axis=0)
    _check_parity(accounts, book, symbols, walk[0])

    side, size, entry = book.side, book.size, book.entry.copy()
    symbol64 = book.symbol.astype(np.int64)
    symbol32 = book.symbol.astype(np.int32)
    signed = book.signed_size

    def lean_pass(count: int, *, reuse: bool = True) -> Callable[[int], int]:
        own = dataclasses.replace(book, bracket=book.bracket.copy())  # its own bracket hints
        out = remark(own, walk[0], liquidation_prices=False) if reuse else None

        def run(update: int) -> int:
            numba.set_num_threads(count)
            return int(remark(own, walk[update], liquidation_prices=False, out=out).liquidated.sum())

        return run

    def priced_pass(above: float) -> Callable[[int], int]:
        own = dataclasses.replace(book, bracket=book.bracket.copy())
        out = remark(own, walk[0])

        def run(update: int) -> int:
            numba.set_num_threads(threads)
            return int(remark(own, walk[update], prices_above=above, out=out).priced.sum())

        return run

    def floor_old(update: int) -> int:
        return int(np.sum(side * size * (walk[update][symbol64] - entry)) > 0)

    def floor_lean(update: int) -> int:
        return int(np.sum(signed * (walk[update][symbol32] - entry)) > 0)

    floor_name = "numpy floor (side, size, int64 symbol, entry)"
    floor_lean_name = "numpy floor (book's signed_size, int32 symbol, entry)"
    lean_name = f"lean remark, {threads} threads"
    single_name = "lean remark, 1 thread"
    fresh_name = f"lean remark, {threads} threads, a fresh result each update"
    flagged_name = f"flagged prices (ratio >= {FLAG_RATIO})"
    passes: dict[str, tuple[int, Callable[[int], int]]] = {  # name: (every how many updates, pass)
        floor_name: (1, floor_old),
        lean_name: (1, lean_pass(threads)),
        single_name: (EVERY_SIDE, lean_pass(1)),
        fresh_name: (EVERY_SIDE, lean_pass(threads, reuse=False)),
        flagged_name: (EVERY_SIDE, priced_pass(FLAG_RATIO)),
        floor_lean_name: (EVERY_SIDE, floor_lean),
        "remark with all liquidation prices": (EVERY_PRICED, priced_pass(0.0)),
    }
    one_thread = (floor_name, single_name, floor_lean_name)  # their CPU time is their whole cost
    for _, run in passes.values():
        run(0)  # compile (or load the cache) outside the timing
    reference_subset = accounts[:REFERENCE_ACCOUNTS]
    reference_positions = sum(len(a.positions) for a in reference_subset)
    times: dict[str, list[float]] = {name: [] for name in passes}
    over: dict[str, list[float]] = {name: [] for name in passes}
    cpu: dict[str, list[float]] = {name: [] for name in one_thread}
    cpu_over: dict[str, list[float]] = {name: [] for name in one_thread}
    counts: dict[str, int] = dict.fromkeys(passes, 0)
    reference_times: list[float] = []
    reference_every = max(1, args.updates // REFERENCE_SAMPLES)
    for update in range(args.updates):
        for name, (every, run) in passes.items():
            if update % every == 0:
                started, used = time.perf_counter(), time.thread_time()
                counts[name] += run(update)
                times[name].append(time.perf_counter() - started)
                over[name].append(times[name][-1] / times[floor_name][-1])
                if name in cpu:
                    cpu[name].append(time.thread_time() - used)
                    cpu_over[name].append(cpu[name][-1] / max(cpu[floor_name][-1], 1e-9))
        if update % reference_every == 0:
            started = time.perf_counter()
            remark_reference(reference_subset, rules, Marks(dict(zip(symbols, walk[update].tolist(), strict=True))))
            reference_times.append((time.perf_counter() - started) / reference_positions)
    numba.set_num_threads(threads)

    print(
        f"\n{args.updates} updates; at each update every pass due runs once, in the order below (interleaved); "
        "median (10th .. 90th percentile) over the updates it ran"
    )
    print(f"{'pass':<54} {'runs':>5} {'ms / update':>24} {'positions/s':>14} {'x numpy floor (same update)':>28}")
    for name, values in times.items():
        rate = book.positions / statistics.median(values)
        ratio = _spread(over[name], "x")
        print(f"{name:<54} {len(values):>5} {_spread(values, scale=1e3):>24} {rate:>14,.0f} {ratio:>28}")
    reference_rate = 1.0 / statistics.median(reference_times)
    label = f"remark_reference ({len(reference_subset):,} accounts, extrapolated)"
    whole = _spread(reference_times, scale=1e3 * book.positions, digits=0)
    print(f"{label:<54} {len(reference_times):>5} {whole:>24} {reference_rate:>14,.0f}")
    print(
        "\nCPU time of the calling thread (time.thread_time) of the one-thread passes: their cost without the waits "
        "for a core of a shared machine"
    )
    print(f"{'pass':<54} {'runs':>5} {'CPU ms / update':>24} {'positions/s':>14} {'x numpy floor (same update)':>28}")
    for name, values in cpu.items():
        rate = book.positions / max(statistics.median(values), 1e-9)
        ratio = _spread(cpu_over[name], "x")
        print(f"{name:<54} {len(values):>5} {_spread(values, scale=1e3):>24} {rate:>14,.0f} {ratio:>28}")
    lean = times[lean_name]
    single = times[single_name]
    paired = [one / lean[k * EVERY_SIDE] for k, one in enumerate(single)]
    print(f"\nthreads: lean remark on 1 thread takes {_spread(paired, 'x')} the time on {threads} (same update)")
    print(
        f"lean remark is {statistics.median(reference_times) * book.positions / statistics.median(lean):,.0f}x faster "
        "than remark_reference per position"
    )
    print(
        f"breach flags seen by the lean pass: {counts[lean_name]:,} over all updates; accounts priced by the "
        f"flagged pass: {counts[flagged_name] / len(times[flagged_name]):,.0f} per update on average"
    )


if __name__ == "__main__":
    main()
