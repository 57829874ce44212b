"""The risk commands on a book: ``stress``, ``montecarlo`` and ``leverage`` (``cli.forecast`` has the
volatility forecasts and their calibration).

Thin: parse, call :mod:`crossmargin.risk` (stress scenarios, Monte Carlo, safe leverage), render.
``portfolio_margin_table(portfolio)`` is also the table of ``check --margin portfolio``.
pandas, numba, scipy, arch, scikit-learn, plotly and Dask are imported inside the commands, so that mounting
them does not slow the start of every other command. A progress bar goes to stderr, only on a terminal.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import (
    fail,
    format_money,
    format_percent,
    jsonable,
    print_whole,
    progress_steps,
)
from crossmargin.errors import CrossmarginError, InputError, suggest
from crossmargin.portfolio import Portfolio, load_portfolio

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table

    from crossmargin.risk.montecarlo import MCResult
    from crossmargin.risk.stress import StressGrid, StressReport, StressRow

__all__ = [
    "MAX_CLI_PATHS",
    "MOVE_COLUMNS",
    "grid_table",
    "leverage",
    "montecarlo",
    "parse_horizon",
    "parse_probability",
    "portfolio_margin_table",
    "register",
    "scenario_table",
    "stress",
]

_Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


#: Above this many symbols the scenario table shows one 'moves' column instead of one per symbol.
MOVE_COLUMNS = 5
#: Column-heading names of the stress modes (the caption says which are what-ifs).
_SHORT = {"as_given": "as given", "cross": "cross", "isolated": "isolated"}
#: Grid letters, one per mode in order, and their colours: as given, what if all cross, what if all isolated.
_LETTERS = (("as_given", "A", "bold red"), ("cross", "C", "red"), ("isolated", "I", "yellow"))


def _ratio_percent(value: float) -> str:
    return format_percent(value, 1)


def _move(value: float) -> str:
    return f"{value * 100:+.1f}%"


def _liquidated(row: StressRow) -> str:
    if row.account_liquidated:
        return "all"
    return ", ".join(row.liquidated) or "--"


def _grid_symbols(text: str | None, portfolio: Portfolio) -> tuple[str, str]:
    """Return the two grid symbols: from ``--grid`` 'X,Y', else the two largest positions by notional."""
    if text is not None:
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 2 or not all(parts):
            raise InputError("--grid", text, "two symbols separated by a comma, e.g. BTCUSDT,ETHUSDT")
        return parts[0], parts[1]
    by_notional: dict[str, float] = {}
    for position in portfolio.account.positions:
        value = position.size * portfolio.marks.price(position.symbol)
        by_notional[position.symbol] = by_notional.get(position.symbol, 0.0) + value
    ranked = sorted(by_notional, key=lambda symbol: -by_notional[symbol])
    if len(ranked) < 2:
        raise InputError("--plot", None, "a portfolio with two symbols or more (the heat map moves two)")
    return ranked[0], ranked[1]


def scenario_table(report: StressReport, title: str) -> Table:
    """Return the scenarios x modes table of a stress report: as given, then the cross and isolated what-ifs.

    Money in the settle currency, ratios as percentages (100 % = liquidation).
    """
    from rich import box  # noqa: PLC0415 - rich: only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("scenario", no_wrap=True)
    per_symbol = len(report.symbols) <= MOVE_COLUMNS
    for symbol in report.symbols if per_symbol else ("moves",):
        table.add_column(symbol, justify="right", no_wrap=True)
    table.add_column("equity after", justify="right")
    for mode in report.modes:
        name = _SHORT[mode]
        table.add_column(f"{name}: ratio", justify="right")
        table.add_column(f"{name}: liquidated")
        table.add_column(f"{name}: equity left", justify="right")
    by_mode = {mode: report.results(mode) for mode in report.modes}
    for index, scenario in enumerate(report.scenarios):
        moves = [scenario.move(symbol) for symbol in report.symbols]
        cells = [_move(m) for m in moves] if per_symbol else [f"{_move(min(moves))} .. {_move(max(moves))}"]
        first = by_mode[report.modes[0]][index]
        row = [scenario.name, *cells, format_money(first.equity_after)]
        for mode in report.modes:
            result = by_mode[mode][index]
            row += [_ratio_percent(result.margin_ratio), _liquidated(result), format_money(result.equity_left)]
        table.add_row(*row)
    from crossmargin.risk.stress import MODE_LABELS  # noqa: PLC0415 - see the module docstring

    table.caption = (
        "Moves applied to today's marks at once. as given = each position in its file's mode; cross / isolated = "
        f"{MODE_LABELS['cross']} / {MODE_LABELS['isolated']} (a position already isolated keeps its margin). "
        "equity after = margin balance at the new marks (the same in every mode); ratio = highest pool "
        "requirement / margin balance (liquidation at 100 %); equity left = what the account keeps after the "
        f"venue liquidates every breaching pool. Money in {report.settle}."
    )
    table.caption_justify = "left"
    return table


def grid_table(grid: StressGrid) -> Table:
    """Return the grid as three letters a cell: A = as given, C = what if all cross, I = what if all isolated.

    A: some pool of the book as given is liquidated; C: the all-cross account is; I: some position of the
    all-isolated book is; '.' in a letter's place: that book is not.
    """
    from rich import box  # noqa: PLC0415 - rich: only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    table = Table(
        title=f"Grid: {grid.x_symbol} across, {grid.y_symbol} down",
        title_justify="left",
        box=box.SIMPLE,
        pad_edge=False,
    )
    table.add_column(f"{grid.y_symbol} \\ {grid.x_symbol}", justify="right", no_wrap=True)
    for move in grid.moves:
        table.add_column(f"{move * 100:+.0f}", justify="center", no_wrap=True)
    flags = {
        "as_given": grid.as_given_liquidated,
        "cross": grid.cross_liquidated,
        "isolated": grid.isolated_liquidated,
    }
    for row in reversed(range(len(grid.moves))):
        cells = []
        for column in range(len(grid.moves)):
            cells.append(
                "".join(
                    f"[{colour}]{letter}[/]" if bool(flags[mode][row, column]) else "[dim].[/]"
                    for mode, letter, colour in _LETTERS
                )
            )
        table.add_row(f"{grid.moves[row] * 100:+.0f}%", *cells)
    table.caption = (
        "Moves in %, other marks held. Each cell reads as given / what if all cross / what if all isolated: A = a "
        "pool of the book as given is liquidated, C = the all-cross account is, I = some position of the "
        "all-isolated book is; . = that book is not."
    )
    table.caption_justify = "left"
    return table


def portfolio_margin_table(portfolio: Portfolio) -> Table:
    """Return the scenario (portfolio) margin of the book by risk unit, with cross and isolated beside it.

    Figures from ``risk.portfolio_margin.portfolio_margin`` and ``margin_comparison`` (quote currency).
    """
    from rich import box  # noqa: PLC0415 - rich: only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    from crossmargin.risk.portfolio_margin import load_pm_params, margin_comparison, portfolio_margin  # noqa: PLC0415

    params = load_pm_params()
    result = portfolio_margin(portfolio.account, portfolio.marks, portfolio.rules)
    comparison = margin_comparison(portfolio)
    settle = portfolio.rules.settle
    table = Table(
        title=f"Portfolio margin (OKX-style scenarios, perpetuals; {settle})", title_justify="left", box=box.SIMPLE_HEAD
    )
    for column in ("risk unit", "symbols", "net notional", "spot shock", "extreme move", "min charge", "MM", "IM"):
        table.add_column(column, justify="left" if column in ("risk unit", "symbols") else "right", no_wrap=True)
    for base, unit in result.by_underlying.items():
        table.add_row(
            base,
            ", ".join(unit["symbols"]),
            format_money(unit["net_notional"]),
            f"{format_money(unit['spot_shock'])} @ {_move(unit['spot_shock_move'])}",
            f"{format_money(unit['extreme_move'])} @ {_move(unit['extreme_move_shock'])}",
            format_money(unit["minimum_charge"]),
            format_money(unit["maintenance"]),
            format_money(unit["initial"]),
        )
    table.add_section()
    blank = ("", "", "", "", "")
    table.add_row(
        "units summed (OKX)",
        *blank,
        format_money(result.units_summed),
        format_money(params.im_multiple * result.units_summed),
    )
    table.add_row("all underlyings together", *blank, format_money(result.correlated), "")
    table.add_row(
        f"book (correlated weight {params.correlated_weight:g})",
        *blank,
        format_money(result.mm),
        format_money(result.im),
    )
    table.add_section()
    for mode in ("cross", "isolated", "portfolio, positions alone"):
        figures = comparison.loc[mode]
        table.add_row(
            f"{mode} (venue)" if mode in ("cross", "isolated") else mode,
            *blank,
            format_money(float(figures["maintenance_margin"])),
            format_money(float(figures["initial_margin"])),
        )
    credit = float(comparison.loc["portfolio", "hedge_credit"])
    uncertain = ", ".join(params.uncertain) or "none"
    table.caption = (
        f"Hedge credit (positions alone - book): {format_money(credit)}. Spot shock: worst of the 7-point MR1 grid; "
        f"extreme move weighted {params.extreme_move_weight:g}; IM = {params.im_multiple:g} x MM. Parameters: "
        f"crossmargin/risk/data/pm_okx.json (sources and dates inside); uncertain: {uncertain}."
    )
    table.caption_justify = "left"
    return table


def _run(
    loaded: Portfolio, *, historical: bool, grid_pair: tuple[str, str] | None, moves: Sequence[float]
) -> tuple[StressReport, StressGrid | None, list[str]]:
    from crossmargin.risk.stress import (  # noqa: PLC0415 - see the module docstring
        episode_coverage,
        historical_scenarios,
        hypothetical_scenarios,
        run_stress,
        stress_grid,
    )

    symbols = list(dict.fromkeys(p.symbol for p in loaded.account.positions))
    bases = {symbol: loaded.rules.instrument(symbol).base for symbol in symbols}
    scenarios = hypothetical_scenarios(symbols, settle=loaded.rules.settle, bases=bases)
    notes: list[str] = []
    if historical:
        scenarios += historical_scenarios(symbols, bases=bases)
        for episode, missing in episode_coverage(symbols, bases=bases).items():
            if missing:
                notes.append(f"historical: {episode} skipped (no shipped bars for {', '.join(missing)})")
    report = run_stress(loaded, scenarios)
    grid = None
    if grid_pair is not None:
        with progress_steps(len(moves) ** 2, f"grid {grid_pair[0]} x {grid_pair[1]}") as advance:
            grid = stress_grid(loaded, *grid_pair, moves, on_scenario=advance, field="--grid")
    return report, grid, notes + list(report.notes)


def stress(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio TOML file.", show_default=False)],
    venue: Annotated[str | None, typer.Option("--venue", help="Venue rules to apply (overrides the file).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    grid: Annotated[
        str | None, typer.Option("--grid", help="Two symbols to move over a 2-D grid, e.g. BTCUSDT,ETHUSDT.")
    ] = None,
    step: Annotated[float, typer.Option("--step", help="Grid step (fraction: 0.05 = 5 %).")] = 0.05,
    extent: Annotated[float, typer.Option("--range", help="Grid range each side of 0 (fraction, < 1).")] = 0.3,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the grid heat map as HTML here.")] = None,
    historical: Annotated[
        bool, typer.Option("--historical/--no-historical", help="Include the shipped crash episodes.")
    ] = True,
) -> None:
    """Shock today's marks (venue grids, correlation breaks, crash episodes): the book as given, then all cross
    and all isolated.
    """
    from crossmargin.risk.stress import grid_moves  # noqa: PLC0415 - see the module docstring

    try:
        loaded = load_portfolio(portfolio, venue=venue)
        moves = grid_moves(extent, step, extent_field="--range", step_field="--step")
        grid_pair = _grid_symbols(grid, loaded) if grid is not None or plot is not None else None
        report, grid_result, notes = _run(loaded, historical=historical, grid_pair=grid_pair, moves=moves)
    except CrossmarginError as error:
        raise fail(error, str(portfolio)) from None
    plot_notes: list[str] = []
    if plot is not None and grid_result is not None:
        from crossmargin.report.plot import save_figure  # noqa: PLC0415 - plotly: this option only
        from crossmargin.report.stress_figure import grid_figure  # noqa: PLC0415

        plot_notes = save_figure(grid_figure(grid_result), plot)
    if as_json:
        payload: dict[str, Any] = {"portfolio": str(portfolio), **report.to_json()}
        payload["notes"] = notes
        payload["grid"] = None if grid_result is None else grid_result.to_json()
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    now = report.rows[0].equity_before if report.rows else loaded.account.wallet_balance
    print_whole(scenario_table(report, f"Stress: {portfolio.name} on {report.venue} (equity now {format_money(now)})"))
    if grid_result is not None:
        print_whole(grid_table(grid_result))
    for note in (*notes, *plot_notes):
        print(f"note: {note}", file=sys.stderr)
    if plot is not None:
        print(f"figure: {plot}")


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


def _odds_percent(value: float, digits: int = 2) -> str:
    return format_percent(value, digits, infinite="--")


def _hours(value: float) -> str:
    return f"{value:.4g} h" if value < 48 else f"{value / 24:.3g} d"


_Portfolio = Annotated[Path, typer.Argument(help="Portfolio TOML file.", show_default=False)]
_Horizon = Annotated[str, typer.Option("--horizon", help="Horizon: 24h, 7d, 90m.")]
_Venue = Annotated[str | None, typer.Option("--venue", help="Venue rules to apply (overrides the file).")]
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
    from crossmargin.risk.montecarlo import BATCH_PATHS, plan_paths, run_plan  # noqa: PLC0415

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
        distributed = dask or scheduler is not None
        if distributed:
            from crossmargin.distributed import chunk_batches  # noqa: PLC0415 - optional

            if chunks < 1 or chunks > paths:
                raise InputError("--chunks", chunks, f"1 .. --paths ({paths})")
            tasks = len(chunk_batches(paths, chunks))
        plan = plan_paths(  # refuses bad input and missing history before any path is drawn or a cluster starts
            loaded,
            horizon_hours=hours,
            paths=paths,
            model=model,
            seed=seed,
            steps_per_hour=per_hour,
            funding=funding,
        )
        if distributed:
            from crossmargin.distributed import client_for, montecarlo_planned  # noqa: PLC0415 - optional

            with client_for(scheduler) as client:
                result = montecarlo_planned(plan, chunks=chunks, client=client)
        else:
            result = run_plan(plan)
    except CrossmarginError as error:
        raise fail(error, str(portfolio)) from None
    if as_json:
        print(json.dumps(jsonable(dataclasses.asdict(result)), indent=2, allow_nan=False))
        return
    print_whole(_odds_table(result, portfolio.name))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if 0 < tasks < chunks:
        print(
            f"note: --chunks {chunks}: the paths are drawn in {tasks} batch(es) of up to {BATCH_PATHS:,}, so they "
            f"ran as {tasks} Dask task(s); the figures do not depend on the split",
            file=sys.stderr,
        )


def _odds_table(result: MCResult, name: str) -> Table:
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

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
            _odds_percent(odds.probability, 3),
            f"{_odds_percent(odds.ci_low, 3)} .. {_odds_percent(odds.ci_high, 3)}",
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
        raise fail(error, str(portfolio)) from None
    if as_json:
        payload = {
            "venue": loaded.rules.name,
            "max_liq_prob": probability,
            "horizon_hours": hours,
            "sigma_source": sigma,
            "paths": paths if monte_carlo else 0,
            "seed": seed,
            "steps_per_hour": per_hour,
            "rows": jsonable(frame.to_dict(orient="records")),
        }
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    print_whole(_leverage_table(frame, probability, hours, portfolio.name, loaded.rules.name))
    for note in frame.loc[frame["note"] != "", ["symbol", "note"]].itertuples(index=False):
        print(f"note: {note.symbol}: {note.note}", file=sys.stderr)
    for line in dict.fromkeys(text for text in frame["returns"] if text):
        print(f"note: {line}", file=sys.stderr)


def _leverage_table(frame: pd.DataFrame, probability: float, hours: float, name: str, venue: str) -> Table:
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

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
            _odds_percent(row["sigma_annual"], 1),
            _odds_percent(row["mm_rate"], 3),
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
            else f"{_odds_percent(row['mc_probability'], 2)} [{_odds_percent(row['mc_ci_low'], 2)} .. "
            f"{_odds_percent(row['mc_ci_high'], 2)}]",
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``stress``, ``montecarlo`` and ``leverage`` to ``app``."""
    app.command("stress")(stress)
    app.command("montecarlo")(montecarlo)
    app.command("leverage")(leverage)
