"""The command-line harness the tests share: a local Typer app holding just the commands under test."""

from __future__ import annotations

from collections.abc import Callable

import typer

__all__ = ["command_app"]


def command_app(*registers: Callable[[typer.Typer], None]) -> typer.Typer:
    """Return a Typer app with a root callback (so that commands keep their names) and ``registers`` applied."""
    app = typer.Typer(add_completion=False)

    @app.callback()
    def _root() -> None:
        """Local app holding the registered commands."""

    for register in registers:
        register(app)
    return app
