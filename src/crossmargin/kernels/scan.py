"""Compiled twin of the backtest's inner loop; reference: ``crossmargin.sim.scan.scan_reference``.

``scan`` walks bars ``[start, stop)`` with a book held (``BookArrays``) and returns the same ``ScanResult``
as the reference: the first bar where a trigger is touched by the last-trade range or a margin pool
breaches at its intrabar worst case, and the margin balance and highest pool ratio at each earlier bar's
mark close. ``tests/kernels/test_scan.py`` holds the two equal on real bars.

The kernel works in the risk view, requirement R over margin balance E of a pool (quote currency):

- breach when ``R > 0 and E <= R``. This is exactly the reference's ``risk_view(rules, ratio) >= 1`` for
  both ratio kinds: for positive floats ``R / E >= 1`` iff ``E <= R`` and ``1 / (E / R) >= 1`` iff
  ``E / R <= 1`` iff ``E <= R`` (a correctly rounded quotient of two different floats never rounds to 1);
  ``E <= 0 < R`` is a breach and ``R <= 0`` never is, in both;
- ratio at the close ``R / E``, +inf when ``E <= 0 < R``, 0 when ``R <= 0``: the reference's formula for a
  risk-ratio venue; for a health-ratio venue (OKX) the reference computes ``1 / (E / R)``, which differs
  from ``R / E`` by at most two roundings (relative 4.5e-16).

The reference sums positions with ``math.fsum`` (correctly rounded). The kernel sums them plainly and
keeps each sum's rounding-error bound, ``(n + 3) x 2^-52 x (sum of magnitudes)``, which covers its own
error and the reference's. A breach is decided on the plain margin ``E - R`` only when it is farther from
zero than that bound (and R's sign is sure); otherwise, and for every close figure whose bound exceeds
``ACCURATE`` of its value, the pool is summed again exactly (``exact_sum``). So the breach bar is the
reference's even at ``E == R`` to the last bit, the signs (0, +inf cases) are the reference's, and the
recorded equity agrees to ``ACCURATE`` and the ratio to about twice that (relative; the tests hold 1e-12).
"""

from __future__ import annotations

import numba
import numpy as np

from crossmargin.errors import InputError
from crossmargin.kernels.layout import BookArrays, FloatArray, IntArray, MarketData, ScanResult
from crossmargin.margin.liquidate import pool_breaches

__all__ = [
    "ACCURATE",
    "EPS",
    "exact_sum",
    "pool_breached",
    "pool_risk",
    "requirement_at",
    "scan",
    "scan_bars",
    "scan_span",
]

#: Relative error bound (fraction) below which a plain sum is recorded instead of the exact one.
ACCURATE = 1e-13
#: Machine epsilon of float64 (2^-52), the unit of the error bounds.
EPS = 2.0**-52
#: ``_verdict`` outcomes.
SAFE, BREACH, UNSURE = 0, 1, -1


@numba.njit(cache=True)
def _grow(partials: FloatArray, used: int, value: float) -> int:
    """Add ``value`` to the exact running sum held in ``partials[:used]``; return the new count of partials."""
    x = value
    kept = 0
    for j in range(used):
        y = partials[j]
        if abs(x) < abs(y):
            x, y = y, x
        high = x + y
        low = y - (high - x)  # the rounding error of x + y, exact since |x| >= |y|
        if low != 0.0:
            partials[kept] = low
            kept += 1
        x = high
    if x != 0.0:
        partials[kept] = x
        kept += 1
    return kept


@numba.njit(cache=True)
def _round(partials: FloatArray, used: int) -> float:
    """Return the exact total of ``partials[:used]`` (non-overlapping, increasing) rounded half to even."""
    if used == 0:
        return 0.0
    left = used - 1
    high: float = partials[left]
    low = 0.0
    while left > 0:
        x = high
        left -= 1
        y = partials[left]
        high = x + y
        low = y - (high - x)
        if low != 0.0:
            break
    # A half-way case: the partials below decide whether high + low rounds away from high.
    if left > 0 and ((low < 0.0 and partials[left - 1] < 0.0) or (low > 0.0 and partials[left - 1] > 0.0)):
        twice = low * 2.0
        nudged = high + twice
        if twice == nudged - high:
            high = nudged
    return high


