"""What the tests share: the repository's paths, the case study, and a local Typer app holding just the
commands under test."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

__all__ = ["CASE_STUDY", "EXAMPLES", "REPO", "command_app"]

#: The repository's root folder.
REPO = Path(__file__).resolve().parents[1]
#: The example portfolios of the README.
EXAMPLES = REPO / "examples"
#: The README's case study: long BTC, short ETH, long SOL at 5x on Binance USDⓈ-M.
CASE_STUDY = EXAMPLES / "case_study.toml"


def command_app(*registers: Callable[[typer.Typer], None]) -> typer.Typer:
    """Return a Typer app with a root callback (so that commands keep their names) and ``registers`` applied."""
    app = typer.Typer(add_completion=False)

    @app.callback()
    def _root() -> None:
        """Local app holding the registered commands."""

    for register in registers:
        register(app)
    return app
