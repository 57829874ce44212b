"""Monte Carlo probability of liquidation within a horizon, per cross account and per isolated position.

Target quantity (risk-methods §3.1): ``p = P(tau <= h)`` with ``tau`` the first step at which a margin pool's
margin balance falls to its requirement, ``E <= R`` (quote currency). Liquidation is a first-passage event:
every step of every path is checked, not only the end.

Return models (``risk.return_models``) are fitted on each symbol's hourly mark closes, from the package sample
or the user's local data store (``risk.history``); each simulates hourly log returns of all the portfolio's
symbols jointly (§3.3: filtered historical simulation by default, Student-t, GARCH-t, Gaussian), with zero
drift in log price. With ``steps_per_hour`` k > 1 each simulated hour is split into k steps by a Brownian
bridge with that hour's volatility: the hourly returns keep their distribution and the path is monitored k
times an hour, which shrinks the bias of discrete monitoring (§3.4; a Brownian path checked every ``dt`` hours
behaves like one checked continuously against a barrier farther by ``0.5826 sigma sqrt(dt)``,
``bgk_distance``).

Funding (optional): at every settlement (the venue's interval, counted from the start of the path) each
position pays ``side x size x mark x rate`` out of its pool's wallet on the path's marks; the rate is the
mean of the sample's last ``RECENT_SETTLEMENTS`` 8-hourly rates of the symbol (a stored symbol: of its
stored settlements of the last ``RECENT_FUNDING_HOURS``), scaled to the venue's interval.

Paths are drawn inside the compiled kernel (``kernels.montecarlo.first_breach_drawn``), step by step, every
book checked in one pass, no path array kept; path p has its own random streams (``path_key(seed)``, p), so
figures depend on the seed and the number of paths only, not on threads, batches or Dask chunks. A
``ReturnModel`` of another class has its paths drawn in numpy by its own ``hourly`` (batch k from the k-th
seed spawned from ``seed``) and checked by ``first_breach``; a note says so. A run is ``plan_paths``
(validate, fit, pack), ``run_batches`` over any split of the batches of ``BATCH_PATHS`` (``distributed``
sends runs of them to Dask workers), ``merge_tallies`` and ``finish``. A path that carries a position past
its venue's last tier before its pool is liquidated is refused (``check_within_table``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from crossmargin.data.load import plain_symbol
from crossmargin.data.store import FUNDING_INTERVAL, DataStore
from crossmargin.errors import InputError
from crossmargin.kernels.layout import BookArrays, FloatArray, IntArray, MarketData, pack_book
from crossmargin.kernels.montecarlo import (
    NOT_LIQUIDATED,
    PathBooks,
    PathModel,
    first_breach,
    first_breach_drawn,
    path_key,
    stack_books,
)
from crossmargin.margin.account import evaluate
from crossmargin.margin.position import unrealized_pnl
from crossmargin.model import Account, MarginMode, Marks
from crossmargin.numeric import require_positive
from crossmargin.portfolio import Portfolio, all_cross, compare_modes
from crossmargin.progress import stderr_progress
from crossmargin.risk.history import (
    HOUR_MS,
    MIN_HISTORY_HOURS,
    RECENT_FUNDING_HOURS,
    RECENT_SETTLEMENTS,
    SAME_ASSET_QUOTES,
    SAMPLE_FUNDING_HOURS,
    SAMPLE_ORIGIN,
    SAMPLE_VENUE,
    STORE_INTERVALS,
    STORE_KINDS,
    STORE_ORIGIN,
    ReturnHistory,
    ReturnSource,
    funding_rates,
    hourly_closes,
    mean_funding_rate,
    return_history,
    sample_name,
    sample_returns,
    sample_symbol,
    stored_funding_rate,
)
from crossmargin.risk.return_models import (
    EWMA_LAMBDA,
    MODELS,
    FHSModel,
    GarchFit,
    GarchModel,
    GaussianModel,
    ReturnModel,
    StudentTModel,
    _fitted,
    cholesky,
    ewma_variance,
    fit_garch,
    fit_model,
    fit_returns,
    path_model,
)
from crossmargin.venues.base import VenueRules

__all__ = [
    "BATCH_PATHS",
    "BGK_BETA",
    "EWMA_LAMBDA",
    "MAX_HORIZON_HOURS",
    "MAX_PATHS",
    "MAX_STEPS_PER_HOUR",
    "MIN_HISTORY_HOURS",
    "MODELS",
    "NOT_LIQUIDATED",
    "RECENT_FUNDING_HOURS",
    "RECENT_SETTLEMENTS",
    "SAME_ASSET_QUOTES",
    "SAMPLE_FUNDING_HOURS",
    "SAMPLE_ORIGIN",
    "STORE_INTERVALS",
    "STORE_KINDS",
    "STORE_ORIGIN",
    "FHSModel",
    "GarchFit",
    "GarchModel",
    "GaussianModel",
    "MCResult",
    "PathPlan",
    "PathTally",
    "PathWork",
    "PoolOdds",
    "ReturnHistory",
    "ReturnModel",
    "ReturnSource",
    "StudentTModel",
    "batch_count",
    "bgk_distance",
    "check_within_table",
    "equity_quantiles",
    "ewma_variance",
    "finish",
    "fit_garch",
    "fit_model",
    "fit_returns",
    "funding_rates",
    "horizon_steps",
    "hourly_closes",
    "liquidation_probability",
    "mean_funding_rate",
    "merge_tallies",
    "pack_for_paths",
    "path_batches",
    "plan_paths",
    "return_history",
    "run_batches",
    "run_plan",
    "sample_returns",
    "sample_symbol",
    "simulate_paths",
    "stored_funding_rate",
    "wilson_interval",
]

#: Paths simulated at a time (memory and progress granularity). Fixed, so a seed gives one answer.
BATCH_PATHS = 10_000
#: Most paths one estimate may ask for.
MAX_PATHS = 1_000_000
#: Most steps an hour may be split into.
MAX_STEPS_PER_HOUR = 60
#: Longest horizon (hours): 90 days, beyond which an hourly model of two months of data says little.
MAX_HORIZON_HOURS = 2160.0
#: Broadie-Glasserman-Kou constant: -zeta(1/2) / sqrt(2 pi).
BGK_BETA = 0.5826


def _split_hours(
    returns: FloatArray, sigmas: FloatArray, steps_per_hour: int, correlation: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Return each hour's return split into ``steps_per_hour`` steps by a Brownian bridge of that hour's sigma.

    Increments ``d_j = r / k + s (e_j - mean(e))`` with ``e_j ~ N(0, R / k)``: Gaussian increments conditioned
    on their sum ``r`` (exact for Brownian motion).
    """
    paths, hours, width = returns.shape
    noise = rng.standard_normal((paths, hours, steps_per_hour, width)) @ cholesky(correlation).T
    noise *= (sigmas / math.sqrt(steps_per_hour))[:, :, None, :]
    noise -= noise.mean(axis=2, keepdims=True)
    noise += (returns / steps_per_hour)[:, :, None, :]
    return noise.reshape(paths, hours * steps_per_hour, width)