@numba.njit(cache=True)
def exact_sum(values: FloatArray, count: int, partials: FloatArray) -> float:
    """Return the sum of ``values[:count]`` correctly rounded (the value ``math.fsum`` returns).

    Shewchuk's exact summation: ``partials`` (length >= count, scratch) holds the running sum as
    non-overlapping floats of increasing magnitude; the result rounds their exact total half to even.
    """
    if count == 1:
        return float(values[0])
    if count == 2:  # one IEEE addition is already correctly rounded
        return float(values[0] + values[1])
    used = 0
    for k in range(count):
        used = _grow(partials, used, values[k])
    return _round(partials, used)


#: ``margin.liquidate.pool_breaches`` compiled: the one breach rule, ``R > 0 and E <= R`` (quote).
pool_breached = numba.njit(cache=True)(pool_breaches)


@numba.njit(cache=True)
def pool_risk(equity: float, requirement: float) -> float:
    """Return requirement / margin balance (fraction, 1 = liquidation); 0 when R <= 0, +inf when E <= 0 < R."""
    if requirement <= 0.0:
        return 0.0
    if equity <= 0.0:
        return np.inf
    return requirement / equity


@numba.njit(cache=True)
def requirement_at(caps: FloatArray, mm_rates: FloatArray, maint_amounts: FloatArray, i: int, notional: float) -> float:
    """Return ``notional x mm_rate - maint_amount`` (quote) in position i's first bracket with cap > notional."""
    b = 0
    last = caps.shape[1] - 1
    while b < last and not notional < caps[i, b]:
        b += 1
    return float(notional * mm_rates[i, b] - maint_amounts[i, b])


@numba.njit(cache=True)
def _triggered(  # noqa: PLR0917 - one bar of the price arrays and the trigger fields
    high: FloatArray, low: FloatArray, bar: int, column: IntArray, price: FloatArray, direction: IntArray
) -> bool:
    """Return True when bar ``bar``'s last-trade ``high`` / ``low`` (bars x symbols) reach some trigger's price."""
    for t in range(column.shape[0]):
        c = column[t]
        if (direction[t] > 0 and high[bar, c] >= price[t]) or (direction[t] < 0 and low[bar, c] <= price[t]):
            return True
    return False


@numba.njit(cache=True)
def _verdict(margin: float, slack: float, requirement: float, requirement_slack: float) -> int:
    """Return SAFE or BREACH when plain sums decide a pool for sure, else UNSURE.

    ``margin`` = E - R and ``requirement`` = R as summed plainly; the slacks bound their distance to the
    exact figures (quote).
    """
    if margin > slack or requirement <= -requirement_slack:
        return SAFE
    if margin < -slack and requirement > requirement_slack:
        return BREACH
    return UNSURE


@numba.njit(cache=True)
def _accurate(total: float, count: int, magnitude: float) -> bool:
    """Return True when a plain sum of ``count`` terms plus one, of ``magnitude``, is within ACCURATE of exact."""
    return (count + 3) * EPS * magnitude <= ACCURATE * abs(total)


