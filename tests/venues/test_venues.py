"""Bybit, OKX and Hyperliquid rules as shipped, and what every venue has in common."""

from __future__ import annotations

import math

import pytest

from crossmargin.errors import InputError, LeverageError, UnknownSymbolError
from crossmargin.margin import evaluate
from crossmargin.margin.position import health_ratio
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import VENUES, get_rules
from crossmargin.venues.base import validate_maint_amounts
from crossmargin.venues.bybit import BybitRules
from crossmargin.venues.hyperliquid import HyperliquidRules, tier_brackets
from crossmargin.venues.okx import OkxRules

SEED = {"binance": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP", "hyperliquid": "BTC"}


def test_registry() -> None:
    assert set(VENUES) == {"binance", "bybit", "okx", "hyperliquid"}
    assert get_rules("OKX").name == "okx"
    with pytest.raises(InputError, match="unknown venue 'ftx'") as caught:
        get_rules("ftx", field="--venue")
    assert caught.value.field == "--venue"
    with pytest.raises(InputError, match="did you mean hyperliquid"):
        get_rules("hyperliqud")


@pytest.mark.parametrize("venue", sorted(SEED))
def test_every_venue_is_sourced_and_has_its_seed_symbol(venue: str) -> None:
    rules = get_rules(venue)
    assert SEED[venue] in rules.symbols()
    assert {"fees", "funding", "leverage"} <= set(rules.sources)
    for sourced in rules.sources.values():
        assert sourced.source.strip()
        assert sourced.as_of[:4].isdigit()
    for symbol in rules.symbols():
        instrument = rules.instrument(symbol)
        assert instrument.venue == venue
        # Binance USDⓈ-M also lists contracts margined in USDC, USD1, U and BTC; the others settle in one currency.
        assert instrument.quote == rules.settle or venue == "binance"
        if instrument.tier_basis == "notional":
            validate_maint_amounts(symbol, instrument.brackets)
        else:
            assert all(b.maint_amount == 0 for b in instrument.brackets)


@pytest.mark.parametrize("venue", sorted(SEED))
def test_unknown_symbol_names_the_venue(venue: str) -> None:
    with pytest.raises(UnknownSymbolError, match=f"on {venue}"):
        get_rules(venue).instrument("NOPE")


def test_bybit_btc_tiers_follow_the_published_table() -> None:
    brackets = BybitRules.load().instrument("BTCUSDT").brackets
    assert len(brackets) == 20
    assert (brackets[0].cap, brackets[0].mm_rate, brackets[0].max_leverage) == (2_000_000.0, 0.005, 100)
    assert (brackets[-1].cap, brackets[-1].mm_rate, brackets[-1].maint_amount) == (80_000_000.0, 0.045, 1_482_000.0)


def test_bybit_leverage_steps_of_a_hundredth() -> None:
    rules = BybitRules.load()
    rules.check_leverage("BTCUSDT", 12.34, size=1.0, price=60_000.0)
    with pytest.raises(LeverageError, match=r"not a multiple of 0\.01"):
        rules.check_leverage("BTCUSDT", 12.345, size=1.0, price=60_000.0)
    with pytest.raises(LeverageError, match="above the bracket cap 90"):
        rules.check_leverage("BTCUSDT", 95, size=40.0, price=60_000.0)  # 2.4M notional: tier 2, 90x


def test_bybit_isolated_margin_is_valued_at_entry() -> None:
    rules = BybitRules.load()
    position = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=1.0,
        entry_price=20_000.0,
        leverage=50,
        mode=MarginMode.ISOLATED,
        isolated_margin=400.0,
    )
    account = Account(venue="bybit", wallet_balance=400.0, positions=(position,))
    for mark in (20_000.0, 25_000.0):
        risk = evaluate(account, Marks({"BTCUSDT": mark}), rules).positions[0]
        assert risk.initial_margin == 400.0  # q E / L whatever the mark
        assert risk.maintenance_margin == pytest.approx(100.0)  # q E MMR
        assert risk.liquidation_price == pytest.approx(19_700.0)  # Bybit's Example 1
    cross = evaluate(
        Account(
            venue="bybit",
            wallet_balance=400.0,
            positions=(Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=20_000.0, leverage=50),),
        ),
        Marks({"BTCUSDT": 25_000.0}),
        rules,
    ).positions[0]
    assert cross.maintenance_margin == pytest.approx(125.0)  # cross is valued at the mark


