"""Compiled first-passage check of margin pools along simulated price paths, the paths drawn in the kernel.

Both entry points run one compiled kernel, ``_path_kernel``, so they share one pool check:

- ``first_breach`` takes given log returns ``(paths, steps, symbols)``. Reference: ``first_breach_reference``
  below (plain Python on ``margin.account.evaluate``); ``tests/risk/test_montecarlo.py`` holds the two equal
  on paths cut from the real sample.
- ``first_breach_drawn`` draws each path's returns itself, step by step, from a ``PathModel`` (the arrays of
  a ``risk.return_models`` model), checks every given book on them in one pass and keeps no path array: its
  memory is the output (paths x (pools + positions) x 8 bytes) plus a few arrays of ``symbols x (k + 6)``
  floats per path in flight (k the steps per hour). ``draw_returns`` writes the same draws out, for a few
  paths; ``first_breach_reference`` on them is the reference, and ``tests/kernels/test_montecarlo.py``
  holds the kernel equal to it exactly, and the draws equal to a plain-Python drawing of the models.

The book is ``crossmargin.kernels.layout.BookArrays`` (struct-of-arrays: per position side, size, entry,
pool and padded requirement schedule; per pool the wallet and its members). Along one path, step k moves
every symbol's log mark by that step's log return, and the mark is ``start x exp(log move)``, once per
symbol and step; then, when ``(k + 1)`` is a multiple of ``funding_every``, each position pays
``side x size x mark x funding_rate`` out of its pool's wallet (a long pays a positive rate); then each pool
not yet liquidated is checked: margin balance ``E = wallet + sum(side x size x (mark - entry))`` against
requirement ``R = sum(q x mark x mm_rate - maint_amount)`` (quote currency), liquidated when
``R > 0 and E <= R`` (``kernels.scan.pool_breached``). Along the way each position's highest mark over the
steps its pool is checked (up to and including the breach step) is kept, so that the caller can refuse a
path that carries a position past the last tier of the venue's table. Sums are plain float64: an exact tie
``E == R`` has probability zero on a continuous path, so the exact summation of ``kernels.scan`` would buy
nothing here.

Random numbers: path p (counted from 0 over the whole estimate) has two xoshiro256++ streams seeded by
SplitMix64 from the 128-bit ``path_key`` of the seed and (p, stream): stream 0 draws the hours of the
return model, stream 1 the Brownian bridge inside the hours. A path's draws depend on the key and p only,
so the figures do not depend on the number of threads nor on how the paths are split into calls, and the
hourly returns do not depend on the steps per hour. Normals are Marsaglia and Tsang's ziggurat (256 layers,
53-bit magnitudes, index and sign from other bits), chi-squares their gamma method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

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

__all__ = [
    "CHUNK_PATHS",
    "MODEL_FHS",
    "MODEL_GARCH",
    "MODEL_GAUSSIAN",
    "MODEL_STUDENT_T",
    "NOT_LIQUIDATED",
    "ZIGGURAT_R",
    "PathBooks",
    "PathModel",
    "draw_returns",
    "first_breach",
    "first_breach_drawn",
    "first_breach_reference",
    "path_key",
    "stack_books",
    "ziggurat_tables",
]

#: Value of a pool's first-breach step when the pool survives the whole path (or holds no position).
NOT_LIQUIDATED = -1
#: ``PathModel.kind`` of each return model of ``risk.return_models``.
MODEL_GAUSSIAN = 0
MODEL_STUDENT_T = 1
MODEL_FHS = 2
MODEL_GARCH = 3
#: An empty ``(paths, steps, columns)`` array: no returns recorded, or none given.
_NO_PATHS = np.empty((0, 0, 0))
#: Paths a thread takes at a time (dynamic scheduling): on a shared machine a static half each leaves one
#: thread waiting for the other whenever the system deschedules it (``benchmarks/bench_montecarlo.py``).
CHUNK_PATHS = 64


@numba.njit(cache=True, inline="always")
def _settle_funding(  # noqa: PLR0917 - the BookArrays fields funding reads
    price: FloatArray,
    wallet: FloatArray,
    column: IntArray,
    side: FloatArray,
    size: FloatArray,
    pool: IntArray,
    rate: FloatArray,
) -> None:
    """Take each position's funding ``side x size x mark x rate`` (quote) out of its pool's wallet."""
    for i in range(column.shape[0]):
        wallet[pool[i]] -= side[i] * size[i] * price[column[i]] * rate[i]


def _check_marks(start_marks: npt.NDArray[np.float64], symbols: tuple[str, ...]) -> FloatArray:
    marks = np.ascontiguousarray(start_marks, dtype=np.float64)
    if marks.shape != (len(symbols),) or not np.all(marks > 0):
        raise InputError("start_marks", marks.shape, f"{len(symbols)} marks > 0 for {symbols}")
    return marks


def _check_funding(rate: npt.NDArray[np.float64] | None, positions: int, funding_every: int) -> FloatArray:
    rates = np.zeros(positions) if rate is None else np.ascontiguousarray(rate, dtype=np.float64)
    if rates.shape != (positions,):
        raise InputError("funding_rate", rates.shape, f"one rate per position ({positions})")
    if funding_every < 0:
        raise InputError("funding_every", funding_every, ">= 0 steps (0: no funding)")
    return rates


def _placeholder_model(width: int) -> PathModel:
    """Return the placeholder model of ``first_breach``: the kernel reads given returns, draws nothing."""
    zeros, table = np.zeros(width), np.zeros((width, 2))
    return PathModel(
        MODEL_GAUSSIAN, zeros, np.eye(width), zeros, zeros, zeros, np.zeros((1, width)), 0.0, 0.0, 1.0, table, table
    )


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
    width = len(book.symbols)
    if returns.ndim != 3 or returns.shape[2] != width:
        raise InputError("log_returns", returns.shape, f"an array (paths, steps, {width}) for {book.symbols}")
    marks = _check_marks(start_marks, book.symbols)
    rates = _check_funding(funding_rate, book.positions, funding_every)
    out = np.empty((returns.shape[0], book.pools), dtype=np.int64)
    shape = (returns.shape[0], book.positions)
    if peak_marks is None:
        peaks = np.empty(shape, dtype=np.float64)
    elif peak_marks.dtype != np.float64 or peak_marks.shape != shape or not peak_marks.flags.c_contiguous:
        raise InputError("peak_marks", peak_marks.shape, f"a C-contiguous float64 array {shape}")
    else:
        peaks = peak_marks
    books = stack_books([book], [rates])
    model = _placeholder_model(width)
    with numba.parallel_chunksize(CHUNK_PATHS):
        _path_kernel(
            model, np.zeros(2, dtype=np.uint64), 0, returns.shape[1], 1, np.arange(width), marks, books,
            int(funding_every), out, peaks, _NO_PATHS, returns,
        )  # fmt: skip
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


# --- paths drawn in the kernel ----------------------------------------------------------------------------


class PathModel(NamedTuple):
    """A return model of ``risk.return_models`` as arrays (``risk.return_models.path_model`` builds it).

    Per hour, model columns j: ``kind`` ``MODEL_GAUSSIAN``: ``r = sigma x (C e)``; ``MODEL_STUDENT_T``:
    ``r = sigma x (C e) x sqrt((dof - 2) / W)``, ``W ~ chi2(dof)`` shared by the columns; ``MODEL_FHS``:
    ``r = sqrt(var) x residuals[u]`` (u a uniform row); ``MODEL_GARCH``: ``r = sqrt(var) x g_j((C e)_j)``, g_j
    the copula map ``t_nu^-1(Phi(x)) sqrt((nu - 2) / nu)`` as cubic Hermite nodes ``quantiles`` / ``slopes``
    ``(columns, nodes)`` at ``grid_start + n x grid_step`` (linear beyond). ``e`` are standard normals, ``C``
    the lower Cholesky factor ``chol`` of the correlation. FHS and GARCH then set ``var = omega + alpha r^2 +
    beta var``, started at ``sigma^2``. ``sigma`` (fraction per sqrt hour) is also the bridge's volatility
    of the Gaussian and t models; FHS and GARCH bridge with the hour's ``sqrt(var)``.
    """

    kind: int
    sigma: FloatArray
    chol: FloatArray
    omega: FloatArray
    alpha: FloatArray
    beta: FloatArray
    residuals: FloatArray
    dof: float
    grid_start: float
    grid_step: float
    quantiles: FloatArray
    slopes: FloatArray


class PathBooks(NamedTuple):
    """Several ``BookArrays`` on the same symbols as one book: positions and pools laid end to end.

    Book b's pools are ``book_pools[b] : book_pools[b + 1]``, its positions ``book_positions[b] :
    book_positions[b + 1]``; ``funding_rate`` per position (fraction per settlement); the other fields are
    the ``BookArrays`` fields of the same name, pools and members renumbered, schedules padded to one width.
    """

    column: IntArray
    side: FloatArray
    size: FloatArray
    entry: FloatArray
    pool: IntArray
    caps: FloatArray
    mm_rates: FloatArray
    maint_amounts: FloatArray
    pool_wallet: FloatArray
    pool_offsets: IntArray
    pool_members: IntArray
    funding_rate: FloatArray
    book_pools: IntArray
    book_positions: IntArray


def stack_books(books: Sequence[BookArrays], funding_rates: Sequence[npt.NDArray[np.float64] | None]) -> PathBooks:
    """Return ``books`` (packed on the same symbols) as one ``PathBooks``; ``funding_rates`` one per book.

    Raises InputError for no book, books on different symbols or a rate array of the wrong shape.
    """
    if not books or len(funding_rates) != len(books):
        raise InputError("books", len(books), "at least one book, and one funding_rate array per book")
    if any(book.symbols != books[0].symbols for book in books):
        raise InputError("books", [b.symbols for b in books], "books packed on the same symbols")
    tiers = max(book.caps.shape[1] for book in books)

    def pad(array: FloatArray, fill: float | None) -> FloatArray:
        extra = np.repeat(array[:, -1:], tiers - array.shape[1], axis=1)
        return np.hstack([array, np.full_like(extra, fill) if fill is not None else extra])

    positions = np.cumsum([0] + [book.positions for book in books])
    pools = np.cumsum([0] + [book.pools for book in books])
    offsets = [np.zeros(1, dtype=np.int64)] + [
        book.pool_offsets[1:] + positions[b] for b, book in enumerate(books)
    ]  # fmt: skip
    return PathBooks(
        column=np.concatenate([book.column for book in books]),
        side=np.concatenate([book.side for book in books]),
        size=np.concatenate([book.size for book in books]),
        entry=np.concatenate([book.entry for book in books]),
        pool=np.concatenate([book.pool + pools[b] for b, book in enumerate(books)]),
        caps=np.vstack([pad(book.caps, math.inf) for book in books]),
        mm_rates=np.vstack([pad(book.mm_rates, None) for book in books]),
        maint_amounts=np.vstack([pad(book.maint_amounts, None) for book in books]),
        pool_wallet=np.concatenate([book.pool_wallet for book in books]),
        pool_offsets=np.concatenate(offsets).astype(np.int64),
        pool_members=np.concatenate([book.pool_members + positions[b] for b, book in enumerate(books)]),
        funding_rate=np.concatenate(
            [_check_funding(rate, book.positions, 0) for book, rate in zip(books, funding_rates, strict=True)]
        ),
        book_pools=pools.astype(np.int64),
        book_positions=positions.astype(np.int64),
    )


def path_key(entropy: int | Sequence[int] | None) -> npt.NDArray[np.uint64]:
    """Return the 128-bit key (two uint64) of the paths of a seed: ``SeedSequence(entropy).generate_state``."""
    return np.asarray(np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint64), dtype=np.uint64)


#: Right edge of the ziggurat's base layer (256 layers, Marsaglia and Tsang 2000).
ZIGGURAT_R = 3.6541528853610088
_ZIGGURAT_AREA = 0.00492867323399
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_TWO_53 = 2.0**53
_UNIT = 1.0 / _TWO_53


def ziggurat_tables() -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return the ziggurat's ``k`` (accept bounds of 53-bit magnitudes), ``w`` (widths per unit) and ``f``.

    Layer i < 255 spans x in [0, x_i), x_i = w[i] 2^53, over heights [f(x_i), f(x_{i-1})], f = exp(-x^2 / 2);
    layer 0 is the base with the tail beyond ``ZIGGURAT_R``, each of area ``_ZIGGURAT_AREA``.
    """
    k, w, f = np.zeros(256), np.zeros(256), np.zeros(256)
    edge = outer = ZIGGURAT_R
    base = _ZIGGURAT_AREA / math.exp(-0.5 * edge * edge)
    k[0], w[0], w[255] = edge / base * _TWO_53, base / _TWO_53, edge / _TWO_53
    f[0], f[255] = 1.0, math.exp(-0.5 * edge * edge)
    for i in range(254, 0, -1):
        edge = math.sqrt(-2.0 * math.log(_ZIGGURAT_AREA / edge + math.exp(-0.5 * edge * edge)))
        k[i + 1] = edge / outer * _TWO_53
        outer = edge
        f[i], w[i] = math.exp(-0.5 * edge * edge), edge / _TWO_53
    return k, w, f


