"""The batch re-mark against its reference ``remark_reference`` (``evaluate`` account by account), and its CLI.

Accounts are one-way (hedge legs are refused by ``pack_accounts``): ``tests.fixtures.strategies.accounts`` draws
distinct symbols per account, cross and isolated positions mixed, on each of the four shipped venues.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossmargin.cli.accounts import register
from crossmargin.errors import BeyondTableError, InputError
from crossmargin.kernels.batch import BatchResult, pack_accounts, remark, remark_reference
from crossmargin.margin.account import evaluate, position_states
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules
from tests.fixtures.harness import command_app
from tests.fixtures.strategies import VENUE_SYMBOLS, accounts

REL = 1e-9
VENUES = ("binance", "bybit", "okx", "hyperliquid")
MODES = {
    "cross": (MarginMode.CROSS,),
    "isolated": (MarginMode.ISOLATED,),
    "mixed": (MarginMode.CROSS, MarginMode.ISOLATED),
}


def _assert_same(got: BatchResult, want: BatchResult) -> None:
    """Hold every figure of ``got`` to ``want`` bit for bit (two compiled runs of one book)."""
    np.testing.assert_array_equal(got.margin_balance, want.margin_balance)
    np.testing.assert_array_equal(got.requirement, want.requirement)
    np.testing.assert_array_equal(got.margin_ratio, want.margin_ratio)
    np.testing.assert_array_equal(got.liquidated, want.liquidated)
    np.testing.assert_array_equal(got.priced, want.priced)
    np.testing.assert_array_equal(got.liquidation_price, want.liquidation_price)


def _assert_equal(got: BatchResult, want: BatchResult) -> None:
    """Hold every figure of ``got`` to ``want``: money and ratios to 1e-12, liquidation prices to 1e-9."""
    np.testing.assert_allclose(got.margin_balance, want.margin_balance, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got.requirement, want.requirement, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(got.margin_ratio, want.margin_ratio, rtol=1e-12)
    np.testing.assert_array_equal(got.liquidated, want.liquidated)
    np.testing.assert_allclose(got.liquidation_price, want.liquidation_price, rtol=REL, equal_nan=True)


@st.composite
def _books(draw: st.DrawFn, venue: str, modes: tuple[MarginMode, ...]) -> tuple[list[Account], Marks]:
    """Draw 1..4 accounts of one venue and one mark per symbol (each account's own marks for its symbols)."""
    drawn = draw(st.lists(accounts(venue=venue, modes=modes), min_size=1, max_size=4))
    prices: dict[str, float] = {}
    for _, marks in drawn:
        prices.update(marks.prices)
    # every account is re-marked at the same prices: later accounts' marks win for shared symbols
    books, marks = [account for account, _ in drawn], Marks(prices)
    for account in books:  # another account's mark may carry a position past the table, which is refused
        try:
            position_states(account, marks, get_rules(venue))
        except BeyondTableError:
            assume(False)
    return books, marks


@pytest.mark.parametrize("venue", VENUES)
@pytest.mark.parametrize("mode", sorted(MODES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_remark_equals_reference(venue: str, mode: str, data: st.DataObject) -> None:
    """The compiled pass gives the reference's figures on random one-way accounts of every venue and mode."""
    rules = get_rules(venue)
    held, marks = data.draw(_books(venue, MODES[mode]))
    symbols = VENUE_SYMBOLS[venue]
    book = pack_accounts(held, rules, symbols)
    prices = np.array([marks.prices.get(s, 1.0) for s in symbols])
    _assert_equal(remark(book, prices), remark_reference(held, rules, marks))


@pytest.mark.parametrize("venue", VENUES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_bracket_hint_gives_the_same_figures(venue: str, data: st.DataObject) -> None:
    """Whatever bracket each position's hint holds (stale, or past its table), the figures are a fresh pack's."""
    rules = get_rules(venue)
    held, marks = data.draw(_books(venue, MODES["mixed"]))
    symbols = VENUE_SYMBOLS[venue]
    prices = np.array([marks.prices.get(s, 1.0) for s in symbols])
    fresh = remark(pack_accounts(held, rules, symbols), prices)
    book = pack_accounts(held, rules, symbols)
    book.bracket[:] = data.draw(st.lists(st.integers(0, 255), min_size=book.positions, max_size=book.positions))
    _assert_same(remark(book, prices), fresh)
    _assert_same(remark(book, prices), fresh)  # now with the hints the first call left


@pytest.mark.parametrize("venue", VENUES)
@settings(max_examples=40, deadline=None)
@given(data=st.data(), above=st.sampled_from([0.0, 0.5, 0.9, 1.0, 2.0, math.inf]))
def test_liquidation_prices_on_request_equal_reference(venue: str, data: st.DataObject, above: float) -> None:
    """The lean re-mark has the full one's account figures; prices asked for flagged accounts are the reference's.

    Flagged: in breach, or some pool's risk ratio (``risk_view`` of ``evaluate``'s pool ratios) >= ``above``.
    """
    rules = get_rules(venue)
    held, marks = data.draw(_books(venue, MODES["mixed"]))
    worst = np.array(
        [max((risk_view(rules, r) for r in evaluate(a, marks, rules).pool_ratios), default=0.0) for a in held]
    )
    assume(not np.any(np.isclose(worst, above, rtol=1e-9, atol=0.0)))  # a ratio at the threshold is a rounding apart
    symbols = VENUE_SYMBOLS[venue]
    book = pack_accounts(held, rules, symbols)
    prices = np.array([marks.prices.get(s, 1.0) for s in symbols])
    want = remark_reference(held, rules, marks)
    full = remark(book, prices)
    lean = remark(book, prices, liquidation_prices=False)
    flagged = remark(book, prices, prices_above=above)
    _assert_equal(full, want)
    assert full.priced.all()
    for got in (lean, flagged):
        np.testing.assert_array_equal(got.margin_balance, full.margin_balance)
        np.testing.assert_array_equal(got.requirement, full.requirement)
        np.testing.assert_array_equal(got.margin_ratio, full.margin_ratio)
        np.testing.assert_array_equal(got.liquidated, full.liquidated)
    assert not lean.priced.any()
    assert lean.liquidation_price.shape == (book.positions,)
    assert np.isnan(lean.liquidation_price).all()
    np.testing.assert_array_equal(flagged.priced, want.liquidated | (worst >= above))
    priced = flagged.priced[book.account]
    np.testing.assert_array_equal(flagged.liquidation_price[priced], full.liquidation_price[priced])
    assert np.isnan(flagged.liquidation_price[~priced]).all()


def _account(wallet: float, *positions: Position) -> Account:
    return Account(venue="binance", wallet_balance=wallet, positions=positions)


def test_breach_flag_and_ratio_edges() -> None:
    """A cross pool at a loss past its wallet is flagged with ratio +inf; an empty cross pool has ratio 0."""
    rules = get_rules("binance")
    long = Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=70_000.0, leverage=20)
    iso = Position(
        symbol="ETHUSDT",
        side=Side.SHORT,
        size=10.0,
        entry_price=2_500.0,
        leverage=10,
        mode=MarginMode.ISOLATED,
        isolated_margin=2_500.0,
    )
    held = [_account(5_000.0, long), _account(2_500.0, iso), _account(100.0)]
    symbols = ("BTCUSDT", "ETHUSDT")
    book = pack_accounts(held, rules, symbols)
    assert book.positions == 2
    assert book.accounts == 3
    result = remark(book, np.array([60_000.0, 2_500.0]))
    assert result.liquidated.tolist() == [True, False, False]
    assert result.margin_ratio[0] == np.inf
    assert result.margin_ratio[1] == 0.0
    assert result.margin_ratio[2] == 0.0
    assert result.margin_balance[2] == 100.0
    _assert_equal(result, remark_reference(held, rules, Marks({"BTCUSDT": 60_000.0, "ETHUSDT": 2_500.0})))


def test_out_is_overwritten_and_shared() -> None:
    """``out=`` writes the figures into an earlier result's arrays: the same figures as a fresh result."""
    rules = get_rules("binance")
    long = Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=70_000.0, leverage=20)
    short = Position(symbol="ETHUSDT", side=Side.SHORT, size=10.0, entry_price=2_500.0, leverage=10)
    iso = Position(
        symbol="ETHUSDT",
        side=Side.LONG,
        size=4.0,
        entry_price=2_500.0,
        leverage=10,
        mode=MarginMode.ISOLATED,
        isolated_margin=1_500.0,
    )
    held = [_account(9_000.0, long, short), _account(2_000.0, iso)]
    book = pack_accounts(held, rules, ("BTCUSDT", "ETHUSDT"))
    first = remark(book, np.array([70_000.0, 2_500.0]))
    marks = np.array([64_000.0, 2_300.0])
    reused = remark(book, marks, out=first)
    assert reused.margin_balance is first.margin_balance
    assert reused.liquidation_price is first.liquidation_price
    _assert_same(reused, remark(book, marks))
    lean = remark(book, marks, liquidation_prices=False, out=first)
    assert not lean.priced.any()
    assert np.isnan(lean.liquidation_price).all()
    np.testing.assert_array_equal(lean.margin_balance, reused.margin_balance)
    with pytest.raises(InputError, match="out"):  # a lean result has no room for prices
        remark(book, marks, out=remark(book, marks, liquidation_prices=False))
    with pytest.raises(InputError, match="out"):  # another book's result
        remark(book, marks, out=remark(pack_accounts(held[:1], rules, ("BTCUSDT", "ETHUSDT")), marks))


def test_pack_refuses_unknown_symbol_and_bad_marks() -> None:
    """A symbol without a mark column and a wrong marks vector are one-line InputErrors."""
    rules = get_rules("binance")
    held = [_account(1_000.0, Position(symbol="BTCUSDT", side=Side.LONG, size=0.01, entry_price=70_000.0, leverage=5))]
    with pytest.raises(InputError, match="symbol"):
        pack_accounts(held, rules, ("ETHUSDT",))
    book = pack_accounts(held, rules, ("BTCUSDT",))
    with pytest.raises(InputError, match="marks"):
        remark(book, np.array([1.0, 2.0]))
    with pytest.raises(InputError, match="marks"):
        remark(book, np.array([-1.0]))
    for above in (-0.5, math.nan):
        with pytest.raises(InputError, match="prices_above"):
            remark(book, np.array([70_000.0]), prices_above=above)


def _cli() -> typer.Typer:
    return command_app(register)


def _files(tmp_path: Path) -> tuple[Path, Path]:
    rows = pd.DataFrame(
        {
            "account": ["a", "a", "b"],
            "wallet_balance": [10_000.0, 10_000.0, 3_000.0],
            "symbol": ["BTCUSDT", "ETHUSDT", "ETHUSDT"],
            "side": ["long", "short", "long"],
            "size": [0.1, 2.0, 5.0],
            "entry_price": [70_000.0, 2_500.0, 2_400.0],
            "leverage": [10.0, 10.0, 5.0],
            "margin_mode": ["cross", "cross", "isolated"],
            "isolated_margin": [np.nan, np.nan, 2_400.0],
        }
    )
    accounts_path = tmp_path / "accounts.parquet"
    marks_path = tmp_path / "marks.parquet"
    rows.to_parquet(accounts_path)
    pd.DataFrame({"symbol": ["BTCUSDT", "ETHUSDT"], "mark": [68_000.0, 2_600.0]}).to_parquet(marks_path)
    return accounts_path, marks_path


def test_cli_writes_accounts_and_positions(tmp_path: Path) -> None:
    """``accounts remark`` writes one row per account and one per position, equal to the reference."""
    accounts_path, marks_path = _files(tmp_path)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(
        _cli(), ["accounts", "remark", str(accounts_path), str(marks_path), "--venue", "binance", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    per_account = pd.read_parquet(out)
    per_position = pd.read_parquet(out.with_name("out.positions.parquet"))
    assert per_account["account"].tolist() == ["a", "b"]
    assert len(per_position) == 3
    rules = get_rules("binance")
    held = [
        _account(
            10_000.0,
            Position(symbol="BTCUSDT", side=Side.LONG, size=0.1, entry_price=70_000.0, leverage=10),
            Position(symbol="ETHUSDT", side=Side.SHORT, size=2.0, entry_price=2_500.0, leverage=10),
        ),
        _account(
            3_000.0,
            Position(
                symbol="ETHUSDT",
                side=Side.LONG,
                size=5.0,
                entry_price=2_400.0,
                leverage=5,
                mode=MarginMode.ISOLATED,
                isolated_margin=2_400.0,
            ),
        ),
    ]
    want = remark_reference(held, rules, Marks({"BTCUSDT": 68_000.0, "ETHUSDT": 2_600.0}))
    np.testing.assert_allclose(per_account["margin_balance"], want.margin_balance, rtol=1e-12)
    np.testing.assert_allclose(per_position["liquidation_price"], want.liquidation_price, rtol=REL, equal_nan=True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("drop", "missing column"),
        ("symbol", "NOPEUSDT"),
        ("side", "side"),
        ("mark", "mark"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, change: str, message: str) -> None:
    """Missing columns, unknown symbols and bad values exit 2 with one line on stderr."""
    accounts_path, marks_path = _files(tmp_path)
    rows = pd.read_parquet(accounts_path)
    marks = pd.read_parquet(marks_path)
    if change == "drop":
        rows = rows.drop(columns=["entry_price"])
    elif change == "symbol":
        rows.loc[0, "symbol"] = "NOPEUSDT"
    elif change == "side":
        rows.loc[0, "side"] = "sideways"
    else:
        marks.loc[0, "mark"] = -5.0
    rows.to_parquet(accounts_path)
    marks.to_parquet(marks_path)
    result = CliRunner().invoke(
        _cli(),
        ["accounts", "remark", str(accounts_path), str(marks_path), "--venue", "binance", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error:")
    assert message in lines[0]


def test_a_mark_past_the_table_is_refused_as_the_reference_refuses_it() -> None:
    rules = get_rules("binance")
    cap = rules.instrument("BTCUSDT").last_cap
    long = Position(symbol="BTCUSDT", side=Side.LONG, size=0.5 * cap / 70_000.0, entry_price=70_000.0, leverage=1)
    held = [_account(1e9, long)]
    book = pack_accounts(held, rules, ("BTCUSDT",))
    remark(book, np.array([1.9 * 70_000.0]))  # 0.95 of the cap: inside
    with pytest.raises(BeyondTableError, match=r"accounts\[0\]\.positions\[0\]\.size: notional .* BTCUSDT on binance"):
        remark(book, np.array([2.1 * 70_000.0]))
    with pytest.raises(BeyondTableError):
        remark_reference(held, rules, Marks({"BTCUSDT": 2.1 * 70_000.0}))
