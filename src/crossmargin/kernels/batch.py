"""Batch re-mark: many accounts' margin figures at new marks in one compiled pass.

``pack_accounts`` lays the positions of all accounts out as struct-of-arrays (``BatchBook``), with the
figures that do not change with the mark: each position's requirement schedule (from
``crossmargin.margin.account.position_states``) as an index into a few shared tables (one per distinct
schedule: one per symbol where the venue's schedule is the symbol's brackets), its pool and the pool
wallets. ``remark`` then values the whole book at one mark per symbol and returns a ``BatchResult``;
``remark_reference`` computes the same figures in plain Python from ``crossmargin.margin.account.evaluate``
and is what the tests hold it to. The compiled pass is ``crossmargin.kernels.batch_nb.remark_arrays``.

The lean re-mark (``liquidation_prices=False``) gives margin balance, requirement, ratio and breach flag
per account; liquidation prices are solved on request, for every account or only for flagged ones
(``prices_above``). Between re-marks the book keeps each position's bracket (``BatchBook.bracket``) and
searches its table again only when the notional leaves that bracket.

Pools (global ids): each account has a cross pool (wallet ``Account.cross_wallet_balance``, possibly with
no member) and one pool per isolated position (wallet: its isolated margin). Positions are stored account
by account, in each account's position order: account a holds positions ``offsets[a] : offsets[a + 1]``.

Limits: one-way accounts only (``Position.position_side == 'both'``); hedge legs (two positions of one
symbol in one pool) are refused by ``pack_accounts``. Figures work in the risk view (requirement over
margin balance, 1 = liquidation), as ``crossmargin.margin.pools.risk_view`` turns every venue's ratio.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from crossmargin.errors import InputError
from crossmargin.kernels.batch_nb import (
    CAP,
    CHUNKS,
    FLOOR,
    MAINT_AMOUNT,
    MM_RATE,
    HintArray,
    SmallIntArray,
    remark_arrays,
)
from crossmargin.kernels.layout import FloatArray, IntArray
from crossmargin.margin.account import evaluate, position_states
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, Bracket, Instrument, MarginMode, Marks
from crossmargin.venues.base import VenueRules

__all__ = [
    "CHUNKS",
    "BatchBook",
    "BatchResult",
    "BoolArray",
    "ByteArray",
    "pack_accounts",
    "remark",
    "remark_arrays",
    "remark_reference",
]

BoolArray = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, eq=False, kw_only=True)
class BatchBook:
    """All positions of A accounts as arrays: n positions, P pools, T requirement tables of K brackets in all.

    Per account (shape ``(A,)``): ``wallet`` (whole wallet, quote), ``cross_pool`` (int64, the account's
    cross pool id); ``offsets`` (shape ``(A + 1,)``) bounds each account's positions.
    Per position (shape ``(n,)``): ``signed_size`` (base units, > 0 long, < 0 short), ``entry`` (quote),
    ``pool`` (int32 pool id), ``table`` (int32, its requirement table), ``bracket`` (the bracket of its table
    found at the last ``remark``: a hint, updated in place, that never changes a figure).
    Requirement tables: table t is rows ``table_start[t] : table_start[t + 1]`` of ``brackets`` (shape
    ``(K, 4)``, one row per bracket: floor, cap, mm_rate, maint_amount; the views ``floors``, ``caps``,
    ``mm_rates``, ``maint_amounts``). Requirement = ``q x P x mm_rate[b] - maint_amount[b]`` (quote) with b the
    first bracket whose cap (notional, quote) exceeds ``q x P``, the last one beyond; ``floors[b]`` is the
    highest cap below b (-inf for the first), so b holds a notional v exactly when ``floors[b] <= v <
    caps[b]``. ``table_symbol`` (int32, shape ``(T,)``): the mark column of each table's symbol.
    Per pool (shape ``(P,)``): ``pool_wallet`` (quote). ``instruments``: the instrument of each held symbol,
    to refuse a mark that carries a position past its venue's last tier (``remark``).
    """

    symbols: tuple[str, ...]
    account_ids: tuple[str, ...]
    wallet: FloatArray
    cross_pool: IntArray
    offsets: IntArray
    signed_size: FloatArray
    entry: FloatArray
    pool: SmallIntArray
    table: SmallIntArray
    bracket: HintArray
    table_symbol: SmallIntArray
    table_start: IntArray
    brackets: FloatArray
    pool_wallet: FloatArray
    instruments: Mapping[str, Instrument] = field(default_factory=dict)

    @property
    def accounts(self) -> int:
        """Return the number of accounts A."""
        return len(self.wallet)

    @property
    def positions(self) -> int:
        """Return the number of positions n."""
        return len(self.signed_size)

    @property
    def account(self) -> IntArray:
        """Return each position's account index (int64, shape ``(n,)``), computed from ``offsets``."""
        return np.repeat(np.arange(self.accounts, dtype=np.int64), np.diff(self.offsets))

    @property
    def symbol(self) -> SmallIntArray:
        """Return each position's mark column, an index into ``symbols`` (int32, shape ``(n,)``)."""
        return self.table_symbol[self.table]

    @property
    def side(self) -> FloatArray:
        """Return each position's side as +1.0 (long) or -1.0 (short) (shape ``(n,)``)."""
        return np.sign(self.signed_size)

    @property
    def size(self) -> FloatArray:
        """Return each position's size (base units, > 0, shape ``(n,)``)."""
        return np.abs(self.signed_size)

    @property
    def floors(self) -> FloatArray:
        """Return each bracket's floor: the highest cap below it (notional, quote; -inf for a table's first)."""
        return self.brackets[:, FLOOR]

    @property
    def caps(self) -> FloatArray:
        """Return each bracket's cap (notional, quote; +inf where a table is open-ended)."""
        return self.brackets[:, CAP]

    @property
    def mm_rates(self) -> FloatArray:
        """Return each bracket's maintenance rate (fraction of the notional)."""
        return self.brackets[:, MM_RATE]

    @property
    def maint_amounts(self) -> FloatArray:
        """Return each bracket's maintenance amount (quote, deducted from notional x rate)."""
        return self.brackets[:, MAINT_AMOUNT]

    @property
    def nbytes(self) -> int:
        """Return the bytes held by the book's arrays."""
        arrays = [value for value in vars(self).values() if isinstance(value, np.ndarray)]
        return sum(array.nbytes for array in arrays)


