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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import (
    add_columns,
    compact_table,
    danger,
    fail,
    format_money,
    format_percent,
    jsonable,
    label,
    leverage_level,
    loss_level,
    print_whole,
    probability_cell,
    progress_steps,
    risk_ratio_cell,
)
from crossmargin.errors import CrossmarginError, InputError, suggest
from crossmargin.portfolio import Portfolio, load_portfolio
from crossmargin.risk.thresholds import LEVERAGE_WARN_SHARE, LIQ_PROB_TARGET, STRESS_LOSS_FAIL, STRESS_LOSS_WARN

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    from crossmargin.risk.montecarlo import MCResult
    from crossmargin.risk.stress import StressGrid, StressReport, StressRow

__all__ = [
    "LEVERAGE_WIDE_ONLY",
    "MAX_CLI_PATHS",
    "MONTECARLO_WIDE_ONLY",
    "MOVE_COLUMNS",
    "PORTFOLIO_MARGIN_WIDE_ONLY",
    "STRESS_WIDE_PARTS",
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


#: Above this many symbols ``stress --wide`` shows one 'moves' column (the range) instead of one per symbol.
MOVE_COLUMNS = 5
#: Column-heading names of the stress modes with ``--wide`` (the caption says which are what-ifs).
_SHORT = {"as_given": "as given", "cross": "cross", "isolated": "isolated"}
#: Column headings of the stress modes by default: one column a mode.
_HEADS = {"as_given": "as given", "cross": "all cross", "isolated": "all isolated"}
#: Grid letters, one per mode in order, and their colours: as given, what if all cross, what if all isolated.
_LETTERS = (("as_given", "A", "bold red"), ("cross", "C", "red"), ("isolated", "I", "yellow"))


def _move(value: float) -> str:
    return f"{value * 100:+.1f}%"


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


def _position_label(key: str, bases: Mapping[str, str] | None = None) -> str:
    """Return a stress row's position key as words: 'ETHUSDT:short' -> 'ETHUSDT short' ('ETH short' by ``bases``)."""
    symbol, _, side = key.partition(":")
    name = bases.get(symbol, symbol) if bases else symbol
    return f"{name} {side}" if side else name


def _liquidated_words(row: StressRow, bases: Mapping[str, str] | None = None, most: int | None = None) -> str:
    """Return the positions ``row`` liquidates: 'all', their names (more than ``most``: how many), or ''."""
    if row.account_liquidated:
        return "all"
    if most is not None and len(row.liquidated) > most:
        return f"{len(row.liquidated)} positions"
    return ", ".join(_position_label(key, bases) for key in row.liquidated)


def _left_level(row: StressRow) -> int:
    """Return the danger level of a stress row: red when the account is gone or the loss fails the checklist's
    level, yellow when a position is liquidated or the loss warns."""
    if row.account_liquidated:
        return 2
    return max(loss_level(row.total_loss, row.equity_before), 1 if row.liquidated else 0)


#: What ``stress --wide`` adds: each symbol's move and, for each mode, its ratio, liquidated positions and equity
#: left apart (by default one cell a mode holds the equity left and, in brackets, what is liquidated).
STRESS_WIDE_PARTS = ("ratio", "liquidated", "equity left")


def scenario_table(
    report: StressReport, title: str, *, bases: Mapping[str, str] | None = None, wide: bool = False
) -> Table:
    """Return the scenarios x modes table of a stress report: as given, then the cross and isolated what-ifs.

    Money in the settle currency, ratios as percentages (100 % = liquidation). By default one column a mode:
    the equity left, with the liquidated positions in brackets (named by ``bases``, symbol -> base asset, when
    given; more than two: how many). ``wide``: each symbol's move, then each mode's ratio, liquidated positions
    and equity left in columns of their own. Cells are red or yellow where the loss or a liquidation is.
    """
    from crossmargin.risk.stress import MODE_LABELS  # noqa: PLC0415 - see the module docstring

    if bases is not None and len(set(bases.values())) < len(bases):
        bases = None  # two symbols on one base (BTCUSDT and BTCUSDC): the symbols tell them apart
    by_mode = {mode: report.results(mode) for mode in report.modes}
    per_symbol = len(report.symbols) <= MOVE_COLUMNS
    rows: list[dict[str, str | Text]] = []
    for index, scenario in enumerate(report.scenarios):
        moves = [scenario.move(symbol) for symbol in report.symbols]
        first = by_mode[report.modes[0]][index]
        row: dict[str, str | Text] = {"scenario": scenario.name}
        if wide and per_symbol:
            row |= {symbol: _move(m) for symbol, m in zip(report.symbols, moves, strict=True)}
        elif wide:
            row["moves"] = f"{_move(min(moves))} .. {_move(max(moves))}"
        after_level = loss_level(first.equity_before - first.equity_after, first.equity_before)
        row["equity after"] = danger(format_money(first.equity_after), after_level)
        for mode in report.modes:
            result = by_mode[mode][index]
            level = _left_level(result)
            if wide:
                name = _SHORT[mode]
                row[f"{name}: ratio"] = risk_ratio_cell(result.margin_ratio, 1)
                row[f"{name}: liquidated"] = danger(_liquidated_words(result) or "--", 2 if result.liquidated else 0)
                row[f"{name}: equity left"] = danger(format_money(result.equity_left), level)
            else:
                gone = _liquidated_words(result, bases, most=2)
                row[_HEADS[mode]] = danger(format_money(result.equity_left) + (f" ({gone})" if gone else ""), level)
        rows.append(row)
    table = compact_table(title)
    add_columns(table, rows, left=("scenario", *(f"{_SHORT[m]}: liquidated" for m in report.modes)))
    names = _SHORT if wide else _HEADS
    what_ifs = (
        f"as given = each position in its file's mode; {names['cross']} / {names['isolated']} = "
        f"{MODE_LABELS['cross']} / {MODE_LABELS['isolated']} (a position already isolated keeps its margin)"
    )
    columns = (
        "ratio = highest pool requirement / margin balance (liquidation at 100 %); equity left = what the account "
        "keeps after the venue liquidates every breaching pool."
        if wide
        else "Each mode's cell: the equity the account keeps after the venue liquidates every breaching pool, with "
        "the positions liquidated in brackets (all: the whole account). --wide: each symbol's move and each "
        "mode's margin ratio."
    )
    table.caption = (
        f"Moves applied to today's marks at once. {what_ifs}. equity after = margin balance at the new marks "
        f"(the same in every mode). {columns} Red: the account is liquidated or loses "
        f"{format_percent(STRESS_LOSS_FAIL, 0)} of its equity; yellow: a position is liquidated or "
        f"{format_percent(STRESS_LOSS_WARN, 0)} is lost. Money in {report.settle}."
    )
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


#: Columns of the portfolio margin table shown only with ``--wide`` (``check --margin portfolio --wide``).
PORTFOLIO_MARGIN_WIDE_ONLY = frozenset({"symbols", "min charge"})


def portfolio_margin_table(portfolio: Portfolio, *, wide: bool = False) -> Table:
    """Return the scenario (portfolio) margin of the book by risk unit, with cross and isolated beside it.

    Figures from ``risk.portfolio_margin.portfolio_margin`` and ``margin_comparison`` (quote currency); the
    ``PORTFOLIO_MARGIN_WIDE_ONLY`` columns only with ``wide``.
    """
    from crossmargin.risk.portfolio_margin import load_pm_params, margin_comparison, portfolio_margin  # noqa: PLC0415

    params = load_pm_params()
    result = portfolio_margin(portfolio.account, portfolio.marks, portfolio.rules)
    comparison = margin_comparison(portfolio)
    settle = portfolio.rules.settle
    columns = ("risk unit", "symbols", "net notional", "spot shock", "extreme move", "min charge", "MM", "IM")
    rows: list[dict[str, str | Text]] = [
        {
            "risk unit": base,
            "symbols": ", ".join(unit["symbols"]),
            "net notional": format_money(unit["net_notional"]),
            "spot shock": f"{format_money(unit['spot_shock'])} @ {_move(unit['spot_shock_move'])}",
            "extreme move": f"{format_money(unit['extreme_move'])} @ {_move(unit['extreme_move_shock'])}",
            "min charge": format_money(unit["minimum_charge"]),
            "MM": format_money(unit["maintenance"]),
            "IM": format_money(unit["initial"]),
        }
        for base, unit in result.by_underlying.items()
    ]

    def summary(name: str, mm: float | None, im: float | None) -> dict[str, str | Text]:
        blank: dict[str, str | Text] = dict.fromkeys(columns, "")
        return blank | {"risk unit": name, "MM": format_money(mm), "IM": "" if im is None else format_money(im)}

    book = [
        summary("units summed (OKX)", result.units_summed, params.im_multiple * result.units_summed),
        summary("all underlyings together", result.correlated, None),
        summary(f"book (weighted {params.correlated_weight:g})", result.mm, result.im),
    ]
    names = {"cross": "cross (venue)", "isolated": "isolated (venue)", "portfolio, positions alone": "positions alone"}
    venue = [
        summary(
            shown,
            float(comparison.loc[mode, "maintenance_margin"]),
            float(comparison.loc[mode, "initial_margin"]),
        )
        for mode, shown in names.items()
    ]
    table = compact_table(f"Portfolio margin (OKX-style scenarios, perpetuals; {settle})")
    hidden = () if wide else PORTFOLIO_MARGIN_WIDE_ONLY
    shown = [c for c in columns if c not in hidden]
    for column in shown:
        table.add_column(column, justify="left" if column in ("risk unit", "symbols") else "right", no_wrap=True)
    for group in (rows, book, venue):
        for row in group:
            table.add_row(*(row[c] for c in shown))
        if group is not venue:
            table.add_section()
    credit = float(comparison.loc["portfolio", "hedge_credit"])
    uncertain = ", ".join(label(name) for name in params.uncertain) or "none"
    caption = (
        f"Hedge credit (positions alone - book): {format_money(credit)}. Spot shock: worst of the 7-point MR1 grid; "
        f"extreme move weighted {params.extreme_move_weight:g}; IM = {params.im_multiple:g} x MM. book = "
        f"{params.correlated_weight:g} x all underlyings together + {1 - params.correlated_weight:g} x units summed. "
        "positions alone: the scenario margin of each position by itself, summed. Parameters: "
        "crossmargin/risk/data/pm_okx.json "
        f"(sources and dates inside); uncertain: {uncertain}."
    )
    if "note" in comparison.columns:
        notes = [str(note) for note in comparison["note"] if isinstance(note, str) and note]
        caption += "".join(f" {note}." for note in notes)
    table.caption = caption
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
    wide: Annotated[
        bool,
        typer.Option("--wide", help="Every column: each symbol's move; each mode's ratio, liquidated, equity left."),
    ] = False,
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
    bases = {symbol: loaded.rules.instrument(symbol).base for symbol in report.symbols}
    title = f"Stress: {portfolio.name} on {report.venue} (equity now {format_money(now)})"
    print_whole(scenario_table(report, title, bases=bases, wide=wide))
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
    wide: Annotated[bool, typer.Option("--wide", help="Every column (the paths liquidated).")] = False,
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
    print_whole(_odds_table(result, portfolio.name, wide=wide))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if 0 < tasks < chunks:
        print(
            f"note: --chunks {chunks}: the paths are drawn in {tasks} batch(es) of up to {BATCH_PATHS:,}, so they "
            f"ran as {tasks} Dask task(s); the figures do not depend on the split",
            file=sys.stderr,
        )


#: Columns of the ``montecarlo`` table shown only with ``--wide`` (the rest fit a 100-column terminal).
MONTECARLO_WIDE_ONLY = frozenset({"paths liquidated"})
#: Row labels of the simulated books, in the order shown.
_MC_MODES = {"as given": "as given", "cross": "all cross", "isolated": "all isolated"}


def _odds_table(result: MCResult, name: str, *, wide: bool = False) -> Table:
    """Return the liquidation odds of every simulated pool: the book as given (when it mixes modes) first, then
    all cross and all isolated; a probability red above ``LIQ_PROB_TARGET``, yellow while its interval is."""
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
        + f"; funding {funding}. all cross / all isolated: what if every position were cross / isolated. Red: "
        f"above {format_percent(LIQ_PROB_TARGET, 0)}; yellow: the interval reaches above it."
    )
    order = list(_MC_MODES)
    pools = sorted(result.pools, key=lambda o: order.index(o.mode) if o.mode in order else len(order))
    rows: list[dict[str, str | Text]] = [
        {
            "mode": _MC_MODES.get(odds.mode, label(odds.mode)),
            "pool": odds.pool,
            "P(liquidation)": probability_cell(odds.probability, odds.ci_high, digits=3),
            "95% CI": f"{_odds_percent(odds.ci_low, 3)} .. {_odds_percent(odds.ci_high, 3)}",
            "paths liquidated": f"{odds.liquidated_paths:,}",
            "median time to liq": "--" if odds.median_hours is None else _hours(odds.median_hours),
        }
        for odds in pools
    ]
    table = compact_table(f"Liquidation within {_hours(result.horizon_hours)} ({result.venue} · {name})", caption)
    return add_columns(table, rows, wide_only=MONTECARLO_WIDE_ONLY, wide=wide, left=("mode", "pool"))


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
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column (MMR, venue max, closed form, MC, z-scores).")
    ] = False,
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
    print_whole(_leverage_table(frame, probability, hours, portfolio.name, loaded.rules.name, wide=wide))
    for note in frame.loc[frame["note"] != "", ["symbol", "note"]].itertuples(index=False):
        print(f"note: {note.symbol}: {note.note}", file=sys.stderr)
    for line in dict.fromkeys(text for text in frame["returns"] if text):
        print(f"note: {line}", file=sys.stderr)


