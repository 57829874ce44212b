"""Compiled first-passage check of margin pools along simulated price paths.

Reference: ``first_breach_reference`` below (plain Python on ``margin.account.evaluate``);
``tests/risk/test_montecarlo.py`` holds the two equal on paths cut from the real sample.

The book is ``crossmargin.kernels.layout.BookArrays`` (struct-of-arrays: per position side, size, entry,
pool and padded requirement schedule; per pool the wallet and its members). Along one path, step k moves
every symbol's log mark by ``log_returns[path, k, s]``; then, when ``(k + 1)`` is a multiple of
``funding_every``, each position pays ``side x size x mark x funding_rate`` out of its pool's wallet (a long
pays a positive rate); then each pool not yet liquidated is checked: margin balance
``E = wallet + sum(side x size x (mark - entry))`` against requirement ``R = sum(q x mark x mm_rate -
maint_amount)`` (quote currency), liquidated when ``R > 0 and E <= R`` (``kernels.scan.pool_breached``).
Along the way each position's highest mark over the steps its pool is checked (up to and including the
breach step) is kept, so that the caller can refuse a path that carries a position past the last tier of
the venue's table (one comparison per position and step, beside the requirement it already computes).
Sums are plain float64: an exact tie ``E == R`` has probability zero on a continuous path, so the exact
summation of ``kernels.scan`` would buy nothing here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.errors import InputError
from crossmargin.kernels.layout import BookArrays, FloatArray, IntArray
from crossmargin.kernels.scan import pool_breached, requirement_at
from crossmargin.margin.account import evaluate
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.pools import pool_keys, risk_view
from crossmargin.model import Account, MarginMode, Marks
from crossmargin.venues.base import VenueRules

__all__ = ["NOT_LIQUIDATED", "first_breach", "first_breach_reference", "first_breach_steps"]

#: Value of a pool's first-breach step when the pool survives the whole path (or holds no position).
NOT_LIQUIDATED = -1


@numba.njit(cache=True, parallel=True)
def first_breach_steps(  # noqa: PLR0917 - a compiled kernel over plain arrays, one per BookArrays field
    log_returns: FloatArray,
    start_marks: FloatArray,
    column: IntArray,
    side: FloatArray,
    size: FloatArray,
    entry: FloatArray,
    pool: IntArray,
    caps: FloatArray,
    mm_rates: FloatArray,
    maint_amounts: FloatArray,
    pool_wallet: FloatArray,
    pool_offsets: IntArray,
    pool_members: IntArray,
    funding_rate: FloatArray,
    funding_every: int,
    out: IntArray,
    peak_marks: FloatArray,
) -> None:
    """Fill ``out[path, pool]`` with the first step at which the pool is liquidated, else ``NOT_LIQUIDATED``.

    ``log_returns`` has shape ``(paths, steps, symbols)`` (log mark returns per step), ``start_marks``
    ``(symbols,)`` (quote currency); ``funding_rate`` is per position (fraction per settlement),
    ``funding_every`` the steps between settlements (0: no funding). The rest are the ``BookArrays`` fields
    of the same name. ``peak_marks[path, i]`` (quote) receives position i's highest mark over the steps at
    which its pool was checked on that path (up to and including the breach step). Paths run in parallel;
    each is independent, so the result does not depend on threads.
    """
    paths, steps, width = log_returns.shape
    pools = pool_wallet.shape[0]
    count = column.shape[0]
    for path in numba.prange(paths):
        log_move = np.zeros(width)
        price = start_marks.copy()
        wallet = pool_wallet.copy()
        alive = 0
        for p in range(pools):
            out[path, p] = NOT_LIQUIDATED
            if pool_offsets[p + 1] > pool_offsets[p]:
                alive += 1
        peak_marks[path, :] = 0.0
        for step in range(steps):
            if alive == 0:
                break
            for s in range(width):
                log_move[s] += log_returns[path, step, s]
                price[s] = start_marks[s] * math.exp(log_move[s])
            if funding_every > 0 and (step + 1) % funding_every == 0:
                for i in range(count):
                    wallet[pool[i]] -= side[i] * size[i] * price[column[i]] * funding_rate[i]
            for p in range(pools):
                first = pool_offsets[p]
                members = pool_offsets[p + 1] - first
                if members == 0 or out[path, p] != NOT_LIQUIDATED:
                    continue
                equity = wallet[p]
                requirement = 0.0
                for k in range(members):
                    i = pool_members[first + k]
                    mark = price[column[i]]
                    peak_marks[path, i] = max(peak_marks[path, i], mark)
                    equity += side[i] * size[i] * (mark - entry[i])
                    requirement += requirement_at(caps, mm_rates, maint_amounts, i, size[i] * mark)
                if pool_breached(equity, requirement):
                    out[path, p] = step
                    alive -= 1


def first_breach(
    book: BookArrays,
    log_returns: npt.NDArray[np.float64],
    start_marks: npt.NDArray[np.float64],
    *,
    funding_rate: npt.NDArray[np.float64] | None = None,
    funding_every: int = 0,
    peak_marks: npt.NDArray[np.float64] | None = None,
) -> IntArray:
    """Return the first liquidation step of every pool on every path, shape ``(paths, pools)`` (int64).

    ``log_returns`` ``(paths, steps, symbols)`` are log mark returns per step in the columns of
    ``book.symbols``; ``start_marks`` the marks at step 0 (quote currency). ``funding_rate`` per position
    (fraction per settlement, > 0: longs pay) is settled every ``funding_every`` steps (0: never).
    ``NOT_LIQUIDATED`` (-1) marks a pool that survives the path or holds no position. ``peak_marks``, when
    given (float64, C-contiguous, shape ``(paths, positions)``), receives each position's highest mark
    (quote) over the steps its pool was checked on each path, up to and including its breach step.
    Raises InputError for arrays of the wrong shape.
    """
    returns = np.ascontiguousarray(log_returns, dtype=np.float64)
    marks = np.ascontiguousarray(start_marks, dtype=np.float64)
    width = len(book.symbols)
    if returns.ndim != 3 or returns.shape[2] != width:
        raise InputError("log_returns", returns.shape, f"an array (paths, steps, {width}) for {book.symbols}")
    if marks.shape != (width,) or not np.all(marks > 0):
        raise InputError("start_marks", marks.shape, f"{width} marks > 0 for {book.symbols}")
    rates = np.zeros(book.positions) if funding_rate is None else np.ascontiguousarray(funding_rate, dtype=np.float64)
    if rates.shape != (book.positions,):
        raise InputError("funding_rate", rates.shape, f"one rate per position ({book.positions})")
    if funding_every < 0:
        raise InputError("funding_every", funding_every, ">= 0 steps (0: no funding)")
    out = np.empty((returns.shape[0], book.pools), dtype=np.int64)
    if peak_marks is None:
        peaks = np.empty((returns.shape[0], book.positions), dtype=np.float64)
    elif (
        peak_marks.dtype != np.float64
        or peak_marks.shape != (returns.shape[0], book.positions)
        or not peak_marks.flags.c_contiguous
    ):
        raise InputError(
            "peak_marks", peak_marks.shape, f"a C-contiguous float64 array ({returns.shape[0]}, {book.positions})"
        )
    else:
        peaks = peak_marks
    first_breach_steps(
        returns,
        marks,
        book.column,
        book.side,
        book.size,
        book.entry,
        book.pool,
        book.caps,
        book.mm_rates,
        book.maint_amounts,
        book.pool_wallet,
        book.pool_offsets,
        book.pool_members,
        rates,
        int(funding_every),
        out,
        peaks,
    )
    return out


def first_breach_reference(
    account: Account,
    rules: VenueRules,
    marks: Marks,
    symbols: Sequence[str],
    log_returns: FloatArray,
    *,
    funding_rate: Sequence[float] | npt.NDArray[np.float64] | None = None,
    funding_every: int = 0,
) -> IntArray:
    """Return the first liquidation step of each pool on each path: the plain-Python ``first_breach``.

    Same arguments as the kernel, in values: at every step the account (its wallets moved by the funding
    paid so far, ``margin.funding.funding_payment``) is evaluated at the path's marks with
    ``margin.account.evaluate``; a pool is liquidated when its ratio, as requirement / margin balance
    (``sim.scan.risk_view``), is >= 1. Pools in ``pack_book`` order (cross first); -1: not liquidated.
    """
    names = tuple(symbols)
    start = np.array([marks.price(s) for s in names])
    rates = [float(r) for r in funding_rate] if funding_rate is not None else [0.0] * len(account.positions)
    keys = pool_keys(account)
    order = ["cross"] + [key for key in keys if key != "cross"]
    members = {key: [i for i, k in enumerate(keys) if k == key] for key in order}
    out = np.full((log_returns.shape[0], len(order)), NOT_LIQUIDATED, dtype=np.int64)
    for path in range(log_returns.shape[0]):
        log_move = np.zeros(len(names))
        received = [0.0] * len(account.positions)
        for step in range(log_returns.shape[1]):
            log_move += log_returns[path, step]
            prices = {s: float(start[j] * math.exp(log_move[j])) for j, s in enumerate(names)}
            if funding_every and (step + 1) % funding_every == 0:
                for i, p in enumerate(account.positions):
                    received[i] += funding_payment(p.side, p.size, prices[p.symbol], rates[i])
            held = _with_funding(account, received)
            risk = evaluate(held, Marks(prices), rules)
            for index, key in enumerate(order):
                if out[path, index] != NOT_LIQUIDATED or not members[key]:
                    continue
                if risk_view(rules, risk.pool_ratios[members[key][0]]) >= 1.0:
                    out[path, index] = step
    return out


def _with_funding(account: Account, received: Sequence[float]) -> Account:
    """Return ``account`` with each position's funding received (quote) added to its pool's wallet."""
    positions = tuple(
        replace(p, isolated_margin=(p.isolated_margin or 0.0) + amount) if p.mode is MarginMode.ISOLATED else p
        for p, amount in zip(account.positions, received, strict=True)
    )
    return Account(
        venue=account.venue,
        wallet_balance=account.wallet_balance + math.fsum(received),
        positions=positions,
        cross_deficit_allowed=True,
    )
