"""``crossmargin report``: the Cross Margin Risk Checklist as a PDF (and HTML). A thin face over ``report.checklist``.

``register(app)`` adds the command to a typer app; reportlab, plotly and numba are imported inside it. Every
figure comes from ``build_checklist``; errors are one line on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crossmargin.cli.render import fail
from crossmargin.errors import CrossmarginError
from crossmargin.portfolio import load_portfolio

if TYPE_CHECKING:
    pass

__all__ = ["register", "report"]


def _check_output(path: Path, option: str) -> None:
    """Raise typer.Exit (code 2, one line) unless ``path`` can be written: an existing, writable folder."""
    folder = path.parent if str(path.parent) else Path()
    if path.is_dir():
        raise fail(f"{option} {str(path)!r} is a folder, expected a file path")
    if not folder.is_dir():
        raise fail(f"{option} {str(path)!r}: no such folder {str(folder)!r}")


def report(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio TOML file.", show_default=False)],
    pdf: Annotated[Path, typer.Option("--pdf", help="Write the checklist PDF (A4) here.", show_default=False)],
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML page here.")] = None,
    venue: Annotated[str | None, typer.Option("--venue", help="Override the file's venue.")] = None,
    paths: Annotated[int, typer.Option("--paths", help="Monte Carlo paths (liquidation odds, safe leverage).")] = 5000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Monte Carlo paths.")] = 0,
) -> None:
    """Check a portfolio as given item by item (pass / warn / fail), the all-cross / all-isolated what-ifs
    beside it, and write the Cross Margin Risk Checklist PDF.
    """
    from rich.console import Console  # noqa: PLC0415 - rich: only when a table is printed

    from crossmargin.report.checklist import COLOURS, MARKS, html_page, write_pdf  # noqa: PLC0415
    from crossmargin.risk.checklist import build_checklist  # noqa: PLC0415
    from crossmargin.risk.montecarlo import MAX_PATHS  # noqa: PLC0415

    if not 1 <= paths <= MAX_PATHS:
        raise fail(f"--paths {paths}: expected an integer 1 .. {MAX_PATHS:,}")
    _check_output(pdf, "--pdf")
    if html is not None:
        _check_output(html, "--html")
    try:
        loaded = load_portfolio(portfolio, venue=venue)
        checklist = build_checklist(loaded, paths=paths, seed=seed)
    except CrossmarginError as error:
        raise fail(error) from None
    try:
        write_pdf(checklist, pdf)
        if html is not None:
            html.write_text(html_page(checklist), encoding="utf-8")
    except OSError as error:
        raise fail(error, "cannot write the report") from None
    console = Console()
    for item in checklist.items:
        colour = COLOURS[item.status]
        console.print(f"[bold {colour}]{MARKS[item.status]}[/] {item.title}: {item.figure}", highlight=False)
    console.print(f"[bold {COLOURS[checklist.verdict]}]{checklist.verdict_text()}[/]", highlight=False)
    if checklist.what_ifs:
        console.print("What if (the same positions recast; not part of the verdict):", highlight=False)
        for item in checklist.what_ifs:
            colour = COLOURS[item.status]
            console.print(f"  [{colour}]{MARKS[item.status]}[/] {item.title}: {item.figure}", highlight=False)
    console.print(f"PDF written to {pdf}" + (f", HTML to {html}" if html is not None else ""), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""
    app.command("report")(report)