#: Columns of the ``leverage`` table shown only with ``--wide``: the steps to the recommendation (the venue's
#: cap, the closed form, the simulation's correction, the z-scores) and the requirement rate.
LEVERAGE_WIDE_ONLY = frozenset({"MMR", "venue max", "closed form", "MC", "z -> eff. z"})


def _leverage_table(
    frame: pd.DataFrame, probability: float, hours: float, name: str, venue: str, *, wide: bool = False
) -> Table:
    """Return the safe leverage of every position and of the cross account: the leverage now red above the
    recommended one (yellow above ``LEVERAGE_WARN_SHARE`` of it), the simulated probability red above the target."""

    def times(value: float) -> str:
        return "--" if not math.isfinite(value) else f"{value:.2f}x"

    def odds(row: dict[str, Any]) -> str | Text:
        if not math.isfinite(row["mc_probability"]):
            return "--"
        interval = f" [{_odds_percent(row['mc_ci_low'], 2)} .. {_odds_percent(row['mc_ci_high'], 2)}]"
        cell = probability_cell(row["mc_probability"], target=probability)
        cell.append(interval)
        return cell

    rows: list[dict[str, str | Text]] = []
    for row in frame.to_dict(orient="records"):
        effective = "--" if not math.isfinite(row["effective_z"]) else f"{row['effective_z']:.2f}"
        rows.append(
            {
                "position": f"{row['symbol']} {row['side']}".strip()
                if row["scope"] == "position"
                else "cross account (gross)",
                "sigma": _odds_percent(row["sigma_annual"], 1),
                "MMR": _odds_percent(row["mm_rate"], 3),
                "margin": format_money(row["margin"]),
                "now": danger(
                    times(row["current_leverage"]),
                    leverage_level(row["current_leverage"], row["recommended_leverage"]),
                ),
                "venue max": times(row["venue_max_leverage"]),
                "closed form": times(row["closed_form_leverage"]),
                "MC": times(row["mc_leverage"]),
                "z -> eff. z": f"{row['z']:.2f} -> {effective}",
                "recommended": times(row["recommended_leverage"]),
                "size": "--" if not math.isfinite(row["recommended_size"]) else f"{row['recommended_size']:g}",
                "P(liq) [95% CI]": odds(row),
            }
        )
    caption = (
        "sigma annualised from the hourly forecast; the account row is gross leverage (all notional / cross margin "
        "balance); size = the position's size at the recommended leverage on its margin; P(liq) is simulated at "
        f"the recommended leverage. Red: now above the recommendation (yellow: above "
        f"{LEVERAGE_WARN_SHARE:.0%} of it), P(liq) above the target."
        + (" MMR = requirement / notional." if wide else " --wide: MMR, the venue's cap and each step.")
    )
    table = compact_table(
        f"Safe leverage: P(liquidation within {_hours(hours)}) <= {probability:.2%} ({venue} · {name})", caption
    )
    return add_columns(table, rows, wide_only=LEVERAGE_WIDE_ONLY, wide=wide, left=("position",))


def register(app: typer.Typer) -> None:
    """Add ``stress``, ``montecarlo`` and ``leverage`` to ``app``."""
    app.command("stress")(stress)
    app.command("montecarlo")(montecarlo)
    app.command("leverage")(leverage)