def test_okx_tiers_count_contracts() -> None:
    rules = OkxRules.load()
    sol = rules.instrument("SOL-USDT-SWAP")
    assert sol.tier_basis == "size"
    assert sol.contract_size == 1.0
    assert (sol.brackets[0].cap, sol.brackets[0].mm_rate) == (500.0, 0.01)
    eth = rules.instrument("ETH-USDT-SWAP")
    assert eth.brackets[0].cap == pytest.approx(300.0)  # 3,000 contracts of 0.1 ETH
    with pytest.raises(LeverageError, match="at size 600 SOL"):
        rules.check_leverage("SOL-USDT-SWAP", 75, size=600.0, price=150.0)  # tier 2: 50x


def test_okx_maintenance_adds_the_liquidation_fee_and_the_ratio_is_health() -> None:
    rules = OkxRules.load()
    position = Position(symbol="SOL-USDT-SWAP", side=Side.LONG, size=100.0, entry_price=150.0, leverage=10)
    account = Account(venue="okx", wallet_balance=2_000.0, positions=(position,))
    risk = evaluate(account, Marks({"SOL-USDT-SWAP": 140.0}), rules)
    (p,) = risk.positions
    assert p.maintenance_margin == pytest.approx(100 * 140.0 * 0.01)  # tier 1, whole position, no deduction
    equity = 2_000.0 - 1_000.0
    assert risk.account.margin_ratio == pytest.approx(equity / (100 * 140.0 * (0.01 + rules.taker_rate)))
    assert risk.account.margin_ratio > 1  # health: above 100 % is safe
    assert health_ratio(0.0, 5.0) == math.inf
    assert health_ratio(10.0, -5.0) == 0.0


def test_okx_cross_tier_counts_both_legs() -> None:
    rules = OkxRules.load()
    legs = (
        Position(
            symbol="SOL-USDT-SWAP", side=Side.LONG, size=400.0, entry_price=150.0, leverage=10, position_side="long"
        ),
        Position(
            symbol="SOL-USDT-SWAP", side=Side.SHORT, size=300.0, entry_price=150.0, leverage=10, position_side="short"
        ),
    )
    risk = evaluate(
        Account(venue="okx", wallet_balance=50_000.0, positions=legs), Marks({"SOL-USDT-SWAP": 150.0}), rules
    )
    assert [p.mm_rate for p in risk.positions] == [0.015, 0.015]  # 700 contracts together: tier 2


def test_okx_refuses_sizes_beyond_the_shipped_table() -> None:
    rules = OkxRules.load()
    big = Position(symbol="BTC-USDT-SWAP", side=Side.LONG, size=11.0, entry_price=60_000.0, leverage=10)
    with pytest.raises(InputError, match="beyond the last tier of BTC-USDT-SWAP") as caught:
        evaluate(Account(venue="okx", wallet_balance=1e6, positions=(big,)), Marks({"BTC-USDT-SWAP": 6e4}), rules)
    assert caught.value.field == "positions[0].size"


def test_hyperliquid_tiers_from_max_leverage() -> None:
    rules = HyperliquidRules.load()
    btc = rules.instrument("BTC").brackets
    assert [b.mm_rate for b in btc] == [1 / 80, 1 / 40]
    # deduction = 150M x (1/40 - 1/80) = 1,875,000 makes MM continuous at 150M
    assert btc[1].maint_amount == pytest.approx(1_875_000.0)
    assert tier_brackets([[0, 3]])[0].mm_rate == pytest.approx(1 / 6)
    assert rules.settle == "USDC"
    assert rules.funding_interval_hours == 1


def test_hyperliquid_has_no_hedge_mode() -> None:
    rules = HyperliquidRules.load()
    leg = Position(symbol="BTC", side=Side.LONG, size=1.0, entry_price=1.0, leverage=1, position_side="long")
    with pytest.raises(InputError, match="hyperliquid has no hedge mode") as caught:
        evaluate(Account(venue="hyperliquid", wallet_balance=10.0, positions=(leg,)), Marks({"BTC": 1.0}), rules)
    assert caught.value.field == "positions[0].position_side"


def test_hyperliquid_margin_example() -> None:
    """Docs 'Margining': a 10,000 USDC position on a 20x asset takes IM 1,000 at 10x, MM 250 at any leverage."""
    rules = HyperliquidRules.load()
    for leverage, im in ((10, 1_000.0), (20, 500.0)):
        position = Position(symbol="SOL", side=Side.LONG, size=100.0, entry_price=100.0, leverage=leverage)
        risk = evaluate(
            Account(venue="hyperliquid", wallet_balance=5_000.0, positions=(position,)), Marks({"SOL": 100.0}), rules
        ).positions[0]
        assert (risk.initial_margin, risk.maintenance_margin) == pytest.approx((im, 250.0))
