"""The one progress bar long work shows: on stderr, only on a terminal (so errors stay one line), gone when done."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

__all__ = ["stderr_progress"]


def stderr_progress(label: str, *, show: bool | None = None) -> Progress:
    """Return a bar labelled ``label`` (steps done of total, time left) on stderr.

    Shown when stderr is a terminal (``show`` None), or as ``show`` says.
    """
    console = Console(stderr=True)
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not (console.is_terminal if show is None else show),
    )
