"""What a venue's rules object answers (the ``VenueRules`` protocol), and the tiered rules most venues share.

A venue is data (instruments with their brackets, fees, funding interval, leverage rule, liquidation
policy, each with ``source`` and ``as_of``) plus the few methods in which venues differ:

- ``requirement_schedule``: the maintenance requirement of a position as a function of its notional at
  the mark, as brackets. Liquidation happens where a pool's margin balance falls to the sum of these.
- ``maintenance_basis``: the notional maintenance margin is charged on, and its bracket; ``margin/`` computes
  the margin from them (``margin.position.maintenance_margin``), ``requirement_follows_mark`` says whether
  the requirement moves with the mark (not on Bybit isolated, fixed at entry).
- ``im_price``: the price initial margin is valued at (mark on most venues; entry on Bybit isolated).
- ``ratio_kind``: how the venue displays a pool's state (risk ratio, or OKX's health ratio), computed by
  ``margin.position.margin_ratio``.

``TieredRules`` implements these for brackets by notional at the mark (Binance, Hyperliquid); venues
subclass it and override what differs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal, Protocol, Self

from crossmargin.errors import InputError, LeverageError, UnknownSymbolError
from crossmargin.model import Bracket, Instrument, Position

__all__ = [
    "LazyInstruments",
    "LiquidationPolicy",
    "LiquidationStyle",
    "Liquidity",
    "RatioKind",
    "Sourced",
    "TieredRules",
    "VenueRules",
    "read_package_json",
    "shared_settings",
    "sources_of",
    "validate_maint_amounts",
]

Liquidity = Literal["maker", "taker"]
#: 'risk': requirement / margin balance, liquidation at >= 1 (Binance, Bybit, Hyperliquid);
#: 'health': margin balance / requirement, liquidation at <= 1 (OKX).
RatioKind = Literal["risk", "health"]
#: How a venue liquidates a pool once it breaches (see ``crossmargin.margin.liquidate``).
LiquidationStyle = Literal["full", "tier_step_down", "two_tiers_down", "partial_slices"]


@dataclass(frozen=True, slots=True)
class Sourced:
    """Where a rule was read: the venue page or API, and the date it was read (ISO 8601)."""

    source: str
    as_of: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LiquidationPolicy:
    """How the venue liquidates. Rates are fractions of the liquidated notional; money in quote currency.

    ``fee_rate`` (per symbol in ``fee_rates``) is charged on what is liquidated (Binance's clearance fee,
    OKX's liquidation fee); ``slice_fraction`` / ``slice_threshold``: Hyperliquid liquidates positions above
    the threshold notional by that fraction at a time; ``backstop_fraction``: below this fraction of the
    requirement the venue's backstop takes the whole pool over.
    """

    style: LiquidationStyle
    fee_rate: float = 0.0
    fee_rates: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    slice_fraction: float = 1.0
    slice_threshold: float = math.inf
    backstop_fraction: float = 0.0

    def fee_rate_of(self, symbol: str) -> float:
        """Return the liquidation fee rate of ``symbol`` (fraction of liquidated notional)."""
        return self.fee_rates.get(symbol, self.fee_rate)


class VenueRules(Protocol):
    """The rules of one venue: data tables plus the few lines in which venues differ."""

    @property
    def name(self) -> str:
        """Return the venue's name as used in portfolio files ('binance')."""
        ...

    @property
    def settle(self) -> str:
        """Return the settlement (margin) currency, e.g. 'USDT' or 'USDC'."""
        ...

    @property
    def ratio_kind(self) -> RatioKind:
        """Return whether ``margin_ratio`` is a risk ratio (liquidation at >= 1) or a health ratio (<= 1)."""
        ...

    @property
    def hedge_mode(self) -> bool:
        """Return True when the venue allows a long and a short leg of one symbol (hedge mode)."""
        ...

    @property
    def liquidation(self) -> LiquidationPolicy:
        """Return how the venue liquidates."""
        ...

    @property
    def sources(self) -> Mapping[str, Sourced]:
        """Return where each rule was read."""
        ...

    def symbols(self) -> tuple[str, ...]:
        """Return every symbol the venue lists, sorted."""
        ...

    def instrument(self, symbol: str, *, field: str = "symbol") -> Instrument:
        """Return the instrument of ``symbol``; raise UnknownSymbolError naming ``field`` otherwise."""
        ...

    def fee_rate(self, liquidity: Liquidity) -> float:
        """Return the default trading fee rate (fraction of fill notional) for maker or taker fills."""
        ...

    def check_leverage(
        self, symbol: str, leverage: float, *, size: float, price: float, field: str = "leverage"
    ) -> None:
        """Raise LeverageError when ``leverage`` is not allowed for ``size`` (base) of ``symbol`` at ``price``."""
        ...

    def check_position(self, position: Position, *, field: str = "") -> None:
        """Raise InputError when the venue cannot hold ``position`` (e.g. hedge mode where there is none)."""
        ...

    def requirement_schedule(self, instrument: Instrument, position: Position, pool_size: float) -> tuple[Bracket, ...]:
        """Return the maintenance requirement of ``position`` by its notional at the mark, as brackets.

        ``pool_size`` is the base-unit size of the symbol in the position's pool (both hedge legs in cross),
        for venues whose tiers are by size.
        """
        ...

    def requirement_follows_mark(self, position: Position) -> bool:
        """Return False where the requirement is fixed when the position opens (Bybit isolated: at entry)."""
        ...

    def maintenance_basis(
        self, instrument: Instrument, position: Position, mark: float, pool_size: float
    ) -> tuple[float, Bracket]:
        """Return the notional (quote) the venue charges maintenance margin on at ``mark``, and its bracket.

        ``crossmargin.margin.position.maintenance_margin`` of the two is the maintenance margin shown.
        """
        ...

    def tier_price(self, position: Position, mark: float) -> float:
        """Return the price at which ``position`` is valued to find its bracket (mark; Bybit isolated: entry)."""
        ...

    def im_price(self, position: Position, mark: float) -> float:
        """Return the price (quote) at which initial margin is valued (mark; Bybit isolated: entry)."""
        ...

    def with_brackets(self, brackets: Mapping[str, tuple[Bracket, ...]]) -> Self:
        """Return a copy in which the given symbols use ``brackets`` (to replay examples made with old tables)."""
        ...


class LazyInstruments(Mapping[str, Instrument]):
    """A venue's instruments, each built from its table entry on first use and kept (read-only).

    A venue lists hundreds of symbols and a command uses a few: building every instrument (with its
    bracket checks) when the rules load would cost each ``crossmargin check`` tens of milliseconds.
    ``build(symbol, entry)`` returns the instrument of one entry of the venue's table.
    """

    def __init__(self, entries: Mapping[str, Any], build: Callable[[str, Any], Instrument]) -> None:
        self._entries = entries
        self._build = build
        self._built: dict[str, Instrument] = {}

    def __getitem__(self, symbol: str) -> Instrument:
        built = self._built.get(symbol)
        if built is None:
            built = self._built[symbol] = self._build(symbol, self._entries[symbol])
        return built

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def read_package_json(filename: str) -> Any:
    """Return the parsed JSON file ``filename`` of ``crossmargin/venues/data``; for the four tier tables, the user's
    refreshed copy in ``<data dir>/venues/`` when it is valid (``crossmargin.venues.tables.read_table``)."""
    from crossmargin.venues.tables import read_table  # noqa: PLC0415 - tables imports this module

    return read_table(filename)


def sources_of(params: Mapping[str, Any], extra: Mapping[str, Sourced] | None = None) -> Mapping[str, Sourced]:
    """Return ``{rule: Sourced}`` for every entry of a params file that carries ``source`` and ``as_of``."""
    found = {
        key: Sourced(str(value["source"]), str(value["as_of"]))
        for key, value in params.items()
        if isinstance(value, Mapping) and "source" in value and "as_of" in value
    }
    return MappingProxyType({**(extra or {}), **found})


def shared_settings(table: Mapping[str, Any], params: Mapping[str, Any], tables_key: str) -> dict[str, Any]:
    """Return the ``TieredRules`` fields every venue reads the same way from its two data files.

    Fees (``fees.maker_rate`` / ``taker_rate``), funding interval, leverage step (``leverage.step``, or 1
    when ``leverage.integer_only``), the sources of every rule (the table's under ``tables_key``) and the
    notes of both files.
    """
    leverage = params["leverage"]
    step = leverage.get("step")
    if step is None and leverage.get("integer_only"):
        step = 1
    return {
        "maker_rate": float(params["fees"]["maker_rate"]),
        "taker_rate": float(params["fees"]["taker_rate"]),
        "funding_interval_hours": float(params["funding"]["interval_hours"]),
        "leverage_step": None if step is None else float(step),
        "sources": sources_of(params, {tables_key: Sourced(table["source"], table["as_of"])}),
        "notes": (*table.get("notes", ()), *params.get("notes", ())),
    }


def validate_maint_amounts(symbol: str, brackets: tuple[Bracket, ...], *, rel_tol: float = 1e-9) -> None:
    """Raise ValueError unless each bracket's maintenance amount follows the deduction recursion.

    ``cum_1 = 0`` and ``cum_n = floor_n x (mmr_n - mmr_(n-1)) + cum_(n-1)``, which makes maintenance margin
    continuous in notional (Binance 'How to Calculate Liquidation Price of COIN-M Futures Contracts';
    Bybit 'Margin Parameters'; Hyperliquid 'Margin tiers').
    """
    expected = 0.0
    previous_rate = brackets[0].mm_rate
    for index, bracket in enumerate(brackets):
        expected += bracket.floor * (bracket.mm_rate - previous_rate)
        previous_rate = bracket.mm_rate
        if not math.isclose(bracket.maint_amount, expected, rel_tol=rel_tol, abs_tol=1e-6):
            raise ValueError(
                f"{symbol} bracket {index + 1}: maintenance amount {bracket.maint_amount} != {expected} "
                "from the recursion"
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class TieredRules:
    """Rules of a venue whose brackets are by notional at the mark, with a maintenance amount (deduction).

    ``leverage_step``: 1 for integer leverage (Binance, Hyperliquid), a smaller step where the venue
    allows fractions (Bybit 0.01), None for any real leverage >= 1.
    """

    venue: str
    settle: str
    instruments: Mapping[str, Instrument]
    maker_rate: float
    taker_rate: float
    funding_interval_hours: float
    leverage_step: float | None
    hedge_mode: bool
    liquidation: LiquidationPolicy
    sources: Mapping[str, Sourced]
    notes: tuple[str, ...] = ()
    ratio_kind: RatioKind = "risk"

    @property
    def name(self) -> str:
        """Return the venue's name."""
        return self.venue

    def with_brackets(self, brackets: Mapping[str, tuple[Bracket, ...]]) -> Self:
        """Return a copy in which the given symbols use ``brackets`` instead of the shipped tables.

        Used to reproduce worked examples made with older tables (and to pin one bracket).
        """
        instruments = dict(self.instruments)
        for symbol, table in brackets.items():
            base = instruments.get(symbol) or Instrument(
                symbol=symbol,
                venue=self.name,
                base=symbol.removesuffix(self.settle).split("-")[0],
                quote=self.settle,
                brackets=table,
            )
            instruments[symbol] = replace(base, brackets=table)
        return replace(self, instruments=MappingProxyType(instruments))

    def symbols(self) -> tuple[str, ...]:
        """Return every listed symbol, sorted."""
        return tuple(sorted(self.instruments))

    def instrument(self, symbol: str, *, field: str = "symbol") -> Instrument:
        """Return the instrument of ``symbol``; raise UnknownSymbolError (with near matches) otherwise."""
        try:
            return self.instruments[symbol]
        except (KeyError, TypeError):
            raise UnknownSymbolError(field, symbol, self.name, self.instruments) from None

    def fee_rate(self, liquidity: Liquidity) -> float:
        """Return the regular-user fee rate (fraction of fill notional) for a maker or taker fill."""
        return self.maker_rate if liquidity == "maker" else self.taker_rate

    def check_leverage(
        self, symbol: str, leverage: float, *, size: float, price: float, field: str = "leverage"
    ) -> None:
        """Raise LeverageError unless ``leverage`` is allowed for ``size`` (base) of ``symbol`` at ``price`` (quote).

        Allowed: from 1 to the cap of the bracket that holds the position (by notional, or by size where
        the venue's tiers count contracts), on the venue's leverage step. A position past the last bracket
        is refused with ``BeyondTableError`` on the size field beside ``field``.
        """
        instrument = self.instrument(symbol)
        size_field = field.removesuffix("leverage") + "size"  # 'positions[0].leverage' -> 'positions[0].size'
        cap = instrument.bracket_for(instrument.tier_value(size, price), field=size_field).max_leverage
        step = self.leverage_step
        kind = "an integer " if step == 1 else (f"a multiple of {step:g} " if step else "")
        where = (
            f"notional {size * price:,.2f}"
            if instrument.tier_basis == "notional"
            else f"size {size:g} {instrument.base}"
        )
        allowed = f"{kind}1..{cap:g} for {symbol} at {where}"
        if not math.isfinite(leverage) or leverage < 1:
            raise LeverageError(field, leverage, allowed, detail=f"leverage {leverage!r} is below 1 or not finite")
        if step and not math.isclose(leverage / step, round(leverage / step), rel_tol=0.0, abs_tol=1e-9):
            detail = "not an integer" if step == 1 else f"not a multiple of {step:g}"
            raise LeverageError(field, leverage, allowed, detail=f"leverage {leverage!r} is {detail}")
        if leverage > cap:
            raise LeverageError(
                field, leverage, allowed, detail=f"leverage {leverage:g} above the bracket cap {cap:g} for {symbol}"
            )

    def check_position(self, position: Position, *, field: str = "") -> None:
        """Raise InputError when ``position`` is a hedge-mode leg on a venue without hedge mode."""
        if position.hedged and not self.hedge_mode:
            raise InputError(
                f"{field}position_side",
                position.position_side,
                "'both' (this venue has no hedge mode)",
                detail=f"{self.name} has no hedge mode",
            )

    def requirement_schedule(self, instrument: Instrument, position: Position, pool_size: float) -> tuple[Bracket, ...]:
        """Return the instrument's brackets: requirement = maintenance margin at the mark notional."""
        return instrument.brackets

    def tier_price(self, position: Position, mark: float) -> float:
        """Return the price at which the position is valued to find its bracket: the mark."""
        return mark

    def requirement_follows_mark(self, position: Position) -> bool:
        """Return True: the requirement is the maintenance margin at the mark notional."""
        return True

    def maintenance_basis(
        self, instrument: Instrument, position: Position, mark: float, pool_size: float
    ) -> tuple[float, Bracket]:
        """Return the value ``size x tier_price`` (quote) and the bracket that holds it."""
        value = position.size * self.tier_price(position, mark)
        return value, instrument.bracket_for(value)

    def im_price(self, position: Position, mark: float) -> float:
        """Return the mark: initial margin is ``q x mark / leverage``."""
        return mark
