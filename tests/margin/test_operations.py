"""Account operations and the refusals Binance makes."""

from __future__ import annotations

import pytest

from crossmargin.errors import InputError, LeverageError, RejectedError
from crossmargin.margin import evaluate
from crossmargin.margin.operations import (
    add_isolated_margin,
    change_leverage,
    close_position,
    increase_position,
    max_removable_margin,
    open_position,
    reduce_position,
    remove_isolated_margin,
)
from crossmargin.model import Account, MarginMode, Marks, Side
from crossmargin.venues.binance import BinanceRules

MARKS = Marks({"BTCUSDT": 60_000.0, "ETHUSDT": 3_000.0})
EMPTY = Account(venue="binance", wallet_balance=10_000.0)


def _open_btc(binance: BinanceRules, mode: MarginMode = MarginMode.CROSS) -> Account:
    return open_position(
        EMPTY, MARKS, binance, symbol="BTCUSDT", side=Side.LONG, size=0.5, price=60_000.0, leverage=10, mode=mode
    ).account


def test_open_charges_the_taker_fee(binance: BinanceRules) -> None:
    # Act
    result = open_position(
        EMPTY, MARKS, binance, symbol="BTCUSDT", side=Side.LONG, size=0.5, price=60_000.0, leverage=10
    )
    # Assert: fee 30,000 x 0.05 % = 15 leaves 9,985 in the wallet.
    assert result.event.fee == pytest.approx(15.0)
    assert result.account.wallet_balance == pytest.approx(9_985.0)
    position = result.account.position("BTCUSDT")
    assert position is not None
    assert position.entry_price == 60_000.0
    assert position.isolated_margin is None


