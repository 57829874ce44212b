"""Compiled pass of ``crossmargin.kernels.batch.remark``; reference: ``crossmargin.kernels.batch.remark_reference``.

One pass over the book's arrays (the fields of ``BatchBook`` of the same names) per re-mark. Per position
it reads the signed size, entry, pool, table and bracket hint; the requirement tables (one per distinct
schedule, usually one per symbol) are small enough to stay in cache. Each position's bracket is the hint
(the one found at the last re-mark) while the notional stays in that bracket's ``[floor, cap)``, and is
searched again from the first bracket otherwise, so the figures never depend on the hint.

Liquidation prices are solved only when asked for (``prices``), and then only for accounts flagged by
``prices_above``: in breach, or with some pool's risk ratio (requirement / margin balance) at or above it.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.kernels.layout import FloatArray, IntArray
from crossmargin.kernels.scan import ACCURATE, EPS, exact_sum, pool_breached, pool_risk
from crossmargin.numeric import NEGLIGIBLE

__all__ = ["CAP", "CHUNKS", "FLOOR", "MAINT_AMOUNT", "MM_RATE", "HintArray", "SmallIntArray", "remark_arrays"]

#: Accounts are re-marked in this many chunks, spread over numba's threads (each chunk has its own scratch).
CHUNKS = 256

#: Columns of the bracket records (``BatchBook.brackets``, one row per bracket): floor, cap (notional, quote),
#: maintenance rate (fraction) and amount (quote). One row is one cache access where four arrays were four.
FLOOR = 0
CAP = 1
MM_RATE = 2
MAINT_AMOUNT = 3

#: int32 indices (tables, pools, mark columns): half the bytes of int64 on the per-position stream.
SmallIntArray = npt.NDArray[np.int32]
#: Bracket hints: uint8 (int32 for tables longer than 256 brackets).
HintArray = npt.NDArray[np.uint8] | npt.NDArray[np.int32]


@numba.njit(cache=True, inline="always")
def _search(brackets: FloatArray, start: int, stop: int, notional: float) -> int:
    """Return the row of the first bracket in ``start : stop`` with cap > ``notional`` (quote), else the last.

    The search of ``crossmargin.margin.account``'s ``_requirement`` (``next(b for b in schedule if v < b.cap)``).
    """
    b = start
    while b < stop - 1 and not notional < brackets[b, CAP]:
        b += 1
    return b


@numba.njit(cache=True, inline="always")
def _segment_root(  # noqa: PLR0917 - a compiled helper over plain arrays
    b: int,
    base: float,
    signed_size: float,
    entry: float,
    start: int,
    brackets: FloatArray,
) -> float:
    """Return the root (quote) of h on price segment b of a position (bracket b held), NaN when it has none.

    Segment b runs from the mark where bracket b - 1 ends (its cap / q, 0 for the first) to
    bracket b's cap / q; the last segment ends at the last bracket's cap: a root past the venue's table is
    none, as in the reference (``BEYOND_LAST_BRACKET``).
    """
    q = abs(signed_size)
    low = brackets[start + b - 1, CAP] / q if b > 0 else 0.0
    high = brackets[start + b, CAP] / q
    if not high > low:  # a break equal to the previous one: no segment
        return np.nan
    constant = base + brackets[start + b, MAINT_AMOUNT] - signed_size * entry
    slope = signed_size - q * brackets[start + b, MM_RATE]
    if slope == 0.0:
        return np.nan
    at_low = constant + slope * low
    at_high = constant + slope * high if high < np.inf else (np.inf if slope > 0 else -np.inf)
    if at_low == 0.0 or (at_low > 0.0) != (at_high > 0.0):
        return float(min(max(-constant / slope, low), high))
    return np.nan


@numba.njit(cache=True)
def _liquidation_price(  # noqa: PLR0917 - a compiled helper over plain arrays
    base: float,
    reference: float,
    signed_size: float,
    entry: float,
    start: int,
    length: int,
    brackets: FloatArray,
    hint: int,
) -> float:
    """Return the root of ``h(P) = base + s q (P - E) - requirement(P)`` nearest ``reference``, NaN if none.

    The algebra of ``crossmargin.margin.liquidation.solve_pool_price`` for one leg: on each segment of the
    price axis between the bracket breaks (caps / q, quote) h is linear; a segment where h changes sign
    holds a root. Roots at or below ``reference x NEGLIGIBLE`` are none. The search starts at the segment
    holding ``reference`` (the first whose break exceeds it, found by stepping from bracket ``hint``; breaks
    rise with the bracket as a table's caps do): downward the first root is the nearest below; upward it
    stops at the first root at or above ``reference``, or where a segment starts farther above ``reference``
    than the root already found below (no root there can be nearer); ties go to the lower root, as the
    reference's ``min`` over ascending roots.
    """
    last = length - 1
    q = abs(signed_size)
    floor = reference * NEGLIGIBLE
    home = min(max(hint, 0), last)
    while home > 0 and not brackets[start + home - 1, CAP] / q <= reference:
        home -= 1
    while home < last and brackets[start + home, CAP] / q <= reference:
        home += 1
    best = np.nan
    for b in range(home - 1, -1, -1):
        root = _segment_root(b, base, signed_size, entry, start, brackets)
        if not np.isnan(root):
            if root > floor:
                best = root
            break
    for b in range(home, last + 1):
        if b > home and not np.isnan(best) and brackets[start + b - 1, CAP] / q - reference >= abs(best - reference):
            break  # every root of segment b onward is >= its start: none is strictly nearer than best
        root = _segment_root(b, base, signed_size, entry, start, brackets)
        if not np.isnan(root) and root > floor:
            if np.isnan(best) or abs(root - reference) < abs(best - reference):
                best = root
            if root >= reference:
                break
    return best


@numba.njit(cache=True, inline="always")
def _plain_is_sure(  # noqa: PLR0917 - a compiled helper over plain numbers
    wallet: float, pnl_sum: float, pnl_size: float, req_sum: float, req_size: float, count: int
) -> bool:
    """Return True when a pool's plain sums may stand for the exact ones (``math.fsum``'s values).

    ``pnl_sum``/``req_sum`` are the plain sums of the pool's ``count`` PnL and requirement terms (quote),
    ``*_size`` the sums of their magnitudes. True when both are within ``ACCURATE`` of exact and the breach
    test ``E <= R`` is decided by more than their error bound (``kernels.scan``'s bound), or ``count <= 2``
    (a sum of one or two terms is already correctly rounded).
    """
    if count <= 2:
        return True
    equity = wallet + pnl_sum
    bound = (count + 3) * EPS * (abs(wallet) + pnl_size + req_size)
    sure = abs(equity - req_sum) > bound and (
        req_sum > (count + 2) * EPS * req_size or req_sum < -(count + 2) * EPS * req_size
    )
    accurate = (count + 3) * EPS * (abs(wallet) + pnl_size) <= ACCURATE * abs(equity) and (
        count + 3
    ) * EPS * req_size <= ACCURATE * abs(req_sum)
    return sure and accurate


@numba.njit(cache=True, inline="always")
def _terms(  # noqa: PLR0917 - a compiled helper over plain arrays
    i: int,
    marks: FloatArray,
    table: SmallIntArray,
    signed_size: FloatArray,
    entry: FloatArray,
    bracket: HintArray,
    table_symbol: SmallIntArray,
    table_start: IntArray,
    brackets: FloatArray,
) -> tuple[float, float, float]:
    """Return position i's mark, unrealised PnL and requirement (quote) in its bracket ``bracket[i]``.

    ``u = s q (P - E)`` (``margin.position.unrealized_pnl``) and ``q P x mm_rate - maint_amount``
    (``margin.position.maintenance_margin``), the same operations in the same order as the main loop.
    """
    t = table[i]
    price = marks[table_symbol[t]]
    b = table_start[t] + int(bracket[i])
    notional = abs(signed_size[i]) * price
    return price, signed_size[i] * (price - entry[i]), notional * brackets[b, MM_RATE] - brackets[b, MAINT_AMOUNT]


@numba.njit(cache=True)
def _exact_pool(  # noqa: PLR0917 - a compiled helper over plain arrays
    wallet: float,
    first: int,
    count: int,
    home: int,
    cross_only: bool,
    marks: FloatArray,
    table: SmallIntArray,
    signed_size: FloatArray,
    entry: FloatArray,
    pool: SmallIntArray,
    bracket: HintArray,
    table_symbol: SmallIntArray,
    table_start: IntArray,
    brackets: FloatArray,
    pnl: FloatArray,
    req: FloatArray,
    partials: FloatArray,
) -> tuple[float, float]:
    """Return the margin balance and requirement (quote) of an account's positions (its cross pool's when
    ``cross_only``) summed exactly (``exact_sum``: ``math.fsum``'s values); ``pnl``, ``req``: scratch."""
    m = 0
    for i in range(first, first + count):
        if cross_only and pool[i] != home:
            continue
        _, pnl[m], req[m] = _terms(i, marks, table, signed_size, entry, bracket, table_symbol, table_start, brackets)
        m += 1
    return wallet + exact_sum(pnl, m, partials), exact_sum(req, m, partials)


@numba.njit(cache=True, parallel=True)
def remark_arrays(  # noqa: PLR0917, PLR0912, PLR0915 - one compiled pass over plain arrays (BatchBook's fields)
    marks: FloatArray,
    wallet: FloatArray,
    cross_pool: IntArray,
    offsets: IntArray,
    table: SmallIntArray,
    signed_size: FloatArray,
    entry: FloatArray,
    pool: SmallIntArray,
    bracket: HintArray,
    table_symbol: SmallIntArray,
    table_start: IntArray,
    brackets: FloatArray,
    pool_wallet: FloatArray,
    widest: int,
    prices: bool,
    prices_above: float,
    balance_out: FloatArray,
    requirement_out: FloatArray,
    ratio_out: FloatArray,
    liquidated_out: npt.NDArray[np.uint8],
    priced_out: npt.NDArray[np.uint8],
    price_out: FloatArray,
    past_out: IntArray,
) -> None:
    """Fill the outputs of ``remark`` (see ``BatchResult``) for the book's arrays at ``marks`` (quote).

    Updates ``bracket`` (the hints) in place. ``widest``: the most positions of one account. With ``prices``
    False, ``priced_out`` is all 0 and ``price_out`` (then of any length) is not touched. ``past_out[c]``:
    the first position of chunk c whose notional is at or past its table's last cap, -1 when none.

    The hot loop keeps no per-position scratch: PnL and requirement go straight into the plain sums (cross
    terms through a select, so the 0 added for an isolated position leaves a sum as it is); the rare pool
    whose plain sums are not sure is summed again exactly from the arrays (``_exact_pool``), and the
    liquidation prices recompute each position's terms (``_terms``, the same operations).
    """
    accounts = wallet.shape[0]
    chunks = min(accounts, CHUNKS)
    table_mark = np.empty(table_symbol.shape[0])  # each table's mark (quote): one load per position, not two
    for t in range(table_symbol.shape[0]):
        table_mark[t] = marks[table_symbol[t]]
    for chunk in numba.prange(chunks):  # chunks of accounts, each with its own scratch (quote terms)
        pnl = np.empty(widest)
        req = np.empty(widest)
        partials = np.empty(widest + 2)
        past = -1
        for a in range(chunk * accounts // chunks, (chunk + 1) * accounts // chunks):
            first = offsets[a]
            count = offsets[a + 1] - first
            home = cross_pool[a]
            members = 0
            breach = False
            worst = 0.0  # the highest pool risk ratio, kept only when prices are asked for
            pnl_sum = pnl_size = req_sum = req_size = 0.0
            cross_pnl_sum = cross_pnl_size = cross_req_sum = cross_req_size = 0.0
            for i in range(first, first + count):
                t = table[i]
                start = table_start[t]
                stop = table_start[t + 1]
                price = table_mark[t]
                notional = abs(signed_size[i]) * price
                hint = int(bracket[i])
                b = start + hint
                if not (hint < stop - start and brackets[b, FLOOR] <= notional < brackets[b, CAP]):  # left it
                    b = _search(brackets, start, stop, notional)
                    bracket[i] = b - start
                    if not notional < brackets[b, CAP] and past < 0:
                        past = i
                u = signed_size[i] * (price - entry[i])
                r = notional * brackets[b, MM_RATE] - brackets[b, MAINT_AMOUNT]
                pnl_sum += u
                pnl_size += abs(u)
                req_sum += r
                req_size += abs(r)
                cross = pool[i] == home
                cross_u = u if cross else 0.0
                cross_r = r if cross else 0.0
                cross_pnl_sum += cross_u
                cross_pnl_size += abs(cross_u)
                cross_req_sum += cross_r
                cross_req_size += abs(cross_r)
                members += 1 if cross else 0
                if not cross:  # an isolated pool: one position, one addition, as the reference
                    equity = pool_wallet[pool[i]] + u
                    breach = breach or pool_breached(equity, r)
                    if prices:
                        worst = max(worst, pool_risk(equity, r))
            balance, required = wallet[a] + pnl_sum, req_sum
            if not _plain_is_sure(wallet[a], pnl_sum, pnl_size, req_sum, req_size, count):
                balance, required = _exact_pool(
                    wallet[a],
                    first,
                    count,
                    home,
                    False,
                    marks,
                    table,
                    signed_size,
                    entry,
                    pool,
                    bracket,
                    table_symbol,
                    table_start,
                    brackets,
                    pnl,
                    req,
                    partials,
                )
            balance_out[a] = balance
            requirement_out[a] = required
            ratio_out[a] = 0.0
            cross_equity = cross_required = 0.0
            if members > 0:
                cross_equity, cross_required = pool_wallet[home] + cross_pnl_sum, cross_req_sum
                if not _plain_is_sure(
                    pool_wallet[home], cross_pnl_sum, cross_pnl_size, cross_req_sum, cross_req_size, members
                ):
                    cross_equity, cross_required = _exact_pool(
                        pool_wallet[home],
                        first,
                        count,
                        home,
                        True,
                        marks,
                        table,
                        signed_size,
                        entry,
                        pool,
                        bracket,
                        table_symbol,
                        table_start,
                        brackets,
                        pnl,
                        req,
                        partials,
                    )
                ratio_out[a] = pool_risk(cross_equity, cross_required)
                breach = breach or pool_breached(cross_equity, cross_required)
                worst = max(worst, ratio_out[a])
            liquidated_out[a] = 1 if breach else 0
            priced = prices and (breach or worst >= prices_above)
            priced_out[a] = 1 if priced else 0
            if not prices:
                continue
            others_pnl = cross_equity - pool_wallet[home]
            for i in range(first, first + count):
                if not priced:
                    price_out[i] = np.nan
                    continue
                mark, u, r = _terms(i, marks, table, signed_size, entry, bracket, table_symbol, table_start, brackets)
                t = table[i]
                start = table_start[t]
                if pool[i] == home:
                    base = pool_wallet[home] + (others_pnl - u) - (cross_required - r)
                else:
                    base = pool_wallet[pool[i]]
                price_out[i] = _liquidation_price(
                    base,
                    mark,
                    signed_size[i],
                    entry[i],
                    start,
                    table_start[t + 1] - start,
                    brackets,
                    int(bracket[i]),
                )
        past_out[chunk] = past
