"""One margin mode of a signal run on the compiled engine (``kernels.signals``), with Python where it must.

``run_compiled`` packs the plan, the venue's schedules and the funding settlements into the kernel's
arrays and calls it. When the kernel stops (a pool breaches, the venue would refuse an order, its records
are full), the run's state becomes an ``Account`` again and the Python steps of the per-bar engine do
their part on the same ``RunState``: ``sim.liquidation.check_margin`` (the venue's procedure,
``margin.liquidate``) and ``RunState.record_close``, or ``sim.fills.execute`` (``margin.operations``, which
records the refusal); then the kernel resumes. The kernel's records go to the ``Ledger`` as blocks of
columns, in order with the rows the Python steps add, and ``Ledger.result`` makes the ``ModeResult``.
"""

from __future__ import annotations

import math

import numpy as np

from crossmargin.errors import InputError
from crossmargin.kernels.layout import FloatArray, IntArray, MarketData
from crossmargin.kernels.signals import (
    BAR,
    CLOSE,
    DONE,
    FEES,
    FUNDING,
    HELD,
    INCREASE,
    LIQUIDATE,
    OPEN,
    PENDING,
    PENDING_DONE,
    PHASE,
    REDUCE,
    REFUSE,
    WALLET,
    SignalInputs,
    SignalRecords,
    SignalState,
    run_signal_kernel,
)
from crossmargin.model import Account, MarginMode, Position, Side
from crossmargin.sim.config import Mode, RunConfig
from crossmargin.sim.fills import execute
from crossmargin.sim.liquidation import check_margin
from crossmargin.sim.orders import Order, fill_price
from crossmargin.sim.result import ModeResult
from crossmargin.sim.state import RunState
from crossmargin.sim.strategy import Strategy
from crossmargin.venues.base import VenueRules

__all__ = ["RECORD_ROWS", "run_compiled"]

#: Rows of each record array of the kernel (it hands them over when they fill up).
RECORD_ROWS = 1 << 14
_KINDS = np.array(["open", "increase", "reduce", "close"], dtype=object)
_SIDES = np.array(["short", "", "long"], dtype=object)  # indexed by side + 1 (0: the empty book)
assert [OPEN, INCREASE, REDUCE, CLOSE] == [0, 1, 2, 3]  # the order of _KINDS


def _schedules(rules: VenueRules, symbols: tuple[str, ...]) -> tuple[FloatArray, ...]:
    """Return caps, mm rates, maintenance amounts and leverage caps (n, B), padded as ``pack_book``, and counts."""
    tables = [rules.instrument(symbol).brackets for symbol in symbols]
    width = max(len(table) for table in tables)
    caps = np.full((len(tables), width), math.inf)
    mm_rates = np.empty((len(tables), width))
    maint_amounts = np.empty((len(tables), width))
    max_leverage = np.empty((len(tables), width))
    for j, table in enumerate(tables):
        caps[j, : len(table)] = [b.cap for b in table]
        for b in range(width):
            bracket = table[min(b, len(table) - 1)]
            mm_rates[j, b], maint_amounts[j, b], max_leverage[j, b] = (
                bracket.mm_rate,
                bracket.maint_amount,
                bracket.max_leverage,
            )
    counts = np.array([len(table) for table in tables], dtype=np.int64)
    return caps, mm_rates, maint_amounts, max_leverage, counts  # type: ignore[return-value]


def _funding(run: RunState, symbols: tuple[str, ...]) -> tuple[IntArray, IntArray, FloatArray]:
    """Return each slot's funding settlements as offsets, bars and rates; InputError for a rate not finite."""
    bars, rates, offsets = [], [], [0]
    for symbol in symbols:
        held = run.funding_bars.get(symbol, np.zeros(0, dtype=np.int64))
        values = np.asarray(run.market.funding_rates.get(symbol, np.zeros(0)), dtype=np.float64)[: len(held)]
        inside = (held >= 0) & (held < run.market.bars)
        if not np.all(np.isfinite(values[inside])):
            raise InputError(f"market.funding_rates[{symbol}]", "a rate not finite", "finite rates (fraction)")
        bars.append(held)
        rates.append(values)
        offsets.append(offsets[-1] + len(held))
    return (
        np.array(offsets, dtype=np.int64),
        np.concatenate(bars).astype(np.int64),
        np.ascontiguousarray(np.concatenate(rates)),
    )


