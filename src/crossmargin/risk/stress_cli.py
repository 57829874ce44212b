"""``crossmargin stress`` and the portfolio-margin table: thin faces over ``risk.stress`` and ``risk.portfolio_margin``.

``register(app)`` adds the command to a typer app; ``portfolio_margin_table(portfolio)`` is the table of
``check --margin portfolio``. Every figure comes from a function the tests also call.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from crossmargin.console import fail as _fail
from crossmargin.console import format_money as _money
from crossmargin.console import print_whole as _print_whole
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.portfolio import Portfolio, load_portfolio
from crossmargin.progress import stderr_progress
from crossmargin.report.plot import save_figure
from crossmargin.risk.portfolio_margin import load_pm_params, margin_comparison, portfolio_margin
from crossmargin.risk.stress import (
    MODE_LABELS,
    StressGrid,
    StressReport,
    StressRow,
    episode_coverage,
    grid_figure,
    grid_moves,
    historical_scenarios,
    hypothetical_scenarios,
    run_stress,
    stress_grid,
)

__all__ = ["portfolio_margin_table", "register", "stress"]

#: Above this many symbols the scenario table shows one 'moves' column instead of one per symbol.
MOVE_COLUMNS = 5
#: Column-heading names of the stress modes (the caption says which are what-ifs).
_SHORT = {"as_given": "as given", "cross": "cross", "isolated": "isolated"}
#: Grid letters, one per mode in order, and their colours: as given, what if all cross, what if all isolated.
_LETTERS = (("as_given", "A", "bold red"), ("cross", "C", "red"), ("isolated", "I", "yellow"))


def _percent(value: float) -> str:
    if math.isnan(value):
        return "--"
    return "inf" if math.isinf(value) else f"{value * 100:.1f}%"


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


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """Yield a callback that advances a progress bar on stderr; the bar shows only on a terminal."""
    with stderr_progress(label) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def scenario_table(report: StressReport, title: str) -> Table:
    """Return the scenarios x modes table of a stress report: as given, then the cross and isolated what-ifs.

    Money in the settle currency, ratios as percentages (100 % = liquidation).
    """
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
        row = [scenario.name, *cells, _money(first.equity_after)]
        for mode in report.modes:
            result = by_mode[mode][index]
            row += [_percent(result.margin_ratio), _liquidated(result), _money(result.equity_left)]
        table.add_row(*row)
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
            _money(unit["net_notional"]),
            f"{_money(unit['spot_shock'])} @ {_move(unit['spot_shock_move'])}",
            f"{_money(unit['extreme_move'])} @ {_move(unit['extreme_move_shock'])}",
            _money(unit["minimum_charge"]),
            _money(unit["maintenance"]),
            _money(unit["initial"]),
        )
    table.add_section()
    blank = ("", "", "", "", "")
    table.add_row(
        "units summed (OKX)", *blank, _money(result.units_summed), _money(params.im_multiple * result.units_summed)
    )
    table.add_row("all underlyings together", *blank, _money(result.correlated), "")
    table.add_row(
        f"book (correlated weight {params.correlated_weight:g})", *blank, _money(result.mm), _money(result.im)
    )
    table.add_section()
    for mode in ("cross", "isolated", "portfolio, positions alone"):
        figures = comparison.loc[mode]
        table.add_row(
            f"{mode} (venue)" if mode in ("cross", "isolated") else mode,
            *blank,
            _money(float(figures["maintenance_margin"])),
            _money(float(figures["initial_margin"])),
        )
    credit = float(comparison.loc["portfolio", "hedge_credit"])
    uncertain = ", ".join(params.uncertain) or "none"
    table.caption = (
        f"Hedge credit (positions alone - book): {_money(credit)}. Spot shock: worst of the 7-point MR1 grid; "
        f"extreme move weighted {params.extreme_move_weight:g}; IM = {params.im_multiple:g} x MM. Parameters: "
        f"crossmargin/risk/data/pm_okx.json (sources and dates inside); uncertain: {uncertain}."
    )
    table.caption_justify = "left"
    return table


def _run(
    loaded: Portfolio, *, historical: bool, grid_pair: tuple[str, str] | None, moves: Sequence[float]
) -> tuple[StressReport, StressGrid | None, list[str]]:
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
        with _progress(len(moves) ** 2, f"grid {grid_pair[0]} x {grid_pair[1]}") as advance:
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
    try:
        loaded = load_portfolio(portfolio, venue=venue)
        moves = grid_moves(extent, step, extent_field="--range", step_field="--step")
        grid_pair = _grid_symbols(grid, loaded) if grid is not None or plot is not None else None
        report, grid_result, notes = _run(loaded, historical=historical, grid_pair=grid_pair, moves=moves)
    except CrossmarginError as error:
        raise _fail(error, str(portfolio)) from None
    plot_notes: list[str] = []
    if plot is not None and grid_result is not None:
        plot_notes = save_figure(grid_figure(grid_result), plot)
    if as_json:
        payload: dict[str, Any] = {"portfolio": str(portfolio), **report.to_json()}
        payload["notes"] = notes
        payload["grid"] = None if grid_result is None else grid_result.to_json()
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    now = report.rows[0].equity_before if report.rows else loaded.account.wallet_balance
    _print_whole(scenario_table(report, f"Stress: {portfolio.name} on {report.venue} (equity now {_money(now)})"))
    if grid_result is not None:
        _print_whole(grid_table(grid_result))
    for note in (*notes, *plot_notes):
        print(f"note: {note}", file=sys.stderr)
    if plot is not None:
        print(f"figure: {plot}")


def register(app: typer.Typer) -> None:
    """Add the ``stress`` command to ``app``."""
    app.command("stress")(stress)