@dataclass(frozen=True, eq=False, kw_only=True)
class BatchResult:
    """Figures of a ``remark``: per account (shape ``(A,)``) and per position (shape ``(n,)``).

    ``margin_balance``: wallet + unrealised PnL of all positions (quote). ``requirement``: the sum of all
    positions' maintenance requirements (quote; what liquidation compares with, which is the venue's shown
    maintenance margin except where the venue adds to it, e.g. OKX's liquidation fee). ``margin_ratio``:
    the cross pool's requirement / margin balance (fraction, 1 = liquidation; 0 without cross positions or
    requirement, +inf when its balance <= 0 < requirement). ``liquidated``: some pool of the account has
    balance <= requirement with requirement > 0. ``priced``: the account's liquidation prices were solved.
    ``liquidation_price``: per position, the mark (quote) at which its pool reaches its requirement with
    the other marks held, NaN when none or when its account was not priced.
    """

    margin_balance: FloatArray
    requirement: FloatArray
    margin_ratio: FloatArray
    liquidated: BoolArray
    priced: BoolArray
    liquidation_price: FloatArray


class _Tables:
    """The distinct requirement tables of a book, each stored once, in the order first met."""

    def __init__(self) -> None:
        self.by_object: dict[tuple[int, int], int] = {}
        self.by_value: dict[tuple[int, bytes], int] = {}
        self.kept: list[tuple[Bracket, ...]] = []  # keeps every keyed schedule alive, so its id stays its own
        self.symbol: list[int] = []
        self.schedules: list[tuple[Bracket, ...]] = []

    def index(self, column: int, schedule: tuple[Bracket, ...]) -> int:
        """Return the table of ``schedule`` for mark column ``column``, adding it when new."""
        known = self.by_object.get((column, id(schedule)))
        if known is not None:
            return known
        values = [x for b in schedule for x in (b.cap, b.mm_rate, b.maint_amount)]
        key = (column, struct.pack(f"{len(values)}d", *values))  # bit patterns: -0.0 is not 0.0
        table = self.by_value.get(key)
        if table is None:
            table = self.by_value[key] = len(self.schedules)
            self.schedules.append(schedule)
            self.symbol.append(column)
        self.kept.append(schedule)
        self.by_object[(column, id(schedule))] = table
        return table

    def arrays(self) -> tuple[IntArray, FloatArray]:
        """Return ``table_start`` and ``brackets`` (see ``BatchBook``)."""
        lengths = [len(schedule) for schedule in self.schedules]
        flat = [b for schedule in self.schedules for b in schedule]
        floors = []
        for schedule in self.schedules:
            floor = -math.inf
            for b in schedule:
                floors.append(floor)
                floor = max(floor, b.cap)
        rows = np.empty((len(flat), 4), dtype=np.float64)
        rows[:, FLOOR] = floors
        rows[:, CAP] = [b.cap for b in flat]
        rows[:, MM_RATE] = [b.mm_rate for b in flat]
        rows[:, MAINT_AMOUNT] = [b.maint_amount for b in flat]
        return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64), rows


