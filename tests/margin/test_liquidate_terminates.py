"""Every venue's liquidation procedure ends, leaves no pool in breach, and loses no money.

Random breached pools of all four venues, one-way and hedge mode (where the venue has it), cross and
isolated, with positions drawn in any tier from the first to the table's last: ``liquidate`` returns,
every pool it leaves is out of breach or empty, and for every event the pool's margin at the trigger is
what the trader got back plus what the insurance fund took (or paid) plus what slippage cost.
"""

from __future__ import annotations

import importlib
import math

import pytest
from hypothesis import assume, event, given
from hypothesis import strategies as st

from crossmargin import get_rules
from crossmargin.errors import EngineError
from crossmargin.margin.account import position_states
from crossmargin.margin.liquidate import LiquidationFill, liquidate
from crossmargin.model import Account, Instrument, MarginMode, Marks, Position, Side
from crossmargin.venues.base import VenueRules

#: The module itself (its name is shadowed by the function in ``crossmargin.margin``).
LIQUIDATE_MODULE = importlib.import_module("crossmargin.margin.liquidate")
VENUES = ("binance", "bybit", "okx", "hyperliquid")
#: A few symbols per venue whose tables span many tiers (all of a venue's symbols where it ships few).
SYMBOLS = {
    "binance": ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"),
    "hyperliquid": ("BTC", "ETH", "SOL", "DOGE"),
}


def _symbols(rules: VenueRules) -> tuple[str, ...]:
    listed = rules.symbols()
    return tuple(s for s in SYMBOLS.get(rules.name, listed) if s in listed)


def _tier_value(draw: st.DrawFn, instrument: Instrument) -> float:
    """Draw a tier value (notional or size) inside a bracket chosen from the first to the last."""
    tier = draw(st.integers(0, len(instrument.brackets) - 1))
    bracket = instrument.brackets[tier]
    top = bracket.cap if math.isfinite(bracket.cap) else max(2 * bracket.floor, 1e6)
    low = max(bracket.floor, top * 1e-6)
    value = draw(st.floats(low, top, exclude_max=True, allow_nan=False))
    assume(value < bracket.cap * (1 - 1e-9))
    return value


def _size(instrument: Instrument, value: float, price: float) -> float:
    return value / price if instrument.tier_basis == "notional" else value


@st.composite
def breached_accounts(draw: st.DrawFn) -> tuple[Account, Marks, str, float]:
    """Return an account, marks at which one of its pools may breach, the venue name, and a slippage fraction."""
    rules = get_rules(draw(st.sampled_from(VENUES)))
    symbols = draw(st.lists(st.sampled_from(_symbols(rules)), min_size=1, max_size=3, unique=True))
    positions: list[Position] = []
    marks: dict[str, float] = {}
    for symbol in symbols:
        instrument = rules.instrument(symbol)
        entry = draw(st.floats(0.01, 100_000.0))
        marks[symbol] = entry * draw(st.floats(0.5, 1.5))
        mode = draw(st.sampled_from(MarginMode))
        hedged = rules.hedge_mode and draw(st.booleans())
        # the tier value must hold at the mark and, on Bybit's isolated rule, at the entry too
        price = max(entry, marks[symbol])
        value = _tier_value(draw, instrument)
        total = _size(instrument, value, price)
        if hedged:
            share = draw(st.floats(0.05, 0.95))
            legs = [(Side.LONG, "long", total * share), (Side.SHORT, "short", total * (1 - share))]
        else:
            side = draw(st.sampled_from(Side))
            legs = [(side, "both", total)]
        for side, position_side, size in legs:
            assume(size > 1e-9)
            isolated = None if mode is MarginMode.CROSS else size * entry * draw(st.floats(0.001, 0.5))
            positions.append(
                Position(
                    symbol=symbol,
                    side=side,
                    size=size,
                    entry_price=entry,
                    leverage=1,
                    mode=mode,
                    isolated_margin=isolated,
                    position_side=position_side,  # type: ignore[arg-type]
                )
            )
    probe = Account(
        venue=rules.name,
        wallet_balance=sum(p.isolated_margin or 0.0 for p in positions) + 1e12,
        positions=tuple(positions),
    )
    states = position_states(probe, Marks(marks), rules)
    cross = [s for s in states if s.position.mode is MarginMode.CROSS]
    # the cross wallet: a fraction of what the cross pool requires, less its unrealised PnL (never < 0)
    fraction = draw(st.floats(-0.5, 1.0))
    cross_wallet = max(0.0, fraction * sum(s.requirement for s in cross) - sum(s.upnl for s in cross))
    account = Account(
        venue=rules.name,
        wallet_balance=cross_wallet + sum(p.isolated_margin or 0.0 for p in positions),
        positions=tuple(positions),
    )
    slippage = draw(st.sampled_from((0.0, 0.001, 0.01)))
    return account, Marks(marks), rules.name, slippage


def _slippage_cost(fills: tuple[LiquidationFill, ...], marks: Marks) -> float:
    """Return what fills below (long) or above (short) the mark cost the pool (quote, >= 0)."""
    return math.fsum((1 if f.side == "long" else -1) * f.size * (marks.price(f.symbol) - f.price) for f in fills)