def test_open_isolated_moves_the_initial_margin(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    position = account.position("BTCUSDT")
    assert position is not None
    assert position.isolated_margin == pytest.approx(3_000.0)  # 30,000 / 10
    assert account.cross_wallet_balance == pytest.approx(10_000.0 - 15.0 - 3_000.0)


def test_open_with_maker_liquidity(binance: BinanceRules) -> None:
    result = open_position(
        EMPTY,
        MARKS,
        binance,
        symbol="BTCUSDT",
        side=Side.LONG,
        size=0.5,
        price=60_000.0,
        leverage=10,
        liquidity="maker",
    )
    assert result.event.fee == pytest.approx(6.0)  # 30,000 x 0.02 %


def test_open_refuses_cost_above_available(binance: BinanceRules) -> None:
    # 2 BTC at 5x needs 24,000 of initial margin; the wallet holds 10,000.
    with pytest.raises(RejectedError, match=r"insufficient_margin.*24,000\.00.*10,000\.00"):
        open_position(EMPTY, MARKS, binance, symbol="BTCUSDT", side=Side.LONG, size=2.0, price=60_000.0, leverage=5)


def test_open_counts_the_open_loss(binance: BinanceRules) -> None:
    # A buy at 61,000 with the mark at 60,000: cost 0.8 x 61,000 / 10 + 0.8 x 1,000 = 4,880 + 800 = 5,680.
    with pytest.raises(RejectedError, match=r"open loss 800\.00"):
        open_position(
            Account(venue="binance", wallet_balance=5_000.0),
            MARKS,
            binance,
            symbol="BTCUSDT",
            side=Side.LONG,
            size=0.8,
            price=61_000.0,
            leverage=10,
        )


def test_open_isolated_needs_the_cross_wallet(binance: BinanceRules) -> None:
    # A cross long in profit lifts the available balance above the cross wallet; profit cannot fund margin.
    account = open_position(
        EMPTY, MARKS, binance, symbol="ETHUSDT", side=Side.LONG, size=10.0, price=3_000.0, leverage=20
    ).account
    rich_marks = Marks({"BTCUSDT": 60_000.0, "ETHUSDT": 4_000.0})  # +10,000 of uPnL
    with pytest.raises(RejectedError, match="above the cross wallet"):
        open_position(
            account,
            rich_marks,
            binance,
            symbol="BTCUSDT",
            side=Side.LONG,
            size=1.0,
            price=60_000.0,
            leverage=5,
            mode=MarginMode.ISOLATED,
        )


def test_open_refuses_leverage_above_the_bracket_cap(binance: BinanceRules) -> None:
    # 20 BTC at 60,000 = 1.2M notional: bracket 800k..3M caps leverage at 75x.
    rich = Account(venue="binance", wallet_balance=1e7)
    with pytest.raises(LeverageError, match="above the bracket cap 75 for BTCUSDT"):
        open_position(rich, MARKS, binance, symbol="BTCUSDT", side=Side.LONG, size=20.0, price=60_000.0, leverage=100)


def test_open_refuses_a_second_position_in_one_way_mode(binance: BinanceRules) -> None:
    account = _open_btc(binance)
    with pytest.raises(RejectedError, match="position_exists"):
        open_position(account, MARKS, binance, symbol="BTCUSDT", side=Side.SHORT, size=0.1, price=60_000.0, leverage=10)


def test_open_refuses_bad_size(binance: BinanceRules) -> None:
    with pytest.raises(InputError, match=r"size: -1\.0 is not > 0"):
        open_position(EMPTY, MARKS, binance, symbol="BTCUSDT", side=Side.LONG, size=-1.0, price=60_000.0, leverage=10)


def test_increase_averages_the_entry(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    # Act: add 0.5 at 62,000 (the mark there too, so no open loss)
    result = increase_position(
        account, Marks({"BTCUSDT": 62_000.0}), binance, symbol="BTCUSDT", size=0.5, price=62_000.0
    )
    position = result.account.position("BTCUSDT")
    # Assert: entry (0.5 x 60,000 + 0.5 x 62,000) / 1 = 61,000; isolated 3,000 + 31,000 / 10 = 6,100.
    assert position is not None
    assert position.size == 1.0
    assert position.entry_price == pytest.approx(61_000.0)
    assert position.isolated_margin == pytest.approx(6_100.0)
    assert result.event.fee == pytest.approx(15.5)


def test_increase_without_a_position_is_refused(binance: BinanceRules) -> None:
    with pytest.raises(RejectedError, match="no_position"):
        increase_position(EMPTY, MARKS, binance, symbol="BTCUSDT", size=0.1, price=60_000.0)


def test_reduce_realises_pnl_and_releases_isolated_margin(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    # Act: close 0.2 of 0.5 at 62,000
    result = reduce_position(account, binance, symbol="BTCUSDT", size=0.2, price=62_000.0)
    # Assert: realised 0.2 x 2,000 = 400; fee 12,400 x 0.05 % = 6.2; isolated 3,000 x 0.3 / 0.5 = 1,800.
    assert result.event.realized_pnl == pytest.approx(400.0)
    assert result.event.fee == pytest.approx(6.2)
    assert result.event.margin_delta == pytest.approx(-1_200.0)
    position = result.account.position("BTCUSDT")
    assert position is not None
    assert position.isolated_margin == pytest.approx(1_800.0)
    assert result.account.wallet_balance == pytest.approx(10_000.0 - 15.0 + 400.0 - 6.2)


def test_reduce_keeps_the_liquidation_price_of_what_remains(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    before = evaluate(account, MARKS, binance).positions[0].liquidation_price
    reduced = reduce_position(account, binance, symbol="BTCUSDT", size=0.3, price=58_000.0).account
    after = evaluate(reduced, MARKS, binance).positions[0].liquidation_price
    assert after == pytest.approx(before, rel=1e-12)


def test_reduce_above_size_is_refused(binance: BinanceRules) -> None:
    with pytest.raises(RejectedError, match="reduce_exceeds_size"):
        reduce_position(_open_btc(binance), binance, symbol="BTCUSDT", size=0.6, price=60_000.0)


def test_close_removes_the_position(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    result = close_position(account, binance, symbol="BTCUSDT", price=59_000.0)
    # Realised 0.5 x -1,000 = -500; fees 15 (open) + 29,500 x 0.05 % = 14.75 (close).
    assert result.account.positions == ()
    assert result.event.kind == "close"
    assert result.event.margin_delta == pytest.approx(-3_000.0)
    assert result.account.wallet_balance == pytest.approx(10_000.0 - 15.0 - 500.0 - 14.75)


def test_add_and_remove_isolated_margin(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    added = add_isolated_margin(account, MARKS, binance, symbol="BTCUSDT", amount=1_000.0).account
    position = added.position("BTCUSDT")
    assert position is not None
    assert position.isolated_margin == pytest.approx(4_000.0)
    # Removable at the mark: 4,000 + min(0, 0) - 30,000 / 10 = 1,000.
    assert max_removable_margin(position, 60_000.0) == pytest.approx(1_000.0)
    removed = remove_isolated_margin(added, MARKS, binance, symbol="BTCUSDT", amount=1_000.0).account
    back = removed.position("BTCUSDT")
    assert back is not None
    assert back.isolated_margin == pytest.approx(3_000.0)


def test_remove_below_the_requirement_is_refused(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    # At a mark of 59,000 the loss is 500: removable max(0, 3,000 - 500 - 2,950) = 0.
    with pytest.raises(RejectedError, match="margin_below_requirement"):
        remove_isolated_margin(account, Marks({"BTCUSDT": 59_000.0}), binance, symbol="BTCUSDT", amount=1.0)


def test_add_margin_above_transferable_is_refused(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    with pytest.raises(RejectedError, match="above the transferable"):
        add_isolated_margin(account, MARKS, binance, symbol="BTCUSDT", amount=7_000.0)  # 6,985 transferable


def test_margin_on_a_cross_position_is_refused(binance: BinanceRules) -> None:
    with pytest.raises(RejectedError, match="not_isolated"):
        add_isolated_margin(_open_btc(binance), MARKS, binance, symbol="BTCUSDT", amount=10.0)


def test_change_leverage(binance: BinanceRules) -> None:
    account = _open_btc(binance)
    result = change_leverage(account, MARKS, binance, symbol="BTCUSDT", leverage=20)
    position = result.account.position("BTCUSDT")
    assert position is not None
    assert position.leverage == 20
    assert evaluate(result.account, MARKS, binance).account.initial_margin == pytest.approx(1_500.0)


def test_change_leverage_refuses_what_margin_cannot_cover(binance: BinanceRules) -> None:
    # 0.5 BTC cross on a 9,985 wallet: at 1x the initial margin 30,000 is not covered.
    with pytest.raises(RejectedError, match="insufficient_margin"):
        change_leverage(_open_btc(binance), MARKS, binance, symbol="BTCUSDT", leverage=1)
    # Isolated 3,000 cannot cover 30,000 / 5 = 6,000 at 5x.
    with pytest.raises(RejectedError, match="add margin first"):
        change_leverage(_open_btc(binance, MarginMode.ISOLATED), MARKS, binance, symbol="BTCUSDT", leverage=5)


def test_change_leverage_refuses_above_cap_and_non_integer(binance: BinanceRules) -> None:
    with pytest.raises(LeverageError, match="above the bracket cap 150"):
        change_leverage(_open_btc(binance), MARKS, binance, symbol="BTCUSDT", leverage=151)
    with pytest.raises(LeverageError, match="not an integer"):
        change_leverage(_open_btc(binance), MARKS, binance, symbol="BTCUSDT", leverage=12.5)
    with pytest.raises(LeverageError, match="below 1"):
        change_leverage(_open_btc(binance), MARKS, binance, symbol="BTCUSDT", leverage=0.5)


def test_raising_isolated_leverage_keeps_the_isolated_margin(binance: BinanceRules) -> None:
    account = _open_btc(binance, MarginMode.ISOLATED)
    raised = change_leverage(account, MARKS, binance, symbol="BTCUSDT", leverage=20).account
    position = raised.position("BTCUSDT")
    assert position is not None
    assert position.leverage == 20
    assert position.isolated_margin == pytest.approx(3_000.0)
    # The margin above the new requirement (30,000 / 20 = 1,500) can now be removed.
    assert max_removable_margin(position, 60_000.0) == pytest.approx(1_500.0)


def test_nothing_is_removable_from_a_cross_position(binance: BinanceRules) -> None:
    position = _open_btc(binance).position("BTCUSDT")
    assert position is not None
    assert max_removable_margin(position, 60_000.0) == 0.0
