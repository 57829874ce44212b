"""``report.checklist`` and ``crossmargin report``: every figure held against the library call it comes from."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crossmargin.margin.account import evaluate
from crossmargin.model import Account, Marks, Position, Side
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from crossmargin.report.checklist import (
    DISTANCE_FAIL,
    DISTANCE_WARN,
    MARGIN_RATIO_FAIL,
    MARGIN_RATIO_WARN,
    STRESS_LOSS_FAIL,
    STRESS_LOSS_WARN,
    Checklist,
    Item,
    build_checklist,
    format_price,
    write_pdf,
)
from crossmargin.report.checklist_cli import register
from crossmargin.risk.montecarlo import liquidation_probability
from crossmargin.risk.stress import historical_scenarios, hypothetical_scenarios, run_stress
from crossmargin.sim.scan import risk_view

REPO = Path(__file__).resolve().parents[2]
CASE = REPO / "examples" / "case_study.toml"
PATHS = 400  # small: the tests check agreement with the library, not the odds' precision


@pytest.fixture(scope="module")
def portfolio() -> Portfolio:
    """The case study: long BTC, short ETH, long SOL at 5x on Binance."""
    return load_portfolio(CASE)


@pytest.fixture(scope="module")
def checklist(portfolio: Portfolio) -> Checklist:
    """The case study's checklist on few paths."""
    return build_checklist(portfolio, paths=PATHS, seed=0)


def _item(checklist: Checklist, title: str) -> Item:
    return next(item for item in checklist.items if item.title == title)


def _expected(value: float, warn: float, fail: float) -> str:
    return "fail" if value >= fail else "warn" if value >= warn else "pass"


def test_distances_agree_with_evaluate(portfolio: Portfolio, checklist: Checklist) -> None:
    rules, marks = portfolio.rules, portfolio.marks
    for mode, account in (("cross", all_cross(portfolio.account)), ("isolated", all_isolated(portfolio.account))):
        risk = evaluate(account, marks, rules)
        for position, r in zip(account.positions, risk.positions, strict=True):
            item = _item(checklist, f"Distance to liquidation: {position.symbol} {position.side.label} ({mode})")
            distance = r.distance_to_liquidation
            if distance is None:
                assert item.figure == "no liquidation price"
                assert item.status == "pass"
                continue
            assert item.figure == f"{distance * 100:.1f} % (liq. {format_price(r.liquidation_price)})"
            expected = "fail" if distance < DISTANCE_FAIL else "warn" if distance < DISTANCE_WARN else "pass"
            assert item.status == expected


def test_eth_isolated_fails_with_evaluate_figures(portfolio: Portfolio, checklist: Checklist) -> None:
    risk = evaluate(all_isolated(portfolio.account), portfolio.marks, portfolio.rules)
    eth = risk.positions[1]
    assert eth.distance_to_liquidation is not None
    item = _item(checklist, "Distance to liquidation: ETHUSDT short (isolated)")
    assert item.status == "fail"  # 6.2 % < 10 %
    assert format_price(eth.liquidation_price) == "2,515.52"
    assert "2,515.52" in item.figure
    assert item.advice.startswith("Add ")
    assert [row.isolated for row in checklist.liquidations] == [r.liquidation_price for r in risk.positions]


def test_advised_margin_reaches_the_threshold(portfolio: Portfolio, checklist: Checklist) -> None:
    item = _item(checklist, "Distance to liquidation: ETHUSDT short (isolated)")
    added = float(item.advice.split()[1].replace(",", ""))
    isolated = all_isolated(portfolio.account)
    eth = isolated.positions[1]
    assert eth.isolated_margin is not None
    positions = list(isolated.positions)
    positions[1] = replace(eth, isolated_margin=eth.isolated_margin + added + 0.01)
    changed = replace(isolated, wallet_balance=isolated.wallet_balance + added + 0.01, positions=tuple(positions))
    after = evaluate(changed, portfolio.marks, portfolio.rules).positions[1].distance_to_liquidation
    assert after is not None
    assert DISTANCE_WARN <= after < DISTANCE_WARN + 0.001


