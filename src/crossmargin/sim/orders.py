"""Orders a strategy sends, and how a bar fills them (last-trade prices, fees, slippage).

Fill rules (documented in ``docs/backtest.md``):

- ``market``: at the next bar's open, moved against the order by ``slippage`` (a fraction); taker fee.
- ``limit``: rests; fills in the first bar whose range reaches the price, at the better of the open and
  the limit (a buy limit below the open fills at the limit, a gap down fills at the open); maker fee, no
  slippage.
- ``stop`` (stop-market): rests; triggers in the first bar whose range reaches the price (a sell stop when
  the low <= price, a buy stop when the high >= price) and fills at the worse of the open and the trigger
  (a gap through the stop fills at the open), moved by slippage; taker fee.
- ``take_profit`` (take-profit market): a sell take-profit triggers when the high >= price, a buy one when
  the low <= price; fills at the better of the open and the trigger, moved by slippage; taker fee.
- Within one bar, stops fill before take-profits and limits (the worst case: the bar's path is unknown).
- ``reduce_only`` orders never open or flip a position; a reduce-only order with nothing to reduce is
  cancelled. ``market = "spot"`` orders buy or sell spot at the decision bar's spot close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from crossmargin.errors import InputError
from crossmargin.model import MarginMode, Side
from crossmargin.numeric import require_positive

__all__ = [
    "ORDER_TYPES",
    "Order",
    "OrderType",
    "fill_price",
    "trigger_direction",
]

OrderType = Literal["market", "limit", "stop", "take_profit"]
ORDER_TYPES: tuple[OrderType, ...] = ("market", "limit", "stop", "take_profit")


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """An order: ``side`` LONG buys, SHORT sells; ``size`` in base units (> 0); ``price`` in quote.

    ``price`` is the limit price (limit) or the trigger price (stop, take_profit); ``leverage`` and
    ``margin_mode`` apply when the order opens a position (default: the run's leverage and mode; setting
    the mode per order builds mixed accounts); ``tag`` names the order in the trade log.
    """

    symbol: str
    side: Side
    size: float
    type: OrderType = "market"
    price: float | None = None
    reduce_only: bool = False
    leverage: float | None = None
    market: Literal["perp", "spot"] = "perp"
    margin_mode: MarginMode | None = None
    tag: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "side", Side.parse("side", self.side))
        require_positive("size", self.size)
        if self.type not in ORDER_TYPES:
            raise InputError("type", self.type, " | ".join(ORDER_TYPES))
        if self.type == "market":
            if self.price is not None:
                raise InputError("price", self.price, "no price for a market order")
        else:
            require_positive("price", self.price)
        if self.market not in ("perp", "spot"):
            raise InputError("market", self.market, "'perp' or 'spot'")
        if self.market == "spot" and (self.type != "market" or self.reduce_only):
            raise InputError("type", self.type, "spot orders are plain market orders")
        if self.leverage is not None:
            require_positive("leverage", self.leverage)
        if self.margin_mode is not None:
            object.__setattr__(self, "margin_mode", MarginMode.parse("margin_mode", self.margin_mode))


def trigger_direction(order: Order) -> int:
    """Return +1 when the order fires on the bar's high reaching its price, -1 on the low."""
    buy = order.side is Side.LONG
    if order.type == "limit":
        return -1 if buy else 1
    if order.type == "stop":
        return 1 if buy else -1
    return -1 if buy else 1  # take_profit


def fill_price(order: Order, bar_open: float, slippage: float) -> float:
    """Return the fill price (quote) of a triggered or market ``order`` in a bar opening at ``bar_open``."""
    sign = int(order.side)  # +1 buy: slippage raises the price paid
    if order.type == "market":
        return bar_open * (1 + sign * slippage)
    price = order.price
    assert price is not None  # checked in __post_init__
    if order.type == "limit":
        return min(bar_open, price) if sign > 0 else max(bar_open, price)
    if order.type == "stop":
        base = max(bar_open, price) if sign > 0 else min(bar_open, price)
    else:
        base = min(bar_open, price) if sign > 0 else max(bar_open, price)
    return base * (1 + sign * slippage)
