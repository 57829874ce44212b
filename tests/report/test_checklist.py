"""``report.checklist``: the HTML page, the PDF and the charts show the verdicts of ``risk.checklist``."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from crossmargin.report.checklist import html_page, liquidation_drawing, write_pdf
from crossmargin.risk.checklist import Checklist, build_checklist
from tests.fixtures.books import BEYOND, copy_case


def test_html_is_self_contained(checklist: Checklist) -> None:
    page = html_page(checklist)
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert "2,515.52" in page
    assert "<script" not in page
    assert "http://" not in page.replace("http://www.w3.org", "")


def test_pdf_written_with_figures(checklist: Checklist, tmp_path: Path) -> None:
    out = tmp_path / "checklist.pdf"
    write_pdf(checklist, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type /Page\b(?!s)", data)) >= 2  # page objects, not the /Pages tree


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="pdftotext/pdftoppm (poppler-utils) not installed: text and rendering of the PDF not checked",
)
def test_pdf_text_and_render(checklist: Checklist, tmp_path: Path) -> None:
    out = tmp_path / "checklist.pdf"
    write_pdf(checklist, out)
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True, text=True).stdout
    assert "Cross Margin Risk Checklist" in text
    assert "2,515.52" in text  # ETH isolated liquidation price, as format_price prints it
    assert "FAIL" in text
    assert "no stop-loss recorded" in text
    assert text.index("Checklist: the book as given") < text.index("What if: the same positions recast")
    assert text.count("\f") >= 2  # pages
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(out), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) >= 2
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_html_and_drawing_label_the_book_as_given_and_the_what_ifs(mixed_checklist: Checklist) -> None:
    page = html_page(mixed_checklist)
    assert page.index("Checklist: the book as given") < page.index("What if: the same positions recast")
    assert "not part of the verdict" in page
    assert "Advice (the book as given)" in page
    assert "as given (isolated) 2,554.43" in page  # the visual guide's first bar of the ETH short
    for word in ("None", "null", "NaN", "undefined"):
        assert word not in page.replace("font-family:Helvetica,Arial,sans-serif", "")
    texts = [shape.text for shape in liquidation_drawing(mixed_checklist).contents if hasattr(shape, "text")]
    assert "as given (cross): -- (no liquidation price)" in texts  # SOL, carried to zero in cross
    assert any(text.startswith("what if isolated 66.8543") for text in texts)


def test_a_price_beyond_the_last_bracket_shows_its_note(tmp_path: Path) -> None:
    # The book of the risk test: the library gives no SOL price in cross and says why; the chart and page say so.
    result = build_checklist(copy_case(tmp_path / "beyond.toml", *BEYOND), paths=100, seed=0)
    texts = [shape.text for shape in liquidation_drawing(result).contents if hasattr(shape, "text")]
    assert "as given (cross): -- (beyond the last bracket)" in texts
    page = html_page(result)
    assert "-- (beyond the last bracket)" in page
    assert "None" not in page