def test_margin_ratio_follows_the_library(portfolio: Portfolio, checklist: Checklist) -> None:
    risk = evaluate(all_cross(portfolio.account), portfolio.marks, portfolio.rules)
    view = risk_view(portfolio.rules, risk.account.margin_ratio)
    item = _item(checklist, "Cross margin ratio")
    assert item.figure == f"{view * 100:.2f} %"
    assert item.status == _expected(view, MARGIN_RATIO_WARN, MARGIN_RATIO_FAIL)


def test_stress_loss_follows_run_stress(portfolio: Portfolio, checklist: Checklist) -> None:
    symbols = [p.symbol for p in portfolio.account.positions]
    report = run_stress(portfolio, hypothetical_scenarios(symbols) + historical_scenarios(symbols))
    for mode in ("cross", "isolated"):
        worst = max(report.results(mode), key=lambda r: r.total_loss)
        share = worst.total_loss / worst.equity_before
        item = _item(checklist, f"Worst stress loss ({mode})")
        assert item.figure == f"{share * 100:.1f} % of collateral ('{worst.scenario}')"
        assert item.status == _expected(share, STRESS_LOSS_WARN, STRESS_LOSS_FAIL)


def test_monte_carlo_odds_follow_the_library(portfolio: Portfolio, checklist: Checklist) -> None:
    result = liquidation_probability(portfolio, paths=PATHS, seed=0, progress=False)
    odds = result.odds("isolated", "ETHUSDT short")
    item = _item(checklist, "Liquidation probability 24 h: ETHUSDT short (isolated)")
    assert item.figure.startswith(f"{odds.probability * 100:.2f} %")
    assert item.status == ("fail" if odds.probability > 0.01 else "warn" if odds.ci_high > 0.01 else "pass")
    cross = _item(checklist, "Liquidation probability 24 h: cross account")
    assert cross.figure.startswith(f"{result.odds('cross').probability * 100:.2f} %")


def test_case_study_statuses(checklist: Checklist) -> None:
    assert _item(checklist, "Correlation concentration").status == "pass"  # 63 % long
    assert all(item.status == "warn" for item in checklist.items if item.title.startswith("Stop-loss"))
    assert all(item.figure == "no stop-loss recorded" for item in checklist.items if item.title.startswith("Stop"))
    assert all(item.status == "pass" for item in checklist.items if item.title.startswith("Leverage"))
    assert checklist.verdict == "fail"
    assert all(item.advice for item in checklist.items if item.status != "pass")


def test_all_long_book_fails_concentration(portfolio: Portfolio) -> None:
    long_only = Account(
        venue=portfolio.account.venue,
        wallet_balance=10_000.0,
        positions=(
            Position(symbol="BTCUSDT", side=Side.LONG, size=0.05, entry_price=78_000.0, leverage=3),
            Position(symbol="SOLUSDT", side=Side.LONG, size=20.0, entry_price=86.0, leverage=3),
        ),
    )
    marks = Marks({"BTCUSDT": 78_610.7, "SOLUSDT": 86.87723102})
    result = build_checklist(Portfolio(long_only, marks, portfolio.rules), paths=100, seed=1)
    item = _item(result, "Correlation concentration")
    assert item.figure.startswith("100.0 %")  # >= CONCENTRATION_FAIL
    assert item.status == "fail"
    assert "short hedge" in item.advice


def test_html_is_self_contained(checklist: Checklist) -> None:
    page = checklist.to_html()
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
    assert text.count("\f") >= 2  # pages
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(out), str(tmp_path / "page")], check=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) >= 2
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test app."""

    register(app)
    return app


def test_cli_writes_pdf_and_html(tmp_path: Path) -> None:
    pdf, page = tmp_path / "out.pdf", tmp_path / "out.html"
    result = CliRunner().invoke(_app(), ["report", str(CASE), "--pdf", str(pdf), "--html", str(page), "--paths", "200"])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "<svg" in page.read_text(encoding="utf-8")
    assert "FAIL" in result.output


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
