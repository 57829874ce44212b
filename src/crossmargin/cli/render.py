"""How every command renders: tables printed uncut, money / percent / price formats, the progress bar and
the one error path (``fail``: one line on stderr, exit code 2).

The pure formats live in :mod:`crossmargin.console` (reports use them too); this module adds the terminal.
rich is imported only when something is printed, so that ``check --json`` does not load it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from crossmargin.console import format_money, format_percent, format_price, jsonable

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table

__all__ = [
    "fail",
    "format_money",
    "format_percent",
    "format_price",
    "jsonable",
    "print_whole",
    "progress_callback",
    "progress_steps",
    "stderr_progress",
]


def fail(error: Exception | str, context: str = "") -> typer.Exit:
    """Print ``error: [context: ]message`` as ONE line on stderr and return the exit (code 2) to raise."""
    prefix = f"{context}: " if context else ""
    print(f"error: {prefix}{' '.join(str(error).split())}", file=sys.stderr)
    return typer.Exit(code=2)


def print_whole(table: Table) -> None:
    """Print ``table`` at its natural width even where the terminal is narrower: a figure is never cut."""
    from rich.console import Console  # noqa: PLC0415 - rich: only when a table is printed
    from rich.measure import Measurement  # noqa: PLC0415

    console = Console()
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if needed > console.width:
        console = Console(width=needed)
    console.print(table)


def stderr_progress(label: str, *, show: bool | None = None) -> Progress:
    """Return the one progress bar of long work (``crossmargin.progress.stderr_progress``): on stderr, only on a
    terminal unless ``show`` says otherwise, gone when done. rich's progress is imported only here.
    """
    from crossmargin.progress import stderr_progress as bar  # noqa: PLC0415 - only long work shows a bar

    return bar(label, show=show)


@contextmanager
def progress_steps(total: int, label: str) -> Iterator[Callable[[], None]]:
    """Yield a callback that advances the bar one step of ``total``; the bar shows only on a terminal."""
    with stderr_progress(label) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


@contextmanager
def progress_callback(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """Yield a ``progress(done, total)`` callback drawing the bar on stderr, or None when stderr is no terminal."""
    with stderr_progress(label) as progress:
        if progress.disable:
            yield None
            return
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance
