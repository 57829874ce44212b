"""``crossmargin sweep``: backtest a grid of parameters, one Dask task per combination.

Thin: read the grid file, open a client (``distributed.client_for``), call ``distributed.sweep``, render.
``register(app)`` adds the command to a typer app. Errors print one line ``error: ...`` on stderr and exit
with code 2.
"""

from __future__ import annotations

import json
import math
import numbers
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import (
    compact_table,
    danger,
    fail,
    format_money,
    format_percent,
    jsonable,
    label,
    level_above,
    print_whole,
    risk_ratio_cell,
)
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.risk.thresholds import STRESS_LOSS_FAIL, STRESS_LOSS_WARN

if TYPE_CHECKING:
    from rich.text import Text

__all__ = [
    "load_grid",
    "register",
    "run_sweep",
]

_SHOWN = ("final_equity", "return_on_collateral", "max_drawdown", "liquidations", "peak_margin_ratio", "fees")
#: Column headings of the ``_SHOWN`` figures.
_HEADINGS = {
    "final_equity": "final equity",
    "return_on_collateral": "return",
    "max_drawdown": "max drawdown",
    "liquidations": "liq.",
    "peak_margin_ratio": "peak ratio",
    "fees": "fees",
}


def load_grid(path: Path) -> dict[str, list[Any]]:
    """Return the ``[grid]`` table of the TOML file ``path`` (key -> list of values).

    Raises InputError for a missing or invalid file, a missing ``[grid]`` table or another top-level key.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InputError("--grid", str(path), "a readable TOML file", detail=error.strerror or str(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise InputError("--grid", str(path), "a valid TOML file", detail=str(error)) from None
    extra = [key for key in document if key != "grid"]
    if extra:
        raise InputError("--grid", extra, "only a [grid] table", detail=f"unknown top-level key {extra[0]!r}")
    grid = document.get("grid")
    if not isinstance(grid, dict):
        raise InputError("--grid", str(path), "a [grid] table such as: leverage = [3, 5, 10]")
    return grid


def _value(value: Any) -> str:
    """Return a grid value as written: a boolean as yes / no, a number by ``g``, a list joined; none: '--'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else "--"
    if isinstance(value, list | tuple):
        return ", ".join(_value(item) for item in value)
    return "--" if value is None else str(value)


def _cell(key: str, value: Any) -> str | Text:
    """Return one sweep cell: the figures as percentages, money and counts, red / yellow where one breaches a
    checklist level (a liquidation, the drawdown, the peak margin ratio); a grid value as written (``_value``)."""
    if key not in _SHOWN or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return _value(value)
    number = float(value)
    cells: dict[str, Callable[[], str | Text]] = {
        "peak_margin_ratio": lambda: risk_ratio_cell(number),
        "max_drawdown": lambda: danger(format_percent(number), level_above(number, STRESS_LOSS_WARN, STRESS_LOSS_FAIL)),
        "return_on_collateral": lambda: format_percent(number),
        "liquidations": lambda: danger(f"{number:g}", 2 if number > 0 else 0),
    }
    return cells.get(key, lambda: format_money(number))()


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to ``app``."""

    @app.command()
    def sweep(
        strategy: Annotated[str, typer.Argument(help="case-study | hedge-pair | basis | scalp | sma-cross")],
        grid: Annotated[Path, typer.Option("--grid", help="TOML file with a [grid] table of lists.")],
        mode: Annotated[str, typer.Option("--mode", help="cross | isolated | both")] = "both",
        scheduler: Annotated[
            str | None, typer.Option("--scheduler", help="Dask scheduler, e.g. tcp://host:8786 (default: local).")
        ] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Local worker processes (default: cores).")] = (
            None
        ),
        timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the scheduler.")] = 10.0,
        venue: Annotated[str, typer.Option("--venue", help="Venue rules (the sample bars are Binance's).")] = "binance",
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead of a table.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Also write the rows as Parquet here.")] = None,
    ) -> None:
        """Backtest every combination of a parameter grid on a Dask cluster (local by default)."""
        run_sweep(
            strategy,
            grid,
            mode=mode,
            scheduler=scheduler,
            workers=workers,
            timeout=timeout,
            venue=venue,
            as_json=as_json,
            out=out,
        )


def run_sweep(
    strategy: str,
    grid: Path,
    *,
    mode: str = "both",
    scheduler: str | None = None,
    workers: int | None = None,
    timeout: float = 10.0,
    venue: str = "binance",
    as_json: bool = False,
    out: Path | None = None,
) -> None:
    """Run the sweep command's work: load the grid, run it on Dask, print the rows (``sweep``, ``backtest --sweep``)."""
    from crossmargin import distributed  # noqa: PLC0415 - dask is slow to import; only this command needs it

    try:
        table = load_grid(grid)
        distributed.grid_points(strategy, table)  # refuse a bad grid before starting a cluster
        if timeout <= 0:
            raise InputError("--timeout", timeout, "seconds > 0")
        with distributed.client_for(scheduler, workers, timeout=timeout) as client:
            frame = distributed.sweep(strategy, table, mode=mode, client=client, venue=venue)
    except CrossmarginError as error:
        raise fail(error) from None
    if out is not None:
        frame.to_parquet(out, index=False)
    if as_json:
        print(json.dumps(jsonable(frame.to_dict(orient="records")), indent=2, default=str))
        return
    columns = [*table, "mode", *_SHOWN]
    view = compact_table(
        f"{strategy} sweep on {venue}: {len(frame)} runs",
        "return = on collateral; max drawdown from the peak; liq. = liquidations; peak ratio = highest margin "
        "ratio (requirement / margin balance, liquidation at 100 %). Money in the quote currency.",
    )
    for column in columns:
        view.add_column(_HEADINGS.get(column, label(column)), justify="left" if column == "mode" else "right")
    for row in frame.to_dict(orient="records"):
        view.add_row(*(_cell(column, row[column]) for column in columns))
    print_whole(view)
    if out is not None:
        print(f"rows: {out}")
