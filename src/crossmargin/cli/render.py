"""How every command renders: tables printed uncut, money / percent / price formats, danger in colour, the
progress bar and the one error path (``fail``: one line on stderr, exit code 2).

The pure formats live in :mod:`crossmargin.console` (reports use them too); this module adds the terminal.
rich is imported only when something is printed, so that ``check --json`` does not load it.

The house style of human output: a table fits a 100-column terminal by default (the columns a reader can do
without are listed in the command's ``WIDE_ONLY`` and shown with ``--wide``); a figure is never cut
(``print_whole``); a dangerous figure is red (failing) or yellow (warning) by the levels of
:mod:`crossmargin.risk.thresholds`, where the terminal has colour (none when piped, colour with FORCE_COLOR);
labels are words ('as given', 'margin ratio'), never identifiers, and no figure prints as inf or nan.
"""

from __future__ import annotations

import math
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from crossmargin.console import format_money, format_percent, format_price, jsonable
from crossmargin.risk.thresholds import (
    DISTANCE_FAIL,
    DISTANCE_WARN,
    LEVERAGE_WARN_SHARE,
    LIQ_PROB_TARGET,
    MARGIN_RATIO_FAIL,
    MARGIN_RATIO_WARN,
    STRESS_LOSS_FAIL,
    STRESS_LOSS_WARN,
)

if TYPE_CHECKING:
    from rich.progress import Progress
    from rich.table import Table
    from rich.text import Text

    from crossmargin.venues.base import VenueRules

__all__ = [
    "add_columns",
    "compact_table",
    "danger",
    "distance_cell",
    "fail",
    "format_money",
    "format_percent",
    "format_price",
    "jsonable",
    "label",
    "level_above",
    "leverage_level",
    "loss_level",
    "print_whole",
    "print_wrapped",
    "probability_cell",
    "progress_callback",
    "progress_steps",
    "ratio_cell",
    "risk_ratio_cell",
    "stderr_progress",
]

#: Styles of the danger levels: 0 plain, 1 warning, 2 failing.
_STYLES = ("", "yellow", "bold red")


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


def print_wrapped(text: str, indent: int = 2) -> None:
    """Print ``text`` wrapped at words to the terminal's width (80 off a terminal, or $COLUMNS), the lines after
    the first indented by ``indent`` spaces; a word longer than a line is kept whole."""
    from rich.console import Console  # noqa: PLC0415 - rich: only when something is printed

    width = max(Console().width, 20)
    print(textwrap.fill(text, width, subsequent_indent=" " * indent, break_long_words=False, break_on_hyphens=False))


def compact_table(title: str, caption: str | None = None) -> Table:
    """Return an empty table in the compact house style: a rule under the headings, no vertical borders, one
    space of padding between columns, title and caption left-justified; at least as wide as its title (up to
    100 columns), so that a short table does not fold its title."""
    from rich import box  # noqa: PLC0415 - rich: only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    return Table(
        title=title,
        title_justify="left",
        caption=caption,
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        min_width=min(len(title), 100),
    )


def add_columns(
    table: Table,
    rows: Sequence[Mapping[str, str | Text]],
    *,
    columns: Iterable[str] | None = None,
    wide_only: Iterable[str] = (),
    wide: bool = False,
    left: Iterable[str] = (),
) -> Table:
    """Add ``rows`` (column heading -> cell) to ``table``, leaving out the ``wide_only`` columns unless ``wide``.

    The columns are ``columns`` (default: the keys of the first row), in that order; those in ``left`` are
    left-justified, the others (figures) right-justified; no column wraps, so that no figure is ever split.
    """
    hidden = set() if wide else set(wide_only)
    named = list(columns) if columns is not None else (list(rows[0]) if rows else [])
    shown = [c for c in named if c not in hidden]
    at_left = set(left)
    for column in shown:
        table.add_column(column, justify="left" if column in at_left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(row[c] for c in shown))
    return table


def label(name: str) -> str:
    """Return an identifier as words: 'margin_ratio' -> 'margin ratio', 'stop_refused' -> 'stop refused'."""
    return " ".join(name.replace("_", " ").split())


def danger(text: str, level: int) -> Text:
    """Return ``text`` red (level 2), yellow (1) or plain (0): colour only where the terminal has it."""
    from rich.text import Text  # noqa: PLC0415 - rich: only when a table is printed

    return Text(text, style=_STYLES[max(0, min(level, 2))])


def level_above(value: float | None, warn: float, fail: float) -> int:
    """Return 2 where ``value`` is at or above ``fail``, 1 at or above ``warn``, else 0 (None and NaN: 0)."""
    if value is None or math.isnan(value):
        return 0
    return 2 if value >= fail else 1 if value >= warn else 0


def distance_cell(distance: float | None) -> Text:
    """Return a distance to liquidation (fraction of the mark) as a percentage: red below ``DISTANCE_FAIL``
    (or past liquidation), yellow below ``DISTANCE_WARN``; '--' (plain) where there is none."""
    level = 0 if distance is None else 2 if distance < DISTANCE_FAIL else 1 if distance < DISTANCE_WARN else 0
    return danger(format_percent(distance), level)


def risk_ratio_cell(view: float, digits: int = 2) -> Text:
    """Return a ratio already in risk view (requirement / margin balance, 1 = liquidation) as a percentage,
    coloured against the checklist's ``MARGIN_RATIO_WARN`` / ``MARGIN_RATIO_FAIL``; infinite: 'bankrupt', red."""
    return danger(format_percent(view, digits), level_above(view, MARGIN_RATIO_WARN, MARGIN_RATIO_FAIL))


def ratio_cell(ratio: float, rules: VenueRules, digits: int = 2) -> Text:
    """Return a pool ratio as the venue shows it (a percentage), coloured by its risk view against the checklist's
    levels: an OKX health ratio of 120 % is a risk ratio of 83 %, red."""
    from crossmargin.margin.pools import risk_view  # noqa: PLC0415 - the margin arithmetic: only for a table

    seen = risk_view(rules, ratio)
    return danger(format_percent(ratio, digits), level_above(seen, MARGIN_RATIO_WARN, MARGIN_RATIO_FAIL))


def loss_level(loss: float, before: float) -> int:
    """Return the danger level of losing ``loss`` of ``before`` (quote currency): the share of collateral lost
    against ``STRESS_LOSS_WARN`` / ``STRESS_LOSS_FAIL``; any loss of an account with no equity fails."""
    if loss <= 0:
        return 0
    share = loss / before if before > 0 else math.inf
    return level_above(share, STRESS_LOSS_WARN, STRESS_LOSS_FAIL)


def leverage_level(current: float, safe: float) -> int:
    """Return 2 where leverage ``current`` (x) is above the ``safe`` one, 1 above ``LEVERAGE_WARN_SHARE`` of it,
    else 0 (the checklist's levels); 0 where either is not finite."""
    if not (math.isfinite(current) and math.isfinite(safe)):
        return 0
    return 2 if current > safe else 1 if current > LEVERAGE_WARN_SHARE * safe else 0


def probability_cell(
    probability: float, ci_high: float | None = None, target: float = LIQ_PROB_TARGET, digits: int = 2
) -> Text:
    """Return a liquidation probability (fraction) as a percentage: red above ``target``, yellow where only the
    upper end ``ci_high`` of its interval is (the checklist's rule); not finite: '--', plain."""
    if not math.isfinite(probability):
        return danger("--", 0)
    level = 2 if probability > target else 1 if ci_high is not None and ci_high > target else 0
    return danger(format_percent(probability, digits), level)


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