def _simulate(model: ReturnModel, steps: int, paths: int, rng: np.random.Generator, steps_per_hour: int) -> FloatArray:
    hours = -(-steps // steps_per_hour)
    returns, sigmas = model.hourly(hours, paths, rng)
    if steps_per_hour == 1:
        return np.ascontiguousarray(returns[:, :steps])
    return np.ascontiguousarray(_split_hours(returns, sigmas, steps_per_hour, model.correlation, rng)[:, :steps])


def _check_count(field_name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InputError(field_name, value, f"an integer {low:,} .. {high:,}")
    return int(value)


def horizon_steps(horizon_hours: float, steps_per_hour: int) -> int:
    """Return the number of steps of ``1 / steps_per_hour`` hours in ``horizon_hours``.

    Raises InputError unless the horizon is a whole number (>= 1) of steps.
    """
    steps = round(horizon_hours * steps_per_hour)
    if steps < 1 or not math.isclose(steps, horizon_hours * steps_per_hour, rel_tol=0.0, abs_tol=1e-9):
        raise InputError(
            "horizon_hours",
            horizon_hours,
            f"a whole number of steps of 1/{steps_per_hour} h (raise steps_per_hour)",
            detail=f"{horizon_hours:g} h is not a whole number of {60 / steps_per_hour:g}-minute steps",
        )
    return steps


def simulate_paths(
    model: ReturnModel, steps: int, paths: int, seed: int | None = 0, *, steps_per_hour: int = 1
) -> FloatArray:
    """Return simulated log returns, shape ``(paths, steps, symbols)`` (fraction per step; columns ``model.symbols``).

    Drawn in numpy by ``model.hourly`` (``kernels.montecarlo.draw_returns`` gives the estimate's own draws);
    each step lasts ``1 / steps_per_hour`` hours; the same ``seed`` gives the same paths.
    """
    steps = _check_count("steps", steps, 1, int(MAX_HORIZON_HOURS) * MAX_STEPS_PER_HOUR)
    paths = _check_count("paths", paths, 1, MAX_PATHS)
    steps_per_hour = _check_count("steps_per_hour", steps_per_hour, 1, MAX_STEPS_PER_HOUR)
    return _simulate(model, steps, paths, np.random.default_rng(seed), steps_per_hour)


def bgk_distance(distance: float, sigma: float, step_hours: float) -> float:
    """Return the log distance a continuously monitored barrier needs to match monitoring every ``step_hours``.

    ``b + 0.5826 sigma sqrt(dt)`` (Broadie, Glasserman and Kou 1997), ``sigma`` per sqrt hour.
    """
    return distance + BGK_BETA * sigma * math.sqrt(step_hours)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval (fractions) of a probability estimated as ``successes / trials``."""
    if trials <= 0:
        raise InputError("trials", trials, "> 0")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolOdds:
    """Liquidation odds of one margin pool within the horizon. Field names are the ``--json`` keys.

    ``mode``: 'cross' (all positions cross, one pool), 'isolated' (every position its own pool) or
    'as given'; ``pool``: 'cross' or the isolated position ('ETHUSDT short'). ``probability`` and its 95 %
    Wilson interval are fractions; ``median_hours`` is the median time to liquidation of the liquidated
    paths (hours from now), None when no path was liquidated.
    """

    mode: str
    pool: str
    symbols: tuple[str, ...]
    liquidated_paths: int
    probability: float
    ci_low: float
    ci_high: float
    median_hours: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MCResult:
    """What ``liquidation_probability`` found. ``dataclasses.asdict`` of it is the ``--json`` object.

    ``sigma_hourly`` is each symbol's current model volatility (fraction per sqrt hour); ``funding_rates``
    the rate applied to each symbol per settlement (fraction, > 0: longs pay) every
    ``funding_interval_hours``; ``sample_symbols`` the model column each symbol's returns come from (a sample
    name such as 'BTCUSDT', or 'venue:symbol' of the local store); ``sources`` where each symbol's returns
    were read (empty for a given model); ``notes`` say that in words, and what else the reader should know.
    """

    venue: str
    model: str
    seed: int | None
    paths: int
    horizon_hours: float
    steps_per_hour: int
    symbols: tuple[str, ...]
    sample_symbols: tuple[str, ...]
    sigma_hourly: tuple[float, ...]
    funding: bool
    funding_interval_hours: float
    funding_rates: dict[str, float]
    pools: tuple[PoolOdds, ...]
    sources: tuple[ReturnSource, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    def odds(self, mode: str, pool: str = "cross") -> PoolOdds:
        """Return the odds of ``pool`` in ``mode``; raise InputError when there is none."""
        for odds in self.pools:
            if odds.mode == mode and odds.pool == pool:
                return odds
        known = ", ".join(f"{o.mode}/{o.pool}" for o in self.pools)
        raise InputError("pool", f"{mode}/{pool}", known)


def _marks_market(symbols: tuple[str, ...], marks: Marks) -> MarketData:
    """Return a one-bar market at ``marks``: the columns ``pack_book`` lays the book out on."""
    row = np.array([[marks.price(s) for s in symbols]], dtype=np.float64)
    return MarketData(
        times=np.zeros(1, dtype=np.int64),
        symbols=symbols,
        open=row,
        high=row,
        low=row,
        close=row,
        mark_open=row,
        mark_high=row,
        mark_low=row,
        mark_close=row,
        interval_ms=HOUR_MS,
    )


def pack_for_paths(account: Account, rules: VenueRules, symbols: tuple[str, ...], marks: Marks) -> BookArrays:
    """Return ``account``'s book laid out on the columns ``symbols`` (``kernels.layout.pack_book``)."""
    return pack_book(account, rules, _marks_market(symbols, marks))


def _pool_labels(account: Account) -> list[str]:
    """Return the label of each pool in ``pack_book`` order: 'cross', then each isolated position."""
    labels = ["cross"]
    for position in account.positions:
        if position.mode is MarginMode.ISOLATED:
            labels.append(f"{position.symbol} {position.side.label}")
    return labels


def _books(account: Account) -> tuple[dict[str, Account], list[str]]:
    """Return the books simulated on the same paths: all cross, all isolated, and as given when it mixes modes."""
    compared = compare_modes(account)
    books = {mode: book for mode, book in compared.books.items() if mode != "as_given"}
    if len({p.mode for p in account.positions}) > 1:  # otherwise it is one of the recasts
        books["as given"] = account
    return books, list(compared.notes)


def batch_count(paths: int) -> int:
    """Return the number of batches of ``BATCH_PATHS`` that ``paths`` paths are drawn in (the last smaller)."""
    return -(-paths // BATCH_PATHS)


def _batch_rng(entropy: int | Sequence[int], index: int) -> np.random.Generator:
    """Return the generator of batch ``index``: ``np.random.SeedSequence(seed).spawn(n)[index]`` for any n."""
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(index,)))


