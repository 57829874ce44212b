"""Batch re-mark: many accounts' margin figures at new marks in one compiled pass.

``pack_accounts`` lays the positions of all accounts out as struct-of-arrays (``BatchBook``), with the
figures that do not change with the mark: each position's requirement schedule (from
``crossmargin.margin.account.position_states``), its pool and the pool wallets. ``remark`` then values the
whole book at one mark per symbol and returns a ``BatchResult``; ``remark_reference`` computes the same
figures in plain Python from ``crossmargin.margin.account.evaluate`` and is what the tests hold it to.

Pools (global ids): each account has a cross pool (wallet ``Account.cross_wallet_balance``, possibly with
no member) and one pool per isolated position (wallet: its isolated margin). Positions are stored account
by account, in each account's position order: account a holds positions ``offsets[a] : offsets[a + 1]``.

Limits: one-way accounts only (``Position.position_side == 'both'``); hedge legs (two positions of one
symbol in one pool) are refused by ``pack_accounts``. Figures work in the risk view (requirement over
margin balance, 1 = liquidation), as ``crossmargin.margin.pools.risk_view`` turns every venue's ratio.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numba
import numpy as np
import numpy.typing as npt

from crossmargin.errors import InputError
from crossmargin.kernels.layout import FloatArray, IntArray
from crossmargin.kernels.scan import ACCURATE, EPS, exact_sum, pool_breached, pool_risk, requirement_at
from crossmargin.margin.account import evaluate, position_states
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, Instrument, MarginMode, Marks
from crossmargin.numeric import NEGLIGIBLE
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

#: Accounts are re-marked in this many chunks, spread over numba's threads (each chunk has its own scratch).
CHUNKS = 256

BoolArray = npt.NDArray[np.bool_]
ByteArray = npt.NDArray[np.uint8]


@dataclass(frozen=True, eq=False, kw_only=True)
class BatchBook:
    """All positions of A accounts as arrays: n positions, P pools, schedules padded to B brackets.

    Per account (shape ``(A,)``): ``wallet`` (whole wallet, quote), ``cross_pool`` (int64, the account's
    cross pool id); ``offsets`` (shape ``(A + 1,)``) bounds each account's positions.
    Per position (shape ``(n,)``): ``account`` and ``symbol`` (int64, index into ``symbols``), ``side``
    (+1.0 long, -1.0 short), ``size`` (base units), ``entry`` (quote), ``pool`` (int64 pool id),
    ``brackets`` (int64, the schedule's real length L <= B).
    Requirement schedule (shape ``(n, B)``): requirement = ``q x P x mm_rates[i, b] - maint_amounts[i, b]``
    (quote) with b the first bracket whose ``caps[i, b]`` (notional, quote) exceeds ``q x P``, the last one
    beyond; rows shorter than B are padded with cap +inf and their last bracket repeated. ``breaks[i, b]``
    (quote) is ``caps[i, b] / size[i]`` for b < L - 1 (the mark where bracket b ends), +inf beyond.
    Per pool (shape ``(P,)``): ``pool_wallet`` (quote). ``instruments``: the instrument of each held symbol,
    to refuse a mark that carries a position past its venue's last tier (``remark``).
    """

    symbols: tuple[str, ...]
    account_ids: tuple[str, ...]
    wallet: FloatArray
    cross_pool: IntArray
    offsets: IntArray
    account: IntArray
    symbol: IntArray
    side: FloatArray
    size: FloatArray
    entry: FloatArray
    pool: IntArray
    brackets: IntArray
    breaks: FloatArray
    caps: FloatArray
    mm_rates: FloatArray
    maint_amounts: FloatArray
    pool_wallet: FloatArray
    instruments: Mapping[str, Instrument] = field(default_factory=dict)

    @property
    def accounts(self) -> int:
        """Return the number of accounts A."""
        return len(self.wallet)

    @property
    def positions(self) -> int:
        """Return the number of positions n."""
        return len(self.account)


@dataclass(frozen=True, eq=False, kw_only=True)
class BatchResult:
    """Figures of a ``remark``: per account (shape ``(A,)``) and per position (shape ``(n,)``).

    ``margin_balance``: wallet + unrealised PnL of all positions (quote). ``requirement``: the sum of all
    positions' maintenance requirements (quote; what liquidation compares with, which is the venue's shown
    maintenance margin except where the venue adds to it, e.g. OKX's liquidation fee). ``margin_ratio``:
    the cross pool's requirement / margin balance (fraction, 1 = liquidation; 0 without cross positions or
    requirement, +inf when its balance <= 0 < requirement). ``liquidated``: some pool of the account has
    balance <= requirement with requirement > 0. ``liquidation_price``: per position, the mark (quote) at
    which its pool reaches its requirement with the other marks held, NaN when none.
    """

    margin_balance: FloatArray
    requirement: FloatArray
    margin_ratio: FloatArray
    liquidated: BoolArray
    liquidation_price: FloatArray


def pack_accounts(accounts: Sequence[Account], rules: VenueRules, symbols: Sequence[str]) -> BatchBook:
    """Return all positions of ``accounts`` as a ``BatchBook`` whose marks are indexed by ``symbols``.

    Account ids are the accounts' positions in ``accounts`` as strings. Raises InputError for a symbol not
    in ``symbols``, a hedge-mode leg, and where ``position_states`` does (a symbol the venue does not list,
    a position the venue cannot hold).
    """
    column = {symbol: k for k, symbol in enumerate(symbols)}
    schedules = []
    wallets: list[float] = []
    cross_pool: list[int] = []
    offsets = [0]
    account_of: list[int] = []
    symbol_of: list[int] = []
    pool_of: list[int] = []
    positions = []
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
            account_of.append(a)
            symbol_of.append(column[position.symbol])
            schedules.append(state.schedule)
            positions.append(position)
        offsets.append(len(positions))
    count = len(positions)
    width = max((len(schedule) for schedule in schedules), default=1)
    caps = np.full((count, width), math.inf)
    mm_rates = np.zeros((count, width))
    maint_amounts = np.zeros((count, width))
    breaks = np.full((count, width), math.inf)
    for i, schedule in enumerate(schedules):
        last = len(schedule) - 1
        breaks[i, :last] = [b.cap / positions[i].size for b in schedule[:last]]
        caps[i, : last + 1] = [b.cap for b in schedule]
        mm_rates[i, :] = [schedule[min(b, last)].mm_rate for b in range(width)]
        maint_amounts[i, :] = [schedule[min(b, last)].maint_amount for b in range(width)]
    return BatchBook(
        symbols=tuple(symbols),
        account_ids=tuple(str(a) for a in range(len(accounts))),
        wallet=np.array([float(account.wallet_balance) for account in accounts], dtype=np.float64),
        cross_pool=np.array(cross_pool, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.int64),
        account=np.array(account_of, dtype=np.int64),
        symbol=np.array(symbol_of, dtype=np.int64),
        side=np.array([float(int(p.side)) for p in positions], dtype=np.float64),
        size=np.array([p.size for p in positions], dtype=np.float64),
        entry=np.array([p.entry_price for p in positions], dtype=np.float64),
        pool=np.array(pool_of, dtype=np.int64),
        brackets=np.array([len(s) for s in schedules], dtype=np.int64),
        breaks=breaks,
        caps=caps,
        mm_rates=mm_rates,
        maint_amounts=maint_amounts,
        pool_wallet=np.array(wallets, dtype=np.float64),
        instruments={p.symbol: rules.instrument(p.symbol) for p in positions},
    )


@numba.njit(cache=True, inline="always")
def _segment_root(  # noqa: PLR0917 - a compiled helper over plain arrays
    i: int,
    b: int,
    base: float,
    side: FloatArray,
    size: FloatArray,
    entry: FloatArray,
    brackets: IntArray,
    breaks: FloatArray,
    caps: FloatArray,
    mm_rates: FloatArray,
    maint_amounts: FloatArray,
) -> float:
    """Return the root (quote) of h on price segment b of position i (bracket b held), NaN when it has none.

    The last segment ends at the last bracket's cap (``caps[i, last] / q``): a root past the venue's table
    is none, as in the reference (``BEYOND_LAST_BRACKET``).
    """
    last = brackets[i] - 1
    low = breaks[i, b - 1] if b > 0 else 0.0
    high = breaks[i, b] if b < last else caps[i, last] / size[i]
    if not high > low:  # a break equal to the previous one: no segment
        return np.nan
    q = size[i]
    s = side[i]
    constant = base + maint_amounts[i, b] - s * q * entry[i]
    slope = s * q - q * mm_rates[i, b]
    if slope == 0.0:
        return np.nan
    at_low = constant + slope * low
    at_high = constant + slope * high if high < np.inf else (np.inf if slope > 0 else -np.inf)
    if at_low == 0.0 or (at_low > 0.0) != (at_high > 0.0):
        return float(min(max(-constant / slope, low), high))
    return np.nan


@numba.njit(cache=True, inline="always")
def _liquidation_price(  # noqa: PLR0917 - a compiled helper over plain arrays
    i: int,
    base: float,
    reference: float,
    side: FloatArray,
    size: FloatArray,
    entry: FloatArray,
    brackets: IntArray,
    breaks: FloatArray,
    caps: FloatArray,
    mm_rates: FloatArray,
    maint_amounts: FloatArray,
) -> float:
    """Return the root of ``h(P) = base + s q (P - E) - requirement(P)`` nearest ``reference``, NaN if none.

    The algebra of ``crossmargin.margin.liquidation.solve_pool_price`` for one leg: on each segment of the
    price axis between ``breaks`` (bracket caps / q, quote) h is linear; a segment where h changes sign
    holds a root. Roots at or below ``reference x NEGLIGIBLE`` are none. The search starts at the segment
    holding ``reference``: downward the first root is the nearest below; upward it stops at the first root
    at or above ``reference``; ties go to the lower root, as the reference's ``min`` over ascending roots.
    """
    last = brackets[i] - 1
    floor = reference * NEGLIGIBLE
    home = 0
    while home < last and breaks[i, home] <= reference:
        home += 1
    best = np.nan
    for b in range(home - 1, -1, -1):
        root = _segment_root(i, b, base, side, size, entry, brackets, breaks, caps, mm_rates, maint_amounts)
        if not np.isnan(root):
            if root > floor:
                best = root
            break
    for b in range(home, last + 1):
        root = _segment_root(i, b, base, side, size, entry, brackets, breaks, caps, mm_rates, maint_amounts)
        if not np.isnan(root) and root > floor:
            if np.isnan(best) or abs(root - reference) < abs(best - reference):
                best = root
            if root >= reference:
                break
    return best


@numba.njit(cache=True)
def _pool_state(
    wallet: float, pnl: FloatArray, req: FloatArray, count: int, partials: FloatArray
) -> tuple[float, float]:
    """Return a pool's margin balance and requirement (quote), exact where plain sums may mislead.

    Plain sums are kept when both are within ``ACCURATE`` of exact and the breach test ``E <= R`` is
    decided by more than their error bound; otherwise both are summed exactly (``math.fsum``'s values).
    """
    e_sum = e_mag = r_sum = r_mag = 0.0
    for k in range(count):
        e_sum += pnl[k]
        e_mag += abs(pnl[k])
        r_sum += req[k]
        r_mag += abs(req[k])
    equity = wallet + e_sum
    bound = (count + 3) * EPS * (abs(wallet) + e_mag + r_mag)
    sure = abs(equity - r_sum) > bound and (r_sum > (count + 2) * EPS * r_mag or r_sum < -(count + 2) * EPS * r_mag)
    accurate = (count + 3) * EPS * (abs(wallet) + e_mag) <= ACCURATE * abs(equity) and (
        count + 3
    ) * EPS * r_mag <= ACCURATE * abs(r_sum)
    if count > 2 and not (sure and accurate):
        equity = wallet + exact_sum(pnl, count, partials)
        r_sum = exact_sum(req, count, partials)
    return equity, r_sum


@numba.njit(cache=True, parallel=True)
def remark_arrays(  # noqa: PLR0917 - a compiled kernel over plain arrays (one per BatchBook field)
    marks: FloatArray,
    wallet: FloatArray,
    cross_pool: IntArray,
    offsets: IntArray,
    symbol: IntArray,
    side: FloatArray,
    size: FloatArray,
    entry: FloatArray,
    pool: IntArray,
    brackets: IntArray,
    breaks: FloatArray,
    caps: FloatArray,
    mm_rates: FloatArray,
    maint_amounts: FloatArray,
    pool_wallet: FloatArray,
    balance_out: FloatArray,
    requirement_out: FloatArray,
    ratio_out: FloatArray,
    liquidated_out: ByteArray,
    price_out: FloatArray,
) -> None:
    """Fill the outputs of ``remark`` (see ``BatchResult``) for the book's arrays at ``marks`` (quote)."""
    accounts = wallet.shape[0]
    widest = 1
    for a in range(accounts):
        widest = max(widest, offsets[a + 1] - offsets[a])
    chunks = min(accounts, CHUNKS)
    for chunk in numba.prange(chunks):  # chunks of accounts, each with its own scratch (quote terms)
        pnl = np.empty(widest)
        req = np.empty(widest)
        cross_pnl = np.empty(widest)
        cross_req = np.empty(widest)
        partials = np.empty(widest + 2)
        for a in range(chunk * accounts // chunks, (chunk + 1) * accounts // chunks):
            first = offsets[a]
            count = offsets[a + 1] - first
            home = cross_pool[a]
            members = 0
            breach = False
            for k in range(count):
                i = first + k
                price = marks[symbol[i]]
                pnl[k] = side[i] * size[i] * (price - entry[i])
                req[k] = requirement_at(caps, mm_rates, maint_amounts, i, size[i] * price)
                if pool[i] == home:
                    cross_pnl[members] = pnl[k]
                    cross_req[members] = req[k]
                    members += 1
                else:  # an isolated pool: one position, one addition, as the reference
                    equity = pool_wallet[pool[i]] + pnl[k]
                    breach = breach or pool_breached(equity, req[k])
                    price_out[i] = _liquidation_price(
                        i,
                        pool_wallet[pool[i]],
                        price,
                        side,
                        size,
                        entry,
                        brackets,
                        breaks,
                        caps,
                        mm_rates,
                        maint_amounts,
                    )
            balance, required = _pool_state(wallet[a], pnl, req, count, partials)
            balance_out[a] = balance
            requirement_out[a] = required
            ratio_out[a] = 0.0
            if members > 0:
                equity, cross_required = _pool_state(pool_wallet[home], cross_pnl, cross_req, members, partials)
                ratio_out[a] = pool_risk(equity, cross_required)
                breach = breach or pool_breached(equity, cross_required)
                others_pnl = equity - pool_wallet[home]
                m = 0
                for k in range(count):
                    i = first + k
                    if pool[i] == home:
                        base = pool_wallet[home] + (others_pnl - cross_pnl[m]) - (cross_required - cross_req[m])
                        price_out[i] = _liquidation_price(
                            i,
                            base,
                            marks[symbol[i]],
                            side,
                            size,
                            entry,
                            brackets,
                            breaks,
                            caps,
                            mm_rates,
                            maint_amounts,
                        )
                        m += 1
            liquidated_out[a] = 1 if breach else 0


def remark(book: BatchBook, marks: FloatArray) -> BatchResult:
    """Return every account's and position's figures with ``marks[k]`` the mark (quote) of ``book.symbols[k]``.

    Raises InputError when ``marks`` does not hold one finite positive price per symbol of the book.
    """
    prices = np.ascontiguousarray(marks, dtype=np.float64)
    if prices.shape != (len(book.symbols),) or not bool(np.all(np.isfinite(prices) & (prices > 0))):
        raise InputError("marks", prices.shape, f"{len(book.symbols)} finite prices > 0, one per symbol")
    _refuse_past_the_table(book, prices)
    balance = np.zeros(book.accounts)
    requirement = np.zeros(book.accounts)
    ratio = np.zeros(book.accounts)
    liquidated = np.zeros(book.accounts, dtype=np.uint8)
    price = np.full(book.positions, np.nan)
    remark_arrays(
        prices,
        book.wallet,
        book.cross_pool,
        book.offsets,
        book.symbol,
        book.side,
        book.size,
        book.entry,
        book.pool,
        book.brackets,
        book.breaks,
        book.caps,
        book.mm_rates,
        book.maint_amounts,
        book.pool_wallet,
        balance,
        requirement,
        ratio,
        liquidated,
        price,
    )
    return BatchResult(
        margin_balance=balance,
        requirement=requirement,
        margin_ratio=ratio,
        liquidated=liquidated.view(np.bool_),
        liquidation_price=price,
    )


def _refuse_past_the_table(book: BatchBook, prices: FloatArray) -> None:
    """Raise ``BeyondTableError`` for the first position whose notional at ``prices`` is past its last cap.

    The schedules' last caps (``caps[i, L - 1]``, +inf where the table is open-ended or the requirement
    does not move with the mark) bound what the kernel may value, as ``Instrument.bracket_for`` does.
    """
    if book.positions == 0:
        return
    last_cap = book.caps[np.arange(book.positions), book.brackets - 1]
    notional = book.size * prices[book.symbol]
    past = np.flatnonzero(notional >= last_cap)
    if past.size:
        i = int(past[0])
        account = int(book.account[i])
        index = i - int(book.offsets[account])
        instrument = book.instruments[book.symbols[int(book.symbol[i])]]
        raise instrument.beyond_table(float(notional[i]), field=f"accounts[{account}].positions[{index}].size")


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
        liquidation_price=np.array(prices, dtype=np.float64),
    )
