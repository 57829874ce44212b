"""``risk.checklist``: every verdict, figure and advice held against the library call it comes from."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from crossmargin.console import format_price
from crossmargin.margin.account import evaluate
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.portfolio import Portfolio, all_cross, all_isolated
from crossmargin.risk.checklist import Checklist, Item, build_checklist
from crossmargin.risk.montecarlo import liquidation_probability
from crossmargin.risk.stress import MODE_LABELS, historical_scenarios, hypothetical_scenarios, run_stress
from crossmargin.risk.thresholds import (
    DISTANCE_FAIL,
    DISTANCE_WARN,
    MARGIN_RATIO_FAIL,
    MARGIN_RATIO_WARN,
    STRESS_LOSS_FAIL,
    STRESS_LOSS_WARN,
)
from tests.fixtures.books import (
    BEYOND,
    BTC_ISOLATED,
    PATHS,
    SOL_ISOLATED,
    copy_case,
)


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Portfolio:
    """The case study with BTC (4,000) and SOL (3,700) isolated: the ETH short alone in a 2,300 cross pool."""
    return copy_case(tmp_path_factory.mktemp("books") / "mirror.toml", BTC_ISOLATED, SOL_ISOLATED)


@pytest.fixture(scope="module")
def mirror_checklist(mirror: Portfolio) -> Checklist:
    return build_checklist(mirror, paths=PATHS, seed=0)


def _item(checklist: Checklist, title: str) -> Item:
    return next(item for item in checklist.items if item.title == title)


def _what_if(checklist: Checklist, title: str) -> Item:
    return next(item for item in checklist.what_ifs if item.title == title)


def _expected(value: float, warn: float, fail: float) -> str:
    return "fail" if value >= fail else "warn" if value >= warn else "pass"


def test_distances_agree_with_evaluate(portfolio: Portfolio, checklist: Checklist) -> None:
    # The case study is all cross: as given is the cross book; the isolated recast is a what-if.
    rules, marks = portfolio.rules, portfolio.marks
    for find, where, account in (
        (_item, "cross", portfolio.account),
        (_what_if, "what if all isolated", all_isolated(portfolio.account)),
    ):
        risk = evaluate(account, marks, rules)
        for position, r in zip(account.positions, risk.positions, strict=True):
            item = find(checklist, f"Distance to liquidation: {position.symbol} {position.side.label} ({where})")
            distance = r.distance_to_liquidation
            if distance is None:
                assert item.figure == "-- (no liquidation price)"
                assert item.status == "pass"
                continue
            assert item.figure == f"{distance * 100:.1f} % (liq. {format_price(r.liquidation_price)})"
            expected = "fail" if distance < DISTANCE_FAIL else "warn" if distance < DISTANCE_WARN else "pass"
            assert item.status == expected


def test_eth_isolated_is_a_failing_what_if_of_the_case_study(portfolio: Portfolio, checklist: Checklist) -> None:
    risk = evaluate(all_isolated(portfolio.account), portfolio.marks, portfolio.rules)
    eth = risk.positions[1]
    assert eth.distance_to_liquidation is not None
    item = _what_if(checklist, "Distance to liquidation: ETHUSDT short (what if all isolated)")
    assert item.status == "fail"  # 6.2 % < 10 %
    assert format_price(eth.liquidation_price) == "2,515.52"
    assert "2,515.52" in item.figure
    assert item.advice == ""  # the case study holds it cross: nothing to add to an isolated margin it has not
    assert [row.isolated for row in checklist.liquidations] == [r.liquidation_price for r in risk.positions]
    given = evaluate(portfolio.account, portfolio.marks, portfolio.rules)
    assert [row.as_given for row in checklist.liquidations] == [r.liquidation_price for r in given.positions]
    assert _item(checklist, "Distance to liquidation: ETHUSDT short (cross)").status == "pass"  # 88.1 %


def test_advised_isolated_margin_reaches_the_threshold(mixed: Portfolio, mixed_checklist: Checklist) -> None:
    item = _item(mixed_checklist, "Distance to liquidation: ETHUSDT short (isolated)")
    added = float(item.advice.split()[1].replace(",", ""))
    account = mixed.account
    eth = account.positions[1]
    assert eth.isolated_margin == 2300.0
    positions = list(account.positions)
    positions[1] = replace(eth, isolated_margin=eth.isolated_margin + added + 0.01)
    changed = replace(account, wallet_balance=account.wallet_balance + added + 0.01, positions=tuple(positions))
    after = evaluate(changed, mixed.marks, mixed.rules).positions[1].distance_to_liquidation
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
    assert not any(i.title == "Worst stress loss (what if all cross)" for i in checklist.what_ifs)  # = as given
    for mode, find in (("as_given", _item), ("isolated", _what_if)):
        worst = max(report.results(mode), key=lambda r: r.total_loss)
        share = worst.total_loss / worst.equity_before
        item = find(checklist, f"Worst stress loss ({MODE_LABELS[mode]})")
        assert item.figure == f"{share * 100:.1f} % of collateral ('{worst.scenario}')"
        assert item.status == _expected(share, STRESS_LOSS_WARN, STRESS_LOSS_FAIL)


def test_monte_carlo_odds_follow_the_library(portfolio: Portfolio, checklist: Checklist) -> None:
    result = liquidation_probability(portfolio, paths=PATHS, seed=0, progress=False)
    odds = result.odds("isolated", "ETHUSDT short")
    item = _what_if(checklist, "Liquidation probability 24 h: ETHUSDT short (what if all isolated)")
    assert item.figure.startswith(f"{odds.probability * 100:.2f} %")
    assert item.status == ("fail" if odds.probability > 0.01 else "warn" if odds.ci_high > 0.01 else "pass")
    cross = _item(checklist, "Liquidation probability 24 h: cross account")
    assert cross.figure.startswith(f"{result.odds('cross').probability * 100:.2f} %")


def test_case_study_statuses(checklist: Checklist) -> None:
    assert _item(checklist, "Correlation concentration").status == "pass"  # 63 % long
    assert all(item.status == "warn" for item in checklist.items if item.title.startswith("Stop-loss"))
    assert all(item.figure == "no stop-loss recorded" for item in checklist.items if item.title.startswith("Stop"))
    assert all(item.status == "pass" for item in checklist.items if item.title.startswith("Leverage"))
    assert checklist.verdict == "fail"  # as given: the worst stress scenario takes 53.7 % of the collateral
    assert _item(checklist, "Worst stress loss (as given)").status == "fail"
    assert all(item.advice for item in checklist.items if item.status != "pass")
    assert all(item.advice == "" for item in checklist.what_ifs)


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


# --- the verdict is on the book as given; the recasts are what-ifs -------------------------------------


def test_mixed_book_is_judged_as_given_with_its_2300(mixed: Portfolio, mixed_checklist: Checklist) -> None:
    given = evaluate(mixed.account, mixed.marks, mixed.rules)
    eth = given.positions[1]
    assert eth.isolated_margin == 2300.0
    assert eth.distance_to_liquidation is not None
    item = _item(mixed_checklist, "Distance to liquidation: ETHUSDT short (isolated)")
    assert item.figure == f"{eth.distance_to_liquidation * 100:.1f} % (liq. {format_price(eth.liquidation_price)})"
    assert "2,554.43" in item.figure  # 2,300 of margin, not the 2,515.52 that 2,104.65 gives
    assert item.status == "fail"  # 7.9 % < 10 %
    row = mixed_checklist.liquidations[1]
    assert (row.mode, row.as_given, row.isolated) == ("isolated", eth.liquidation_price, eth.liquidation_price)
    for index, symbol in ((0, "BTCUSDT long"), (2, "SOLUSDT long")):
        as_given = _item(mixed_checklist, f"Distance to liquidation: {symbol} (cross)")
        assert as_given.status == "pass"
        assert mixed_checklist.liquidations[index].as_given == given.positions[index].liquidation_price
    ratio = risk_view(mixed.rules, given.account.margin_ratio)
    assert _item(mixed_checklist, "Cross margin ratio").figure == f"{ratio * 100:.2f} %"  # BTC and SOL's pool
    assert "ETHUSDT short 5 @ 2,104.65, mark 2,368.32, 5x isolated (margin 2,300.00)" in mixed_checklist.positions
    # The what-ifs: both recasts differ from the book; none of them counts in the verdict.
    titles = [item.title for item in mixed_checklist.what_ifs]
    assert "Distance to liquidation: ETHUSDT short (what if all cross)" in titles
    assert "Distance to liquidation: BTCUSDT long (what if all isolated)" in titles
    assert sum(mixed_checklist.counts().values()) == len(mixed_checklist.items)
    passing = tuple(replace(item, status="pass") for item in mixed_checklist.items)
    assert any(item.status == "fail" for item in mixed_checklist.what_ifs)
    assert replace(mixed_checklist, items=passing).verdict == "pass"


def test_isolated_position_advice_names_isolated_margin_or_cross(mixed: Portfolio, mixed_checklist: Checklist) -> None:
    item = _item(mixed_checklist, "Distance to liquidation: ETHUSDT short (isolated)")
    assert " to the isolated margin of ETHUSDT short " in item.advice
    # ... or cross: the book with the ETH short moved into the cross pool, as evaluate gives it.
    positions = list(mixed.account.positions)
    positions[1] = replace(positions[1], mode=MarginMode.CROSS, isolated_margin=None)
    moved = evaluate(replace(mixed.account, positions=tuple(positions)), mixed.marks, mixed.rules).positions[1]
    assert moved.distance_to_liquidation is not None
    assert (
        f"move it to cross (with the cross pool behind it: liquidation price {format_price(moved.liquidation_price)}"
        in (item.advice)
    )
    odds = _item(mixed_checklist, "Liquidation probability 24 h: ETHUSDT short (isolated)")
    assert odds.status == "fail"  # 1.25 % on these paths, above the 1 % target
    assert "to the isolated margin of ETHUSDT short" in odds.advice
    assert odds.advice.endswith("or move it to cross.")
    stop = _item(mixed_checklist, "Stop-loss before liquidation: ETHUSDT short")
    assert "its liquidation price 2,554.43 (isolated)" in stop.advice


def test_cross_position_advice_never_says_isolated_margin_or_move_to_cross(
    mirror: Portfolio, mirror_checklist: Checklist
) -> None:
    # BTC and SOL isolated on 4,000 and 3,700: the ETH short alone in the cross pool of the remaining 2,300.
    given = evaluate(mirror.account, mirror.marks, mirror.rules)
    eth = given.positions[1]
    assert mirror.account.positions[1].mode is MarginMode.CROSS
    assert eth.distance_to_liquidation is not None
    item = _item(mirror_checklist, "Distance to liquidation: ETHUSDT short (cross)")
    assert item.status == "fail"  # 7.9 %: a lone cross position on a 2,300 pool is liquidated where 2,300 isolated is
    assert "2,554.43" in item.figure
    assert item.advice.startswith("Add ")
    assert "to the wallet (the cross pool)" in item.advice
    assert "reduce or close it" in item.advice
    added = float(item.advice.split()[1].replace(",", ""))
    richer = replace(mirror.account, wallet_balance=mirror.account.wallet_balance + added + 0.01)
    after = evaluate(richer, mirror.marks, mirror.rules).positions[1].distance_to_liquidation
    assert after is not None
    assert DISTANCE_WARN <= after < DISTANCE_WARN + 0.001
    pool = _item(mirror_checklist, "Liquidation probability 24 h: cross pool")
    assert pool.status == "fail"  # the same paths as the isolated 2,300 of the mixed book: 1.25 %
    assert pool.advice == "Reduce the cross positions (ETHUSDT short) or add to the wallet (the cross pool)."
    for advised in mirror_checklist.items:
        if "ETHUSDT short" in advised.title or "cross" in advised.title:
            assert "isolated margin" not in advised.advice, advised.title
            assert "move it to cross" not in advised.advice, advised.title
    # The isolated positions as given keep their own margins in every figure.
    btc = given.positions[0]
    assert btc.distance_to_liquidation is not None
    assert _item(mirror_checklist, "Distance to liquidation: BTCUSDT long (isolated)").figure == (
        f"{btc.distance_to_liquidation * 100:.1f} % (liq. {format_price(btc.liquidation_price)})"
    )


def test_a_price_beyond_the_last_bracket_warns_with_its_note(tmp_path: Path) -> None:
    # A 2,000,000 SOL short on a 400M wallet: in cross its liquidation price would take the notional past
    # Binance's last SOLUSDT bracket (400M USDT), so the library gives no price and says why.
    book = copy_case(tmp_path / "beyond.toml", *BEYOND)
    sol = evaluate(book.account, book.marks, book.rules).positions[2]
    assert sol.liquidation_price is None
    assert sol.liquidation_note == "beyond the last bracket"
    result = build_checklist(book, paths=100, seed=0)
    item = _item(result, "Distance to liquidation: SOLUSDT short (cross)")
    assert item.figure == "-- (beyond the last bracket)"
    assert item.status == "warn"  # unknown is not safe
    assert item.advice.startswith("Reduce SOLUSDT short")
    row = result.liquidations[2]
    assert (row.as_given, row.as_given_note) == (None, "beyond the last bracket")
    assert row.isolated is not None