def pack_accounts(accounts: Sequence[Account], rules: VenueRules, symbols: Sequence[str]) -> BatchBook:
    """Return all positions of ``accounts`` as a ``BatchBook`` whose marks are indexed by ``symbols``.

    Account ids are the accounts' positions in ``accounts`` as strings. Raises InputError for a symbol not
    in ``symbols``, a hedge-mode leg, and where ``position_states`` does (a symbol the venue does not list,
    a position the venue cannot hold).
    """
    column = {symbol: k for k, symbol in enumerate(symbols)}
    tables = _Tables()
    wallets: list[float] = []
    cross_pool: list[int] = []
    offsets = [0]
    pool_of: list[int] = []
    table_of: list[int] = []
    signed: list[float] = []
    entry: list[float] = []
    held: set[str] = set()
    for a, account in enumerate(accounts):
        for index, position in enumerate(account.positions):
            if position.hedged:
                raise InputError(
                    f"accounts[{a}].positions[{index}].position_side", position.position_side, "'both' (one-way)"
                )
            if position.symbol not in column:
                raise InputError(
                    f"accounts[{a}].positions[{index}].symbol", position.symbol, "a symbol with a mark column"
                )
        marks = Marks({p.symbol: p.entry_price for p in account.positions})  # schedules do not depend on it
        try:
            states = position_states(account, marks, rules)
        except InputError as error:
            raise error.prefixed(f"accounts[{a}].") from None
        cross_pool.append(len(wallets))
        wallets.append(account.cross_wallet_balance)
        for state in states:
            position = state.position
            if position.mode is MarginMode.ISOLATED:
                pool_of.append(len(wallets))
                wallets.append(float(position.isolated_margin or 0.0))
            else:
                pool_of.append(cross_pool[-1])
            table_of.append(tables.index(column[position.symbol], state.schedule))
            signed.append(int(position.side) * position.size)
            entry.append(position.entry_price)
            held.add(position.symbol)
        offsets.append(len(signed))
    table_start, brackets = tables.arrays()
    widest = max((len(schedule) for schedule in tables.schedules), default=1)
    hints: HintArray = np.zeros(len(signed), dtype=np.uint8) if widest <= 256 else np.zeros(len(signed), dtype=np.int32)
    return BatchBook(
        symbols=tuple(symbols),
        account_ids=tuple(str(a) for a in range(len(accounts))),
        wallet=np.array([float(account.wallet_balance) for account in accounts], dtype=np.float64),
        cross_pool=np.array(cross_pool, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.int64),
        signed_size=np.array(signed, dtype=np.float64),
        entry=np.array(entry, dtype=np.float64),
        pool=np.array(pool_of, dtype=np.int32),
        table=np.array(table_of, dtype=np.int32),
        bracket=hints,
        table_symbol=np.array(tables.symbol, dtype=np.int32),
        table_start=table_start,
        brackets=brackets,
        pool_wallet=np.array(wallets, dtype=np.float64),
        instruments={symbol: rules.instrument(symbol) for symbol in sorted(held)},
    )


def remark(
    book: BatchBook,
    marks: FloatArray,
    *,
    liquidation_prices: bool = True,
    prices_above: float = 0.0,
    out: BatchResult | None = None,
) -> BatchResult:
    """Return every account's and position's figures with ``marks[k]`` the mark (quote) of ``book.symbols[k]``.

    ``liquidation_prices`` False is the lean re-mark: margin balance, requirement, ratio and breach flag
    only; ``liquidation_price`` is then a read-only all-NaN view and ``priced`` all False. Otherwise prices
    are solved for the accounts in breach or with some pool (cross or isolated) at a risk ratio
    (requirement / margin balance, fraction) >= ``prices_above``; the default 0 prices every account.
    ``out``: the result of an earlier ``remark`` of this book, whose arrays are overwritten and shared by the
    result returned (for a stream of updates: no fresh pages per update); with liquidation prices it must
    come from a priced ``remark``; after an error its contents are undefined. Updates ``book.bracket``
    (hints only). Raises InputError when ``marks`` does not hold one finite positive price per symbol of
    the book, ``prices_above`` is not a ratio >= 0 or ``out`` does not fit, and ``BeyondTableError`` for
    the first position whose notional is at or past its venue's last tier.
    """
    prices = np.ascontiguousarray(marks, dtype=np.float64)
    if prices.shape != (len(book.symbols),) or not bool(np.all(np.isfinite(prices) & (prices > 0))):
        raise InputError("marks", prices.shape, f"{len(book.symbols)} finite prices > 0, one per symbol")
    if not prices_above >= 0.0:
        raise InputError("prices_above", prices_above, "a risk ratio >= 0 (fraction, 1 = liquidation)")
    accounts = book.accounts
    if out is None:
        balance, requirement, ratio = np.empty(accounts), np.empty(accounts), np.empty(accounts)
        liquidated, priced = np.empty(accounts, dtype=np.uint8), np.empty(accounts, dtype=np.uint8)
        price = np.empty(book.positions if liquidation_prices else 0)
    else:
        _check_out(out, book, liquidation_prices=liquidation_prices)
        balance, requirement, ratio = out.margin_balance, out.requirement, out.margin_ratio
        liquidated, priced = out.liquidated.view(np.uint8), out.priced.view(np.uint8)
        price = out.liquidation_price if liquidation_prices else np.empty(0)
    past = np.full(CHUNKS, -1, dtype=np.int64)
    remark_arrays(
        prices,
        book.wallet,
        book.cross_pool,
        book.offsets,
        book.table,
        book.signed_size,
        book.entry,
        book.pool,
        book.bracket,
        book.table_symbol,
        book.table_start,
        book.brackets,
        book.pool_wallet,
        int(np.max(np.diff(book.offsets), initial=1)),
        liquidation_prices,
        float(prices_above),
        balance,
        requirement,
        ratio,
        liquidated,
        priced,
        price,
        past,
    )
    if bool(np.any(past >= 0)):
        _refuse_past_the_table(book, int(past[past >= 0].min()), prices)
    return BatchResult(
        margin_balance=balance,
        requirement=requirement,
        margin_ratio=ratio,
        liquidated=liquidated.view(np.bool_),
        priced=priced.view(np.bool_),
        liquidation_price=price if liquidation_prices else np.broadcast_to(np.float64(np.nan), (book.positions,)),
    )


