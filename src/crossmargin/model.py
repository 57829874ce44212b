"""Value types of crossmargin: sides, margin modes, instruments, brackets, positions, accounts, marks.

Units: prices and money in the quote currency (USDT, USDC); sizes in base units, always > 0, with the
direction carried by ``Side``; rates are fractions (0.004 means 0.4 %). Values are frozen: a change makes
a new value (``dataclasses.replace``), and ``__post_init__`` rejects what is not allowed with
``InputError(field, value, allowed)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import Literal

from crossmargin.errors import BeyondTableError, InputError
from crossmargin.numeric import require_finite, require_positive

__all__ = [
    "POSITION_SIDES",
    "Account",
    "AccountRisk",
    "AccountTotals",
    "Bracket",
    "Instrument",
    "MarginMode",
    "Marks",
    "Position",
    "PositionRisk",
    "PositionSide",
    "Side",
]


#: Binance's and OKX's position side: 'both' in one-way mode; 'long' / 'short' for the legs in hedge mode.
PositionSide = Literal["both", "long", "short"]
POSITION_SIDES: tuple[PositionSide, ...] = ("both", "long", "short")


class Side(IntEnum):
    """Direction of a position; its value is the sign used in every formula (+1 long, -1 short)."""

    LONG = 1
    SHORT = -1

    @property
    def label(self) -> Literal["long", "short"]:
        """Return 'long' or 'short', the word used in portfolio files and JSON."""
        return "long" if self is Side.LONG else "short"

    @classmethod
    def parse(cls, field_name: str, value: object) -> Side:
        """Return the Side named by ``value`` ('long' / 'short', any case); raise InputError otherwise."""
        if isinstance(value, Side):
            return value
        if isinstance(value, str) and value.lower() in ("long", "short"):
            return cls.LONG if value.lower() == "long" else cls.SHORT
        raise InputError(field_name, value, "'long' or 'short'", detail=f"side {value!r} is not long or short")


class MarginMode(StrEnum):
    """Where a position's collateral lives: the shared cross pool, or its own isolated wallet."""

    CROSS = "cross"
    ISOLATED = "isolated"

    @classmethod
    def parse(cls, field_name: str, value: object) -> MarginMode:
        """Return the MarginMode named by ``value``; raise InputError otherwise."""
        if isinstance(value, MarginMode):
            return value
        if isinstance(value, str) and value.lower() in ("cross", "isolated"):
            return cls(value.lower())
        raise InputError(field_name, value, "'cross' or 'isolated'")


@dataclass(frozen=True, slots=True, kw_only=True)
class Bracket:
    """One leverage bracket (risk-limit tier) of a symbol, by position notional.

    ``floor`` <= notional < ``cap`` (quote currency). Maintenance margin in the bracket is
    ``notional x mm_rate - maint_amount``; ``max_leverage`` caps the initial leverage.
    """

    floor: float
    cap: float
    mm_rate: float
    maint_amount: float
    max_leverage: float

    def __post_init__(self) -> None:
        require_positive("floor", self.floor, allow_zero=True)
        if not (self.cap > self.floor):  # cap may be +inf for a pinned single bracket
            raise InputError("cap", self.cap, f"a notional above the floor {self.floor}")
        mm_rate = require_positive("mm_rate", self.mm_rate, allow_zero=True)
        if mm_rate >= 1:
            raise InputError("mm_rate", self.mm_rate, "a fraction in [0, 1)")
        require_finite("maint_amount", self.maint_amount)
        if require_finite("max_leverage", self.max_leverage) < 1:
            raise InputError("max_leverage", self.max_leverage, ">= 1")


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """A linear perpetual contract: its symbol, currencies and leverage brackets (ascending by floor).

    ``contract_size`` is base units per contract (1 for Binance USDⓈ-M, 0.01 for OKX's BTC-USDT-SWAP);
    ``tick`` and ``step`` are the price and size increments where the venue's table gives them, else None.
    ``tier_basis``: brackets are by notional at the mark (quote currency; Binance, Bybit, Hyperliquid) or
    by position size (base units; OKX, whose tiers count contracts). ``as_of`` is the date the table was
    read (ISO 8601), quoted when a position is refused beyond its last tier.
    """

    symbol: str
    venue: str
    base: str
    quote: str
    brackets: tuple[Bracket, ...]
    contract_size: float = 1.0
    tick: float | None = None
    step: float | None = None
    tier_basis: Literal["notional", "size"] = "notional"
    as_of: str = ""

    def tier_value(self, size: float, price: float) -> float:
        """Return what the brackets are keyed by: notional ``size x price`` (quote), or ``size`` (base units)."""
        return size * price if self.tier_basis == "notional" else size

    def __post_init__(self) -> None:
        if not self.brackets:
            raise InputError("brackets", self.brackets, "at least one bracket")
        if self.brackets[0].floor != 0:
            raise InputError("brackets[0].floor", self.brackets[0].floor, "0")
        for index, (lower, upper) in enumerate(zip(self.brackets, self.brackets[1:], strict=False), start=1):
            if upper.floor != lower.cap:
                raise InputError(f"brackets[{index}].floor", upper.floor, f"the previous cap {lower.cap}")

    @property
    def max_leverage(self) -> float:
        """Return the highest leverage the symbol allows (that of its first bracket)."""
        return self.brackets[0].max_leverage

    @property
    def last_cap(self) -> float:
        """Return the cap of the last bracket (``tier_value`` units; +inf where the last tier is open-ended)."""
        return self.brackets[-1].cap

    def beyond_table(self, value: float, *, field: str = "size") -> BeyondTableError:
        """Return the error refusing a tier value ``value`` at or past ``last_cap`` (for the caller to raise)."""
        unit, what = (self.quote, "notional") if self.tier_basis == "notional" else (self.base, "size")
        return BeyondTableError(
            field,
            value,
            symbol=self.symbol,
            venue=self.venue,
            cap=self.last_cap,
            unit=unit,
            what=what,
            as_of=self.as_of,
        )

    def bracket_for(self, value: float, *, field: str = "size") -> Bracket:
        """Return the bracket containing the tier value ``value`` (see ``tier_value``; >= 0).

        Brackets are half-open [floor, cap). A value at or past the last cap is refused with
        ``BeyondTableError`` naming ``field``: the venue lists no tier there, and the engine never
        extrapolates a table (the one rule for every venue).
        """
        for bracket in self.brackets:
            if value < bracket.cap:
                return bracket
        raise self.beyond_table(value, field=field)