def path_batches(
    model: ReturnModel, steps: int, paths: int, seed: int | None, *, steps_per_hour: int = 1
) -> Iterator[FloatArray]:
    """Yield ``simulate_paths`` in batches of ``BATCH_PATHS`` (the last smaller), each from its own seed.

    The batch seeds are spawned from ``seed``, so a seed and a number of paths give one answer.
    """
    entropy = np.random.SeedSequence(seed).entropy
    for index in range(batch_count(paths)):
        size = min(BATCH_PATHS, paths - index * BATCH_PATHS)
        yield _simulate(model, steps, size, _batch_rng(_entropy(entropy), index), steps_per_hour)


def _entropy(value: object) -> int | Sequence[int]:
    if isinstance(value, int):
        return value
    if isinstance(value, Sequence):
        return tuple(int(v) for v in value)
    raise InputError("seed", value, "an integer >= 0 or None")


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PathWork:
    """The simulation behind one estimate, fixed before any path is drawn: all a worker needs (picklable).

    ``paths`` paths of ``steps`` steps of ``1 / steps_per_hour`` h drawn from ``model`` in ``batch_count(paths)``
    batches of ``BATCH_PATHS``, batch k from ``SeedSequence(entropy, spawn_key=(k,))`` (the k-th child that
    ``SeedSequence(seed).spawn`` gives); ``columns`` are each symbol's model column, ``start`` the marks at
    step 0 (quote). Per mode ('cross', 'isolated', 'as given'): the packed ``books``, each position's
    ``funding_rates`` (fraction per settlement, > 0: longs pay), settled every ``funding_every`` steps (0: never).
    ``path_model``: the model as the compiled kernel's arrays, which then draws path p of the estimate from
    ``path_key(entropy)`` and p; None: the model's own ``hourly`` draws each batch in numpy.
    """

    model: ReturnModel
    steps: int
    steps_per_hour: int
    paths: int
    entropy: int | Sequence[int]
    columns: tuple[int, ...]
    start: FloatArray
    books: Mapping[str, BookArrays]
    funding_rates: Mapping[str, FloatArray]
    funding_every: int
    path_model: PathModel | None = None

    @property
    def batches(self) -> int:
        """Return the number of batches the paths are drawn in."""
        return batch_count(self.paths)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PathTally:
    """What some batches of a ``PathWork`` found, per mode.

    ``batches`` are the batch indices run, in order; ``liquidated[mode][pool]`` the first-breach step of
    each liquidated path of the pool (int64, in path order); ``peak_marks[mode]`` each position's highest
    mark (quote) over all those paths while its pool was alive. Tallies of disjoint batches merge
    (``merge_tallies``) into exactly what one run over all of them gives.
    """

    batches: tuple[int, ...]
    liquidated: Mapping[str, tuple[IntArray, ...]]
    peak_marks: Mapping[str, FloatArray]


