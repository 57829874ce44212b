"""Account operations with the venue's checks: open, increase, reduce, close, isolated margin, leverage.

Each operation takes an account and returns ``OperationResult(account, event)``: a new account (values are
immutable) and a record of what happened. What the venue would refuse raises ``RejectedError`` with a
reason code; bad values raise ``InputError`` naming the argument.

Modelling choices (Binance USDⓈ-M, one-way mode; pages read 2026-11-25):

- Opening or increasing costs ``size x price / leverage`` (initial margin) plus the open loss
  ``size x max(0, s x (price - mark))``, and is refused when that exceeds the available balance
  ('Margin Requirements' on Binance's developer forum; 'How to Check Futures Wallet Balance').
  An isolated position's margin comes out of the cross wallet, so it must also fit in it.
- Leverage is checked against the bracket of the position's notional after the fill, at the fill price.
- The fee (``notional x rate``, maker or taker) is charged to the wallet at each fill.
- Reducing by a fraction f realises ``s x q_f x (price - entry)`` into the wallet; an isolated position
  keeps ``(1 - f)`` of its isolated wallet and releases the rest to the cross wallet, so a reduction at
  any price leaves the remaining position's liquidation price where it was (tier-1 brackets).
- Removing isolated margin is allowed down to what the position needs:
  ``isolated wallet + min(unrealised PnL, 0) >= notional at mark / leverage``; unrealised profit does not
  count towards it.
- Funding (``settle_funding``) is paid into or out of the wallet at each settlement (``margin.funding``); an
  isolated position's payment goes into its isolated wallet, which never falls below ``ISOLATED_FLOOR``: the
  rest is a loss the venue's liquidation takes, not a debt of the cross wallet.
- A spot trade (``spot_trade``, for strategies that hold spot beside perps) pays ``size x price`` plus the fee
  ``notional x rate`` from the cross wallet (a sale receives it, less the fee); a buy above the cross wallet is
  refused.
- Changing leverage is refused above the bracket's cap for the notional at the mark, and when the new
  initial margin is not covered: for cross, ``cross wallet + cross uPnL >= sum of cross IM``; for
  isolated, ``isolated wallet + min(uPnL, 0) >= new IM``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from crossmargin.errors import RejectedError
from crossmargin.margin.account import account_totals, evaluate
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.position import fee, initial_margin, notional, unrealized_pnl
from crossmargin.model import Account, MarginMode, Marks, Position, PositionSide, Side
from crossmargin.numeric import require_finite, require_positive
from crossmargin.venues.base import Liquidity, VenueRules

__all__ = [
    "ISOLATED_FLOOR",
    "OperationEvent",
    "OperationResult",
    "add_isolated_margin",
    "change_leverage",
    "close_position",
    "increase_position",
    "max_removable_margin",
    "open_position",
    "reduce_position",
    "remove_isolated_margin",
    "settle_funding",
    "spot_trade",
]

#: The least an isolated wallet keeps after a funding payment (quote): the rest is the liquidation's loss.
ISOLATED_FLOOR = 1e-9


@dataclass(frozen=True, slots=True, kw_only=True)
class OperationEvent:
    """What an operation did. Money in quote currency, ``size`` in base units.

    ``fee`` is charged (>= 0); ``realized_pnl`` > 0 is a profit; ``margin_delta`` is the change of the
    position's isolated wallet (> 0 into the position).
    """

    kind: str
    symbol: str
    size: float = 0.0
    price: float = 0.0
    fee: float = 0.0
    realized_pnl: float = 0.0
    margin_delta: float = 0.0
    leverage: float | None = None


@dataclass(frozen=True, slots=True)
class OperationResult:
    """The account after an operation, and the event that made it."""

    account: Account
    event: OperationEvent


def _existing(account: Account, symbol: str) -> Position:
    position = account.position(symbol)
    if position is None:
        raise RejectedError("no_position", f"no open position in {symbol}")
    return position


def _replace_position(account: Account, old: Position, new: Position | None, wallet: float) -> Account:
    positions = (
        tuple(p for p in account.positions if p is not old)
        if new is None
        else tuple(new if p is old else p for p in account.positions)
    )
    return replace(account, wallet_balance=wallet, positions=positions)


def _fill_cost(
    account: Account,
    marks: Marks,
    rules: VenueRules,
    *,
    symbol: str,
    side: Side,
    size: float,
    price: float,
    leverage: float,
    mode: MarginMode,
) -> float:
    """Return the initial margin (quote) of a fill, after refusing it where the venue would."""
    margin = initial_margin(notional(size, price), leverage)
    open_loss = size * max(0.0, int(side) * (price - marks.price(symbol)))
    available = account_totals(account, marks, rules).account.available_balance
    if margin + open_loss > available:
        raise RejectedError(
            "insufficient_margin",
            f"{symbol}: cost {margin + open_loss:,.2f} (initial margin {margin:,.2f} + open loss "
            f"{open_loss:,.2f}) above the available balance {available:,.2f}",
        )
    if mode is MarginMode.ISOLATED and margin > account.cross_wallet_balance:
        raise RejectedError(
            "insufficient_margin",
            f"{symbol}: isolated margin {margin:,.2f} above the cross wallet {account.cross_wallet_balance:,.2f}",
        )
    return margin


def open_position(
    account: Account,
    marks: Marks,
    rules: VenueRules,
    *,
    symbol: str,
    side: Side,
    size: float,
    price: float,
    leverage: float,
    mode: MarginMode = MarginMode.CROSS,
    liquidity: Liquidity = "taker",
) -> OperationResult:
    """Return the account after opening a new position of ``size`` (base) at ``price`` (quote)."""
    require_positive("size", size)
    require_positive("price", price)
    rules.instrument(symbol)
    if account.position(symbol) is not None:
        raise RejectedError("position_exists", f"{symbol} already has a position; increase or reduce it instead")
    rules.check_leverage(symbol, leverage, size=size, price=price)
    margin = _fill_cost(
        account, marks, rules, symbol=symbol, side=side, size=size, price=price, leverage=leverage, mode=mode
    )
    paid = fee(notional(size, price), rules.fee_rate(liquidity))
    position = Position(
        symbol=symbol,
        side=side,
        size=size,
        entry_price=price,
        leverage=leverage,
        mode=mode,
        isolated_margin=margin if mode is MarginMode.ISOLATED else None,
    )
    new = replace(account, wallet_balance=account.wallet_balance - paid, positions=(*account.positions, position))
    event = OperationEvent(
        kind="open",
        symbol=symbol,
        size=size,
        price=price,
        fee=paid,
        margin_delta=position.isolated_margin or 0.0,
        leverage=leverage,
    )
    return OperationResult(new, event)


def increase_position(
    account: Account,
    marks: Marks,
    rules: VenueRules,
    *,
    symbol: str,
    size: float,
    price: float,
    liquidity: Liquidity = "taker",
) -> OperationResult:
    """Return the account after adding ``size`` (base) at ``price`` to the open position of ``symbol``.

    The entry price becomes the size-weighted average of the old entry and the fill price.
    """
    require_positive("size", size)
    require_positive("price", price)
    old = _existing(account, symbol)
    total = old.size + size
    rules.check_leverage(symbol, old.leverage, size=total, price=price)
    margin = _fill_cost(
        account,
        marks,
        rules,
        symbol=symbol,
        side=old.side,
        size=size,
        price=price,
        leverage=old.leverage,
        mode=old.mode,
    )
    paid = fee(notional(size, price), rules.fee_rate(liquidity))
    isolated = None if old.isolated_margin is None else old.isolated_margin + margin
    new_position = replace(
        old,
        size=total,
        entry_price=(old.size * old.entry_price + size * price) / total,
        isolated_margin=isolated,
    )
    event = OperationEvent(
        kind="increase",
        symbol=symbol,
        size=size,
        price=price,
        fee=paid,
        margin_delta=margin if isolated is not None else 0.0,
    )
    return OperationResult(_replace_position(account, old, new_position, account.wallet_balance - paid), event)


def reduce_position(
    account: Account,
    rules: VenueRules,
    *,
    symbol: str,
    size: float,
    price: float,
    liquidity: Liquidity = "taker",
) -> OperationResult:
    """Return the account after closing ``size`` (base) of the position of ``symbol`` at ``price``.

    Realised PnL ``s x size x (price - entry)`` and the fee settle into the wallet; an isolated position
    keeps the unreduced fraction of its isolated wallet (module docstring). Reducing is never refused for
    margin; a size above the position's is refused (``reduce_exceeds_size``).
    """
    require_positive("size", size)
    require_positive("price", price)
    old = _existing(account, symbol)
    if size > old.size * (1 + 1e-12):
        raise RejectedError("reduce_exceeds_size", f"{symbol}: reduce {size:g} above the position size {old.size:g}")
    size = min(size, old.size)
    realized = unrealized_pnl(old.side, size, old.entry_price, price)
    paid = fee(notional(size, price), rules.fee_rate(liquidity))
    remaining = old.size - size
    wallet = account.wallet_balance + realized - paid
    if remaining <= old.size * 1e-12:
        released = old.isolated_margin or 0.0
        return OperationResult(
            _replace_position(account, old, None, wallet),
            OperationEvent(
                kind="close",
                symbol=symbol,
                size=size,
                price=price,
                fee=paid,
                realized_pnl=realized,
                margin_delta=-released,
            ),
        )
    kept = None if old.isolated_margin is None else old.isolated_margin * remaining / old.size
    new_position = replace(old, size=remaining, isolated_margin=kept)
    delta = 0.0 if kept is None or old.isolated_margin is None else kept - old.isolated_margin
    event = OperationEvent(
        kind="reduce", symbol=symbol, size=size, price=price, fee=paid, realized_pnl=realized, margin_delta=delta
    )
    return OperationResult(_replace_position(account, old, new_position, wallet), event)


def close_position(
    account: Account, rules: VenueRules, *, symbol: str, price: float, liquidity: Liquidity = "taker"
) -> OperationResult:
    """Return the account after closing the whole position of ``symbol`` at ``price`` (quote)."""
    old = _existing(account, symbol)
    return reduce_position(account, rules, symbol=symbol, size=old.size, price=price, liquidity=liquidity)


def _isolated(account: Account, symbol: str) -> Position:
    position = _existing(account, symbol)
    if position.isolated_margin is None:
        raise RejectedError("not_isolated", f"{symbol} is a cross position; only isolated positions hold margin")
    return position


def add_isolated_margin(
    account: Account, marks: Marks, rules: VenueRules, *, symbol: str, amount: float
) -> OperationResult:
    """Return the account after moving ``amount`` (quote) from the cross wallet into an isolated position.

    Refused above ``min(available balance, cross wallet)``: unrealised profit cannot be transferred.
    """
    require_positive("amount", amount)
    old = _isolated(account, symbol)
    assert old.isolated_margin is not None
    transferable = min(account_totals(account, marks, rules).account.available_balance, account.cross_wallet_balance)
    if amount > transferable:
        raise RejectedError(
            "insufficient_margin", f"{symbol}: add {amount:,.2f} above the transferable {transferable:,.2f}"
        )
    new_position = replace(old, isolated_margin=old.isolated_margin + amount)
    event = OperationEvent(kind="add_margin", symbol=symbol, margin_delta=amount)
    return OperationResult(_replace_position(account, old, new_position, account.wallet_balance), event)


def max_removable_margin(position: Position, mark: float) -> float:
    """Return how much isolated margin (quote) may leave ``position`` at ``mark`` (0 for cross positions).

    ``max(0, isolated wallet + min(uPnL, 0) - notional at mark / leverage)``.
    """
    if position.isolated_margin is None:
        return 0.0
    upnl = unrealized_pnl(position.side, position.size, position.entry_price, mark)
    need = initial_margin(notional(position.size, mark), position.leverage)
    return max(0.0, position.isolated_margin + min(upnl, 0.0) - need)


def remove_isolated_margin(
    account: Account, marks: Marks, rules: VenueRules, *, symbol: str, amount: float
) -> OperationResult:
    """Return the account after moving ``amount`` (quote) from an isolated position back to the cross wallet."""
    require_positive("amount", amount)
    rules.instrument(symbol)
    old = _isolated(account, symbol)
    assert old.isolated_margin is not None
    limit = max_removable_margin(old, marks.price(symbol))
    if amount > limit:
        raise RejectedError(
            "margin_below_requirement",
            f"{symbol}: removing {amount:,.2f} would leave less than the position needs (at most {limit:,.2f})",
        )
    new_position = replace(old, isolated_margin=old.isolated_margin - amount)
    event = OperationEvent(kind="remove_margin", symbol=symbol, margin_delta=-amount)
    return OperationResult(_replace_position(account, old, new_position, account.wallet_balance), event)


def change_leverage(
    account: Account, marks: Marks, rules: VenueRules, *, symbol: str, leverage: float
) -> OperationResult:
    """Return the account with the position of ``symbol`` at a new ``leverage`` (see the module docstring)."""
    old = _existing(account, symbol)
    mark = marks.price(symbol)
    rules.check_leverage(symbol, leverage, size=old.size, price=mark)
    new_position = replace(old, leverage=leverage)
    new_account = _replace_position(account, old, new_position, account.wallet_balance)
    upnl = unrealized_pnl(old.side, old.size, old.entry_price, mark)
    if old.isolated_margin is not None:
        need = initial_margin(notional(old.size, mark), leverage)
        if old.isolated_margin + min(upnl, 0.0) < need:
            raise RejectedError(
                "insufficient_margin",
                f"{symbol}: isolated margin {old.isolated_margin:,.2f} does not cover the initial margin "
                f"{need:,.2f} at leverage {leverage:g}; add margin first",
            )
    else:
        cross = [r for r in evaluate(new_account, marks, rules).positions if r.isolated_margin is None]
        cross_equity = new_account.cross_wallet_balance + math.fsum(r.unrealized_pnl for r in cross)
        cross_im = math.fsum(r.initial_margin for r in cross)
        if cross_equity < cross_im:
            raise RejectedError(
                "insufficient_margin",
                f"{symbol}: cross margin {cross_equity:,.2f} does not cover the initial margin {cross_im:,.2f} "
                f"at leverage {leverage:g}",
            )
    return OperationResult(new_account, OperationEvent(kind="leverage", symbol=symbol, leverage=leverage))


def settle_funding(
    account: Account, *, symbol: str, mark: float, rate: float, position_side: PositionSide = "both"
) -> OperationResult:
    """Return the account after one funding settlement of its position in ``symbol`` (the leg ``position_side``).

    The payment is ``margin.funding.funding_payment`` at ``mark`` (quote per base unit) and ``rate`` (fraction
    per settlement, > 0: longs pay shorts). Cross: into the wallet. Isolated: into the isolated wallet (and so
    the total wallet), which keeps at least ``ISOLATED_FLOOR``. ``event.realized_pnl`` is the payment applied
    (quote, > 0 received); ``event.margin_delta`` the change of the isolated wallet.
    """
    require_positive("mark", mark)
    require_finite("rate", rate)
    old = account.position(symbol, position_side)
    if old is None:
        raise RejectedError("no_position", f"no open position in {symbol}")
    payment = funding_payment(old.side, old.size, mark, rate)
    if old.isolated_margin is None:
        event = OperationEvent(kind="funding", symbol=symbol, price=mark, realized_pnl=payment)
        return OperationResult(replace(account, wallet_balance=account.wallet_balance + payment), event)
    margin = max(old.isolated_margin + payment, ISOLATED_FLOOR)
    applied = margin - old.isolated_margin
    new = replace(old, isolated_margin=margin)
    event = OperationEvent(kind="funding", symbol=symbol, price=mark, realized_pnl=applied, margin_delta=applied)
    return OperationResult(_replace_position(account, old, new, account.wallet_balance + applied), event)


def spot_trade(
    account: Account, *, symbol: str, side: Side, size: float, price: float, fee_rate: float
) -> OperationResult:
    """Return the account after buying (``Side.LONG``) or selling ``size`` base units of spot at ``price``.

    The wallet pays ``size x price`` plus the fee ``size x price x fee_rate`` (a sale receives ``size x price``
    less the fee). A buy whose cost exceeds the cross wallet is refused (``insufficient_balance``). Spot holdings
    live outside the perpetual account: the caller keeps them.
    """
    require_positive("size", size)
    require_positive("price", price)
    require_positive("fee_rate", fee_rate, allow_zero=True)
    value = notional(size, price)
    charged = fee(value, fee_rate)
    cost = int(side) * value + charged
    if side is Side.LONG and cost > account.cross_wallet_balance + 1e-9:
        raise RejectedError(
            "insufficient_balance",
            f"spot buy {size:g} {symbol}: cost {cost:,.2f} above the free wallet {account.cross_wallet_balance:,.2f}",
        )
    event = OperationEvent(
        kind="spot_buy" if side is Side.LONG else "spot_sell", symbol=symbol, size=size, price=price, fee=charged
    )
    return OperationResult(replace(account, wallet_balance=account.wallet_balance - cost), event)