@dataclass(frozen=True, slots=True, kw_only=True)
class Position:
    """An open position in one-way mode.

    ``size`` in base units (> 0), ``entry_price`` in quote currency, ``leverage`` as a multiple (>= 1).
    ``isolated_margin`` (quote currency) is the isolated wallet of an isolated position, and must be None
    for a cross position.
    """

    symbol: str
    side: Side
    size: float
    entry_price: float
    leverage: float
    mode: MarginMode = MarginMode.CROSS
    isolated_margin: float | None = None
    position_side: PositionSide = "both"

    def __post_init__(self) -> None:
        if not isinstance(self.symbol, str) or not self.symbol:
            raise InputError("symbol", self.symbol, "a non-empty symbol such as 'BTCUSDT'")
        object.__setattr__(self, "side", Side.parse("side", self.side))
        if self.position_side not in POSITION_SIDES:
            raise InputError(
                "position_side", self.position_side, "'both' (one-way mode), 'long' or 'short' (hedge mode)"
            )
        if self.position_side not in ("both", self.side.label):
            raise InputError(
                "position_side",
                self.position_side,
                f"'{self.side.label}' for a {self.side.label} position in hedge mode, or 'both'",
                detail=f"position_side {self.position_side!r} does not match side {self.side.label!r}",
            )
        require_positive("size", self.size)
        require_positive("entry_price", self.entry_price)
        if require_finite("leverage", self.leverage) < 1:
            raise InputError("leverage", self.leverage, ">= 1")
        object.__setattr__(self, "mode", MarginMode.parse("margin_mode", self.mode))
        if self.mode is MarginMode.CROSS and self.isolated_margin is not None:
            raise InputError(
                "isolated_margin",
                self.isolated_margin,
                "only on an isolated position",
                detail="isolated_margin is set on a cross position",
            )
        if self.mode is MarginMode.ISOLATED:
            if self.isolated_margin is None:
                raise InputError("isolated_margin", None, "a finite number > 0 for an isolated position")
            require_positive("isolated_margin", self.isolated_margin)

    @property
    def hedged(self) -> bool:
        """Return True for a leg of a hedge-mode account (position side LONG or SHORT)."""
        return self.position_side != "both"

    @property
    def key(self) -> tuple[str, str]:
        """Return what identifies the position in its account: (symbol, position side)."""
        return (self.symbol, self.position_side)

    @property
    def entry_notional(self) -> float:
        """Return size x entry price (quote currency)."""
        return self.size * self.entry_price


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One futures account on one venue, in one-way mode.

    ``wallet_balance`` (quote currency) is the whole wallet, isolated wallets included (Binance's
    ``totalWalletBalance``); the cross wallet is what remains after the isolated margins.
    """

    venue: str
    wallet_balance: float
    positions: tuple[Position, ...] = ()
    #: Allow a cross wallet in deficit (below zero), carried by the unrealised profit of other cross
    #: positions. Only a liquidation in progress produces such an account; input never may.
    cross_deficit_allowed: bool = field(default=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        require_finite("wallet_balance", self.wallet_balance)
        if not self.cross_deficit_allowed:
            require_positive("wallet_balance", self.wallet_balance, allow_zero=True)
        seen: dict[str, set[str]] = {}
        for index, position in enumerate(self.positions):
            sides = seen.setdefault(position.symbol, set())
            if position.position_side in sides or (sides and ("both" in sides or not position.hedged)):
                raise InputError(
                    f"positions[{index}].symbol",
                    position.symbol,
                    "one position per symbol in one-way mode; one long and one short leg in hedge mode",
                    detail=f"duplicate symbol {position.symbol!r}"
                    + ("" if position.hedged else " (set position_side = 'long' / 'short' for hedge mode)"),
                )
            sides.add(position.position_side)
        isolated = self.isolated_wallet_total
        if not self.cross_deficit_allowed and isolated > self.wallet_balance * (1 + 1e-12):
            raise InputError(
                "wallet_balance",
                self.wallet_balance,
                f">= the sum of isolated margins ({isolated:,.2f})",
                detail=f"{self.wallet_balance:,.2f} is less than the isolated margins it must hold",
            )

    @property
    def isolated_wallet_total(self) -> float:
        """Return the sum of the isolated wallets (quote currency)."""
        return math.fsum(p.isolated_margin or 0.0 for p in self.positions)

    @property
    def cross_wallet_balance(self) -> float:
        """Return the cross wallet: whole wallet less the isolated wallets (quote currency).

        >= 0 (up to roundoff, clamped) unless ``cross_deficit_allowed``.
        """
        cross = self.wallet_balance - self.isolated_wallet_total
        return cross if self.cross_deficit_allowed else max(0.0, cross)

    def position(self, symbol: str, position_side: PositionSide = "both") -> Position | None:
        """Return the open position of ``symbol`` (a hedge-mode leg with ``position_side``), or None."""
        return next((p for p in self.positions if p.key == (symbol, position_side)), None)


@dataclass(frozen=True, slots=True)
class Marks:
    """Mark prices by symbol (quote currency, > 0)."""

    prices: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        checked = {symbol: require_positive(f"marks.{symbol}", price) for symbol, price in self.prices.items()}
        object.__setattr__(self, "prices", MappingProxyType(checked))

    def price(self, symbol: str) -> float:
        """Return the mark price of ``symbol``; raise InputError when it is missing."""
        try:
            return self.prices[symbol]
        except KeyError:
            raise InputError(
                f"marks.{symbol}",
                None,
                "a mark price > 0 for every position's symbol",
                detail=f"missing mark price for {symbol}",
            ) from None

    def with_price(self, symbol: str, price: float) -> Marks:
        """Return a copy with ``symbol`` marked at ``price``."""
        return Marks({**self.prices, symbol: price})


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRisk:
    """Margin figures of one position at the marks. Field names are the ``--json`` keys.

    Money in quote currency; ``mm_rate`` a fraction; ``distance_to_liquidation`` a fraction of the mark,
    positive while the mark is on the safe side of the liquidation price. ``isolated_margin`` is None for
    cross positions; ``liquidation_price`` and ``bankruptcy_price`` are None where no price reaches them,
    and ``liquidation_note`` then says why when the pool's formula does have a root that the engine cannot
    vouch for ('beyond the last bracket': the price would carry the notional past the venue's last tier).
    """

    symbol: str
    side: str
    size: float
    entry_price: float
    mark_price: float
    margin_mode: str
    leverage: float
    notional: float
    unrealized_pnl: float
    initial_margin: float
    maintenance_margin: float
    mm_rate: float
    maint_amount: float
    isolated_margin: float | None
    liquidation_price: float | None
    bankruptcy_price: float | None
    distance_to_liquidation: float | None
    liquidation_note: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountTotals:
    """Account-wide figures (quote currency). ``margin_ratio`` is the cross pool's (a fraction; 1 = liquidation)."""

    wallet_balance: float
    unrealized_pnl: float
    margin_balance: float
    initial_margin: float
    maintenance_margin: float
    margin_ratio: float
    available_balance: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountRisk:
    """The result of checking an account: ``dataclasses.asdict`` of it is the ``--json`` object."""

    venue: str
    account: AccountTotals
    positions: tuple[PositionRisk, ...]
    #: Margin ratio of each position's pool (its own if isolated, else the cross pool's), as the venue
    #: shows it. Not part of the ``--json`` contract (``cli.risk_json`` leaves it out).
    pool_ratios: tuple[float, ...] = field(default=(), compare=False)
