"""Sweeps and Monte Carlo on a local Dask cluster give exactly what the same work gives in this process.

Monte Carlo: the chunks are runs of whole batches of ``BATCH_PATHS`` paths with the in-process run's seeds,
so ``montecarlo --dask --chunks K`` equals ``liquidation_probability`` for the same seed and paths, for any K.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from distributed import Client
from typer.testing import CliRunner

from crossmargin.cli.sweep import register
from crossmargin.distributed import (
    chunk_batches,
    client_for,
    grid_points,
    montecarlo_chunked,
    montecarlo_distributed,
    sweep,
)
from crossmargin.errors import InputError
from crossmargin.portfolio import load_portfolio
from crossmargin.risk.montecarlo import BATCH_PATHS, liquidation_probability
from crossmargin.sim.config import RunConfig
from tests.fixtures.harness import REPO, command_app

GRID: dict[str, list[Any]] = {"leverage": [3, 10], "exposure": [2.0, 3.0]}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    """A local cluster of two worker processes, closed after the module's tests."""
    with client_for(None, 2) as opened:
        yield opened


def _app() -> typer.Typer:
    return command_app(register)


def test_sweep_on_cluster_equals_in_process(client: Client) -> None:
    config = RunConfig(wallet=5_000.0)
    remote = sweep("case-study", GRID, base_config=config, mode="both", client=client)
    local = sweep("case-study", GRID, base_config=config, mode="both", client=None)
    pd.testing.assert_frame_equal(remote, local, check_exact=True)
    assert len(remote) == 8  # 2 leverages x 2 exposures x 2 modes
    assert list(remote[["leverage", "exposure", "mode"]].itertuples(index=False, name=None))[:4] == [
        (3, 2.0, "cross"),
        (3, 2.0, "isolated"),
        (3, 3.0, "cross"),
        (3, 3.0, "isolated"),
    ]
    assert (remote["initial_equity"] == 5_000.0).all()


def test_montecarlo_on_the_cluster_equals_the_in_process_run(client: Client) -> None:
    # 25,000 paths are 3 batches (10,000, 10,000, 5,000): 2 chunks run batches [0, 1] and [2], 3 chunks one
    # each, 8 chunks still 3 tasks. Every split gives the in-process result: counts, probabilities, Wilson
    # intervals and median times to liquidation, all equal, not merely close.
    portfolio = load_portfolio(REPO / "examples" / "case_study.toml")
    kwargs: dict[str, Any] = {"horizon_hours": 24.0, "paths": 25_000, "seed": 7, "model": "fhs"}
    local = liquidation_probability(portfolio, progress=False, **kwargs)
    for chunks in (2, 3, 8):
        assert montecarlo_distributed(portfolio, client=client, chunks=chunks, **kwargs) == local
    assert montecarlo_chunked(portfolio, client=None, chunks=2, **kwargs) == local
    eth = local.odds("isolated", "ETHUSDT short")
    assert eth.liquidated_paths > 0  # the isolated ETH short is liquidated on some paths
    assert eth.median_hours is not None
    for odds in local.pools:
        assert odds.probability == odds.liquidated_paths / 25_000


@pytest.mark.parametrize("model", ["t", "garch"])
def test_any_split_of_the_batches_gives_the_in_process_figures(model: str) -> None:
    # The same without a cluster, for the other models and for hours split into checks (Brownian bridge).
    portfolio = load_portfolio(REPO / "examples" / "case_study.toml")
    kwargs: dict[str, Any] = {"horizon_hours": 12.0, "paths": 21_000, "seed": 3, "model": model, "steps_per_hour": 2}
    local = liquidation_probability(portfolio, progress=False, **kwargs)
    assert montecarlo_chunked(portfolio, client=None, chunks=3, **kwargs) == local
    assert sum(o.liquidated_paths for o in local.pools) > 0