@numba.njit(cache=True)
def scan_span(  # noqa: PLR0917 - a compiled kernel over plain arrays (one per BookArrays field), one loop
    start: int,
    stop: int,
    high: FloatArray,
    low: FloatArray,
    mark_high: FloatArray,
    mark_low: FloatArray,
    mark_close: FloatArray,
    column: IntArray,
    side: FloatArray,
    size: FloatArray,
    entry: FloatArray,
    extreme: IntArray,
    caps: FloatArray,
    mm_rates: FloatArray,
    maint_amounts: FloatArray,
    pool_wallet: FloatArray,
    pool_offsets: IntArray,
    pool_members: IntArray,
    wallet_balance: float,
    trigger_column: IntArray,
    trigger_price: FloatArray,
    trigger_direction: IntArray,
    equity_out: FloatArray,
    ratio_out: FloatArray,
    pnl_close: FloatArray,
    req_close: FloatArray,
    pnl_terms: FloatArray,
    req_terms: FloatArray,
    partials: FloatArray,
) -> int:
    """Return the first bar in ``[start, stop)`` with a trigger or a worst-case breach, else ``stop``.

    Fills ``equity_out[bar - start]`` (margin balance at the mark close, quote) and ``ratio_out[bar - start]``
    (highest pool requirement / margin balance at the close) for every bar before the one returned. Prices
    are ``(bars, symbols)`` arrays; the other arguments are the fields of ``BookArrays`` of the same name,
    and scratch: ``pnl_close``, ``req_close``, ``pnl_terms``, ``req_terms`` (length >= max(n, 1)) and
    ``partials`` (one more). ``scan_bars`` without the scratch; a caller that scans many short spans (the
    signal kernel) passes its own.
    """
    count = column.shape[0]
    for bar in range(start, stop):
        if _triggered(high, low, bar, trigger_column, trigger_price, trigger_direction):
            return bar
        for p in range(pool_wallet.shape[0]):
            first = pool_offsets[p]
            members = pool_offsets[p + 1] - first
            pnl = pnl_size = req = req_size = 0.0
            for k in range(members):
                i = pool_members[first + k]
                extremes = mark_low if extreme[i] < 0 else mark_high if extreme[i] > 0 else mark_close
                price = extremes[bar, column[i]]
                pnl_terms[k] = side[i] * size[i] * (price - entry[i])
                req_terms[k] = requirement_at(caps, mm_rates, maint_amounts, i, size[i] * price)
                pnl += pnl_terms[k]
                pnl_size += abs(pnl_terms[k])
                req += req_terms[k]
                req_size += abs(req_terms[k])
            slack = (members + 3) * EPS * (abs(pool_wallet[p]) + pnl_size + req_size)
            verdict = _verdict(pool_wallet[p] + pnl - req, slack, req, (members + 2) * EPS * req_size)
            if verdict == UNSURE:
                equity = pool_wallet[p] + exact_sum(pnl_terms, members, partials)
                verdict = BREACH if pool_breached(equity, exact_sum(req_terms, members, partials)) else SAFE
            if verdict == BREACH:
                return bar
        row = bar - start
        total = total_size = 0.0
        for i in range(count):
            price = mark_close[bar, column[i]]
            pnl_close[i] = side[i] * size[i] * (price - entry[i])
            req_close[i] = requirement_at(caps, mm_rates, maint_amounts, i, size[i] * price)
            total += pnl_close[i]
            total_size += abs(pnl_close[i])
        equity_out[row] = wallet_balance + total
        if not _accurate(equity_out[row], count, abs(wallet_balance) + total_size):
            equity_out[row] = wallet_balance + exact_sum(pnl_close, count, partials)
        ratio_out[row] = 0.0
        for p in range(pool_wallet.shape[0]):
            first = pool_offsets[p]
            members = pool_offsets[p + 1] - first
            pnl = pnl_size = req = req_size = 0.0
            for k in range(members):
                pnl_terms[k] = pnl_close[pool_members[first + k]]
                req_terms[k] = req_close[pool_members[first + k]]
                pnl += pnl_terms[k]
                pnl_size += abs(pnl_terms[k])
                req += req_terms[k]
                req_size += abs(req_terms[k])
            equity = pool_wallet[p] + pnl
            if not (_accurate(equity, members, abs(pool_wallet[p]) + pnl_size) and _accurate(req, members, req_size)):
                equity = pool_wallet[p] + exact_sum(pnl_terms, members, partials)
                req = exact_sum(req_terms, members, partials)
            if members > 0:
                ratio_out[row] = max(ratio_out[row], pool_risk(equity, req))
    return stop


