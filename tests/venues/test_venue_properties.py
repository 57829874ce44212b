"""Properties every venue's rules must keep, on random accounts drawn from each venue's shipped tables."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.margin import evaluate
from crossmargin.margin.liquidate import liquidate
from crossmargin.model import Account, AccountRisk, MarginMode, Marks
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules
from tests.fixtures.strategies import accounts

VENUES = ("binance", "bybit", "okx", "hyperliquid")
EXAMPLES = settings(max_examples=60)


def _risk_view(rules: VenueRules, ratio: float) -> float:
    """Return the pool's ratio as requirement / margin balance, whatever the venue displays (1 = liquidation)."""
    return ratio if rules.ratio_kind == "risk" else (1 / ratio if ratio else float("inf"))


def _pool_ratio(risk: AccountRisk, index: int) -> float:
    return risk.pool_ratios[index]


def _scale(account: Account, marks: Marks) -> float:
    return account.wallet_balance + sum(p.size * (p.entry_price + marks.price(p.symbol)) for p in account.positions)


@pytest.mark.parametrize("venue", VENUES)
@EXAMPLES
@given(data=st.data())
def test_ratio_is_one_at_every_liquidation_price(venue: str, data: st.DataObject) -> None:
    rules = get_rules(venue)
    account, marks = data.draw(accounts(venue=venue))
    risk = evaluate(account, marks, rules)
    for index, position in enumerate(risk.positions):
        if position.liquidation_price is None:
            continue
        moved = marks.with_price(position.symbol, position.liquidation_price)
        at_liq = evaluate(account, moved, rules)
        requirement = max(at_liq.positions[index].maintenance_margin, 1e-300)
        tolerance = 1e-9 + 64 * 2.2e-16 * _scale(account, moved) / requirement
        assert _risk_view(rules, _pool_ratio(at_liq, index)) == pytest.approx(1.0, rel=0, abs=tolerance)


@pytest.mark.parametrize("venue", VENUES)
@EXAMPLES
@given(data=st.data(), step=st.floats(1e-6, 1e-3))
def test_liquidation_price_separates_safe_from_liquidated(venue: str, data: st.DataObject, step: float) -> None:
    rules = get_rules(venue)
    account, marks = data.draw(accounts(venue=venue))
    for index, position in enumerate(evaluate(account, marks, rules).positions):
        liq = position.liquidation_price
        if liq is None:
            continue
        sign = 1 if position.side == "long" else -1
        safe = evaluate(account, marks.with_price(position.symbol, liq * (1 + sign * step)), rules)
        past = evaluate(account, marks.with_price(position.symbol, liq * (1 - sign * step)), rules)
        assert _risk_view(rules, _pool_ratio(safe, index)) < 1.0 < _risk_view(rules, _pool_ratio(past, index))


@pytest.mark.parametrize("venue", VENUES)
@EXAMPLES
@given(data=st.data(), extra=st.floats(1.0, 1e6))
def test_more_wallet_never_brings_liquidation_closer(venue: str, data: st.DataObject, extra: float) -> None:
    rules = get_rules(venue)
    account, marks = data.draw(accounts(venue=venue))
    before = evaluate(account, marks, rules)
    after = evaluate(replace(account, wallet_balance=account.wallet_balance + extra), marks, rules)
    for old, new in zip(before.positions, after.positions, strict=True):
        if old.distance_to_liquidation is not None and new.distance_to_liquidation is not None:
            assert new.distance_to_liquidation >= old.distance_to_liquidation - 1e-12


@pytest.mark.parametrize("venue", VENUES)
@EXAMPLES
@given(data=st.data(), shock=st.floats(0.1, 1.7))
def test_an_isolated_loss_never_touches_the_cross_pool(venue: str, data: st.DataObject, shock: float) -> None:
    rules = get_rules(venue)
    account, marks = data.draw(accounts(venue=venue, max_positions=4))
    isolated = [p for p in account.positions if p.mode is MarginMode.ISOLATED]
    if not isolated or len(isolated) == len(account.positions):
        return
    target = isolated[0].symbol
    before = evaluate(account, marks, rules)
    after = evaluate(account, marks.with_price(target, marks.price(target) * shock), rules)
    assert after.account.margin_ratio == before.account.margin_ratio
    assert after.account.available_balance == before.account.available_balance
    for old, new in zip(before.positions, after.positions, strict=True):
        if old.isolated_margin is None:
            assert new.liquidation_price == old.liquidation_price


@pytest.mark.parametrize("venue", VENUES)
@EXAMPLES
@given(data=st.data(), shock=st.floats(0.3, 1.7))
def test_liquidation_loses_no_money_and_leaves_no_breach(venue: str, data: st.DataObject, shock: float) -> None:
    rules = get_rules(venue)
    account, marks = data.draw(accounts(venue=venue))
    shocked = Marks({symbol: price * shock for symbol, price in marks.prices.items()})
    outcome = liquidate(account, shocked, rules)
    for event in outcome.events:
        assert event.returned >= 0.0
        assert event.returned + event.insurance_fund == pytest.approx(event.margin_before, rel=1e-9, abs=1e-6)
        assert all(fill.size > 0 for fill in event.fills)
    assert not liquidate(outcome.account, shocked, rules).liquidated
    # A cross wallet may end in deficit while other cross positions carry it; the margin balance may not.
    assert evaluate(outcome.account, shocked, rules).account.margin_balance >= -1e-6
