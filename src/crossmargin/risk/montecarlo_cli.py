"""``crossmargin montecarlo`` and ``crossmargin leverage``: liquidation odds by simulation, and safe leverage.

Thin: parse, call ``risk.montecarlo.liquidation_probability`` / ``risk.safe_leverage.recommend_leverage``,
render. ``register(app)`` adds both commands to a typer app. Errors print one line ``error: ...`` on stderr
and exit with code 2. numba, scipy and arch are imported inside the commands, so that registering them
does not slow the start of every other command.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from crossmargin.console import fail as _fail
from crossmargin.console import jsonable as _jsonable
from crossmargin.console import print_whole as _print_whole
from crossmargin.errors import CrossmarginError, InputError, suggest

if TYPE_CHECKING:
    import pandas as pd

    from crossmargin.risk.montecarlo import MCResult

__all__ = ["MAX_CLI_PATHS", "leverage", "montecarlo", "parse_horizon", "parse_probability", "register"]

#: Most paths a command accepts (memory and time grow linearly with them).
MAX_CLI_PATHS = 1_000_000
_MODELS = ("fhs", "t", "garch")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([mhd])\s*$", re.IGNORECASE)
_HOURS_PER_UNIT = {"m": 1 / 60, "h": 1.0, "d": 24.0}


def parse_horizon(text: str, field: str = "--horizon") -> float:
    """Return the duration ``text`` ('24h', '7d', '90m') in hours; raise InputError naming ``field`` otherwise."""
    allowed = "a duration > 0 such as 24h, 7d or 90m, at most 90d"
    match = _DURATION.match(text)
    if match is None:
        raise InputError(field, text, allowed, detail=f"{text!r} is not a duration")
    hours = float(match.group(1)) * _HOURS_PER_UNIT[match.group(2).lower()]
    if not 0 < hours <= 90 * 24:
        raise InputError(field, text, allowed, detail=f"{text!r} is outside (0, 90d]")
    return hours


def parse_probability(text: str, field: str = "--max-liq-prob") -> float:
    """Return ``text`` ('1%' or '0.01') as a fraction in (0, 1); raise InputError naming ``field`` otherwise."""
    allowed = "a probability in (0, 1), as 1% or 0.01"
    stripped = text.strip()
    percent = stripped.endswith("%")
    try:
        value = float(stripped.removesuffix("%")) / (100 if percent else 1)
    except ValueError:
        raise InputError(field, text, allowed, detail=f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise InputError(field, text, allowed, detail=f"{text!r} is outside (0, 1)")
    return value


def _check_paths(paths: int) -> int:
    if not 1 <= paths <= MAX_CLI_PATHS:
        raise InputError("--paths", paths, f"an integer 1 .. {MAX_CLI_PATHS:,}")
    return paths


def _steps_per_hour(horizon: float, requested: int) -> int:
    """Return the smallest multiple of ``requested`` steps an hour that makes ``horizon`` whole steps."""
    if not 1 <= requested <= 60:
        raise InputError("--steps-per-hour", requested, "an integer 1 .. 60")
    for multiple in range(requested, 61, requested):
        if math.isclose(horizon * multiple, round(horizon * multiple), rel_tol=0.0, abs_tol=1e-9):
            return multiple
    raise InputError("--horizon", horizon, "a whole number of minutes")


def _percent(value: float, digits: int = 2) -> str:
    return "--" if not math.isfinite(value) else f"{value * 100:.{digits}f}%"


def _hours(value: float) -> str:
    return f"{value:.4g} h" if value < 48 else f"{value / 24:.3g} d"


_Portfolio = Annotated[Path, typer.Argument(help="Portfolio TOML file.", show_default=False)]
_Horizon = Annotated[str, typer.Option("--horizon", help="Horizon: 24h, 7d, 90m.")]
_Venue = Annotated[str | None, typer.Option("--venue", help="Venue rules to apply (overrides the file).")]
_Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]
_Seed = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same figures.")]


def montecarlo(
    portfolio: _Portfolio,
    horizon: _Horizon = "24h",
    paths: Annotated[int, typer.Option("--paths", help="Simulated paths (1 .. 1,000,000).")] = 100_000,
    model: Annotated[str, typer.Option("--model", help="Return model: fhs | t | garch.")] = "fhs",
    seed: _Seed = 0,
    venue: _Venue = None,
    steps_per_hour: Annotated[
        int, typer.Option("--steps-per-hour", help="Margin checks per hour of path (1 .. 60).")
    ] = 1,
    funding: Annotated[bool, typer.Option("--funding/--no-funding", help="Accrue funding along paths.")] = True,
    as_json: _Json = False,
    dask: Annotated[bool, typer.Option("--dask", help="Split the paths into Dask tasks (local cluster).")] = False,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Send the tasks to this Dask cluster (tcp://host:port).")
    ] = None,
    chunks: Annotated[int, typer.Option("--chunks", help="Dask tasks the paths are split into.")] = 8,
) -> None:
    """Probability of liquidation within the horizon: the cross account vs each isolated position."""
    from crossmargin.portfolio import load_portfolio  # noqa: PLC0415 - see the module docstring
    from crossmargin.risk.montecarlo import BATCH_PATHS, liquidation_probability, plan_paths  # noqa: PLC0415

    try:
        hours = parse_horizon(horizon)
        _check_paths(paths)
        if model not in _MODELS:
            hint = suggest(model, _MODELS)
            raise InputError(
                "--model",
                model,
                " | ".join(_MODELS),
                detail=f"unknown model {model!r}" + (f" (did you mean {hint}?)" if hint else ""),
            )
        per_hour = _steps_per_hour(hours, steps_per_hour)
        loaded = load_portfolio(portfolio, venue=venue)
        tasks = 0
        if dask or scheduler is not None:
            from crossmargin.distributed import (  # noqa: PLC0415 - optional
                chunk_batches,
                client_for,
                montecarlo_planned,
            )

            if chunks < 1 or chunks > paths:
                raise InputError("--chunks", chunks, f"1 .. --paths ({paths})")
            tasks = len(chunk_batches(paths, chunks))
            plan = plan_paths(  # refuses bad input and missing history before a cluster starts
                loaded,
                horizon_hours=hours,
                paths=paths,
                model=model,
                seed=seed,
                steps_per_hour=per_hour,
                funding=funding,
            )
            with client_for(scheduler) as client:
                result = montecarlo_planned(plan, chunks=chunks, client=client)
        else:
            result = liquidation_probability(
                loaded,
                horizon_hours=hours,
                paths=paths,
                model=model,
                seed=seed,
                steps_per_hour=per_hour,
                funding=funding,
            )
    except CrossmarginError as error:
        raise _fail(error, str(portfolio)) from None
    if as_json:
        print(json.dumps(_jsonable(dataclasses.asdict(result)), indent=2, allow_nan=False))
        return
    _print_whole(_odds_table(result, portfolio.name))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if 0 < tasks < chunks:
        print(
            f"note: --chunks {chunks}: the paths are drawn in {tasks} batch(es) of up to {BATCH_PATHS:,}, so they "
            f"ran as {tasks} Dask task(s); the figures do not depend on the split",
            file=sys.stderr,
        )


def _odds_table(result: MCResult, name: str) -> Table:
    funding = (
        ", ".join(f"{s} {r * 100:+.4f}%" for s, r in result.funding_rates.items())
        + f" per {result.funding_interval_hours:g} h"
        if result.funding
        else "off"
    )
    caption = (
        f"model {result.model}, {result.paths:,} paths, seed {result.seed}, "
        f"{result.steps_per_hour} check(s) an hour; sigma per hour "
        + ", ".join(f"{s} {v * 100:.3f}%" for s, v in zip(result.symbols, result.sigma_hourly, strict=True))
        + f"; funding {funding}"
    )
    table = Table(
        title=f"Liquidation within {_hours(result.horizon_hours)} ({result.venue} · {name})",
        title_justify="left",
        caption=caption,
        caption_justify="left",
    )
    for column in ("mode", "pool", "P(liquidation)", "95% CI", "paths liquidated", "median time to liq"):
        table.add_column(column, justify="left" if column in ("mode", "pool") else "right", no_wrap=True)
    for odds in result.pools:
        table.add_row(
            odds.mode,
            odds.pool,
            _percent(odds.probability, 3),
            f"{_percent(odds.ci_low, 3)} .. {_percent(odds.ci_high, 3)}",
            f"{odds.liquidated_paths:,}",
            "--" if odds.median_hours is None else _hours(odds.median_hours),
        )
    return table


def leverage(
    portfolio: _Portfolio,
    max_liq_prob: Annotated[
        str, typer.Option("--max-liq-prob", help="Target probability of liquidation: 1% or 0.01.")
    ] = "1%",
    horizon: _Horizon = "24h",
    paths: Annotated[int, typer.Option("--paths", help="Simulated paths (1 .. 1,000,000).")] = 20_000,
    venue: _Venue = None,
    sigma: Annotated[str, typer.Option("--sigma", help="Volatility forecast: ewma | garch.")] = "ewma",
    seed: _Seed = 0,
    steps_per_hour: Annotated[
        int, typer.Option("--steps-per-hour", help="Margin checks per hour in the simulation (1 .. 60).")
    ] = 4,
    monte_carlo: Annotated[
        bool, typer.Option("--monte-carlo/--closed-form-only", help="Correct the closed form by simulation.")
    ] = True,
    as_json: _Json = False,
) -> None:
    """Highest leverage per position (and gross, for the cross account) within a liquidation-probability target."""
    from crossmargin.portfolio import load_portfolio  # noqa: PLC0415 - see the module docstring
    from crossmargin.risk.safe_leverage import recommend_leverage  # noqa: PLC0415

    try:
        probability = parse_probability(max_liq_prob)
        hours = parse_horizon(horizon)
        _check_paths(paths)
        if sigma not in ("ewma", "garch"):
            raise InputError("--sigma", sigma, "ewma | garch", detail=f"unknown volatility source {sigma!r}")
        per_hour = _steps_per_hour(hours, steps_per_hour)
        loaded = load_portfolio(portfolio, venue=venue)
        frame = recommend_leverage(
            loaded,
            max_liq_prob=probability,
            horizon_hours=hours,
            sigma_source="garch" if sigma == "garch" else "ewma",
            monte_carlo=monte_carlo,
            paths=paths,
            seed=seed,
            steps_per_hour=per_hour,
        )
    except CrossmarginError as error:
        raise _fail(error, str(portfolio)) from None
    if as_json:
        payload = {
            "venue": loaded.rules.name,
            "max_liq_prob": probability,
            "horizon_hours": hours,
            "sigma_source": sigma,
            "paths": paths if monte_carlo else 0,
            "seed": seed,
            "steps_per_hour": per_hour,
            "rows": _jsonable(frame.to_dict(orient="records")),
        }
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    _print_whole(_leverage_table(frame, probability, hours, portfolio.name, loaded.rules.name))
    for note in frame.loc[frame["note"] != "", ["symbol", "note"]].itertuples(index=False):
        print(f"note: {note.symbol}: {note.note}", file=sys.stderr)
    for line in dict.fromkeys(text for text in frame["returns"] if text):
        print(f"note: {line}", file=sys.stderr)


def _leverage_table(frame: pd.DataFrame, probability: float, hours: float, name: str, venue: str) -> Table:
    table = Table(
        title=f"Safe leverage: P(liquidation within {_hours(hours)}) <= {probability:.2%} ({venue} · {name})",
        title_justify="left",
        caption="sigma annualised from the hourly forecast; MMR = requirement / notional; the account row is gross "
        "leverage (all notional / cross margin balance); P(liq) is simulated at the recommended leverage",
        caption_justify="left",
    )
    for column in (
        "position",
        "sigma",
        "MMR",
        "margin",
        "now",
        "venue max",
        "closed form",
        "MC",
        "z -> eff. z",
        "recommended",
        "size",
        "P(liq) [95% CI]",
    ):
        table.add_column(column, justify="left" if column == "position" else "right", no_wrap=True)

    def times(value: float) -> str:
        return "--" if not math.isfinite(value) else f"{value:.2f}x"

    for row in frame.to_dict(orient="records"):
        label = f"{row['symbol']} {row['side']}".strip() if row["scope"] == "position" else "cross account (gross)"
        table.add_row(
            label,
            _percent(row["sigma_annual"], 1),
            _percent(row["mm_rate"], 3),
            f"{row['margin']:,.2f}",
            times(row["current_leverage"]),
            times(row["venue_max_leverage"]),
            times(row["closed_form_leverage"]),
            times(row["mc_leverage"]),
            f"{row['z']:.2f} -> " + ("--" if not math.isfinite(row["effective_z"]) else f"{row['effective_z']:.2f}"),
            times(row["recommended_leverage"]),
            "--" if not math.isfinite(row["recommended_size"]) else f"{row['recommended_size']:g}",
            "--"
            if not math.isfinite(row["mc_probability"])
            else f"{_percent(row['mc_probability'], 2)} [{_percent(row['mc_ci_low'], 2)} .. "
            f"{_percent(row['mc_ci_high'], 2)}]",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``montecarlo`` and ``leverage`` commands to ``app``."""
    app.command("montecarlo")(montecarlo)
    app.command("leverage")(leverage)
