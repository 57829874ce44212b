"""Parameter sweeps and Monte Carlo estimates spread over a Dask cluster (local by default).

``client_for`` opens a ``dask.distributed.Client``: on a ``LocalCluster`` of this machine's cores (one
process per worker, one thread each) or on an existing scheduler (``tcp://host:port``), and closes what it
opened. ``sweep`` runs one backtest task per parameter combination. ``montecarlo_chunked`` sends the
batches of ``risk.montecarlo.liquidation_probability`` to the workers: the estimate is planned here (model
fitted, books packed, ``plan_paths``), the ``BATCH_PATHS``-path batches, each drawn from its own seed spawned
from ``seed``, are split into runs of whole batches (``chunk_batches``), each run is one task
(``run_batches``), and their tallies (the liquidated paths' first-breach steps, the peak marks) are merged
and finished here. The paths are those of the in-process run, so counts, probabilities, intervals and
median times equal ``liquidation_probability``'s for the same seed and paths, for any number of chunks
(``docs/distributed.md``). Without a client both run the same tasks in this process, in order.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache, partial
from typing import Any

import pandas as pd
from distributed import Client, Future, LocalCluster, as_completed

from crossmargin.errors import InputError, suggest
from crossmargin.kernels.layout import MarketData
from crossmargin.portfolio import Portfolio
from crossmargin.progress import stderr_progress
from crossmargin.risk.montecarlo import (
    MCResult,
    PathPlan,
    PathTally,
    PathWork,
    ReturnModel,
    batch_count,
    finish,
    merge_tallies,
    plan_paths,
    run_batches,
)
from crossmargin.sim.backtest import MODES, kernel_scan, resolve_strategy, run_backtest, sample_market
from crossmargin.sim.config import RunConfig
from crossmargin.venues import get_rules

__all__ = [
    "CONFIG_KEYS",
    "chunk_batches",
    "client_for",
    "grid_keys",
    "grid_points",
    "montecarlo_chunked",
    "montecarlo_distributed",
    "montecarlo_planned",
    "run_point",
    "strategy_keys",
    "sweep",
]

#: ``RunConfig`` fields a grid may vary (``auto_leverage`` is a policy object, not a grid value).
CONFIG_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "auto_leverage")


@contextmanager
def client_for(scheduler: str | None, workers: int | None = None, *, timeout: float = 10.0) -> Iterator[Client]:
    """Yield a Dask client; close it (and the local cluster it started) on exit.

    ``scheduler`` None starts a ``LocalCluster`` of ``workers`` processes (default: this machine's cores), one
    thread each, without a dashboard. A 'tcp://host:port' address connects to an existing scheduler, waiting
    at most ``timeout`` seconds; an unreachable one raises InputError naming ``--scheduler``.
    """
    if workers is not None and workers < 1:
        raise InputError("--workers", workers, "an integer >= 1")
    if scheduler is None:
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: two local clusters never fight over one
        )
        try:
            with Client(cluster) as client:  # type: ignore[no-untyped-call]
                yield client
        finally:
            cluster.close()
        return
    if "://" not in scheduler:
        raise InputError("--scheduler", scheduler, "an address such as tcp://host:8786")
    try:
        client = Client(scheduler, timeout=timeout)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as error:
        raise InputError(
            "--scheduler", scheduler, "a reachable Dask scheduler such as tcp://host:8786", detail=str(error)
        ) from None
    with client:
        yield client


def _gather(client: Client, function: Callable[..., Any], calls: Sequence[Mapping[str, Any]], label: str) -> list[Any]:
    """Submit ``function(**call)`` once per call (pure=False: every call runs); return results in call order."""
    futures: list[Future[Any]] = [client.submit(function, pure=False, **call) for call in calls]
    order = {future.key: index for index, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    with stderr_progress(label) as bar:
        task = bar.add_task(label, total=len(futures))
        for future in as_completed(futures):  # type: ignore[no-untyped-call]
            results[order[future.key]] = future.result()
            bar.advance(task)
    return results


# --------------------------------------------------------------------------------------------- sweeps


def strategy_keys(strategy_name: str) -> tuple[str, ...]:
    """Return the parameters of the built-in strategy ``strategy_name`` a grid may vary (its dataclass fields)."""
    factory = resolve_strategy(strategy_name)
    if not dataclasses.is_dataclass(factory):
        return ()
    return tuple(
        f.name
        for f in dataclasses.fields(factory)
        if f.init and f.default_factory is dataclasses.MISSING  # mutable run state is not a parameter
    )


def grid_keys(strategy_name: str) -> tuple[str, ...]:
    """Return every key a grid of ``strategy_name`` may hold: strategy parameters, then ``RunConfig`` fields."""
    own = strategy_keys(strategy_name)
    return own + tuple(k for k in CONFIG_KEYS if k not in own)


def grid_points(strategy_name: str, grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Return the grid's combinations in grid order (the last key varies fastest), one dict each.

    Raises InputError for an empty grid, a key that is neither a strategy parameter nor a ``RunConfig``
    field (with the closest known keys), or a key whose values are not a non-empty list.
    """
    known = grid_keys(strategy_name)
    if not grid:
        raise InputError("grid", {}, "at least one key with a list of values", detail="the grid is empty")
    for key, values in grid.items():
        if key not in known:
            hint = suggest(key, known)
            raise InputError(
                f"grid.{key}",
                key,
                " | ".join(known),
                detail=f"unknown key {key!r}" + (f"; did you mean {hint}?" if hint else ""),
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise InputError(f"grid.{key}", values, "a non-empty list of values, e.g. [3, 5, 10]")
    keys = list(grid)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]


@lru_cache(maxsize=8)
def _market(symbols: tuple[str, ...], interval: str, spot: bool) -> MarketData:
    """Return the shipped sample market (cached per process: each worker reads the sample once)."""
    return sample_market(symbols, interval=interval, spot=spot)


def run_point(
    strategy_name: str, params: Mapping[str, Any], base_config: RunConfig, mode: str, venue: str
) -> list[dict[str, Any]]:
    """Run one grid point: the strategy with ``params`` on the shipped sample, under each mode of ``mode``.

    Returns one row per mode: the point's parameters, ``mode`` and the run's ``Summary`` fields (money in
    quote, ratios as fractions). Builds its market itself, so a worker needs nothing but crossmargin.
    """
    own = strategy_keys(strategy_name)
    strategy_params = {k: v for k, v in params.items() if k in own}
    config_params = {k: v for k, v in params.items() if k not in strategy_params}
    factory = partial(resolve_strategy(strategy_name), **strategy_params)
    probe = factory()
    config = dataclasses.replace(base_config, **config_params)
    market = _market(probe.symbols, "1m" if probe.name == "scalp" else "1h", probe.needs_spot)
    result = run_backtest(factory, market, get_rules(venue), mode=mode, config=config, scanner=kernel_scan)
    return [{**params, **dataclasses.asdict(run.summary)} for run in result.modes.values()]


def sweep(
    strategy_name: str,
    grid: Mapping[str, Sequence[Any]],
    *,
    base_config: RunConfig | None = None,
    mode: str = "both",
    client: Client | None = None,
    venue: str = "binance",
) -> pd.DataFrame:
    """Backtest every combination of ``grid`` (one Dask task each) and return one row per combination and mode.

    ``grid`` maps strategy parameters and ``RunConfig`` fields (e.g. ``leverage``, ``exposure``,
    ``rebalance``) to lists of values; the rest comes from the strategy's defaults and ``base_config``.
    Rows are in grid order (modes in ``mode``'s order within a point); columns are the grid keys, then the
    ``Summary`` fields. ``client`` None runs the points here, in order. Raises InputError for a bad grid,
    strategy, mode or setting (before any task is sent).
    """
    resolve_strategy(strategy_name)
    if mode not in MODES:
        raise InputError("mode", mode, " | ".join(MODES))
    points = grid_points(strategy_name, grid)
    config = base_config or RunConfig()
    for point in points:  # a bad value fails here, not on a worker
        dataclasses.replace(config, **{k: v for k, v in point.items() if k in CONFIG_KEYS})
    get_rules(venue, field="--venue")
    calls: list[dict[str, Any]] = [
        {"strategy_name": strategy_name, "params": p, "base_config": config, "mode": mode, "venue": venue}
        for p in points
    ]
    rows = [run_point(**call) for call in calls] if client is None else _gather(client, run_point, calls, "sweep")
    return pd.DataFrame([row for point_rows in rows for row in point_rows])


# ---------------------------------------------------------------------------------------- Monte Carlo


def chunk_batches(paths: int, chunks: int) -> list[range]:
    """Return the batch indices each chunk runs: the ``batch_count(paths)`` batches in contiguous runs.

    At most ``chunks`` runs (fewer when there are fewer batches of ``BATCH_PATHS``), as even as possible, the
    first ones one batch larger; every batch is in exactly one run. Raises InputError unless
    ``1 <= chunks <= paths``.
    """
    if isinstance(chunks, bool) or not isinstance(chunks, int) or not 1 <= chunks <= paths:
        raise InputError("chunks", chunks, f"an integer 1 .. {paths} (the number of paths)")
    batches = batch_count(paths)
    tasks = min(chunks, batches)
    size, extra = divmod(batches, tasks)
    runs = []
    start = 0
    for index in range(tasks):
        stop = start + size + (1 if index < extra else 0)
        runs.append(range(start, stop))
        start = stop
    return runs


def _chunk(work: PathWork, batches: range) -> PathTally:
    """Run one chunk on a worker: the batches ``batches`` of ``work`` (``run_batches``), without a progress bar."""
    return run_batches(work, batches)


def montecarlo_chunked(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    seed: int | None = 0,
    model: str | ReturnModel = "fhs",
    chunks: int = 8,
    steps_per_hour: int = 1,
    funding: bool = True,
    client: Client | None = None,
) -> MCResult:
    """Return ``liquidation_probability`` of the same arguments, its batches run as ``chunks`` tasks.

    The estimate is planned here (``plan_paths``: history read, model fitted, books packed; a worker needs
    neither the sample nor the local data store), ``chunk_batches(paths, chunks)`` gives each task a run of
    whole batches of ``BATCH_PATHS`` paths, and the merged tallies are finished here (``finish``). Every
    batch draws the paths of the in-process run, so the result equals ``liquidation_probability``'s exactly
    (counts, probabilities, Wilson intervals, median times), for any ``chunks``. ``client`` None runs the
    chunks here in order. ``horizon_hours`` in hours.
    """
    chunk_batches(paths, chunks)  # a bad count fails before the model is fitted
    plan = plan_paths(
        portfolio,
        horizon_hours=horizon_hours,
        paths=paths,
        model=model,
        seed=seed,
        steps_per_hour=steps_per_hour,
        funding=funding,
    )
    return montecarlo_planned(plan, chunks=chunks, client=client)


def montecarlo_planned(plan: PathPlan, *, chunks: int = 8, client: Client | None = None) -> MCResult:
    """Return the estimate of ``plan`` (``risk.montecarlo.plan_paths``), its batches run as ``chunks`` tasks.

    See ``montecarlo_chunked``; planning first lets a caller refuse bad input before it starts a cluster.
    """
    runs = chunk_batches(plan.work.paths, chunks)
    calls: list[dict[str, Any]] = [{"work": plan.work, "batches": run} for run in runs]
    parts = (
        [_chunk(**call) for call in calls] if client is None else _gather(client, _chunk, calls, "Monte Carlo chunks")
    )
    return finish(plan, merge_tallies(parts))


def montecarlo_distributed(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    seed: int | None = 0,
    model: str | ReturnModel = "fhs",
    client: Client,
    chunks: int = 8,
    steps_per_hour: int = 1,
    funding: bool = True,
) -> MCResult:
    """Return ``montecarlo_chunked`` run on ``client``'s workers (equal to ``liquidation_probability``)."""
    return montecarlo_chunked(
        portfolio,
        horizon_hours=horizon_hours,
        paths=paths,
        seed=seed,
        model=model,
        chunks=chunks,
        steps_per_hour=steps_per_hour,
        funding=funding,
        client=client,
    )
