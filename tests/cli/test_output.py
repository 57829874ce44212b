"""The house style of every command's human output (``cli.render``): tables fit a 100-column terminal by default
and ``--wide`` shows the rest, danger is red or yellow where the terminal has colour, and no identifier, raw
Python value, inf or nan is printed.

Each command runs once with colour forced (``FORCE_COLOR=1``) and ``COLUMNS=100``; the colour codes are then
stripped for the width and wording checks. A ``--wide`` run, without colour, checks the extra columns and that
nothing is coloured off a colour terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner, Result

from crossmargin.cli import accounts, backtest, check, data, forecast, report, risk, sweep, venues
from tests.fixtures.harness import CASE_STUDY, EXAMPLES, REPO, command_app

RUNNER = CliRunner()
#: The terminal every default table must fit.
WIDTH = 100
#: An ANSI escape sequence (colour, bold).
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
#: Red as rich writes it: plain or bold.
RED = re.compile(r"\x1b\[(?:1;)?31m")
#: Raw Python or JSON values and non-finite figures.
RAW = re.compile(r"\binf\b|\bnan\b|\bNone\b|\bTrue\b|\bFalse\b|\bnull\b|\{'|\['|\[\(|\(\(|as_given")
#: Paths and file names, which may hold underscores (case_study.toml, crossmargin/risk/data/pm_okx.json).
PATHS = re.compile(r"\S*/\S*|\S+\.(?:toml|parquet|json|html|pdf)\b")
#: An identifier with an underscore (margin_ratio, stop_refused, extreme_move_weight).
SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def _invoke(register: Callable[[typer.Typer], None], args: list[str], *, colour: bool = False) -> Result:
    env = {"COLUMNS": str(WIDTH), "FORCE_COLOR": "1" if colour else None, "NO_COLOR": None}
    result = RUNNER.invoke(command_app(register), args, env=env)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


def _plain(text: str) -> str:
    return ESCAPE.sub("", text)


def _widest(text: str) -> int:
    return max((len(line.rstrip()) for line in _plain(text).splitlines()), default=0)


def _assert_house_style(text: str) -> None:
    """The output (colour stripped) fits ``WIDTH`` and has no raw value, non-finite figure or identifier."""
    plain = _plain(text)
    assert _widest(plain) <= WIDTH, next(line for line in plain.splitlines() if len(line.rstrip()) > WIDTH)
    for line in plain.splitlines():
        assert not RAW.search(line), line
        assert not SNAKE.search(PATHS.sub("", line)), line


def _book(tmp_path: Path, name: str, *replacements: tuple[str, str]) -> Path:
    text = CASE_STUDY.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


#: The case study on 100 USDT with ETH marked at 2,900: margin balance -1,948.63, the cross pool bankrupt.
BANKRUPT = (("wallet_balance = 10000", "wallet_balance = 100"), ("ETHUSDT = 2368.32", "ETHUSDT = 2900"))


# --- check -------------------------------------------------------------------------------------------------


def test_check_fits_with_okx_symbols_and_wide_shows_the_inputs() -> None:
    okx = str(EXAMPLES / "okx.toml")
    narrow = _invoke(check.register, ["check", okx, "--compare"], colour=True)
    _assert_house_style(narrow.stdout)
    assert " lev " not in _plain(narrow.stdout)
    wide = _invoke(check.register, ["check", okx, "--compare", "--wide"])
    assert " lev " in wide.stdout
    assert " entry " in wide.stdout
    assert _widest(wide.stdout) > WIDTH  # the whole table, wider than the terminal: nothing is cut


def test_check_of_a_bankrupt_book_says_bankrupt_in_red(tmp_path: Path) -> None:
    result = _invoke(check.register, ["check", str(_book(tmp_path, "bankrupt.toml", *BANKRUPT))], colour=True)
    _assert_house_style(result.stdout)
    ratio = next(line for line in result.stdout.splitlines() if "cross margin ratio" in line)
    assert "bankrupt" in ratio
    eth = next(line for line in result.stdout.splitlines() if "ETHUSDT" in line)
    assert re.search(RED.pattern + r"\s*bankrupt", eth)  # the pool ratio
    assert re.search(RED.pattern + r"\s*-14\.41%", eth)  # past its liquidation price


def test_check_portfolio_margin_fits_and_wide_shows_symbols() -> None:
    narrow = _invoke(check.register, ["check", str(CASE_STUDY), "--margin", "portfolio"])
    _assert_house_style(narrow.stdout)
    table = narrow.stdout[narrow.stdout.index("Portfolio margin") :]
    assert "min charge" not in table
    assert "extreme move weight" in " ".join(table.split())  # the uncertain parameters, in words
    wide = _invoke(check.register, ["check", str(CASE_STUDY), "--margin", "portfolio", "--wide"])
    wide_table = wide.stdout[wide.stdout.index("Portfolio margin") :]
    assert "min charge" in wide_table
    assert " symbols " in wide_table


# --- stress, montecarlo, leverage -----------------------------------------------------------------------------


def test_stress_fits_by_default_and_wide_shows_each_move_and_ratio() -> None:
    narrow = _invoke(risk.register, ["stress", str(CASE_STUDY)], colour=True)
    _assert_house_style(narrow.stdout)
    plain = _plain(narrow.stdout)
    assert "as given: ratio" not in plain
    header = next(line for line in plain.splitlines() if line.strip().startswith("scenario"))
    assert header.split() == ["scenario", "equity", "after", "as", "given", "all", "cross", "all", "isolated"]
    # extended -66 %: 53.7 % of the equity gone before any liquidation, past the checklist's 50 %: red
    extended = next(line for line in narrow.stdout.splitlines() if "extended -66%" in line)
    assert re.search(RED.pattern + r"\s*4,908\.87", extended)
    assert "12,786.86 (BTC, SOL)" in _plain(extended)  # all isolated: the BTC and SOL pools liquidated
    wide = _invoke(risk.register, ["stress", str(CASE_STUDY), "--wide"])
    for column in ("BTCUSDT", "as given: ratio", "cross: liquidated", "isolated: equity left"):
        assert column in wide.stdout, column
    assert "\x1b[" not in wide.stdout  # no colour off a colour terminal


def test_stress_of_a_bankrupt_book_shows_the_account_gone(tmp_path: Path) -> None:
    book = _book(tmp_path, "bankrupt.toml", *BANKRUPT)
    result = _invoke(risk.register, ["stress", str(book), "--no-historical"], colour=True)
    _assert_house_style(result.stdout)
    edge = next(line for line in result.stdout.splitlines() if "OKX MR1 edge down" in line)
    assert re.search(RED.pattern + r"\s*0\.00 \(all\)", edge)
    assert "note: isolated: not evaluated" in result.stderr  # the wallet cannot fund the all-isolated book


def test_montecarlo_fits_and_colours_the_likely_liquidation() -> None:
    args = ["montecarlo", str(CASE_STUDY), "--paths", "2000"]
    narrow = _invoke(risk.register, args, colour=True)
    _assert_house_style(narrow.stdout)
    assert "paths liquidated" not in narrow.stdout
    # all isolated, the ETH short: about 3 % within 24 h, above the 1 % target
    eth = next(line for line in narrow.stdout.splitlines() if "ETHUSDT short" in line)
    assert _plain(eth).split()[:2] == ["all", "isolated"]
    assert RED.search(eth)
    wide = _invoke(risk.register, [*args, "--wide"])
    assert "paths liquidated" in wide.stdout


def test_leverage_fits_and_colours_leverage_above_the_safe_one(tmp_path: Path) -> None:
    book = _book(tmp_path, "twenty.toml", ("leverage = 5", "leverage = 20"))  # every position at 20x
    narrow = _invoke(risk.register, ["leverage", str(book), "--closed-form-only"], colour=True)
    _assert_house_style(narrow.stdout)
    header = next(line for line in _plain(narrow.stdout).splitlines() if line.strip().startswith("position"))
    assert header.split() == ["position", "sigma", "margin", "now", "recommended", "size", "P(liq)", "[95%", "CI]"]
    eth = next(line for line in narrow.stdout.splitlines() if "ETHUSDT short" in line)
    assert re.search(RED.pattern + r"\s*20\.00x", eth)  # 20x on a position whose safe leverage is 12x
    wide = _invoke(risk.register, ["leverage", str(book), "--closed-form-only", "--wide"])
    for column in ("MMR", "venue max", "closed form", "MC", "z -> eff. z"):
        assert f" {column} " in wide.stdout, column


# --- backtest, sweep, forecast, validate ---------------------------------------------------------------------


def test_backtest_summary_has_words_not_a_dict_and_a_red_liquidation() -> None:
    result = _invoke(
        backtest.register, ["backtest", "case-study", "--mode", "both", "--end", "2026-04-01"], colour=True
    )
    _assert_house_style(result.stdout)
    plain = _plain(result.stdout)
    assert "events: cross: none; isolated: none" in plain
    liquidations = next(line for line in result.stdout.splitlines() if "liquidations" in line)
    assert re.search(RED.pattern + r"\s*1\b", liquidations)  # the isolated ETH short
    row = next(line for line in plain.splitlines() if "2026-03-16 18:00" in line)
    assert row.replace("│", " ").split()[2:4] == ["isolated", "ETHUSDT"]  # the pool in words, no 'isolated:ETHUSDT'


def test_sweep_headings_are_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossmargin import distributed  # noqa: PLC0415 - Dask: this test only

    @contextmanager
    def in_process(scheduler: str | None, workers: int | None = None, *, timeout: float = 10.0) -> Iterator[None]:
        yield None  # ``distributed.sweep`` runs the grid here, without a cluster

    monkeypatch.setattr(distributed, "client_for", in_process)
    grid = tmp_path / "grid.toml"
    grid.write_text("[grid]\nleverage = [5]\nexposure = [3.0]\n", encoding="utf-8")
    result = _invoke(sweep.register, ["sweep", "case-study", "--grid", str(grid)], colour=True)
    _assert_house_style(result.stdout)
    header = next(line for line in _plain(result.stdout).splitlines() if "final equity" in line)
    assert header.split()[:4] == ["leverage", "exposure", "mode", "final"]
    isolated = next(line for line in result.stdout.splitlines() if "isolated" in line)
    assert re.search(RED.pattern + r"\s*112\.06%", isolated)  # the peak margin ratio past liquidation


def test_forecast_and_validate_fit() -> None:
    table = _invoke(forecast.register, ["forecast", "--start-test", "2026-01-01"])
    _assert_house_style(table.stdout)
    assert "best (lowest QLIKE)" in table.stdout
    tables = _invoke(forecast.register, ["validate", "--symbol", "SOLUSDT", "--start-test", "2026-01-01"])
    _assert_house_style(tables.stdout)
    assert "indep. LR" in tables.stdout
    assert "LR_ind" not in tables.stdout


# --- venues, brackets, data list, accounts remark, report -----------------------------------------------------


def test_venues_fit_and_wide_shows_fees_and_origin() -> None:
    narrow = _invoke(venues.register, ["venues"])
    _assert_house_style(narrow.stdout)
    header = next(line for line in narrow.stdout.splitlines() if line.strip().startswith("venue"))
    assert "hedge mode" not in header
    assert "balance / (MM + fee) <= 100%" in narrow.stdout  # OKX's health ratio
    wide = _invoke(venues.register, ["venues", "--wide"])
    wide_header = next(line for line in wide.stdout.splitlines() if line.strip().startswith("venue"))
    for column in ("hedge mode", "maker", "taker", "tiers from"):
        assert column in wide_header, column
    brackets = _invoke(venues.register, ["brackets", "BTCUSDT"])
    _assert_house_style(brackets.stdout)


def test_data_list_fits(tmp_path: Path) -> None:
    store = ["--data-dir", str(tmp_path)]
    bars = REPO / "tests" / "data" / "BTCUSDT-trades-1h-2025-10-08.parquet"
    args = ["data", "import", str(bars), "--venue", "binance", "--symbol", "BTCUSDT", "--interval", "1h", *store]
    _invoke(data.register, args)
    listed = _invoke(data.register, ["data", "list", *store])
    _assert_house_style(listed.stdout)
    assert "2025-10-08T00:00:00Z" in listed.stdout


def test_accounts_remark_says_what_it_wrote(tmp_path: Path) -> None:
    positions = pd.DataFrame(
        {
            "account": ["a", "a", "b"],
            "wallet_balance": [10_000.0, 10_000.0, 300.0],
            "symbol": ["BTCUSDT", "ETHUSDT", "ETHUSDT"],
            "side": ["long", "short", "long"],
            "size": [0.1, 2.0, 5.0],
            "entry_price": [70_000.0, 2_500.0, 2_400.0],
            "leverage": [10.0, 10.0, 50.0],
            "margin_mode": ["cross", "cross", "cross"],
            "isolated_margin": [np.nan, np.nan, np.nan],
        }
    )
    positions.to_parquet(tmp_path / "accounts.parquet")
    # ETH at 2,300: account b (long 5 from 2,400 on 300) is 500 down, past its 300 of wallet
    pd.DataFrame({"symbol": ["BTCUSDT", "ETHUSDT"], "mark": [68_000.0, 2_300.0]}).to_parquet(tmp_path / "marks.parquet")
    out = tmp_path / "out.parquet"
    args = [
        "accounts",
        "remark",
        str(tmp_path / "accounts.parquet"),
        str(tmp_path / "marks.parquet"),
        "--out",
        str(out),
    ]
    result = _invoke(accounts.register, args, colour=True)
    assert _plain(result.stdout).startswith("re-marked 2 accounts (3 positions) on binance: 1 liquidated; wrote ")
    assert re.search(RED.pattern + "1 liquidated", result.stdout)
    assert pd.read_parquet(out)["liquidated"].tolist() == [False, True]


def test_report_lines_fit(tmp_path: Path) -> None:
    args = ["report", str(CASE_STUDY), "--pdf", str(tmp_path / "checklist.pdf"), "--paths", "500"]
    result = _invoke(report.register, args)
    _assert_house_style(result.stdout)


# --- options ------------------------------------------------------------------------------------------------


def _commands(command: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Yield every command under ``command`` (a click command or group, as typer builds it) with its path."""
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, f"{path} {name}".strip())
    if path:
        yield path, command


def test_boolean_options_are_flags() -> None:
    from crossmargin.cli import app  # noqa: PLC0415 - the whole app, every command mounted

    whole = typer.main.get_command(app)
    widened = set()
    for path, command in _commands(whole):
        for option in command.params:
            if not getattr(option, "is_flag", False):
                continue
            # an off form only where the option is on by default (--no-historical, --no-funding, ...)
            assert not option.secondary_opts or option.default is True, (path, option.opts, option.secondary_opts)
            if "--wide" in option.opts:
                assert option.secondary_opts == [], path
                widened.add(path)
    assert widened >= {"check", "stress", "montecarlo", "leverage", "venues"}