def _batch_breaches(
    work: PathWork, index: int, size: int, stacked: PathBooks, key: npt.NDArray[np.uint64]
) -> tuple[list[IntArray], list[FloatArray]]:
    """Return per book the first-breach steps ``(size, pools)`` and peak marks ``(size, positions)`` of a batch."""
    if work.path_model is not None:
        return first_breach_drawn(
            stacked, work.path_model, key, work.start, columns=work.columns, first_path=index * BATCH_PATHS,
            paths=size, steps=work.steps, steps_per_hour=work.steps_per_hour, funding_every=work.funding_every,
        )  # fmt: skip
    batch = _simulate(work.model, work.steps, size, _batch_rng(work.entropy, index), work.steps_per_hour)
    moves = np.ascontiguousarray(batch[:, :, list(work.columns)])
    firsts, peaks = [], []
    for mode, book in work.books.items():
        peak = np.empty((size, book.positions))
        rates, every = work.funding_rates[mode], work.funding_every
        firsts.append(first_breach(book, moves, work.start, funding_rate=rates, funding_every=every, peak_marks=peak))
        peaks.append(peak)
    return firsts, peaks


def run_batches(work: PathWork, batches: Sequence[int], *, advance: Callable[[int], None] | None = None) -> PathTally:
    """Simulate the batches ``batches`` of ``work`` and return what they found (``advance(paths)`` after each).

    A batch's paths depend on its index only, so any split of the batches gives the same paths.
    """
    steps: dict[str, list[list[IntArray]]] = {
        mode: [[] for _ in range(book.pools)] for mode, book in work.books.items()
    }
    peaks = {mode: np.zeros(book.positions) for mode, book in work.books.items()}
    modes = list(work.books)
    stacked = stack_books([work.books[m] for m in modes], [work.funding_rates[m] for m in modes])
    key = path_key(work.entropy)
    for index in batches:
        if not 0 <= index < work.batches:
            raise InputError("batches", index, f"batch indices 0 .. {work.batches - 1}")
        size = min(BATCH_PATHS, work.paths - index * BATCH_PATHS)
        for mode, (first, peak) in zip(
            modes, zip(*_batch_breaches(work, index, size, stacked, key), strict=True), strict=True
        ):
            for pool in range(work.books[mode].pools):
                column = first[:, pool]
                steps[mode][pool].append(column[column != NOT_LIQUIDATED])
            if size:
                np.maximum(peaks[mode], peak.max(axis=0), out=peaks[mode])
        if advance is not None:
            advance(size)
    return PathTally(
        batches=tuple(batches),
        liquidated={
            mode: tuple(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64) for parts in pools)
            for mode, pools in steps.items()
        },
        peak_marks=peaks,
    )


