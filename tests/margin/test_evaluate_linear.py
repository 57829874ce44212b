"""The linear account pass: ``evaluate`` and ``account_totals`` equal, bit for bit, to the quadratic reference.

``evaluate`` groups the positions by pool once and solves each symbol from its pool's sums less its own
legs; ``tests/margin/reference_evaluate.py`` keeps the pass it replaced (every pool re-summed per
position). Equal means the same bits: floats are compared by ``float.hex`` (so -0.0 differs from 0.0).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossmargin.margin.account import _exact_parts, account_totals, evaluate
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.pools import pool_breaches, pool_keys
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules
from crossmargin.venues.binance import BinanceRules
from tests.fixtures.strategies import VENUE_SYMBOLS, accounts, positions
from tests.margin.reference_evaluate import evaluate_reference

VENUES = ("binance", "bybit", "okx", "hyperliquid")


def _bits(value: Any) -> Any:
    """Return ``value`` with every float replaced by its hex form (exact, and -0.0 apart from 0.0)."""
    if isinstance(value, float):
        return value.hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _bits(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_bits(item) for item in value]
    return value


@st.composite
def books(draw: st.DrawFn, venue: str) -> tuple[Account, Marks, VenueRules]:
    """Draw an account of up to 12 positions on ``venue``: one-way, isolated and (where the venue has it)
    hedge-mode legs, a long and a short leg of one symbol, each cross or isolated."""
    rules = get_rules(venue)
    symbols = draw(st.lists(st.sampled_from(VENUE_SYMBOLS[venue]), min_size=1, max_size=6, unique=True))
    held: list[Position] = []
    marks: dict[str, float] = {}
    for symbol in symbols:
        hedged = rules.hedge_mode and draw(st.booleans())
        legs: list[Position] = []
        by_size = rules.instrument(symbol).tier_basis == "size"  # OKX: a table tiered by contracts
        for side in (Side.LONG, Side.SHORT) if hedged else (None,):
            position = draw(positions(symbol, draw(st.sampled_from([MarginMode.CROSS, MarginMode.ISOLATED])), rules))
            if side is not None:  # a hedge-mode leg; where both legs count towards a size tier, halve each
                size = position.size / 2 if by_size else position.size
                position = dataclasses.replace(position, side=side, position_side=side.label, size=size)
            if legs:  # the second leg: an entry near the first's, its tier value (size, or notional) kept
                entry = legs[0].entry_price * draw(st.floats(0.8, 1.25))
                size = position.size if by_size else position.entry_notional / entry
                position = dataclasses.replace(position, entry_price=entry, size=size)
            legs.append(position)
        held.extend(legs)
        # Within +-40 % of the first leg's entry: inside the table (strategies.HEADROOM) for both legs.
        marks[symbol] = legs[0].entry_price * draw(st.floats(0.6, 1.4))
    order = draw(st.permutations(held))
    isolated = sum(p.isolated_margin or 0.0 for p in order)
    wallet = isolated + sum(p.entry_notional for p in order) * draw(st.floats(0.0, 1.0))
    return Account(venue=venue, wallet_balance=wallet, positions=tuple(order)), Marks(marks), rules


@pytest.mark.parametrize("venue", VENUES)
@given(data=st.data())
def test_evaluate_equals_the_reference_bit_for_bit(venue: str, data: st.DataObject) -> None:
    account, marks, rules = data.draw(books(venue))
    fast, reference = evaluate(account, marks, rules), evaluate_reference(account, marks, rules)
    assert _bits(fast) == _bits(reference)
    assert _bits(fast.pool_ratios) == _bits(reference.pool_ratios)  # not part of AccountRisk's equality


@given(book=accounts(max_positions=7))
def test_evaluate_equals_the_reference_on_the_shared_accounts(book: tuple[Account, Marks]) -> None:
    account, marks = book
    rules = BinanceRules.load()
    fast, reference = evaluate(account, marks, rules), evaluate_reference(account, marks, rules)
    assert _bits(fast) == _bits(reference)
    assert _bits(fast.pool_ratios) == _bits(reference.pool_ratios)


@pytest.mark.parametrize("venue", VENUES)
@given(data=st.data())
def test_account_totals_are_evaluates_figures(venue: str, data: st.DataObject) -> None:
    account, marks, rules = data.draw(books(venue))
    lean, risk = account_totals(account, marks, rules), evaluate(account, marks, rules)
    assert lean.venue == risk.venue
    assert _bits(lean.account) == _bits(risk.account)
    assert _bits(lean.pool_ratios) == _bits(risk.pool_ratios)
    keys = pool_keys(account)
    assert [pool.pool for pool in lean.pools] == list(dict.fromkeys(keys))
    for pool in lean.pools:
        assert pool.positions == tuple(i for i, key in enumerate(keys) if key == pool.pool)
        assert all(risk.pool_ratios[i] == pool.margin_ratio or math.isnan(pool.margin_ratio) for i in pool.positions)
        assert pool.breached == pool_breaches(pool.margin_balance, pool.requirement)
    cross = [pool for pool in lean.pools if pool.pool == "cross"]
    if cross:  # the cross pool's margin balance is the cross wallet plus every cross position's uPnL
        held = [r for r in risk.positions if r.isolated_margin is None]
        assert cross[0].margin_balance == account.cross_wallet_balance + math.fsum(r.unrealized_pnl for r in held)
        assert cross[0].wallet == account.cross_wallet_balance
    # What the venue would liquidate is what liquidate() does liquidate.
    events = liquidate(account, marks, rules).events
    assert lean.breached == bool(events)


def test_account_totals_of_a_breached_isolated_pool(binance: BinanceRules) -> None:
    # Arrange: BTC long 1 @ 60,000 isolated with 600 (10 %), marked 59,500: 100 left against 238 required.
    btc = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=1.0,
        entry_price=60_000.0,
        leverage=100,
        mode=MarginMode.ISOLATED,
        isolated_margin=600.0,
    )
    eth = Position(symbol="ETHUSDT", side=Side.SHORT, size=1.0, entry_price=3_000.0, leverage=10)
    account = Account(venue="binance", wallet_balance=5_000.0, positions=(eth, btc))
    # Act
    lean = account_totals(account, Marks({"BTCUSDT": 59_500.0, "ETHUSDT": 3_000.0}), binance)
    # Assert
    cross, isolated = lean.pools
    assert (cross.pool, cross.positions, cross.breached) == ("cross", (0,), False)
    assert (isolated.pool, isolated.positions, isolated.wallet) == ("isolated:1", (1,), 600.0)
    assert isolated.margin_balance == 100.0
    assert isolated.requirement == pytest.approx(59_500.0 * 0.004)  # BTCUSDT bracket 1: 0.4 %, cum 0
    assert isolated.breached
    assert lean.breached
    assert isolated.margin_ratio == pytest.approx(isolated.requirement / 100.0)
    assert lean.pool_ratios == (cross.margin_ratio, isolated.margin_ratio)


def test_hedged_legs_share_one_solve_and_cancelling_pnl_stays_exact(binance: BinanceRules) -> None:
    # A pool whose uPnL cancels to roundoff: 1e16-sized figures beside cents. The other symbols' sum is the
    # correctly rounded difference, as fsum over them gives, not the pool's rounded sum less the leg.
    legs = tuple(
        Position(
            symbol="BTCUSDT",
            side=side,
            size=size,
            entry_price=60_000.0,
            leverage=20,
            position_side=side.label,
        )
        for side, size in ((Side.LONG, 0.5), (Side.SHORT, 0.3))
    )
    doge = Position(symbol="DOGEUSDT", side=Side.SHORT, size=1_000.0, entry_price=0.2000001, leverage=10)
    pepe = Position(symbol="1000PEPEUSDT", side=Side.LONG, size=3e5, entry_price=0.0100003, leverage=10)
    account = Account(venue="binance", wallet_balance=50_000.0, positions=(*legs, doge, pepe))
    marks = Marks({"BTCUSDT": 60_000.1, "DOGEUSDT": 0.2, "1000PEPEUSDT": 0.01})
    fast = evaluate(account, marks, binance)
    assert _bits(fast) == _bits(evaluate_reference(account, marks, binance))
    assert fast.positions[0].liquidation_price == fast.positions[1].liquidation_price


def test_a_pool_whose_sum_overflows_falls_back_to_summing_the_others() -> None:
    # Hyperliquid's last tier is open-ended: a notional the table does not refuse, whose uPnL is -inf.
    rules = get_rules("hyperliquid")
    huge = Position(symbol="BTC", side=Side.LONG, size=1e10, entry_price=1e300, leverage=1)
    eth = Position(symbol="ETH", side=Side.SHORT, size=1.0, entry_price=2_500.0, leverage=10)
    account = Account(venue="hyperliquid", wallet_balance=10_000.0, positions=(huge, eth))
    marks = Marks({"BTC": 1.0, "ETH": 2_400.0})
    fast, reference = evaluate(account, marks, rules), evaluate_reference(account, marks, rules)
    assert fast.positions[0].unrealized_pnl == -math.inf
    assert _bits(fast) == _bits(reference)


@given(values=st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)))
def test_exact_parts_sum_to_the_values_exactly(values: list[float]) -> None:
    parts = _exact_parts(values)
    assert parts is not None
    for k in range(len(values) + 1):  # the pool's parts less any of its values: fsum of the rest, exactly
        assert math.fsum([*parts, *(-v for v in values[:k])]).hex() == math.fsum(values[k:]).hex()


def test_exact_parts_of_a_sum_that_is_not_finite() -> None:
    assert _exact_parts([math.inf, 1.0]) is None
    assert _exact_parts([math.nan]) is None
    assert _exact_parts([]) == []
