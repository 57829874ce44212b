"""The shipped Binance USDⓈ-M rules: coverage of the table, its provenance, and its internal consistency."""

from __future__ import annotations

import itertools
import math
from datetime import date

import pytest

from crossmargin.errors import LeverageError, UnknownSymbolError
from crossmargin.margin.position import margin_ratio, risk_ratio
from crossmargin.model import Bracket
from crossmargin.venues.binance import BinanceRules, validate_maint_amounts

#: BTCUSDT tiers as printed in exchange-rules.md §1.1 (read 2026-11-25 from Binance's leverage bracket
#: table): (floor, cap, max leverage, MMR, cum).
BTC_TIERS = [
    (0, 300_000, 150, 0.004, 0),
    (300_000, 800_000, 100, 0.005, 300),
    (800_000, 3_000_000, 75, 0.0065, 1_500),
    (3_000_000, 12_000_000, 50, 0.01, 12_000),
    (12_000_000, 70_000_000, 25, 0.02, 132_000),
    (70_000_000, 100_000_000, 20, 0.025, 482_000),
    (100_000_000, 230_000_000, 10, 0.05, 2_982_000),
    (230_000_000, 480_000_000, 5, 0.10, 14_482_000),
    (480_000_000, 600_000_000, 4, 0.125, 26_482_000),
    (600_000_000, 800_000_000, 3, 0.15, 41_482_000),
    (800_000_000, 1_200_000_000, 2, 0.25, 121_482_000),
    (1_200_000_000, 1_800_000_000, 1, 0.50, 421_482_000),
]


def test_table_covers_the_seed_symbols_and_many_more(binance: BinanceRules) -> None:
    symbols = binance.symbols()
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT"} <= set(symbols)
    assert len(symbols) >= 23
    assert list(symbols) == sorted(symbols)


def test_btcusdt_tiers_match_the_published_table(binance: BinanceRules) -> None:
    brackets = binance.instrument("BTCUSDT").brackets
    shipped = [value for b in brackets for value in (b.floor, b.cap, b.max_leverage, b.mm_rate, b.maint_amount)]
    assert shipped == pytest.approx([value for tier in BTC_TIERS for value in tier], rel=1e-12)


def test_solusdt_first_tiers_match_the_published_table(binance: BinanceRules) -> None:
    first = binance.instrument("SOLUSDT").brackets[:3]
    shipped = [value for b in first for value in (b.cap, b.max_leverage, b.mm_rate, b.maint_amount)]
    assert shipped == pytest.approx([50_000, 100, 0.005, 0, 400_000, 75, 0.0065, 75, 1_000_000, 50, 0.01, 1_475])


def test_every_rule_names_its_source_and_date(binance: BinanceRules) -> None:
    assert set(binance.sources) >= {"brackets", "fees", "funding", "liquidation_clearance_fee", "leverage"}
    for sourced in binance.sources.values():
        assert sourced.source.strip()
        year, month = (int(part) for part in sourced.as_of.split("-")[:2])
        assert date(year, month, 1) <= date(2026, 11, 25)


def test_every_symbol_has_contiguous_brackets_and_consistent_cum(binance: BinanceRules) -> None:
    for symbol in binance.symbols():
        brackets = binance.instrument(symbol).brackets
        validate_maint_amounts(symbol, brackets)
        assert [b.max_leverage for b in brackets] == sorted((b.max_leverage for b in brackets), reverse=True)
        assert [b.mm_rate for b in brackets] == sorted(b.mm_rate for b in brackets)


def test_maintenance_margin_is_continuous_at_every_bracket_edge(binance: BinanceRules) -> None:
    for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"):
        brackets = binance.instrument(symbol).brackets
        for lower, upper in itertools.pairwise(brackets):
            edge = upper.floor
            below = edge * lower.mm_rate - lower.maint_amount
            above = edge * upper.mm_rate - upper.maint_amount
            assert math.isclose(below, above, rel_tol=1e-12), (symbol, edge)


def test_broken_cum_recursion_is_refused() -> None:
    brackets = (
        Bracket(floor=0.0, cap=50_000.0, mm_rate=0.004, maint_amount=0.0, max_leverage=125),
        Bracket(floor=50_000.0, cap=250_000.0, mm_rate=0.005, maint_amount=60.0, max_leverage=100),
    )
    with pytest.raises(ValueError, match=r"bracket 2: maintenance amount 60\.0 != 50\.0"):
        validate_maint_amounts("TESTUSDT", brackets)


def test_fees_funding_and_clearance(binance: BinanceRules) -> None:
    assert binance.fee_rate("maker") == 0.0002
    assert binance.fee_rate("taker") == 0.0005
    assert binance.funding_interval_hours == 8
    assert binance.clearance_fee_rate("BTCUSDT") == 0.003
    assert binance.clearance_fee_rate("ETHUSDT") == 0.005


def test_unknown_symbol_suggests_near_matches(binance: BinanceRules) -> None:
    with pytest.raises(UnknownSymbolError, match="did you mean ETHUSDT") as caught:
        binance.instrument("ETHUSTD", field="positions[3].symbol")
    assert caught.value.field == "positions[3].symbol"


def test_unknown_symbol_without_near_match(binance: BinanceRules) -> None:
    with pytest.raises(UnknownSymbolError) as caught:
        binance.instrument("ZZZZZZZZZZZZ")
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize(
    ("leverage", "notional", "message"),
    [
        (0.5, 1_000.0, "below 1"),
        (math.nan, 1_000.0, "below 1 or not finite"),
        (7.5, 1_000.0, "not an integer"),
        (151, 1_000.0, "above the bracket cap 150"),
        (101, 500_000.0, "above the bracket cap 100"),
        (76, 1_200_000.0, "above the bracket cap 75"),
    ],
)
def test_check_leverage_refuses(binance: BinanceRules, leverage: float, notional: float, message: str) -> None:
    with pytest.raises(LeverageError, match=message):
        binance.check_leverage("BTCUSDT", leverage, size=notional / 60_000.0, price=60_000.0)


@pytest.mark.parametrize(("leverage", "notional"), [(1, 1e9), (150, 299_999.0), (100, 300_000.0), (75, 1.2e6)])
def test_check_leverage_allows(binance: BinanceRules, leverage: float, notional: float) -> None:
    binance.check_leverage("BTCUSDT", leverage, size=notional / 60_000.0, price=60_000.0)


def test_with_brackets_replaces_one_symbol_and_keeps_the_rest(binance: BinanceRules) -> None:
    pinned = (Bracket(floor=0.0, cap=math.inf, mm_rate=0.1, maint_amount=0.0, max_leverage=10),)
    changed = binance.with_brackets({"ETHUSDT": pinned, "NEWUSDT": pinned})
    assert changed.instrument("ETHUSDT").brackets == pinned
    assert changed.instrument("NEWUSDT").base == "NEW"
    assert changed.instrument("BTCUSDT") is binance.instrument("BTCUSDT")
    assert binance.instrument("ETHUSDT").brackets != pinned  # the cached rules are untouched


@pytest.mark.parametrize(
    ("mm", "balance", "expected"), [(0.0, 100.0, 0.0), (0.0, -5.0, 0.0), (10.0, 0.0, math.inf), (10.0, 40.0, 0.25)]
)
def test_risk_ratio(mm: float, balance: float, expected: float) -> None:
    assert risk_ratio(mm, balance) == expected
    assert margin_ratio(BinanceRules.load().ratio_kind, mm, balance) == expected