def test_chunks_are_runs_of_whole_batches() -> None:
    assert BATCH_PATHS == 10_000
    assert chunk_batches(25_000, 2) == [range(0, 2), range(2, 3)]
    assert chunk_batches(25_000, 8) == [range(0, 1), range(1, 2), range(2, 3)]  # one task per batch at most
    assert chunk_batches(100_000, 8) == [range(0, 2), range(2, 4)] + [range(k, k + 1) for k in range(4, 10)]
    assert chunk_batches(3_001, 3) == [range(0, 1)]
    for paths, chunks in ((25_000, 2), (100_000, 8), (1_000_000, 7)):
        runs = chunk_batches(paths, chunks)
        assert [k for run in runs for k in run] == list(range(-(-paths // BATCH_PATHS)))
    with pytest.raises(InputError, match="chunks"):
        chunk_batches(2, 3)
    with pytest.raises(InputError, match="chunks"):
        chunk_batches(10, 0)


def test_grid_is_checked() -> None:
    assert grid_points("hedge-pair", {"rebalance": [8, 24], "leverage": [5]}) == [
        {"rebalance": 8, "leverage": 5},
        {"rebalance": 24, "leverage": 5},
    ]
    with pytest.raises(InputError, match="did you mean leverage"):
        grid_points("case-study", {"levrage": [3]})
    with pytest.raises(InputError, match="empty"):
        grid_points("case-study", {})
    with pytest.raises(InputError, match="non-empty list"):
        grid_points("case-study", {"leverage": []})


def test_cli_happy_path(tmp_path: Path) -> None:
    out = tmp_path / "rows.parquet"
    result = CliRunner().invoke(
        _app(),
        [
            *("sweep", "case-study", "--grid", str(REPO / "examples" / "sweep.toml"), "--workers", "2"),
            *("--mode", "isolated", "--json", "--out", str(out)),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["leverage"], r["exposure"]) for r in rows] == [
        (3, 2.0),
        (3, 3.0),
        (5, 2.0),
        (5, 3.0),
        (10, 2.0),
        (10, 3.0),
    ]
    assert {r["mode"] for r in rows} == {"isolated"}
    frame = pd.read_parquet(out)
    assert frame["final_equity"].tolist() == [r["final_equity"] for r in rows]
    # the same point run in-process gives the same figures
    local = sweep("case-study", {"leverage": [10], "exposure": [3.0]}, mode="isolated")
    assert local["final_equity"].iloc[0] == rows[-1]["final_equity"]


@pytest.mark.parametrize(
    ("grid_text", "extra", "message"),
    [
        ("[grid]\nlevrage = [3, 5]\n", [], "did you mean leverage"),
        ("[grid]\n", [], "empty"),
        ("[grid]\nleverage = []\n", [], "non-empty list"),
        ("[grid]\nleverage = [3]\n[other]\nx = 1\n", [], "unknown top-level key"),
        ("[grid]\nleverage = [3]\n", ["--scheduler", "tcp://127.0.0.1:9", "--timeout", "1"], "--scheduler"),
        ("[grid]\nleverage = [3]\n", ["--scheduler", "not-an-address"], "--scheduler"),
        ("[grid]\nleverage = [0]\n", ["--workers", "1"], "leverage"),
    ],
)
def test_cli_bad_input(tmp_path: Path, grid_text: str, extra: list[str], message: str) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(grid_text, encoding="utf-8")
    started = time.monotonic()
    result = CliRunner().invoke(_app(), ["sweep", "case-study", "--grid", str(path), *extra])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert time.monotonic() - started < 15


def test_unknown_strategy_and_mode() -> None:
    with pytest.raises(InputError, match="strategy"):
        sweep("nope", GRID)
    with pytest.raises(InputError, match="mode"):
        sweep("case-study", GRID, mode="both-ways")
    assert dataclasses.is_dataclass(RunConfig)


def test_montecarlo_command_splits_paths_into_dask_tasks() -> None:
    from typer.testing import CliRunner  # noqa: PLC0415 - keeps this module's imports as they were

    from crossmargin.cli import app  # noqa: PLC0415

    case = str(Path(__file__).resolve().parent.parent / "examples" / "case_study.toml")
    runner = CliRunner()
    args = ["montecarlo", case, "--paths", "12000", "--json"]
    split = runner.invoke(app, [*args, "--dask", "--chunks", "2"])
    assert split.exit_code == 0, split.stderr
    alone = runner.invoke(app, args)
    assert alone.exit_code == 0, alone.stderr
    assert json.loads(split.stdout) == json.loads(alone.stdout)  # the same figures, field for field
    bad = runner.invoke(app, ["montecarlo", case, "--paths", "100", "--dask", "--chunks", "500"])
    assert bad.exit_code == 2
    assert "--chunks" in bad.stderr


def test_backtest_sweep_option_runs_the_grid(tmp_path: Path) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415 - keeps this module's imports as they were

    from crossmargin.cli import app  # noqa: PLC0415

    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nleverage = [3, 5]\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["backtest", "case-study", "--sweep", str(grid), "--mode", "isolated", "--json"])
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(row["leverage"], row["mode"]) for row in rows] == [(3, "isolated"), (5, "isolated")]
    assert [row["liquidations"] for row in rows] == [0, 1]  # 5x loses the ETH short on 2026-03-16, 3x does not