def _inputs(run: RunState, strategy: Strategy, rules: VenueRules) -> SignalInputs:
    plan = strategy.plan  # type: ignore[attr-defined]
    market, n = run.market, len(plan.symbols)
    caps, mm_rates, maint_amounts, max_leverage, counts = _schedules(rules, plan.symbols)
    offsets, funding_bars, funding_rates = _funding(run, plan.symbols)

    def prices(array: FloatArray) -> FloatArray:
        return np.ascontiguousarray(array, dtype=np.float64)

    return SignalInputs(
        open=prices(market.open),
        close=prices(market.close),
        mark_open=prices(market.mark_open),
        mark_high=prices(market.mark_high),
        mark_low=prices(market.mark_low),
        mark_close=prices(market.mark_close),
        column=np.array([market.column(s) for s in plan.symbols], dtype=np.int64),
        caps=caps,
        mm_rates=mm_rates,
        maint_amounts=maint_amounts,
        max_leverage=max_leverage,
        brackets=counts,  # type: ignore[arg-type]
        flags=plan.flags if plan.flags is not None else np.zeros((1, n), dtype=np.int8),
        targets=plan.targets if plan.targets is not None else np.full((1, n), np.nan),
        sizes=plan.sizes,
        signal_bars=plan.signal_bars,
        funding_offsets=offsets,
        funding_bars=funding_bars,
        funding_rates=funding_rates,
        settings=np.array([run.config.slippage, rules.fee_rate("taker"), float(run.config.leverage)]),
        options=np.array(
            [plan.targets is not None, plan.size_type == "equity", run.mode == "isolated"], dtype=np.int64
        ),
    )


def _state(run: RunState, n: int) -> SignalState:
    def slots() -> FloatArray:
        return np.zeros(n)

    def order() -> IntArray:
        return np.zeros(n, dtype=np.int64)

    return SignalState(
        counters=np.zeros(7, dtype=np.int64),
        money=np.array([run.account.wallet_balance, 0.0]),
        size=slots(),
        side=slots(),
        entry=slots(),
        isolated=slots(),
        order=order(),
        start_size=slots(),
        start_side=slots(),
        start_entry=slots(),
        start_isolated=slots(),
        start_order=order(),
        pending_slot=order(),
        pending_side=slots(),
        pending_size=slots(),
        funding_cursor=np.zeros(n, dtype=np.int64),
        equity=run.ledger.equity,
        ratio=run.ledger.ratio,
        gross=run.ledger.gross,
    )


def _records(n: int, signals: int, settlements: int) -> SignalRecords:
    """Return record arrays of at most ``RECORD_ROWS`` rows each, fewer where the run cannot fill them.

    A signal bar sends at most n orders of two fills each; the book changes at most at each fill bar, each
    liquidation (after a fill) and each funding bar, n rows (or one) each time.
    """
    rows = min(RECORD_ROWS, 2 * n * signals) + 2 * n
    books = min(RECORD_ROWS, (n + 1) * (2 * signals + settlements)) + n + 1

    def ints(count: int) -> IntArray:
        return np.empty(count, dtype=np.int64)

    def floats(count: int) -> FloatArray:
        return np.empty(count)

    return SignalRecords(
        counts=np.zeros(3, dtype=np.int64),
        trade_bar=ints(rows),
        trade_slot=ints(rows),
        trade_kind=ints(rows),
        trade_side=floats(rows),
        trade_size=floats(rows),
        trade_price=floats(rows),
        trade_fee=floats(rows),
        trade_pnl=floats(rows),
        funding_bar=ints(settlements),
        funding_slot=ints(settlements),
        funding_rate=floats(settlements),
        funding_payment=floats(settlements),
        book_bar=ints(books),
        book_slot=ints(books),
        book_side=floats(books),
        book_size=floats(books),
        book_entry=floats(books),
    )