@given(breached_accounts())
def test_liquidation_ends_out_of_breach_and_conserves_money(case: tuple[Account, Marks, str, float]) -> None:
    account, marks, venue, slippage = case
    rules = get_rules(venue)
    outcome = liquidate(account, marks, rules, slippage=slippage)
    hedged = any(p.hedged for p in account.positions)
    event(f"{venue}{' hedge' if hedged else ''}: {'liquidated' if outcome.liquidated else 'not breached'}")
    # nothing is left in breach: liquidating again does nothing
    assert not liquidate(outcome.account, marks, rules, slippage=slippage).liquidated
    for liquidation in outcome.events:
        total = liquidation.returned + liquidation.insurance_fund + _slippage_cost(liquidation.fills, marks)
        # roundoff scale: the money that moved (wallet, notionals at entry and at the fills)
        moved = [account.wallet_balance, *(p.entry_notional for p in account.positions)]
        scale = max(1.0, abs(liquidation.margin_before), *moved, *(f.size * f.price for f in liquidation.fills))
        assert total == pytest.approx(liquidation.margin_before, abs=1e-9 * scale)
        assert liquidation.returned >= 0


def test_okx_hedged_pool_closes_the_pair_first() -> None:
    # The reproducer: a cross hedge-mode pool breaching at health 0.937 used to loop for ever.
    rules = get_rules("okx")
    account = Account(
        venue="okx",
        wallet_balance=200_000,
        positions=(
            Position(
                symbol="ETH-USDT-SWAP", side=Side.LONG, size=2000, entry_price=1000, leverage=10, position_side="long"
            ),
            Position(
                symbol="ETH-USDT-SWAP", side=Side.SHORT, size=3000, entry_price=1000, leverage=10, position_side="short"
            ),
        ),
    )
    marks = Marks({"ETH-USDT-SWAP": 1050})
    outcome = liquidate(account, marks, rules)
    (event,) = outcome.events
    # the 2,000 ETH held both ways are closed against each other at the mark, with the liquidation fee
    assert [(f.position_side, f.size, f.price) for f in event.fills] == [("long", 2000, 1050), ("short", 2000, 1050)]
    fee_rate = rules.liquidation.fee_rate_of("ETH-USDT-SWAP")
    assert [f.fee for f in event.fills] == pytest.approx([fee_rate * 2000 * 1050] * 2, rel=1e-12)
    # what is left is the net short of 1,000 ETH, out of breach
    (left,) = outcome.account.positions
    assert (left.side, left.size) == (Side.SHORT, 1000)
    assert not liquidate(outcome.account, marks, rules).liquidated
    assert event.returned + event.insurance_fund == pytest.approx(event.margin_before, rel=1e-12)


def test_a_step_that_does_not_reduce_raises_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # If a procedure ever stopped reducing exposure, the engine says so instead of looping.
    rules = get_rules("okx")
    position = Position(symbol="ETH-USDT-SWAP", side=Side.SHORT, size=3000, entry_price=1000, leverage=10)
    account = Account(venue="okx", wallet_balance=200_000, positions=(position,))  # breached, not bankrupt
    monkeypatch.setattr(LIQUIDATE_MODULE, "_target_size", lambda *args, **kwargs: kwargs["state"].position.size)
    with pytest.raises(EngineError, match="not a reduction"):
        liquidate(account, Marks({"ETH-USDT-SWAP": 1050}), rules)


def test_a_procedure_past_its_step_bound_raises_an_engine_error(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = get_rules("okx")
    position = Position(symbol="ETH-USDT-SWAP", side=Side.SHORT, size=3000, entry_price=1000, leverage=10)
    account = Account(venue="okx", wallet_balance=10_000, positions=(position,))
    monkeypatch.setattr(LIQUIDATE_MODULE, "_step_bound", lambda states: 0)
    with pytest.raises(EngineError, match="did not end within 0 steps"):
        liquidate(account, Marks({"ETH-USDT-SWAP": 1050}), rules)


def test_a_cross_pool_emptied_below_zero_is_reset_by_the_fund() -> None:
    # Hyperliquid: 2 BTC long at 100,000 (MM 1/80 = 2,500) with 2,000 of margin: a 20 % slice, then the
    # rest, both filled 1.5 % below the mark; the second fill leaves the pool at -1,000, which the fund pays.
    rules = get_rules("hyperliquid")
    long = Position(symbol="BTC", side=Side.LONG, size=2.0, entry_price=100_000.0, leverage=10)
    account = Account(venue="hyperliquid", wallet_balance=2_000.0, positions=(long,))
    marks = Marks({"BTC": 100_000.0})
    outcome = liquidate(account, marks, rules, slippage=0.015)
    (event,) = outcome.events
    assert [f.kind for f in event.fills] == ["reduce", "close"]
    assert [f.size for f in event.fills] == pytest.approx([0.4, 1.6])
    assert event.returned == 0.0
    assert event.insurance_fund == pytest.approx(-1_000.0, rel=1e-12)
    assert event.returned + event.insurance_fund + _slippage_cost(event.fills, marks) == pytest.approx(2_000.0)
    assert outcome.account.positions == ()
    assert outcome.account.wallet_balance == 0.0
