"""Compiled run of a whole signal array: fills, fees, funding and the margin check in one loop.

Reference: the same signals as a per-bar ``Strategy`` (``crossmargin.sim.signals.SignalStrategy``) through the
event loop of ``crossmargin.sim.engine``, whose fills are ``margin.operations`` and whose scan is
``kernels.scan``; ``tests/sim/test_signals.py`` holds the two runs equal on real bars (trades, equity,
margin ratio, funding, positions, liquidations).

The kernel keeps one position per traded symbol (a "slot"), in one margin mode, and walks the bars as the
engine does: at a bar with orders, the market orders sent at the previous close fill at the open (moved
by the slippage, taker fee); then the funding settlements of the bar are paid at the mark open; then the
bar is scanned (``kernels.scan.scan_bars``: the intrabar worst case of every pool, and the close); then,
at a signal bar, the signals turn into market orders for the next open. Between two such bars the book
is held and the bars are scanned in one call.

The arithmetic is that of ``margin``: ``unrealized_pnl``, ``notional``, ``fee``, ``initial_margin`` and
``funding_payment`` are those very functions compiled; the operations follow ``margin.operations``
step for step (open: the leverage cap of the bracket at the fill's notional, then initial margin plus open
loss against the available balance ``max(0, cross wallet + cross uPnL - cross initial margin)`` at the mark
open, with ``math.fsum``'s correctly rounded sums (``kernels.scan.exact_sum``); increase: the same on the
added size, entry the size-weighted average; reduce: the PnL and the fee into the wallet, the isolated
wallet kept in proportion; funding: the isolated wallet floored at ``ISOLATED_FLOOR``).

What the kernel does not do, it hands back to Python (the return status), with its state arrays as they
stand: ``LIQUIDATE`` when a pool breaches (the caller runs ``sim.liquidation.check_margin``, the venue's
procedure of ``margin.liquidate``, and records the close), ``REFUSE`` when the venue would refuse an order
(the caller runs it through ``margin.operations``, which records the refusal with its reason), ``FLUSH``
when the record arrays are full. The caller resumes the kernel where it stopped (``counters[BAR]``,
``counters[PHASE]``).

Money in quote currency, sizes in base units, sides +1.0 long / -1.0 short, rates as fractions, bars as
row indices of the market.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.kernels.layout import EXTREME_HIGH, EXTREME_LOW, FloatArray, IntArray
from crossmargin.kernels.scan import exact_sum, scan_span
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.operations import ISOLATED_FLOOR
from crossmargin.margin.position import fee, initial_margin, notional, unrealized_pnl

__all__ = [
    "AFTER_CLOSE",
    "BAR",
    "CLOSE",
    "DONE",
    "FEES",
    "FILLS",
    "FLUSH",
    "FUNDING",
    "HELD",
    "INCREASE",
    "LIQUIDATE",
    "LONG_ENTRY",
    "LONG_EXIT",
    "OPEN",
    "PENDING",
    "PENDING_DONE",
    "PHASE",
    "REDUCE",
    "REFUSE",
    "SHORT_ENTRY",
    "SHORT_EXIT",
    "SIGNAL",
    "START_HELD",
    "TARGET_TOLERANCE",
    "WALLET",
    "SignalInputs",
    "SignalRecords",
    "SignalState",
    "run_signal_kernel",
]

#: Return statuses of ``run_signal_kernel``.
DONE = 0
LIQUIDATE = 1
REFUSE = 2
FLUSH = 3
#: Phases of a bar, where the kernel resumes: fills at the open, funding and the scan, after the close.
FILLS = 0
FUNDING = 1
AFTER_CLOSE = 2
#: Indices of ``SignalState.counters``: the bar and phase to resume at, pending orders (count, filled so
#: far), positions held (the length of ``order``), the next entry of ``signal_bars``, positions held at the
#: start of the bar.
BAR = 0
PHASE = 1
PENDING = 2
PENDING_DONE = 3
HELD = 4
SIGNAL = 5
START_HELD = 6
#: Indices of ``SignalState.money``: the whole wallet, the fees paid (quote).
WALLET = 0
FEES = 1
#: Bits of ``SignalInputs.flags``.
LONG_ENTRY = 1
LONG_EXIT = 2
SHORT_ENTRY = 4
SHORT_EXIT = 8
#: ``SignalRecords.trade_kind``: the ``kind`` of the trade ledger ('open', 'increase', 'reduce', 'close').
OPEN = 0
INCREASE = 1
REDUCE = 2
CLOSE = 3
#: What a target order within this fraction of the target (or of 1 base unit) does not send: ``ctx.target``'s.
TARGET_TOLERANCE = 1e-9

_pnl = numba.njit(cache=True)(unrealized_pnl)
_notional = numba.njit(cache=True)(notional)
_fee = numba.njit(cache=True)(fee)
_initial_margin = numba.njit(cache=True)(initial_margin)
_funding = numba.njit(cache=True)(funding_payment)


class SignalInputs(NamedTuple):
    """What a run reads: n slots (traded symbols), B brackets, k signal bars, m funding settlements.

    Prices, shape ``(bars, symbols)`` (quote): ``open`` and ``close`` (last trade), ``mark_open``,
    ``mark_high``, ``mark_low``, ``mark_close``. Per slot: ``column`` (int64, its market column);
    ``caps``, ``mm_rates``, ``maint_amounts`` (n, B): the requirement schedule, padded as in
    ``kernels.layout.BookArrays``; ``max_leverage`` (n, B): each bracket's leverage cap; ``brackets`` (n,):
    the real brackets of the row (a notional at or past the last real cap is beyond the venue's table).
    Signals: ``flags`` (rows, n) int8 (``LONG_ENTRY | LONG_EXIT | SHORT_ENTRY | SHORT_EXIT``), ``targets``
    (rows, n) signed targets (NaN: none), ``sizes`` (rows, n): each with one row (every bar alike) or one
    per bar; ``signal_bars`` (k,): the sorted bars where a slot has a flag or a target. Funding, per slot j
    the rows ``funding_offsets[j] : funding_offsets[j + 1]`` of ``funding_bars`` (the bar holding each
    settlement, sorted) and ``funding_rates`` (fraction, > 0: longs pay). ``settings``: slippage (fraction),
    taker fee rate (fraction), leverage; ``options``: targets (1) or flags (0), sizes and targets in base
    units (0) or as a fraction of equity at the close (1), cross (0) or isolated (1) margin.
    """

    open: FloatArray
    close: FloatArray
    mark_open: FloatArray
    mark_high: FloatArray
    mark_low: FloatArray
    mark_close: FloatArray
    column: IntArray
    caps: FloatArray
    mm_rates: FloatArray
    maint_amounts: FloatArray
    max_leverage: FloatArray
    brackets: IntArray
    flags: npt.NDArray[np.int8]
    targets: FloatArray
    sizes: FloatArray
    signal_bars: IntArray
    funding_offsets: IntArray
    funding_bars: IntArray
    funding_rates: FloatArray
    settings: FloatArray
    options: IntArray


class SignalState(NamedTuple):
    """The run's state, read and written by the kernel and, between its calls, by the caller.

    ``counters`` (int64, indices ``BAR`` .. ``START_HELD``); ``money`` (``WALLET``, ``FEES``). Per slot:
    ``size`` (base, 0 when not held), ``side`` (+1.0 / -1.0), ``entry`` (quote), ``isolated`` (the isolated
    wallet, 0 for cross); ``order``: the held slots in account order (the first ``counters[HELD]``). The
    same at the start of the bar (``start_*``), to record the book when a bar changes it. Pending market
    orders: ``pending_slot``, ``pending_side``, ``pending_size`` (base). ``funding_cursor``: per slot, the
    next settlement row not yet passed. Outputs per bar: ``equity`` (margin balance at the mark close),
    ``ratio`` (highest pool requirement / margin balance), ``gross`` (gross notional at the mark close).
    """

    counters: IntArray
    money: FloatArray
    size: FloatArray
    side: FloatArray
    entry: FloatArray
    isolated: FloatArray
    order: IntArray
    start_size: FloatArray
    start_side: FloatArray
    start_entry: FloatArray
    start_isolated: FloatArray
    start_order: IntArray
    pending_slot: IntArray
    pending_side: FloatArray
    pending_size: FloatArray
    funding_cursor: IntArray
    equity: FloatArray
    ratio: FloatArray
    gross: FloatArray


class SignalRecords(NamedTuple):
    """What the kernel records, in order, until the caller takes it (``counts``: trades, funding, book rows).

    Trades: bar, slot, kind (``OPEN`` .. ``CLOSE``), side of the order (+1 buy), size (base), price, fee
    and realised PnL (quote). Funding: bar, slot, rate, payment (quote, > 0 received). Book rows: bar, slot
    (-1: the empty book), side, size, entry price.
    """

    counts: IntArray
    trade_bar: IntArray
    trade_slot: IntArray
    trade_kind: IntArray
    trade_side: FloatArray
    trade_size: FloatArray
    trade_price: FloatArray
    trade_fee: FloatArray
    trade_pnl: FloatArray
    funding_bar: IntArray
    funding_slot: IntArray
    funding_rate: FloatArray
    funding_payment: FloatArray
    book_bar: IntArray
    book_slot: IntArray
    book_side: FloatArray
    book_size: FloatArray
    book_entry: FloatArray


class _Work(NamedTuple):
    """Scratch of one kernel call, allocated once: the held book as ``BookArrays`` fields (n slots at most)
    and the terms of the sums."""

    column: IntArray
    side: FloatArray
    size: FloatArray
    entry: FloatArray
    extreme: IntArray
    caps: FloatArray
    mm_rates: FloatArray
    maint_amounts: FloatArray
    wallet: FloatArray
    offsets: IntArray
    members: IntArray
    terms: FloatArray
    more: FloatArray
    pnl_close: FloatArray
    req_close: FloatArray
    pnl_terms: FloatArray
    req_terms: FloatArray
    partials: FloatArray
    no_int: IntArray
    no_float: FloatArray


@numba.njit(cache=True)
def _work(inputs: SignalInputs) -> _Work:
    n = inputs.column.shape[0]
    width = inputs.caps.shape[1]
    return _Work(
        np.empty(n, dtype=np.int64),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n, dtype=np.int64),
        np.empty((n, width)),
        np.empty((n, width)),
        np.empty((n, width)),
        np.empty(n + 1),
        np.empty(n + 2, dtype=np.int64),
        np.arange(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n),
        np.empty(n + 1),
        np.zeros(0, dtype=np.int64),
        np.zeros(0),
    )


@numba.njit(cache=True, inline="always")
def _book(inputs: SignalInputs, state: SignalState, work: _Work) -> None:
    """Write the held book into ``work`` as the ``BookArrays`` fields ``kernels.layout.pack_book`` builds.

    Positions in account order; pool 0 the cross wallet (whole wallet less the isolated wallets, summed
    exactly as ``Account.isolated_wallet_total`` does), then one pool per isolated position.
    """
    count = state.counters[HELD]
    isolated_run = inputs.options[2] == 1
    for k in range(count):
        j = state.order[k]
        work.column[k] = inputs.column[j]
        work.side[k] = state.side[j]
        work.size[k] = state.size[j]
        work.entry[k] = state.entry[j]
        work.extreme[k] = EXTREME_LOW if state.side[j] > 0 else EXTREME_HIGH
        for b in range(inputs.caps.shape[1]):
            work.caps[k, b] = inputs.caps[j, b]
            work.mm_rates[k, b] = inputs.mm_rates[j, b]
            work.maint_amounts[k, b] = inputs.maint_amounts[j, b]
        work.terms[k] = state.isolated[j]
    work.wallet[0] = state.money[WALLET] - exact_sum(work.terms, count, work.partials)
    work.offsets[0] = 0
    if isolated_run:
        work.offsets[1] = 0
        for k in range(count):
            work.wallet[1 + k] = state.isolated[state.order[k]]
            work.offsets[2 + k] = k + 1
    else:
        work.offsets[1] = count


@numba.njit(cache=True, inline="always")
def _scan(inputs: SignalInputs, state: SignalState, work: _Work, start: int, stop: int) -> int:
    """Scan bars ``[start, stop)`` with the book of ``work`` held (``scan_span``, no trigger).

    Records equity, ratio and gross notional; returns the first bar where a pool breaches at its worst
    case (its figures are not recorded), else ``stop``.
    """
    count = state.counters[HELD]
    pools = 1 + count if inputs.options[2] == 1 else 1
    event = scan_span(
        start,
        stop,
        inputs.close,
        inputs.close,
        inputs.mark_high,
        inputs.mark_low,
        inputs.mark_close,
        work.column[:count],
        work.side[:count],
        work.size[:count],
        work.entry[:count],
        work.extreme[:count],
        work.caps[:count],
        work.mm_rates[:count],
        work.maint_amounts[:count],
        work.wallet[:pools],
        work.offsets[: pools + 1],
        work.members[:count],
        state.money[WALLET],
        work.no_int,
        work.no_float,
        work.no_int,
        state.equity[start:stop],
        state.ratio[start:stop],
        work.pnl_close,
        work.req_close,
        work.pnl_terms,
        work.req_terms,
        work.partials,
    )
    for bar in range(start, event):  # gross notional, summed in account order as RunState.gross_at does
        total = 0.0
        for k in range(count):
            total += work.size[k] * inputs.mark_close[bar, work.column[k]]
        state.gross[bar] = total
    return event


@numba.njit(cache=True, inline="always")
def _save_start(state: SignalState) -> None:
    """Keep the book as it is at the start of a bar."""
    state.counters[START_HELD] = state.counters[HELD]
    for j in range(state.size.shape[0]):  # element by element: numba's slice assignment costs microseconds
        state.start_order[j] = state.order[j]
        state.start_size[j] = state.size[j]
        state.start_side[j] = state.side[j]
        state.start_entry[j] = state.entry[j]
        state.start_isolated[j] = state.isolated[j]


@numba.njit(cache=True, inline="always")
def _book_changed(state: SignalState) -> bool:
    """Return True when the positions differ from the start of the bar (``Account.positions`` compared)."""
    count = state.counters[HELD]
    if count != state.counters[START_HELD]:
        return True
    for k in range(count):
        j = state.order[k]
        if state.start_order[k] != j:
            return True
        if (
            state.size[j] != state.start_size[j]
            or state.side[j] != state.start_side[j]
            or state.entry[j] != state.start_entry[j]
            or state.isolated[j] != state.start_isolated[j]
        ):
            return True
    return False


@numba.njit(cache=True, inline="always")
def _record_book(state: SignalState, records: SignalRecords, bar: int) -> None:
    """Record the book at ``bar``: one row per position, or one row for the empty book."""
    count = state.counters[HELD]
    row = records.counts[2]
    for k in range(max(count, 1)):
        j = state.order[k] if count else -1
        records.book_bar[row] = bar
        records.book_slot[row] = j
        records.book_side[row] = state.side[j] if count else 0.0
        records.book_size[row] = state.size[j] if count else 0.0
        records.book_entry[row] = state.entry[j] if count else 0.0
        row += 1
    records.counts[2] = row


@numba.njit(cache=True, inline="always")
def _record_trade(  # noqa: PLR0917 - one trade's fields
    records: SignalRecords,
    bar: int,
    slot: int,
    kind: int,
    side: float,
    size: float,
    price: float,
    paid: float,
    pnl: float,
) -> None:
    row = records.counts[0]
    records.trade_bar[row] = bar
    records.trade_slot[row] = slot
    records.trade_kind[row] = kind
    records.trade_side[row] = side
    records.trade_size[row] = size
    records.trade_price[row] = price
    records.trade_fee[row] = paid
    records.trade_pnl[row] = pnl
    records.counts[0] = row + 1


@numba.njit(cache=True, inline="always")
def _leverage_cap(inputs: SignalInputs, slot: int, value: float) -> float:
    """Return the leverage cap of the bracket holding notional ``value`` (``Instrument.bracket_for``), -1 beyond."""
    for b in range(inputs.brackets[slot]):
        if value < inputs.caps[slot, b]:
            return float(inputs.max_leverage[slot, b])
    return -1.0


@numba.njit(cache=True, inline="always")
def _available(  # noqa: PLR0917 - the state and the tentative wallet
    inputs: SignalInputs, state: SignalState, work: _Work, bar: int, wallet: float, skip: int
) -> tuple[float, float]:
    """Return the cross wallet and the available balance with the whole wallet at ``wallet`` (quote).

    The held positions but slot ``skip`` (-1: none), at the mark open of ``bar``: cross wallet = wallet less
    the isolated wallets; available = ``max(0, cross wallet + cross uPnL - cross initial margin)``, each
    sum correctly rounded as ``math.fsum`` (``margin.account``'s figures).
    """
    count = state.counters[HELD]
    isolated_run = inputs.options[2] == 1
    leverage = inputs.settings[2]
    isolated, pnl, margin, partials = work.terms, work.more, work.pnl_terms, work.partials
    used = cross = 0
    for k in range(count):
        j = state.order[k]
        if j == skip:
            continue
        isolated[used] = state.isolated[j]
        used += 1
        if not isolated_run:
            mark = inputs.mark_open[bar, inputs.column[j]]
            pnl[cross] = _pnl(state.side[j], state.size[j], state.entry[j], mark)
            margin[cross] = _initial_margin(state.size[j] * mark, leverage)
            cross += 1
    cross_wallet = wallet - exact_sum(isolated, used, partials)
    cross_pnl = exact_sum(pnl, cross, partials)
    cross_margin = exact_sum(margin, cross, partials)
    return cross_wallet, max(0.0, cross_wallet + cross_pnl - cross_margin)


@numba.njit(cache=True, inline="always")
def _remove(state: SignalState, slot: int) -> None:
    """Take ``slot`` out of the account order (the position is closed)."""
    count = state.counters[HELD]
    k = 0
    while state.order[k] != slot:
        k += 1
    for m in range(k, count - 1):
        state.order[m] = state.order[m + 1]
    state.counters[HELD] = count - 1
    state.size[slot] = 0.0
    state.isolated[slot] = 0.0


@numba.njit(cache=True, inline="always")
def _cost(  # noqa: PLR0917 - the order and the state it would fill against
    inputs: SignalInputs,
    state: SignalState,
    work: _Work,
    bar: int,
    slot: int,
    side: float,
    size: float,
    price: float,
    total: float,
    wallet: float,
    skip: int,
) -> tuple[bool, float, float]:
    """Return (accepted, initial margin, fee) of opening or adding ``size`` at ``price`` (quote).

    ``margin.operations``' checks: the leverage cap of the bracket of the position's notional after the
    fill (``total`` x price; beyond the table is refused), then initial margin plus open loss against the
    available balance at the mark open (with the whole wallet at ``wallet``, slot ``skip`` closed), and for
    isolated margin the cross wallet.
    """
    taker, leverage = inputs.settings[1], inputs.settings[2]
    cap = _leverage_cap(inputs, slot, total * price)
    if cap < 0 or leverage > cap:
        return False, 0.0, 0.0
    margin = _initial_margin(_notional(size, price), leverage)
    mark = inputs.mark_open[bar, inputs.column[slot]]
    open_loss = size * max(0.0, side * (price - mark))
    cross_wallet, available = _available(inputs, state, work, bar, wallet, skip)
    if margin + open_loss > available or (inputs.options[2] == 1 and margin > cross_wallet):
        return False, 0.0, 0.0
    return True, margin, _fee(_notional(size, price), taker)


@numba.njit(cache=True, inline="always")
def _add(  # noqa: PLR0917 - the fill's figures
    inputs: SignalInputs,
    state: SignalState,
    records: SignalRecords,
    bar: int,
    slot: int,
    side: float,
    size: float,
    price: float,
    margin: float,
    paid: float,
) -> None:
    """Open a position in ``slot`` or add to it (``open_position`` / ``increase_position``); record the trade."""
    isolated_run = inputs.options[2] == 1
    state.money[WALLET] = state.money[WALLET] - paid
    if state.size[slot] > 0:
        old, total = state.size[slot], state.size[slot] + size
        state.entry[slot] = (old * state.entry[slot] + size * price) / total
        state.size[slot] = total
        if isolated_run:
            state.isolated[slot] = state.isolated[slot] + margin
        _record_trade(records, bar, slot, INCREASE, side, size, price, paid, 0.0)
    else:
        state.size[slot] = size
        state.side[slot] = side
        state.entry[slot] = price
        state.isolated[slot] = margin if isolated_run else 0.0
        state.order[state.counters[HELD]] = slot
        state.counters[HELD] += 1
        _record_trade(records, bar, slot, OPEN, side, size, price, paid, 0.0)
    state.money[FEES] += paid


@numba.njit(cache=True, inline="always")
def _fill(  # noqa: PLR0917 - the run's arrays, the bar and the order
    inputs: SignalInputs, state: SignalState, records: SignalRecords, work: _Work, bar: int, index: int
) -> bool:
    """Fill pending order ``index`` at the open of ``bar`` as ``sim.fills.execute`` does; False if refused.

    A market order against the position first reduces or closes it (``reduce_position``: the PnL and
    the fee into the wallet, the isolated wallet kept in proportion); what is left opens a new position
    or, on the position's side, adds to it (``_cost``, ``_add``). Nothing is changed when the venue would
    refuse the order: the caller then runs the whole order through ``margin.operations``.
    """
    slot = state.pending_slot[index]
    side = state.pending_side[index]
    size = state.pending_size[index]
    slippage, taker = inputs.settings[0], inputs.settings[1]
    price = inputs.open[bar, inputs.column[slot]] * (1 + side * slippage)
    old = state.size[slot]
    closing = realized = reduce_fee = 0.0
    wallet = state.money[WALLET]
    skip = -1
    if old > 0 and state.side[slot] != side:
        closing = min(size, old)
        realized = _pnl(state.side[slot], closing, state.entry[slot], price)
        reduce_fee = _fee(_notional(closing, price), taker)
        wallet = wallet + realized - reduce_fee
        if old - closing <= old * 1e-12:
            skip = slot
        size -= closing
        if size <= 1e-12:
            size = 0.0
    accepted, margin, paid = True, 0.0, 0.0
    if size > 0:
        total = size if skip == slot or old <= 0 else old + size
        accepted, margin, paid = _cost(inputs, state, work, bar, slot, side, size, price, total, wallet, skip)
        if not accepted:
            return False
    if closing > 0:
        remaining = old - closing
        state.money[WALLET] = state.money[WALLET] + realized - reduce_fee
        kind = REDUCE if closing < old else CLOSE
        _record_trade(records, bar, slot, kind, side, closing, price, reduce_fee, realized)
        state.money[FEES] += reduce_fee
        if skip == slot:
            _remove(state, slot)
        else:
            state.size[slot] = remaining
            if inputs.options[2] == 1:
                state.isolated[slot] = state.isolated[slot] * remaining / old
    if size > 0:
        _add(inputs, state, records, bar, slot, side, size, price, margin, paid)
    return True


@numba.njit(cache=True, inline="always")
def _settle(inputs: SignalInputs, state: SignalState, records: SignalRecords, bar: int) -> bool:
    """Settle the funding of ``bar`` for every held position, in account order; return True if any settled.

    ``margin.operations.settle_funding``: the payment into the wallet (cross) or into the isolated wallet,
    which keeps at least ``ISOLATED_FLOOR`` (the payment applied is recorded).
    """
    settled = False
    isolated_run = inputs.options[2] == 1
    for k in range(state.counters[HELD]):
        j = state.order[k]
        row, last = state.funding_cursor[j], inputs.funding_offsets[j + 1]
        while row < last and inputs.funding_bars[row] < bar:
            row += 1
        while row < last and inputs.funding_bars[row] == bar:
            rate = inputs.funding_rates[row]
            payment = _funding(state.side[j], state.size[j], inputs.mark_open[bar, inputs.column[j]], rate)
            if isolated_run:
                margin = max(state.isolated[j] + payment, ISOLATED_FLOOR)
                payment = margin - state.isolated[j]
                state.isolated[j] = margin
            state.money[WALLET] = state.money[WALLET] + payment
            out = records.counts[1]
            records.funding_bar[out] = bar
            records.funding_slot[out] = j
            records.funding_rate[out] = rate
            records.funding_payment[out] = payment
            records.counts[1] = out + 1
            settled = True
            row += 1
        state.funding_cursor[j] = row
    return settled


@numba.njit(cache=True, inline="always")
def _next_funding(inputs: SignalInputs, state: SignalState, bar: int) -> int:
    """Return the first bar from ``bar`` on holding a settlement of a held slot (the number of bars if none)."""
    found: int = inputs.open.shape[0]
    for k in range(state.counters[HELD]):
        j = state.order[k]
        row, last = state.funding_cursor[j], inputs.funding_offsets[j + 1]
        while row < last and inputs.funding_bars[row] < bar:
            row += 1
        state.funding_cursor[j] = row
        if row < last:
            found = min(found, int(inputs.funding_bars[row]))
    return found


@numba.njit(cache=True, inline="always")
def _flag_target(flag: int, held: float, amount: float) -> float:
    """Return the target a signal ``flag`` sets with ``held`` (signed base) and ``amount`` (base), NaN: none.

    A long entry goes long from flat or short, a short entry short from flat or long; a long exit closes
    a long, a short exit a short (``sim.signals``); an entry of no positive amount does nothing.
    """
    direction = 0.0
    if flag & LONG_ENTRY:
        direction = 1.0 if held <= 0 else 0.0
    elif flag & SHORT_ENTRY:
        direction = -1.0 if held >= 0 else 0.0
    elif (flag & LONG_EXIT and held > 0) or (flag & SHORT_EXIT and held < 0):
        return 0.0
    if direction == 0.0 or not amount > 0:
        return np.nan
    return direction * amount


@numba.njit(cache=True, inline="always")
def _orders(inputs: SignalInputs, state: SignalState, bar: int) -> None:
    """Turn the signals of ``bar``'s close into market orders for the next open, slot by slot.

    Flags (``_flag_target``) or the signed target; sizes and targets in base units, or a fraction x the
    equity at this close / the close. An order is the change to the target (``BarContext.target``: none
    within ``TARGET_TOLERANCE`` of it).
    """
    by_equity = inputs.options[1] == 1
    equity = state.equity[bar] + 0.0
    count = 0
    for j in range(inputs.column.shape[0]):
        held = state.side[j] * state.size[j] if state.size[j] > 0 else 0.0
        close = inputs.close[bar, inputs.column[j]]
        if inputs.options[0] == 1:
            target = inputs.targets[bar if inputs.targets.shape[0] > 1 else 0, j]
            if by_equity:
                target = target * equity / close
        else:
            flag = inputs.flags[bar if inputs.flags.shape[0] > 1 else 0, j]
            if flag == 0:
                continue
            amount = inputs.sizes[bar if inputs.sizes.shape[0] > 1 else 0, j]
            target = _flag_target(flag, held, amount * equity / close if by_equity else amount)
        if not np.isfinite(target):
            continue
        change = target - held
        if abs(change) <= TARGET_TOLERANCE * max(abs(target), 1.0):
            continue
        state.pending_slot[count] = j
        state.pending_side[count] = 1.0 if change > 0 else -1.0
        state.pending_size[count] = abs(change)
        count += 1
    state.counters[PENDING] = count
    state.counters[PENDING_DONE] = 0


@numba.njit(cache=True)
def run_signal_kernel(inputs: SignalInputs, state: SignalState, records: SignalRecords) -> int:  # noqa: PLR0912
    """Run from ``state.counters[BAR]`` / ``[PHASE]`` to the end or to what Python must do; return the status.

    ``DONE``: the last bar is recorded. ``LIQUIDATE``: a pool breaches at bar ``counters[BAR]`` (fills and
    funding done); the caller liquidates, records the close and resumes at ``AFTER_CLOSE``. ``REFUSE``: the
    venue would refuse pending order ``counters[PENDING_DONE]``; the caller fills it and the rest, and
    resumes at ``FUNDING``. ``FLUSH``: the records are full; the caller takes them and resumes.
    """
    n = inputs.column.shape[0]
    bars = inputs.open.shape[0]
    signals = inputs.signal_bars.shape[0]
    counters = state.counters
    bar, phase = counters[BAR], counters[PHASE]
    work = _work(inputs)
    _book(inputs, state, work)
    while bar < bars:
        if phase == FILLS:
            if (
                records.counts[0] + 2 * n > records.trade_bar.shape[0]
                or records.counts[2] + n + 1 > records.book_bar.shape[0]
            ):
                counters[BAR], counters[PHASE] = bar, FILLS
                return FLUSH
            _save_start(state)
            if counters[PENDING] > 0:
                while counters[PENDING_DONE] < counters[PENDING]:
                    if not _fill(inputs, state, records, work, bar, counters[PENDING_DONE]):
                        counters[BAR], counters[PHASE] = bar, FILLS
                        return REFUSE
                    counters[PENDING_DONE] += 1
                counters[PENDING] = counters[PENDING_DONE] = 0
                _book(inputs, state, work)
            phase = FUNDING
        last = bar  # the last bar this pass scans
        if phase == FUNDING:
            if _settle(inputs, state, records, bar):
                _book(inputs, state, work)
            # The book is held from this bar to the next signal bar (its close included) or the next
            # funding bar (excluded: it pays at its open): one scan.
            signal = counters[SIGNAL]
            stop = min(inputs.signal_bars[signal] + 1 if signal < signals else bars, bars)
            stop = min(stop, _next_funding(inputs, state, bar + 1))
            event = _scan(inputs, state, work, bar, stop)
            if event > bar and _book_changed(state):
                _record_book(state, records, bar)
            if event < stop:  # a pool breaches at the worst case of bar ``event``
                if event > bar:
                    _save_start(state)
                counters[BAR], counters[PHASE] = event, AFTER_CLOSE
                return LIQUIDATE
            last = stop - 1
        elif _book_changed(state):  # after a liquidation (AFTER_CLOSE): the bar's close is recorded
            _record_book(state, records, bar)
        signal = counters[SIGNAL]
        if signal < signals and inputs.signal_bars[signal] == last:
            counters[SIGNAL] = signal + 1
            _orders(inputs, state, last)
        bar = last + 1
        phase = FILLS
    counters[BAR], counters[PHASE] = bars, FILLS
    return DONE