@numba.njit(cache=True)
def scan_bars(  # noqa: PLR0917 - a compiled kernel over plain arrays (one per BookArrays field)
    start: int,
    stop: int,
    high: FloatArray,
    low: FloatArray,
    mark_high: FloatArray,
    mark_low: FloatArray,
    mark_close: FloatArray,
    column: IntArray,
    side: FloatArray,
    size: FloatArray,
    entry: FloatArray,
    extreme: IntArray,
    caps: FloatArray,
    mm_rates: FloatArray,
    maint_amounts: FloatArray,
    pool_wallet: FloatArray,
    pool_offsets: IntArray,
    pool_members: IntArray,
    wallet_balance: float,
    trigger_column: IntArray,
    trigger_price: FloatArray,
    trigger_direction: IntArray,
    equity_out: FloatArray,
    ratio_out: FloatArray,
) -> int:
    """Return the first bar in ``[start, stop)`` with a trigger or a worst-case breach, else ``stop``.

    Fills ``equity_out[bar - start]`` (margin balance at the mark close, quote) and ``ratio_out[bar - start]``
    (highest pool requirement / margin balance at the close) for every bar before the one returned. Prices
    are ``(bars, symbols)`` arrays; the other arguments are the fields of ``BookArrays`` of the same name.
    """
    scratch = max(column.shape[0], 1)
    return scan_span(
        start,
        stop,
        high,
        low,
        mark_high,
        mark_low,
        mark_close,
        column,
        side,
        size,
        entry,
        extreme,
        caps,
        mm_rates,
        maint_amounts,
        pool_wallet,
        pool_offsets,
        pool_members,
        wallet_balance,
        trigger_column,
        trigger_price,
        trigger_direction,
        equity_out,
        ratio_out,
        np.empty(scratch),
        np.empty(scratch),
        np.empty(scratch),
        np.empty(scratch),
        np.empty(scratch + 1),
    )


def scan(book: BookArrays, market: MarketData, *, start: int, stop: int) -> ScanResult:
    """Scan bars ``[start, stop)`` of ``market`` with ``book`` held; the compiled ``scan_reference``.

    Returns the ``ScanResult`` of ``crossmargin.kernels.layout`` (event bar; margin balance in quote and highest
    pool ratio as requirement / margin balance for the bars before it). Raises InputError when ``book``
    was packed for other market columns, or when a non-empty span is outside ``0 .. market.bars``.
    """
    if book.symbols != market.symbols:
        raise InputError(
            "market.symbols", market.symbols, f"the columns the book was packed for: {', '.join(book.symbols)}"
        )
    span = stop - start
    if span <= 0:
        return ScanResult(stop, np.zeros(0), np.zeros(0))
    if start < 0 or stop > market.bars:
        raise InputError("stop" if start >= 0 else "start", stop if start >= 0 else start, f"0 .. {market.bars}")
    equity = np.zeros(span)
    ratio = np.zeros(span)
    event = int(
        scan_bars(
            start,
            stop,
            np.ascontiguousarray(market.high, dtype=np.float64),
            np.ascontiguousarray(market.low, dtype=np.float64),
            np.ascontiguousarray(market.mark_high, dtype=np.float64),
            np.ascontiguousarray(market.mark_low, dtype=np.float64),
            np.ascontiguousarray(market.mark_close, dtype=np.float64),
            book.column,
            book.side,
            book.size,
            book.entry,
            book.extreme,
            book.caps,
            book.mm_rates,
            book.maint_amounts,
            book.pool_wallet,
            book.pool_offsets,
            book.pool_members,
            book.wallet_balance,
            book.trigger_column,
            book.trigger_price,
            book.trigger_direction,
            equity,
            ratio,
        )
    )
    return ScanResult(event, equity[: event - start], ratio[: event - start])
