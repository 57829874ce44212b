"""``crossmargin report`` (``cli.report``): the PDF and HTML written, bad input one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crossmargin.cli.report import register
from tests.fixtures.books import CASE
from tests.fixtures.harness import command_app


def _app() -> typer.Typer:
    return command_app(register)


def test_cli_writes_pdf_and_html(tmp_path: Path) -> None:
    pdf, page = tmp_path / "out.pdf", tmp_path / "out.html"
    result = CliRunner().invoke(_app(), ["report", str(CASE), "--pdf", str(pdf), "--html", str(page), "--paths", "200"])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "<svg" in page.read_text(encoding="utf-8")
    assert "FAIL" in result.output
    verdict = result.output.index("the book as given)")
    assert verdict < result.output.index("What if (the same positions recast; not part of the verdict):")
    assert "Distance to liquidation: ETHUSDT short (what if all isolated)" in result.output[verdict:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.toml", "--pdf", "{tmp}/a.pdf"], "no such file"),
        ([str(CASE), "--pdf", "{tmp}/a.pdf", "--paths", "0"], "--paths"),
        ([str(CASE), "--pdf", "{tmp}/nowhere/a.pdf"], "no such folder"),
        ([str(CASE), "--pdf", "{tmp}"], "is a folder"),
        ([str(CASE), "--pdf", "{tmp}/a.pdf", "--venue", "nosuchvenue"], "venue"),
    ],
)
def test_cli_bad_inputs_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["report", *(a.replace("{tmp}", str(tmp_path)) for a in args)])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
