"""Value types, errors, numeric helpers and the public API: what they accept, what they refuse."""

from __future__ import annotations

import importlib
import math

import pytest

import crossmargin
from crossmargin.errors import BeyondTableError, InputError, LeverageError, RejectedError, suggest
from crossmargin.model import Account, Bracket, Instrument, MarginMode, Marks, Position, Side
from crossmargin.numeric import is_close, quantise, require_finite, require_positive


def _bracket(floor: float = 0.0, cap: float = 50_000.0, **overrides: float) -> Bracket:
    values = {"mm_rate": 0.004, "maint_amount": 0.0, "max_leverage": 125.0} | overrides
    return Bracket(floor=floor, cap=cap, **values)


def _position(**overrides: object) -> Position:
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "side": "long",
        "size": 1.0,
        "entry_price": 60_000.0,
        "leverage": 10,
    } | overrides
    return Position(**values)  # type: ignore[arg-type]


def _ruff_order(name: str) -> tuple[int, str]:
    """Return the key of ruff's ``__all__`` sort (RUF022): CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_public_api_is_sorted_and_importable() -> None:
    assert crossmargin.__all__ == sorted(crossmargin.__all__, key=_ruff_order)
    for name in crossmargin.__all__:
        assert getattr(crossmargin, name) is not None
    for module in ("crossmargin.margin", "crossmargin.model", "crossmargin.errors", "crossmargin.venues"):
        exported = importlib.import_module(module).__all__
        assert exported == sorted(exported, key=_ruff_order), module


def test_side_and_mode_parse() -> None:
    assert Side.parse("side", "LONG") is Side.LONG
    assert Side.parse("side", Side.SHORT) is Side.SHORT
    assert Side.SHORT.label == "short"
    assert int(Side.SHORT) == -1
    assert MarginMode.parse("margin_mode", "Isolated") is MarginMode.ISOLATED
    assert MarginMode.parse("margin_mode", MarginMode.CROSS) is MarginMode.CROSS
    with pytest.raises(InputError, match="'long' or 'short'"):
        Side.parse("side", 1)
    with pytest.raises(InputError, match="'cross' or 'isolated'"):
        MarginMode.parse("margin_mode", "portfolio")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"floor": -1.0}, "floor"),
        ({"cap": 0.0}, "cap"),
        ({"mm_rate": -0.1}, "mm_rate"),
        ({"mm_rate": 1.0}, "mm_rate"),
        ({"maint_amount": math.nan}, "maint_amount"),
        ({"max_leverage": 0.5}, "max_leverage"),
    ],
)
def test_bracket_refuses(overrides: dict[str, float], field: str) -> None:
    with pytest.raises(InputError) as caught:
        _bracket(**overrides)
    assert caught.value.field == field


def test_instrument_requires_contiguous_brackets_from_zero() -> None:
    with pytest.raises(InputError, match="at least one bracket"):
        Instrument(symbol="X", venue="v", base="X", quote="USDT", brackets=())
    with pytest.raises(InputError) as caught:
        Instrument(symbol="X", venue="v", base="X", quote="USDT", brackets=(_bracket(floor=10.0),))
    assert caught.value.field == "brackets[0].floor"
    with pytest.raises(InputError) as caught:
        Instrument(
            symbol="X",
            venue="v",
            base="X",
            quote="USDT",
            brackets=(_bracket(), _bracket(floor=60_000.0, cap=1e6, mm_rate=0.005, maint_amount=50.0)),
        )
    assert caught.value.field == "brackets[1].floor"


def test_bracket_for_is_half_open_and_refuses_past_the_last_cap() -> None:
    low = _bracket()
    high = _bracket(floor=50_000.0, cap=250_000.0, mm_rate=0.005, maint_amount=50.0, max_leverage=100.0)
    instrument = Instrument(symbol="X", venue="v", base="X", quote="USDT", brackets=(low, high), as_of="2026-11")
    assert instrument.bracket_for(0.0) is low
    assert instrument.bracket_for(49_999.99) is low
    assert instrument.bracket_for(50_000.0) is high
    assert instrument.bracket_for(249_999.99) is high
    assert instrument.max_leverage == 125.0
    assert instrument.last_cap == 250_000.0
    for value in (250_000.0, 1e12):
        with pytest.raises(BeyondTableError, match=r"positions\[0\]\.size: notional .* beyond the last tier of X on v"):
            instrument.bracket_for(value, field="positions[0].size")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"symbol": ""}, "symbol"),
        ({"side": "buy"}, "side"),
        ({"size": 0.0}, "size"),
        ({"size": -1.0}, "size"),
        ({"size": math.inf}, "size"),
        ({"entry_price": math.nan}, "entry_price"),
        ({"leverage": 0.9}, "leverage"),
        ({"leverage": True}, "leverage"),
        ({"mode": "portfolio"}, "margin_mode"),
        ({"isolated_margin": 100.0}, "isolated_margin"),
        ({"mode": "isolated"}, "isolated_margin"),
        ({"mode": "isolated", "isolated_margin": -5.0}, "isolated_margin"),
    ],
)
def test_position_refuses(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InputError) as caught:
        _position(**overrides)
    assert caught.value.field == field


def test_position_normalises_side_and_mode() -> None:
    position = _position(side="SHORT", mode="isolated", isolated_margin=6_000.0)
    assert position.side is Side.SHORT
    assert position.mode is MarginMode.ISOLATED
    assert position.entry_notional == 60_000.0


def test_account_refuses_duplicates_and_unfunded_isolated_margin() -> None:
    with pytest.raises(InputError, match="duplicate symbol") as caught:
        Account(venue="binance", wallet_balance=1e5, positions=(_position(), _position(side="short")))
    assert caught.value.field == "positions[1].symbol"
    isolated = _position(mode="isolated", isolated_margin=6_000.0)
    with pytest.raises(InputError, match="less than the isolated margins") as caught:
        Account(venue="binance", wallet_balance=5_999.0, positions=(isolated,))
    assert caught.value.field == "wallet_balance"
    with pytest.raises(InputError, match=">= 0"):
        Account(venue="binance", wallet_balance=-1.0)


def test_account_pools() -> None:
    isolated = _position(mode="isolated", isolated_margin=6_000.0)
    cross = _position(symbol="ETHUSDT", entry_price=2_000.0)
    account = Account(venue="binance", wallet_balance=10_000.0, positions=(isolated, cross))
    assert account.isolated_wallet_total == 6_000.0
    assert account.cross_wallet_balance == 4_000.0
    assert account.position("ETHUSDT") is cross
    assert account.position("SOLUSDT") is None


def test_marks() -> None:
    marks = Marks({"BTCUSDT": 61_000.0})
    assert marks.price("BTCUSDT") == 61_000.0
    assert marks.with_price("ETHUSDT", 2_000.0).price("ETHUSDT") == 2_000.0
    assert "ETHUSDT" not in marks.prices  # with_price returns a new value
    with pytest.raises(InputError, match="missing mark price for ETHUSDT") as caught:
        marks.price("ETHUSDT")
    assert caught.value.field == "marks.ETHUSDT"
    with pytest.raises(InputError) as caught:
        Marks({"BTCUSDT": -1.0})
    assert caught.value.field == "marks.BTCUSDT"


def test_input_error_prefixed_keeps_type_and_message() -> None:
    error = LeverageError("leverage", 200, "1..150", detail="too high")
    moved = error.prefixed("positions[2].")
    assert type(moved) is LeverageError
    assert moved.field == "positions[2].leverage"
    assert str(moved) == "positions[2].leverage: too high (allowed: 1..150)"
    assert error.field == "leverage"  # the original is untouched
    assert isinstance(moved, ValueError)


def test_rejected_error_has_a_stable_reason() -> None:
    error = RejectedError("insufficient_margin", "BTCUSDT: needs 10")
    assert error.reason == "insufficient_margin"
    assert str(error) == "rejected (insufficient_margin): BTCUSDT: needs 10"


def test_suggest() -> None:
    assert suggest("btcusdt", ["BTCUSDT", "ETHUSDT"]).startswith("BTCUSDT")
    assert suggest("qqqq", ["BTCUSDT"]) == ""


def test_require_finite_and_positive() -> None:
    assert require_finite("x", 3) == 3.0
    assert require_positive("x", 0, allow_zero=True) == 0.0
    for bad in (None, "1", True, math.nan, -math.inf):
        with pytest.raises(InputError):
            require_finite("x", bad)
    with pytest.raises(InputError, match="not > 0"):
        require_positive("x", 0)
    with pytest.raises(InputError, match="not >= 0"):
        require_positive("x", -0.1, allow_zero=True)


@pytest.mark.parametrize(
    ("value", "step", "direction", "expected"),
    [
        (1234.567, 0.1, "nearest", 1234.6),
        (1234.567, 0.1, "down", 1234.5),
        (1234.561, 0.1, "up", 1234.6),
        (1234.5, 0.1, "up", 1234.5),  # already on the grid: not pushed a tick away by roundoff
        (1234.5, 0.1, "down", 1234.5),
        (0.123456, 0.0001, "nearest", 0.1235),
    ],
)
def test_quantise(value: float, step: float, direction: str, expected: float) -> None:
    assert quantise(value, step, direction) == pytest.approx(expected, rel=1e-12)  # type: ignore[arg-type]


def test_quantise_refuses_a_bad_step() -> None:
    with pytest.raises(ValueError, match="step must be > 0"):
        quantise(1.0, 0.0)


def test_is_close() -> None:
    assert is_close(1.0, 1.0 + 1e-12)
    assert not is_close(1.0, 1.0 + 1e-6)
    assert is_close(0.0, 1e-10, abs_tol=1e-9)