def merge_tallies(parts: Sequence[PathTally]) -> PathTally:
    """Return the tally of all ``parts`` (disjoint batches), in batch order: counts add, peaks are the maxima."""
    if not parts:
        raise InputError("parts", (), "at least one tally")
    ordered = sorted(parts, key=lambda part: part.batches[0] if part.batches else -1)
    batches = tuple(index for part in ordered for index in part.batches)
    if len(set(batches)) != len(batches):
        raise InputError("parts", batches, "tallies of disjoint batches")
    first = ordered[0]
    return PathTally(
        batches=batches,
        liquidated={
            mode: tuple(np.concatenate([part.liquidated[mode][pool] for part in ordered]) for pool in range(len(pools)))
            for mode, pools in first.liquidated.items()
        },
        peak_marks={mode: np.max([part.peak_marks[mode] for part in ordered], axis=0) for mode in first.peak_marks},
    )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PathPlan:
    """One estimate, ready to run: the ``work`` to simulate and what turns its tally into an ``MCResult``.

    ``accounts`` are the books per mode (their positions in the portfolio's order), ``rules`` the venue's;
    ``result`` holds every field of the answer but the pools.
    """

    work: PathWork
    accounts: Mapping[str, Account]
    rules: VenueRules
    result: MCResult


def _model_columns(symbols: Sequence[str], model: ReturnModel, rules: VenueRules) -> tuple[str, ...]:
    """Return the column of ``model`` each symbol reads: its own name, else its sample series."""
    names = []
    for symbol in symbols:
        if symbol in model.symbols:
            names.append(symbol)
            continue
        sample = sample_name(rules.instrument(symbol))
        if sample is None or sample not in model.symbols:
            raise InputError(
                "model",
                model.name,
                f"a model with a column for each of {', '.join(symbols)}",
                detail=f"no column for {symbol}",
            )
        names.append(sample)
    return tuple(names)


