"""Venue worked examples (``tests/golden/<venue>.json``), one parametrised test per file."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from crossmargin.margin import evaluate
from crossmargin.model import Account, Bracket, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules

GOLDEN = Path(__file__).parent / "golden"


def _cases(venue: str) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((GOLDEN / f"{venue}.json").read_text(encoding="utf-8"))["cases"]
    return cases


def _brackets(raw: dict[str, Any]) -> tuple[Bracket, ...]:
    if "brackets" in raw:
        return tuple(
            Bracket(floor=f, cap=c, mm_rate=m, maint_amount=a, max_leverage=lev) for f, c, m, a, lev in raw["brackets"]
        )
    # A pinned bracket: the example states MMR and cum, valid for any notional.
    return (
        Bracket(
            floor=0.0,
            cap=math.inf,
            mm_rate=raw["mm_rate"],
            maint_amount=raw["maint_amount"],
            max_leverage=raw.get("max_leverage", 125),
        ),
    )


def _build(case: dict[str, Any]) -> tuple[Account, Marks, dict[str, tuple[Bracket, ...]]]:
    positions = []
    for raw in case["positions"]:
        mode = MarginMode(raw["margin_mode"])
        isolated = raw.get("isolated_margin") if mode is MarginMode.ISOLATED else None
        # Leverage is not part of these examples and does not enter a liquidation price.
        positions.append(
            Position(
                symbol=raw["symbol"],
                side=Side.parse("side", raw["side"]),
                size=raw["size"],
                entry_price=raw["entry_price"],
                leverage=raw.get("leverage", 1),
                mode=mode,
                isolated_margin=isolated,
            )
        )
    marks = Marks({raw["symbol"]: raw["mark_price"] for raw in case["positions"]})
    tables = {raw["symbol"]: _brackets(raw) for raw in case["positions"]}
    return (
        Account(venue=case["venue"], wallet_balance=case["wallet_balance"], positions=tuple(positions)),
        marks,
        tables,
    )


VENUE_FILES = sorted(path.stem for path in GOLDEN.glob("*.json"))
ALL_CASES = [case for venue in VENUE_FILES for case in _cases(venue)]


def _rules_for(case: dict[str, Any], tables: dict[str, tuple[Bracket, ...]]) -> VenueRules:
    rules = get_rules(case["venue"]).with_brackets(tables)
    fees = {raw["taker_fee"] for raw in case["positions"] if "taker_fee" in raw}
    if fees:  # the example states the taker fee it was computed with (OKX's liquidation fee)
        (taker,) = fees
        rules = dataclasses.replace(rules, taker_rate=taker)  # type: ignore[type-var]
    return rules


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda case: case["id"])
def test_golden(case: dict[str, Any]) -> None:
    # Arrange
    account, marks, tables = _build(case)
    rules = _rules_for(case, tables)
    # Act
    risk = evaluate(account, marks, rules)
    # Assert: each published figure, at the precision the source publishes
    by_symbol = {p.symbol: p for p in risk.positions}
    ratios = {p.symbol: ratio for p, ratio in zip(risk.positions, risk.pool_ratios, strict=True)}
    for figure, expected in case["expect"].items():
        for symbol, value in expected.items():
            got = ratios[symbol] if figure == "margin_ratio" else getattr(by_symbol[symbol], figure)
            assert got is not None, f"{case['id']}: no {figure} for {symbol}"
            assert math.isclose(got, value, rel_tol=case.get("rel_tol", 0.0), abs_tol=case.get("abs_tol", 0.0)), (
                f"{case['id']}: {figure} of {symbol} = {got}, published {value}"
            )


def test_golden_files_have_the_published_cases() -> None:
    ids = {case["id"] for case in ALL_CASES}
    assert {"binance-help-isolated-eth", "binance-help-isolated-btc", "binance-help-cross-two-positions"} <= ids
    assert {"bybit-help-isolated-long-50x"} <= ids
    for venue in VENUE_FILES:
        cases = _cases(venue)
        assert len(cases) >= 3, venue
        assert all(case["venue"] == venue and case["source"].strip() for case in cases), venue
