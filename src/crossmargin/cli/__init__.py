"""The ``crossmargin`` command line: one module per command group, each with ``register(app)``.

Thin: parse, call, render (``cli.render``); every figure comes from a function the tests also call. A command
imports its engine (pandas, numba, SQLAlchemy, ccxt, FastAPI, Dask, reportlab, ...) inside its function, so
that ``crossmargin check`` and ``--help`` start as fast as the margin arithmetic allows.
"""

from __future__ import annotations

from typing import Annotated

import typer

from crossmargin.cli.accounts import register as _register_accounts
from crossmargin.cli.backtest import register as _register_backtest
from crossmargin.cli.check import register as _register_check
from crossmargin.cli.data import register as _register_data
from crossmargin.cli.forecast import register as _register_forecast
from crossmargin.cli.monitor import register as _register_monitor
from crossmargin.cli.report import register as _register_report
from crossmargin.cli.risk import register as _register_risk
from crossmargin.cli.serve import register as _register_serve
from crossmargin.cli.sweep import register as _register_sweep
from crossmargin.cli.venues import register as _register_venues
from crossmargin.venues.tables import enable_staleness_warnings

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    help="See what cross and isolated margin do to a perpetual-futures account.",
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415 - only --version reads the package metadata

        print(f"crossmargin {version('crossmargin')}")
        raise typer.Exit


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """crossmargin: exact venue margin, liquidation prices, cross vs isolated side by side."""


for _register in (
    _register_check,
    _register_backtest,
    _register_monitor,
    _register_risk,
    _register_forecast,
    _register_report,
    _register_serve,
    _register_sweep,
    _register_accounts,
    _register_venues,
    _register_data,
):
    _register(app)


def main() -> None:
    """Run the CLI (the ``crossmargin`` console script)."""
    enable_staleness_warnings()
    app()
