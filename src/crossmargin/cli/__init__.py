"""The ``crossmargin`` command line: one module per command group, each with ``register(app)``.

Thin: parse, call, render (``cli.render``); every figure comes from a function the tests also call. A command
imports its engine (pandas, numba, SQLAlchemy, ccxt, FastAPI, Dask, reportlab, ...) inside its function, so
that ``crossmargin check`` and ``--help`` start as fast as the margin arithmetic allows.

Typer turns every registered function into a click command (reading its signature and annotations) each time
the program starts, about 4 ms per command. ``main`` therefore builds the app with only the command named on
the command line (``build_app("check")``); ``--help``, a typo, shell completion and the module attribute
``app`` get all of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import import_module
from typing import Annotated

import typer

from crossmargin.venues.tables import enable_staleness_warnings

__all__ = ["COMMANDS", "app", "build_app", "main"]

#: Each top-level command or group name -> the module under ``crossmargin.cli`` whose ``register(app)`` adds it,
#: in the order ``--help`` lists them.
COMMANDS: dict[str, str] = {
    "check": "check",
    "backtest": "backtest",
    "monitor": "monitor",
    "stress": "risk",
    "montecarlo": "risk",
    "leverage": "risk",
    "forecast": "forecast",
    "validate": "forecast",
    "report": "report",
    "serve": "serve",
    "sweep": "sweep",
    "accounts": "accounts",
    "venues": "venues",
    "brackets": "venues",
    "data": "data",
}


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version  # noqa: PLC0415 - only --version reads the package metadata

        print(f"crossmargin {version('crossmargin')}")
        raise typer.Exit


def _root(
    show_version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=_print_version),
    ] = False,
) -> None:
    """crossmargin: exact venue margin, liquidation prices, cross vs isolated side by side."""


def build_app(only: str | None = None) -> typer.Typer:
    """Return the command line app holding every command, or only the one named ``only`` (a key of ``COMMANDS``,
    with the others of its module). The root callback keeps each command under its name either way."""
    built = typer.Typer(
        add_completion=True,
        no_args_is_help=True,
        help="See what cross and isolated margin do to a perpetual-futures account.",
    )
    built.callback()(_root)
    modules = [COMMANDS[only]] if only in COMMANDS else list(dict.fromkeys(COMMANDS.values()))
    for name in modules:
        register: Callable[[typer.Typer], None] = import_module(f"crossmargin.cli.{name}").register
        register(built)
    return built


def _named_command(argv: list[str]) -> str | None:
    """Return the command named by ``argv`` (the first word that is not an option), or None where the whole app
    is needed: no command, an unknown word, or shell completion at work (``_CROSSMARGIN_COMPLETE`` set)."""
    if "_CROSSMARGIN_COMPLETE" in os.environ:
        return None
    word = next((arg for arg in argv if not arg.startswith("-")), None)
    return word if word in COMMANDS else None


def __getattr__(name: str) -> typer.Typer:
    """``crossmargin.cli.app``: the whole app, built on first use."""
    if name == "app":
        whole = build_app()
        globals()["app"] = whole
        return whole
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI (the ``crossmargin`` console script), building only the command asked for."""
    enable_staleness_warnings()
    build_app(_named_command(sys.argv[1:]))(prog_name="crossmargin")