def plan_paths(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    model: str | ReturnModel = "fhs",
    seed: int | None = 0,
    steps_per_hour: int = 1,
    funding: bool = True,
    store: DataStore | None = None,
) -> PathPlan:
    """Return the plan of ``liquidation_probability`` (same arguments): validated, model fitted, books packed.

    Raises what ``liquidation_probability`` raises, before any path is drawn.
    """
    horizon = require_positive("horizon_hours", horizon_hours)
    if horizon > MAX_HORIZON_HOURS:
        raise InputError("horizon_hours", horizon_hours, f"at most {MAX_HORIZON_HOURS:g} h (90 days)")
    paths = _check_count("paths", paths, 1, MAX_PATHS)
    steps_per_hour = _check_count("steps_per_hour", steps_per_hour, 1, MAX_STEPS_PER_HOUR)
    steps = horizon_steps(horizon, steps_per_hour)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InputError("seed", seed, "an integer >= 0, or None for fresh entropy")
    account, rules = portfolio.account, portfolio.rules
    if not account.positions:
        raise InputError("positions", (), "at least one position")
    if isinstance(model, str) and model not in MODELS:
        raise InputError("model", model, " | ".join(MODELS), detail=f"unknown model {model!r}")
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    notes: list[str] = []
    sources: tuple[ReturnSource, ...] = ()
    if isinstance(model, str):
        history = return_history(symbols, rules, store=store)
        fitted = _fitted(model, history)
        samples = tuple(history.column[s] for s in symbols)
        sources = history.sources
        notes.extend(history.notes)
    else:
        fitted = model
        samples = _model_columns(symbols, fitted, rules)
        notes.append(f"returns drawn from the given {fitted.name} model of {', '.join(fitted.symbols)}")
    columns = tuple(fitted.symbols.index(s) for s in samples)
    compiled = path_model(fitted)
    if compiled is None:
        notes.append(f"{type(fitted).__name__} has no compiled draw: paths drawn in numpy by its hourly() (slower)")
    interval = float(getattr(rules, "funding_interval_hours", SAMPLE_FUNDING_HOURS))
    rates: dict[str, float] = {}
    if funding:
        funding_sources = sources or _funding_sources(symbols, rules, store)
        rates, funding_notes = funding_rates(funding_sources, rules, interval_hours=interval, store=store)
        notes.extend(funding_notes)
    books, book_notes = _books(account)
    notes.extend(book_notes)
    packed = {mode: pack_for_paths(book, rules, symbols, portfolio.marks) for mode, book in books.items()}
    work = PathWork(
        model=fitted,
        steps=steps,
        steps_per_hour=steps_per_hour,
        paths=paths,
        entropy=_entropy(np.random.SeedSequence(seed).entropy),
        columns=columns,
        start=np.array([portfolio.marks.price(s) for s in symbols]),
        books=packed,
        funding_rates={
            mode: np.array([rates.get(p.symbol, 0.0) for p in book.positions]) for mode, book in books.items()
        },
        funding_every=round(interval * steps_per_hour) if funding else 0,
        path_model=compiled,
    )
    result = MCResult(
        venue=rules.name,
        model=fitted.name,
        seed=seed,
        paths=paths,
        horizon_hours=horizon,
        steps_per_hour=steps_per_hour,
        symbols=symbols,
        sample_symbols=samples,
        sigma_hourly=tuple(float(fitted.sigma[c]) for c in columns),
        funding=funding,
        funding_interval_hours=interval,
        funding_rates=rates,
        pools=(),
        sources=sources,
        notes=tuple(notes),
    )
    return PathPlan(work=work, accounts=books, rules=rules, result=result)