def _check_out(out: BatchResult, book: BatchBook, *, liquidation_prices: bool) -> None:
    """Raise InputError unless ``out`` holds writable contiguous arrays of ``book``'s shapes and dtypes."""
    arrays = [
        (out.margin_balance, np.float64, book.accounts),
        (out.requirement, np.float64, book.accounts),
        (out.margin_ratio, np.float64, book.accounts),
        (out.liquidated, np.bool_, book.accounts),
        (out.priced, np.bool_, book.accounts),
    ]
    if liquidation_prices:
        arrays.append((out.liquidation_price, np.float64, book.positions))
    for array, dtype, length in arrays:
        if (
            array.dtype != dtype
            or array.shape != (length,)
            or not array.flags.writeable
            or not array.flags.c_contiguous
        ):
            raise InputError(
                "out",
                f"{array.dtype}{array.shape}",
                f"the result of an earlier remark of this book ({book.accounts} accounts, {book.positions} "
                "positions; with liquidation prices: of a priced remark)",
            )


def _refuse_past_the_table(book: BatchBook, i: int, prices: FloatArray) -> None:
    """Raise ``BeyondTableError`` for position i, whose notional at ``prices`` is at or past its last cap.

    The tables' last caps (+inf where the table is open-ended or the requirement does not move with the
    mark) bound what the kernel may value, as ``Instrument.bracket_for`` does.
    """
    account = int(np.searchsorted(book.offsets, i, side="right")) - 1
    index = i - int(book.offsets[account])
    column = int(book.table_symbol[book.table[i]])
    notional = abs(float(book.signed_size[i])) * float(prices[column])
    instrument = book.instruments[book.symbols[column]]
    raise instrument.beyond_table(notional, field=f"accounts[{account}].positions[{index}].size")


def remark_reference(accounts: Sequence[Account], rules: VenueRules, marks: Marks) -> BatchResult:
    """Return ``remark``'s figures computed account by account with ``evaluate`` (plain Python).

    The requirement sums ``position_states``' requirements (``evaluate`` shows the venue's maintenance
    margin instead); ratios are ``risk_view`` of ``evaluate``'s ratios.
    """
    balance: list[float] = []
    requirement: list[float] = []
    ratio: list[float] = []
    liquidated: list[bool] = []
    prices: list[float] = []
    for account in accounts:
        risk = evaluate(account, marks, rules)
        states = position_states(account, marks, rules)
        balance.append(risk.account.margin_balance)
        requirement.append(math.fsum(s.requirement for s in states))
        ratio.append(risk_view(rules, risk.account.margin_ratio))
        liquidated.append(any(risk_view(rules, r) >= 1.0 for r in risk.pool_ratios))
        prices.extend(math.nan if p.liquidation_price is None else p.liquidation_price for p in risk.positions)
    return BatchResult(
        margin_balance=np.array(balance, dtype=np.float64),
        requirement=np.array(requirement, dtype=np.float64),
        margin_ratio=np.array(ratio, dtype=np.float64),
        liquidated=np.array(liquidated, dtype=np.bool_),
        priced=np.ones(len(accounts), dtype=np.bool_),
        liquidation_price=np.array(prices, dtype=np.float64),
    )