_ZK, _ZW, _ZF = ziggurat_tables()


@numba.njit(cache=True, inline="always")
def _mix64(z: np.uint64) -> np.uint64:
    """SplitMix64's finaliser (Steele, Lea and Flood 2014)."""
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, inline="always")
def _seed_stream(key: npt.NDArray[np.uint64], path: int, stream: int, state: npt.NDArray[np.uint64]) -> None:
    x = key[0] ^ _mix64(key[1] + np.uint64(path) * np.uint64(2) + np.uint64(stream))
    for i in range(4):
        x += _GOLDEN
        state[i] = _mix64(x)


@numba.njit(cache=True, inline="always")
def _next(state: npt.NDArray[np.uint64]) -> np.uint64:
    """Return the next 64 bits of xoshiro256++ (Blackman and Vigna 2019)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    total = s0 + s3
    result = ((total << np.uint64(23)) | (total >> np.uint64(41))) + s0
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    state[0], state[1], state[2], state[3] = s0, s1, s2, (s3 << np.uint64(45)) | (s3 >> np.uint64(19))
    return np.uint64(result)


@numba.njit(cache=True, inline="always")
def _uniform(state: npt.NDArray[np.uint64]) -> float:
    """Return a uniform in [0, 1) on the 2^-53 grid."""
    return np.float64(_next(state) >> np.uint64(11)) * _UNIT


@numba.njit(cache=True, inline="always")
def _uniform_open(state: npt.NDArray[np.uint64]) -> float:
    """Return a uniform in (0, 1): the 2^-53 grid shifted by half a step."""
    return (np.float64(_next(state) >> np.uint64(11)) + 0.5) * _UNIT


@numba.njit(cache=True, inline="always")
def _normal(state: npt.NDArray[np.uint64]) -> float:
    """Return a standard normal: the ziggurat, low 8 bits the layer, bit 8 the sign, top 53 the magnitude."""
    while True:
        bits = _next(state)
        layer = np.intp(bits & np.uint64(255))
        negative = (bits >> np.uint64(8)) & np.uint64(1)
        magnitude = np.float64(bits >> np.uint64(11))
        x = float(magnitude * _ZW[layer])
        if magnitude < _ZK[layer]:
            return -x if negative else x
        if layer == 0:
            while True:
                tail = -math.log(_uniform_open(state)) / ZIGGURAT_R
                if -2.0 * math.log(_uniform_open(state)) >= tail * tail:
                    return -(ZIGGURAT_R + tail) if negative else ZIGGURAT_R + tail
        if _ZF[layer] + _uniform(state) * (_ZF[layer - 1] - _ZF[layer]) < math.exp(-0.5 * x * x):
            return -x if negative else x


@numba.njit(cache=True, inline="always")
def _chi_square(dof: float, state: npt.NDArray[np.uint64]) -> float:
    """Return a chi-square of ``dof`` degrees of freedom: 2 x Gamma(dof / 2), Marsaglia and Tsang (2000)."""
    shape = 0.5 * dof
    boost = 1.0
    if shape < 1.0:
        boost = _uniform_open(state) ** (1.0 / shape)
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = _normal(state)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = _uniform_open(state)
        if u < 1.0 - 0.0331 * x * x * x * x or math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
            return 2.0 * d * v * boost


@numba.njit(cache=True, inline="always")
def _correlated(
    chol: FloatArray, state: npt.NDArray[np.uint64], normals: FloatArray, out: FloatArray, row: int
) -> None:
    """Fill ``out[row]`` with ``C e``: ``e`` standard normals (kept in ``normals``), ``C`` lower triangular."""
    width = normals.shape[0]
    for j in range(width):
        normals[j] = _normal(state)
    for i in range(width):
        total = 0.0
        for j in range(i + 1):
            total += chol[i, j] * normals[j]
        out[row, i] = total


@numba.njit(cache=True, inline="always")
def _copula(  # noqa: PLR0917 - a compiled helper over plain arrays
    quantiles: FloatArray, slopes: FloatArray, grid_start: float, grid_step: float, j: int, x: float
) -> float:
    """Return the GARCH copula map g_j(x) (``PathModel``): cubic Hermite on its nodes, linear beyond them."""
    last = quantiles.shape[1] - 1
    position = (x - grid_start) / grid_step
    if position <= 0.0:
        return float(quantiles[j, 0] + (x - grid_start) * slopes[j, 0])
    if position >= last:
        return float(quantiles[j, last] + (x - grid_start - last * grid_step) * slopes[j, last])
    node = int(position)
    t = position - node
    return float(
        (1.0 + 2.0 * t) * (1.0 - t) * (1.0 - t) * quantiles[j, node]
        + t * (1.0 - t) * (1.0 - t) * grid_step * slopes[j, node]
        + t * t * (3.0 - 2.0 * t) * quantiles[j, node + 1]
        + t * t * (t - 1.0) * grid_step * slopes[j, node + 1]
    )


# The hour draws below hold loops only: a branch inside an inlined function that takes arrays keeps numba's
# reference counts of those arrays (two atomic operations each per call, 4x the cost of an FHS hour, and
# contended between threads), so the choice of model is made in the kernel itself.


@numba.njit(cache=True, inline="always")
def _fhs_hour(  # noqa: PLR0917 - the model's arrays and one path's scratch
    residuals: FloatArray,
    omega: FloatArray,
    alpha: FloatArray,
    beta: FloatArray,
    state: npt.NDArray[np.uint64],
    variance: FloatArray,
    returns: FloatArray,
    sigmas: FloatArray,
) -> None:
    """Draw one FHS hour: ``r = sqrt(var) x residuals[u]``, then ``var = omega + alpha r^2 + beta var``."""
    rows = residuals.shape[0]
    row = min(int(_uniform(state) * rows), rows - 1)
    for j in range(returns.shape[0]):
        sigma = math.sqrt(variance[j])
        shock = sigma * residuals[row, j]
        returns[j] = shock
        sigmas[j] = sigma
        variance[j] = omega[j] + alpha[j] * shock * shock + beta[j] * variance[j]


@numba.njit(cache=True, inline="always")
def _garch_hour(  # noqa: PLR0917 - the model's arrays and one path's scratch
    omega: FloatArray,
    alpha: FloatArray,
    beta: FloatArray,
    quantiles: FloatArray,
    slopes: FloatArray,
    grid_start: float,
    grid_step: float,
    shocks: FloatArray,
    variance: FloatArray,
    returns: FloatArray,
    sigmas: FloatArray,
) -> None:
    """Draw one GARCH hour from the correlated normals ``shocks[0]``: ``r = sqrt(var) x g_j(x_j)``, var updated."""
    for j in range(returns.shape[0]):
        sigma = math.sqrt(variance[j])
        shock = sigma * _copula(quantiles, slopes, grid_start, grid_step, j, shocks[0, j])
        returns[j] = shock
        sigmas[j] = sigma
        variance[j] = omega[j] + alpha[j] * shock * shock + beta[j] * variance[j]


@numba.njit(cache=True, inline="always")
def _scaled_hour(sigma: FloatArray, mixing: float, shocks: FloatArray, returns: FloatArray, sigmas: FloatArray) -> None:
    """Draw one Gaussian (``mixing`` 1) or Student-t hour: ``r = (C e) x mixing x sigma``."""
    for j in range(returns.shape[0]):
        returns[j] = shocks[0, j] * mixing * sigma[j]
        sigmas[j] = sigma[j]


@numba.njit(cache=True, inline="always")
def _bridge(  # noqa: PLR0917 - scratch arrays of one path
    chol: FloatArray,
    state: npt.NDArray[np.uint64],
    returns: FloatArray,
    sigmas: FloatArray,
    normals: FloatArray,
    mean: FloatArray,
    steps: FloatArray,
) -> None:
    """Split one hour into ``steps.shape[0]`` k steps: ``d_i = r / k + sigma / sqrt(k) (e_i - mean(e))``.

    ``e_i = C z_i`` correlated normals: Gaussian increments conditioned on their sum r (a Brownian bridge).
    """
    k, width = steps.shape
    for j in range(width):
        mean[j] = 0.0
    for i in range(k):
        _correlated(chol, state, normals, steps, i)
        for j in range(width):
            mean[j] += steps[i, j]
    scale = 1.0 / math.sqrt(k)
    for j in range(width):
        mean[j] /= k
    for i in range(k):
        for j in range(width):
            steps[i, j] = returns[j] / k + sigmas[j] * scale * (steps[i, j] - mean[j])


@numba.njit(cache=True, parallel=True)
def _path_kernel(  # noqa: PLR0912, PLR0915, PLR0917 - one compiled kernel for the draws and the checks
    model: PathModel,
    key: npt.NDArray[np.uint64],
    first_path: int,
    steps: int,
    steps_per_hour: int,
    columns: IntArray,
    start_marks: FloatArray,
    books: PathBooks,
    funding_every: int,
    out: IntArray,
    peak_marks: FloatArray,
    record: FloatArray,
    given: FloatArray,
) -> None:
    """Fill ``out[path, pool]`` with each stacked pool's first breach step on paths ``first_path ..`` of ``model``.

    Symbol s reads model column ``columns[s]``; ``peak_marks[path, i]`` gets position i's highest mark checked
    (quote). ``record`` ``(paths, steps, model columns)``, when not empty, receives every step's log returns
    (then every path runs to the end); else a path stops when every pool is liquidated. ``given`` ``(paths,
    steps, columns)``, when not empty, holds the log returns to check instead of drawn ones (k must be 1).
    Paths run in parallel; each is independent, so the result does not depend on threads.
    """
    kind, sigma0, chol, omega, alpha, beta = model.kind, model.sigma, model.chol, model.omega, model.alpha, model.beta
    residuals, dof, quantiles, slopes = model.residuals, model.dof, model.quantiles, model.slopes
    grid_start, grid_step = model.grid_start, model.grid_step
    # Fields read once here: a field read inside the loop costs two atomic reference counts each time.
    column, side, size, entry, pool = books.column, books.side, books.size, books.entry, books.pool
    caps, mm_rates, maint_amounts, rate = books.caps, books.mm_rates, books.maint_amounts, books.funding_rate
    pool_wallet, pool_offsets = books.pool_wallet, books.pool_offsets
    paths, pools, count = out.shape[0], pool_wallet.shape[0], column.shape[0]
    width, columns_drawn, k = start_marks.shape[0], sigma0.shape[0], steps_per_hour
    recording, drawing = record.shape[0] > 0, given.shape[0] == 0
    held = pool_offsets[1:] > pool_offsets[:-1]
    live = int(np.sum(held))
    for path in numba.prange(paths):
        hour_state = np.empty(4, dtype=np.uint64)
        bridge_state = np.empty(4, dtype=np.uint64)
        _seed_stream(key, first_path + path, 0, hour_state)
        _seed_stream(key, first_path + path, 1, bridge_state)
        variance = sigma0 * sigma0
        normals = np.empty(columns_drawn)
        returns = np.empty(columns_drawn)
        sigmas = np.empty(columns_drawn)
        mean = np.empty(columns_drawn)
        shocks = np.empty((1, columns_drawn))
        increments = np.empty((k, columns_drawn))
        log_move = np.zeros(width)
        price = start_marks.copy()
        wallet = pool_wallet.copy()
        equity = np.empty(pools)
        requirement = np.empty(pools)
        for p in range(pools):
            out[path, p] = NOT_LIQUIDATED
        peaks = np.zeros(count)
        # The path's own copy: an inlined helper's array argument is reference-counted at each call, and the
        # count of an array shared by all threads is a cache line they fight over.
        own_chol = chol.copy()
        alive = live
        open_pool = held.copy()
        settle_in = funding_every
        step = 0
        while step < steps and (alive > 0 or recording):
            if drawing and kind == MODEL_FHS:
                _fhs_hour(residuals, omega, alpha, beta, hour_state, variance, returns, sigmas)
            elif drawing:
                _correlated(own_chol, hour_state, normals, shocks, 0)
                if kind == MODEL_GARCH:
                    _garch_hour(
                        omega, alpha, beta, quantiles, slopes, grid_start, grid_step, shocks, variance, returns, sigmas
                    )
                else:
                    mixing = 1.0
                    if kind == MODEL_STUDENT_T:
                        mixing = math.sqrt((dof - 2.0) / _chi_square(dof, hour_state))
                    _scaled_hour(sigma0, mixing, shocks, returns, sigmas)
            if drawing and k == 1:
                for j in range(columns_drawn):
                    increments[0, j] = returns[j]
            elif drawing:
                _bridge(own_chol, bridge_state, returns, sigmas, normals, mean, increments)
            for i in range(min(k, steps - step)):
                if recording:
                    for j in range(columns_drawn):
                        record[path, step, j] = increments[i, j]
                for s in range(width):
                    log_move[s] += increments[i, columns[s]] if drawing else given[path, step, columns[s]]
                    price[s] = start_marks[s] * math.exp(log_move[s])
                settle_in -= 1
                if settle_in == 0:  # (step + 1) a multiple of funding_every, without a division each step
                    settle_in = funding_every
                    _settle_funding(price, wallet, column, side, size, pool, rate)
                # Each position's pool sums in position order (pool_members order): as first_breach_reference.
                for p in range(pools):
                    equity[p] = wallet[p]
                    requirement[p] = 0.0
                for q in range(count):
                    p = pool[q]
                    if open_pool[p]:
                        mark = price[column[q]]
                        peaks[q] = max(peaks[q], mark)
                        equity[p] += side[q] * size[q] * (mark - entry[q])
                        requirement[p] += requirement_at(caps, mm_rates, maint_amounts, q, size[q] * mark)
                for p in range(pools):
                    if open_pool[p] and pool_breached(equity[p], requirement[p]):
                        open_pool[p] = False
                        out[path, p] = step
                        alive -= 1
                step += 1
                if alive == 0 and not recording:
                    break
        for i in range(count):
            peak_marks[path, i] = peaks[i]


def _check_draw(model: PathModel, first_path: int, paths: int, steps: int, steps_per_hour: int) -> None:
    for name, value, low in (("first_path", first_path, 0), ("paths", paths, 0), ("steps", steps, 1)):
        if value < low:
            raise InputError(name, value, f"an integer >= {low}")
    if steps_per_hour < 1:
        raise InputError("steps_per_hour", steps_per_hour, "an integer >= 1")
    if model.kind not in (MODEL_GAUSSIAN, MODEL_STUDENT_T, MODEL_FHS, MODEL_GARCH):
        raise InputError("model.kind", model.kind, "MODEL_GAUSSIAN | MODEL_STUDENT_T | MODEL_FHS | MODEL_GARCH")


def draw_returns(
    model: PathModel,
    key: npt.NDArray[np.uint64],
    *,
    first_path: int,
    paths: int,
    steps: int,
    steps_per_hour: int = 1,
) -> FloatArray:
    """Return the log returns ``first_breach_drawn`` draws on paths ``first_path .. + paths``, all model columns.

    Shape ``(paths, steps, columns)`` (fraction per step of ``1 / steps_per_hour`` h): for tests and a few
    paths, as the kernel itself keeps none. Raises InputError for a negative count.
    """
    _check_draw(model, first_path, paths, steps, steps_per_hour)
    width = model.sigma.shape[0]
    record = np.empty((paths, steps, width))
    none, no_float = np.zeros(0, dtype=np.int64), np.zeros(0)
    empty = PathBooks(
        none, no_float, no_float, no_float, none, np.zeros((0, 1)), np.zeros((0, 1)), np.zeros((0, 1)),
        np.zeros(1), np.zeros(2, dtype=np.int64), none, no_float, np.array([0, 1]), np.array([0, 0]),
    )  # fmt: skip
    _path_kernel(
        model, key, int(first_path), int(steps), int(steps_per_hour), np.arange(width, dtype=np.int64),
        np.ones(width), empty, 0, np.empty((paths, 1), dtype=np.int64), np.empty((paths, 0)), record, _NO_PATHS,
    )  # fmt: skip
    return record


def first_breach_drawn(
    books: PathBooks,
    model: PathModel,
    key: npt.NDArray[np.uint64],
    start_marks: npt.NDArray[np.float64],
    *,
    columns: Sequence[int],
    first_path: int,
    paths: int,
    steps: int,
    steps_per_hour: int = 1,
    funding_every: int = 0,
) -> tuple[list[IntArray], list[FloatArray]]:
    """Return, per book of ``books``, the first liquidation step of each pool on each path and the peak marks.

    Paths ``first_path .. first_path + paths`` are drawn from ``model`` with ``key`` (``path_key``): the
    ``draw_returns`` of the same arguments, symbol s reading model column ``columns[s]``; ``start_marks``
    are the marks at step 0 (quote), funding settles every ``funding_every`` steps (0: never). Per book:
    ``(paths, pools)`` int64 steps (``NOT_LIQUIDATED`` -1 when the pool survives or is empty) and ``(paths,
    positions)`` highest marks (quote), as ``first_breach`` gives on those returns. Memory: those arrays, no
    path array. Raises InputError for a bad count, column or mark.
    """
    _check_draw(model, first_path, paths, steps, steps_per_hour)
    width = model.sigma.shape[0]
    picked = np.asarray(columns, dtype=np.int64)
    if picked.ndim != 1 or len(picked) == 0 or np.any(picked < 0) or np.any(picked >= width):
        raise InputError("columns", tuple(columns), f"one model column 0 .. {width - 1} per symbol")
    marks = np.ascontiguousarray(start_marks, dtype=np.float64)
    if marks.shape != picked.shape or not np.all(marks > 0):
        raise InputError("start_marks", marks.shape, f"{len(picked)} marks > 0, one per column")
    if np.any(books.column >= len(picked)):
        raise InputError("books", int(books.column.max()), f"positions on symbols 0 .. {len(picked) - 1}")
    if funding_every < 0:
        raise InputError("funding_every", funding_every, ">= 0 steps (0: no funding)")
    out = np.empty((paths, len(books.pool_wallet)), dtype=np.int64)
    peaks = np.empty((paths, len(books.column)))
    with numba.parallel_chunksize(CHUNK_PATHS):
        _path_kernel(
            model, key, int(first_path), int(steps), int(steps_per_hour), picked, marks, books, int(funding_every),
            out, peaks, _NO_PATHS, _NO_PATHS,
        )  # fmt: skip
    pools, positions = books.book_pools, books.book_positions
    return (
        [out[:, pools[b] : pools[b + 1]] for b in range(len(pools) - 1)],
        [peaks[:, positions[b] : positions[b + 1]] for b in range(len(positions) - 1)],
    )