def _funding_sources(symbols: Sequence[str], rules: VenueRules, store: DataStore | None) -> tuple[ReturnSource, ...]:
    """Return, for a given model, where each symbol's funding is read: the sample, else the local store."""
    out = []
    for symbol in symbols:
        name = sample_name(rules.instrument(symbol))
        origin = SAMPLE_ORIGIN if name is not None else STORE_ORIGIN
        series_symbol = name if name is not None else plain_symbol(symbol)
        venue = SAMPLE_VENUE if name is not None else rules.name
        out.append(
            ReturnSource(
                symbol=symbol,
                origin=origin,
                series=series_symbol,
                venue=venue,
                series_symbol=series_symbol,
                kind="funding",
                interval=FUNDING_INTERVAL,
                path="",
                first="",
                last="",
                bars=0,
            )
        )
    return tuple(out)


def check_within_table(rules: VenueRules, account: Account, peak_marks: FloatArray, *, context: str) -> None:
    """Raise BeyondTableError when a position's highest simulated mark takes it to or past its last tier.

    ``peak_marks`` holds each position's highest mark (quote) over the simulated steps before its pool was
    liquidated. A position's tier value at that mark (``Instrument.tier_value`` at ``rules.tier_price``:
    notional at the mark, or at entry where the venue values the tier so; the size on OKX, which a path
    cannot move) must stay below the instrument's finite ``last_cap``: past it the venue lists no tier and
    the engine does not extrapolate one. ``context`` says which simulation, for the message; the field is
    ``positions[i].size``.
    """
    for index, (position, peak) in enumerate(zip(account.positions, peak_marks, strict=True)):
        instrument = rules.instrument(position.symbol)
        cap = instrument.last_cap
        if not math.isfinite(cap) or not peak > 0:
            continue
        mark = float(peak)
        value = instrument.tier_value(position.size, rules.tier_price(position, mark))
        if value >= cap:
            error = instrument.beyond_table(value, field=f"positions[{index}].size")
            clone = error.prefixed("")
            clone.detail = (
                f"a simulated path ({context}) takes the {position.symbol} mark to {mark:,.6g} {instrument.quote} "
                f"before the pool is liquidated, where {error.detail}"
            )
            clone.reason = f"{clone.detail} (allowed: {clone.allowed})"
            clone.args = (f"{clone.field}: {clone.reason}",)
            raise clone


def finish(plan: PathPlan, tally: PathTally) -> MCResult:
    """Return the estimate from the tally of all of ``plan``'s batches (fractions, 95 % Wilson intervals).

    Raises BeyondTableError (``check_within_table``) when a path takes a position past its venue's last tier
    before its pool is liquidated, and InputError when the tally does not cover every batch once.
    """
    work, result = plan.work, plan.result
    if sorted(tally.batches) != list(range(work.batches)):
        raise InputError("tally", tally.batches, f"every batch 0 .. {work.batches - 1} once")
    for mode, account in plan.accounts.items():
        check_within_table(
            plan.rules, account, tally.peak_marks[mode], context=f"{mode} margin, within {result.horizon_hours:g} h"
        )
    odds = []
    for mode, book in plan.accounts.items():
        arrays = work.books[mode]
        members = np.diff(arrays.pool_offsets)
        for pool, label in enumerate(_pool_labels(book)):
            if members[pool] == 0:
                continue
            steps = tally.liquidated[mode][pool]
            count = len(steps)
            low, high = wilson_interval(count, work.paths)
            held = arrays.pool_members[arrays.pool_offsets[pool] : arrays.pool_offsets[pool + 1]]
            odds.append(
                PoolOdds(
                    mode=mode,
                    pool=label,
                    symbols=tuple(dict.fromkeys(book.positions[i].symbol for i in held)),
                    liquidated_paths=count,
                    probability=count / work.paths,
                    ci_low=low,
                    ci_high=high,
                    median_hours=float(np.median(steps + 1) / work.steps_per_hour) if count else None,
                )
            )
    return dataclasses.replace(result, pools=tuple(odds))