def _take(records: SignalRecords, run: RunState, symbols: tuple[str, ...]) -> None:
    """Move the kernel's records into the ledger, as blocks of columns, and empty them."""
    times = run.market.times
    names = np.array([*symbols, ""], dtype=object)  # slot -1: the empty book's row
    trades, funding, books = (int(count) for count in records.counts)
    if trades:
        bars = records.trade_bar[:trades]
        run.ledger.extend(
            "trades",
            {
                "time": times[bars],
                "symbol": names[records.trade_slot[:trades]],
                "side": _SIDES[records.trade_side[:trades].astype(np.int64) + 1],
                "size": records.trade_size[:trades].copy(),
                "price": records.trade_price[:trades].copy(),
                "fee": records.trade_fee[:trades].copy(),
                "realized_pnl": records.trade_pnl[:trades].copy(),
                "kind": _KINDS[records.trade_kind[:trades]],
            },
        )
    if funding:
        run.ledger.extend(
            "funding",
            {
                "time": times[records.funding_bar[:funding]],
                "symbol": names[records.funding_slot[:funding]],
                "rate": records.funding_rate[:funding].copy(),
                "payment": records.funding_payment[:funding].copy(),
            },
        )
    if books:
        slots = records.book_slot[:books]
        mode = np.array(["", run.mode], dtype=object)[(slots >= 0).astype(np.int64)]
        run.ledger.extend(
            "positions",
            {
                "time": times[records.book_bar[:books]],
                "symbol": names[slots],
                "side": _SIDES[records.book_side[:books].astype(np.int64) + 1],
                "size": records.book_size[:books].copy(),
                "entry_price": records.book_entry[:books].copy(),
                "margin_mode": mode,
            },
        )
    records.counts[:] = 0


def _account(state: SignalState, run: RunState, symbols: tuple[str, ...]) -> Account:
    """Return the kernel's book as the run's ``Account`` (positions in account order)."""
    isolated = run.mode == "isolated"
    positions = []
    for j in state.order[: state.counters[HELD]]:
        positions.append(
            Position(
                symbol=symbols[j],
                side=Side.LONG if state.side[j] > 0 else Side.SHORT,
                size=float(state.size[j]),
                entry_price=float(state.entry[j]),
                leverage=run.config.leverage,
                mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
                isolated_margin=float(state.isolated[j]) if isolated else None,
            )
        )
    return Account(
        venue=run.account.venue,
        wallet_balance=float(state.money[WALLET]),
        positions=tuple(positions),
        cross_deficit_allowed=True,
    )


def _load(state: SignalState, account: Account, symbols: tuple[str, ...]) -> None:
    """Write ``account`` back into the kernel's state."""
    state.size[:] = 0.0
    state.isolated[:] = 0.0
    for k, position in enumerate(account.positions):
        j = symbols.index(position.symbol)
        state.order[k] = j
        state.size[j] = position.size
        state.side[j] = float(int(position.side))
        state.entry[j] = position.entry_price
        state.isolated[j] = position.isolated_margin or 0.0
    state.counters[HELD] = len(account.positions)
    state.money[WALLET] = account.wallet_balance


def run_compiled(
    strategy: Strategy, market: MarketData, rules: VenueRules, mode: Mode, config: RunConfig
) -> ModeResult:
    """Run ``strategy`` (a ``sim.signals.SignalStrategy``) on the compiled engine in margin ``mode``.

    Returns what ``sim.engine.run_mode`` returns for the same strategy (the tests hold the two equal).
    """
    run = RunState.start(strategy, market, rules, mode, config)
    symbols = strategy.symbols
    inputs = _inputs(run, strategy, run.rules)
    state = _state(run, len(symbols))
    state.funding_cursor[:] = inputs.funding_offsets[:-1]  # each slot's first settlement row
    records = _records(len(symbols), len(inputs.signal_bars), len(inputs.funding_bars))
    while True:
        status = run_signal_kernel(inputs, state, records)
        _take(records, run, symbols)
        run.ledger.fees = float(state.money[FEES])
        if status == DONE:
            break
        run.account = _account(state, run, symbols)
        bar = int(state.counters[BAR])
        if status == LIQUIDATE:
            check_margin(run, bar)
            run.record_close(bar)
        elif status == REFUSE:  # the venue refuses an order: margin.operations fills the rest and records why
            for k in range(int(state.counters[PENDING_DONE]), int(state.counters[PENDING])):
                symbol = symbols[int(state.pending_slot[k])]
                side = Side.LONG if state.pending_side[k] > 0 else Side.SHORT
                order = Order(symbol=symbol, side=side, size=float(state.pending_size[k]))
                price = fill_price(order, float(market.open[bar, market.column(symbol)]), config.slippage)
                execute(run, bar, order, price, "market")
            state.counters[PENDING] = state.counters[PENDING_DONE] = 0
            state.counters[PHASE] = FUNDING
        _load(state, run.account, symbols)
        state.money[FEES] = run.ledger.fees
    return run.ledger.result(mode, market, config.wallet)
