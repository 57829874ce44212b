"""Liquidation and bankruptcy prices: worked arithmetic, then properties on random accounts."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from crossmargin.margin import evaluate, pool_margin_ratio
from crossmargin.margin.liquidation import bankruptcy_price, distance_to_liquidation, liquidation_price
from crossmargin.model import Account, AccountRisk, Bracket, MarginMode, Marks, Position, PositionRisk, Side
from crossmargin.venues.binance import BinanceRules
from tests.fixtures.strategies import RULES, accounts

FLAT = (Bracket(floor=0.0, cap=math.inf, mm_rate=0.01, maint_amount=0.0, max_leverage=100),)


def _ratio(risk: AccountRisk, symbol: str) -> float:
    position = next(p for p in risk.positions if p.symbol == symbol)
    return pool_margin_ratio(risk, position)


def _risk_of(risk: AccountRisk, symbol: str) -> PositionRisk:
    return next(p for p in risk.positions if p.symbol == symbol)


def test_isolated_long_one_bracket() -> None:
    # 1 BTC long at 10,000 with 1,000 margin, MMR 1 %: 1000 + (P - 10000) = 0.01 P  =>  P = 9000 / 0.99
    price = liquidation_price(side=Side.LONG, size=1.0, entry_price=10_000.0, brackets=FLAT, wallet=1_000.0)
    assert price == pytest.approx(9_000.0 / 0.99, rel=1e-15)


def test_isolated_short_one_bracket() -> None:
    # 1 short at 10,000 with 1,000 margin, MMR 1 %: 1000 - (P - 10000) = 0.01 P  =>  P = 11000 / 1.01
    price = liquidation_price(side=Side.SHORT, size=1.0, entry_price=10_000.0, brackets=FLAT, wallet=1_000.0)
    assert price == pytest.approx(11_000.0 / 1.01, rel=1e-15)


def test_fully_collateralised_long_has_no_liquidation_price() -> None:
    # 1x long with the whole notional as margin: at P = 0 the balance is 0 and so is MM; never below.
    assert liquidation_price(side=Side.LONG, size=1.0, entry_price=100.0, brackets=FLAT, wallet=100.0) is None


def test_short_already_under_water_at_any_price_has_no_liquidation_price() -> None:
    # Other positions' losses exceed wallet + the short's whole entry value: liquidated at every price.
    price = liquidation_price(
        side=Side.SHORT, size=1.0, entry_price=100.0, brackets=FLAT, wallet=10.0, other_upnl=-200.0
    )
    assert price is None


def test_bracket_at_the_liquidation_price_is_used(binance: BinanceRules) -> None:
    # BTCUSDT brackets: < 300k at 0.4 %, 300k..800k at 0.5 % (cum 300). A 10 BTC long at 60,000 (600k
    # notional, bracket 2) with 200k margin liquidates near 40,000: notional 400k, still bracket 2.
    brackets = binance.instrument("BTCUSDT").brackets
    price = liquidation_price(side=Side.LONG, size=10.0, entry_price=60_000.0, brackets=brackets, wallet=200_000.0)
    # 200000 + 10 (P - 60000) = 10 P 0.005 - 300  =>  P = (600000 - 200000 - 300) / (10 (1 - 0.005))
    assert price == pytest.approx((600_000.0 - 200_000.0 - 300.0) / 9.95, rel=1e-12)
    # With 350k margin the answer falls below 300k notional, into bracket 1 (0.4 %, cum 0):
    deeper = liquidation_price(side=Side.LONG, size=10.0, entry_price=60_000.0, brackets=brackets, wallet=350_000.0)
    assert deeper == pytest.approx((600_000.0 - 350_000.0) / (10 * (1 - 0.004)), rel=1e-12)


def test_bankruptcy_price_long_and_short() -> None:
    # Long: P = E - W / q = 10000 - 1000 / 1; short: E + W / q.
    assert bankruptcy_price(side=Side.LONG, size=1.0, entry_price=10_000.0, wallet=1_000.0) == 9_000.0
    assert bankruptcy_price(side=Side.SHORT, size=1.0, entry_price=10_000.0, wallet=1_000.0) == 11_000.0
    assert bankruptcy_price(side=Side.LONG, size=1.0, entry_price=10_000.0, wallet=10_000.0) is None


def test_distance_sign_convention() -> None:
    assert distance_to_liquidation(Side.LONG, 100.0, 80.0) == pytest.approx(0.2)
    assert distance_to_liquidation(Side.SHORT, 100.0, 125.0) == pytest.approx(0.25)
    assert distance_to_liquidation(Side.LONG, 100.0, 110.0) == pytest.approx(-0.1)
    assert distance_to_liquidation(Side.LONG, 100.0, None) is None


def _roundoff_bound(account: Account, marks: Marks, at_liq: AccountRisk, symbol: str) -> float:
    """Return the float64 roundoff of the pool's margin ratio at the liquidation price (a fraction).

    The margin balance is a sum of terms of size wallet + sum |q E| + sum |q M|; its rounding error,
    relative to the maintenance margin, bounds how exactly the ratio can equal 1 (``numeric`` docstring).
    """
    target = _risk_of(at_liq, symbol)
    pool = [p for p in account.positions if (p.mode is MarginMode.ISOLATED) == (target.isolated_margin is not None)]
    if target.isolated_margin is not None:
        pool = [p for p in pool if p.symbol == symbol]
    scale = account.wallet_balance + sum(
        p.size * (p.entry_price + marks.with_price(symbol, target.mark_price).price(p.symbol)) for p in pool
    )
    maintenance = sum(_risk_of(at_liq, p.symbol).maintenance_margin for p in pool)
    return 16 * 2.2e-16 * scale / maintenance


@given(accounts())
def test_margin_ratio_is_one_at_the_liquidation_price(drawn: tuple[Account, Marks]) -> None:
    account, marks = drawn
    risk = evaluate(account, marks, RULES)
    for position in risk.positions:
        if position.liquidation_price is None:
            continue
        at_liq = evaluate(account, marks.with_price(position.symbol, position.liquidation_price), RULES)
        tolerance = 1e-9 + _roundoff_bound(account, marks, at_liq, position.symbol)
        assert _ratio(at_liq, position.symbol) == pytest.approx(1.0, rel=0, abs=tolerance)


@given(accounts(), st.floats(0.05, 1.0))
def test_margin_ratio_is_one_within_1e9_when_margin_is_not_dwarfed(
    drawn: tuple[Account, Marks], funding: float
) -> None:
    # The bound, 1e-9, on accounts whose wallet is a share of the gross notional (no 1x-funded corner).
    account, marks = drawn
    gross = sum(p.entry_notional for p in account.positions)
    account = replace(account, wallet_balance=account.isolated_wallet_total + gross * funding / 20)
    for position in evaluate(account, marks, RULES).positions:
        if position.liquidation_price is None:
            continue
        at_liq = evaluate(account, marks.with_price(position.symbol, position.liquidation_price), RULES)
        assume(_roundoff_bound(account, marks, at_liq, position.symbol) < 1e-10)
        assert _ratio(at_liq, position.symbol) == pytest.approx(1.0, rel=0, abs=1e-9)


@given(accounts(), st.floats(1e-6, 1e-3))
def test_liquidation_price_is_the_first_crossing(drawn: tuple[Account, Marks], step: float) -> None:
    # Just on the safe side the pool is below 100 %, just past it above: the root is the boundary.
    account, marks = drawn
    for position in evaluate(account, marks, RULES).positions:
        liq = position.liquidation_price
        if liq is None:
            continue
        sign = 1 if position.side == "long" else -1
        safe = evaluate(account, marks.with_price(position.symbol, liq * (1 + sign * step)), RULES)
        past = evaluate(account, marks.with_price(position.symbol, liq * (1 - sign * step)), RULES)
        assert _ratio(safe, position.symbol) < 1.0 < _ratio(past, position.symbol)


@given(accounts(), st.floats(1.0, 1e6))
def test_more_wallet_never_moves_a_liquidation_price_closer(drawn: tuple[Account, Marks], extra: float) -> None:
    account, marks = drawn
    before = evaluate(account, marks, RULES)
    richer = replace(account, wallet_balance=account.wallet_balance + extra)
    after = evaluate(richer, marks, RULES)
    for old, new in zip(before.positions, after.positions, strict=True):
        if old.distance_to_liquidation is None:
            # Either never liquidated (and more wallet keeps it so), or in liquidation at every price.
            assert new.distance_to_liquidation is None or pool_margin_ratio(before, old) >= 1.0
            continue
        if new.distance_to_liquidation is not None:
            assert new.distance_to_liquidation >= old.distance_to_liquidation - 1e-12


@given(accounts(modes=(MarginMode.ISOLATED,)), st.floats(1.0, 1e6))
def test_more_isolated_margin_never_moves_its_liquidation_price_closer(
    drawn: tuple[Account, Marks], extra: float
) -> None:
    account, marks = drawn
    target = account.positions[0]
    assert target.isolated_margin is not None
    richer = replace(
        account,
        wallet_balance=account.wallet_balance + extra,
        positions=(replace(target, isolated_margin=target.isolated_margin + extra), *account.positions[1:]),
    )
    old = evaluate(account, marks, RULES).positions[0]
    new = evaluate(richer, marks, RULES).positions[0]
    if new.distance_to_liquidation is not None:
        assert old.distance_to_liquidation is not None
        assert new.distance_to_liquidation >= old.distance_to_liquidation - 1e-12


@given(accounts(modes=(MarginMode.ISOLATED,), max_positions=1))
def test_single_cross_position_with_the_isolated_wallet_has_the_isolated_price(drawn: tuple[Account, Marks]) -> None:
    account, marks = drawn
    isolated_position = account.positions[0]
    assert isolated_position.isolated_margin is not None
    as_cross = Account(
        venue="binance",
        wallet_balance=isolated_position.isolated_margin,
        positions=(replace(isolated_position, mode=MarginMode.CROSS, isolated_margin=None),),
    )
    isolated = evaluate(
        Account(venue="binance", wallet_balance=isolated_position.isolated_margin, positions=(isolated_position,)),
        marks,
        RULES,
    ).positions[0]
    cross = evaluate(as_cross, marks, RULES).positions[0]
    assert cross.liquidation_price == isolated.liquidation_price
    assert cross.bankruptcy_price == isolated.bankruptcy_price


@given(accounts(modes=(MarginMode.CROSS,), max_positions=3), st.floats(0.05, 20.0), st.sampled_from([0.3, 1.0, 3.0]))
def test_an_isolated_loss_leaves_the_cross_pool_unchanged(
    drawn: tuple[Account, Marks], move: float, share: float
) -> None:
    # Arrange: a cross account plus one isolated DOGE position, then a move of DOGE far against it.
    account, marks = drawn
    assume(all(p.symbol != "DOGEUSDT" for p in account.positions))
    doge = Position(
        symbol="DOGEUSDT",
        side=Side.LONG,
        size=50_000.0,
        entry_price=0.2,
        leverage=10,
        mode=MarginMode.ISOLATED,
        isolated_margin=1_000.0 * share,
    )
    mixed = replace(
        account,
        wallet_balance=account.wallet_balance + doge.isolated_margin,  # type: ignore[operator]
        positions=(*account.positions, doge),
    )
    # Act
    before = evaluate(mixed, marks.with_price("DOGEUSDT", 0.2), RULES)
    after = evaluate(mixed, marks.with_price("DOGEUSDT", 0.2 / (1 + move)), RULES)
    # Assert: the cross pool's ratio, available balance and every cross liquidation price are untouched
    assert after.account.margin_ratio == before.account.margin_ratio
    assert after.account.available_balance == before.account.available_balance
    for symbol in (p.symbol for p in account.positions):
        assert _risk_of(after, symbol).liquidation_price == _risk_of(before, symbol).liquidation_price
    assert _risk_of(after, "DOGEUSDT").unrealized_pnl < _risk_of(before, "DOGEUSDT").unrealized_pnl