def liquidation_probability(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    model: str | ReturnModel = "fhs",
    seed: int | None = 0,
    steps_per_hour: int = 1,
    funding: bool = True,
    progress: bool | None = None,
    store: DataStore | None = None,
) -> MCResult:
    """Return the probability that each margin pool is liquidated within ``horizon_hours`` (fractions, 95 % CI).

    The portfolio is simulated twice on the same paths: all positions cross (one pool) and all isolated
    (one pool each), plus as given when it mixes modes. ``model`` is a name of ``MODELS``, fitted on each
    symbol's history (``return_history``: the package sample, else the local ``store``, default
    ``$CROSSMARGIN_DATA_DIR``), or a ``ReturnModel`` with a column per symbol (its own name or its sample
    name). ``progress`` None shows a bar on stderr only on a terminal. Raises InputError for a bad horizon,
    path count, step count or model, DataError for a symbol without usable history, BeyondTableError for a
    path that takes a position past its venue's last tier before its pool is liquidated.
    """
    plan = plan_paths(
        portfolio,
        horizon_hours=horizon_hours,
        paths=paths,
        model=model,
        seed=seed,
        steps_per_hour=steps_per_hour,
        funding=funding,
        store=store,
    )
    return run_plan(plan, progress=progress)


def run_plan(plan: PathPlan, *, progress: bool | None = None) -> MCResult:
    """Return the figures of ``plan`` with every batch drawn here (``progress``: as ``liquidation_probability``)."""
    with stderr_progress("Monte Carlo paths", show=progress) as bar:
        task = bar.add_task("paths", total=plan.work.paths)
        tally = run_batches(plan.work, range(plan.work.batches), advance=lambda size: bar.advance(task, size))
    return finish(plan, tally)


def equity_quantiles(
    portfolio: Portfolio,
    *,
    horizon_hours: float,
    seed: int,
    model: str = "fhs",
    paths: int = 2000,
    quantiles: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
    store: DataStore | None = None,
) -> dict[str, Any]:
    """Return quantiles of the all-cross margin balance (quote) per hour over ``paths`` simulated paths.

    Marks follow ``simulate_paths`` of ``model`` fitted on ``return_history``; each position's PnL is
    ``margin.unrealized_pnl`` (applied element-wise). ``maintenance_margin`` is today's requirement of the
    cross account, the level the fan is read against. Keys: ``hours``, ``quantiles`` (label -> array),
    ``equity_now``, ``maintenance_margin``.
    """
    account, rules = all_cross(portfolio.account), portfolio.rules
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    history = return_history(symbols, rules, store=store)
    fitted = _fitted(model, history)
    samples = tuple(history.column[s] for s in symbols)
    steps = horizon_steps(float(horizon_hours), 1)
    returns = simulate_paths(fitted, steps, paths, seed)
    growth = {
        s: np.exp(np.cumsum(returns[:, :, fitted.symbols.index(samples[j])], axis=1)) for j, s in enumerate(symbols)
    }
    equity = np.full((paths, steps), account.wallet_balance, dtype=np.float64)
    for position in account.positions:
        marks: Any = portfolio.marks.price(position.symbol) * growth[position.symbol]
        equity += unrealized_pnl(position.side, position.size, position.entry_price, marks)
    today = evaluate(account, portfolio.marks, rules)
    bands = np.quantile(equity, quantiles, axis=0)
    return {
        "hours": list(range(1, steps + 1)),
        "quantiles": {f"{q:g}": band for q, band in zip(quantiles, bands, strict=True)},
        "equity_now": today.account.margin_balance,
        "maintenance_margin": today.account.maintenance_margin,
    }
