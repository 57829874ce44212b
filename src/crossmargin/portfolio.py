"""Portfolio files (TOML): read, validate, and turn into an Account and its Marks.

Schema (money in quote currency, sizes in base units)::

    venue = "binance"                 # optional, default "binance"
    wallet_balance = 10000            # whole wallet, isolated margins included
    [[positions]]
    symbol = "BTCUSDT"
    side = "long"                     # or "short"
    size = 0.5                        # > 0
    entry_price = 60000               # > 0
    leverage = 10                     # 1 .. the bracket's cap at the entry notional
    margin_mode = "cross"             # optional, default "cross"; or "isolated"
    isolated_margin = 3000            # isolated only; default entry notional / leverage
    position_side = "both"            # optional; "long" / "short" for the legs of hedge mode
    [marks]
    BTCUSDT = 61000                   # one mark price per position's symbol

Every error names the field (``positions[1].size``) and what is allowed. Unknown keys are refused, so a
misspelt key is never silently ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from crossmargin.errors import InputError, PortfolioFileError, suggest
from crossmargin.margin.position import initial_margin
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.numeric import require_positive
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules

__all__ = [
    "MODES",
    "MODE_LABELS",
    "POSITION_KEYS",
    "TOP_KEYS",
    "ModeBooks",
    "Portfolio",
    "all_cross",
    "all_isolated",
    "compare_modes",
    "load_portfolio",
    "parse_portfolio",
]

TOP_KEYS = ("venue", "wallet_balance", "positions", "marks", "name")
POSITION_KEYS = (
    "symbol",
    "side",
    "size",
    "entry_price",
    "leverage",
    "margin_mode",
    "isolated_margin",
    "position_side",
)


@dataclass(frozen=True, slots=True)
class Portfolio:
    """An account, the mark prices to evaluate it at, and the venue rules it is checked against."""

    account: Account
    marks: Marks
    rules: VenueRules


def load_portfolio(path: Path, *, venue: str | None = None) -> Portfolio:
    """Return the portfolio in the TOML file ``path``; ``venue`` overrides the file's venue.

    Raises PortfolioFileError for a missing, unreadable or invalid file, InputError for a bad value.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PortfolioFileError(
            "file", str(path), "an existing TOML file", detail=f"no such file {str(path)!r}"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise PortfolioFileError("file", str(path), "a readable UTF-8 TOML file", detail=str(error)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise PortfolioFileError("file", str(path), "valid TOML", detail=f"invalid TOML: {error}") from None
    return parse_portfolio(data, venue=venue)


def _check_keys(table: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            hint = suggest(key, allowed)
            detail = f"unknown key {key!r}" + (f" (did you mean {hint}?)" if hint else "")
            raise InputError(f"{prefix}{key}", table[key], ", ".join(allowed), detail=detail)


def _require(table: Mapping[str, Any], key: str, prefix: str) -> Any:
    if key not in table:
        raise InputError(f"{prefix}{key}", None, "a value", detail=f"missing {key!r}")
    return table[key]


def _string(value: object, field: str, allowed: str) -> str:
    if not isinstance(value, str):
        raise InputError(field, value, allowed, detail=f"{value!r} is not a string")
    return value


def _position(raw: object, index: int, rules: VenueRules) -> Position:
    prefix = f"positions[{index}]."
    if not isinstance(raw, Mapping):
        raise InputError(f"positions[{index}]", raw, "a table ([[positions]])")
    _check_keys(raw, POSITION_KEYS, prefix)
    symbol = _string(_require(raw, "symbol", prefix), f"{prefix}symbol", "a symbol such as 'BTCUSDT'")
    rules.instrument(symbol, field=f"{prefix}symbol")
    side = Side.parse(f"{prefix}side", _require(raw, "side", prefix))
    size = require_positive(f"{prefix}size", _require(raw, "size", prefix))
    entry = require_positive(f"{prefix}entry_price", _require(raw, "entry_price", prefix))
    leverage_value = _require(raw, "leverage", prefix)
    rules.check_leverage(
        symbol,
        require_positive(f"{prefix}leverage", leverage_value),
        size=size,
        price=entry,
        field=f"{prefix}leverage",
    )
    leverage = leverage_value if isinstance(leverage_value, int) else float(leverage_value)
    mode = MarginMode.parse(f"{prefix}margin_mode", raw.get("margin_mode", "cross"))
    isolated: float | None = None
    if "isolated_margin" in raw:
        if mode is MarginMode.CROSS:
            raise InputError(
                f"{prefix}isolated_margin",
                raw["isolated_margin"],
                "only with margin_mode = 'isolated'",
                detail="isolated_margin is set on a cross position",
            )
        isolated = require_positive(f"{prefix}isolated_margin", raw["isolated_margin"])
    elif mode is MarginMode.ISOLATED:
        isolated = initial_margin(size * entry, leverage)
    position_side = raw.get("position_side", "both")
    try:
        position = Position(
            symbol=symbol,
            side=side,
            size=size,
            entry_price=entry,
            leverage=leverage,
            mode=mode,
            isolated_margin=isolated,
            position_side=position_side,
        )
    except InputError as error:  # position_side is the one field not checked above
        raise error.prefixed(prefix) from None
    rules.check_position(position, field=prefix)
    return position


def parse_portfolio(data: Mapping[str, Any], *, venue: str | None = None) -> Portfolio:
    """Return the portfolio described by the parsed TOML ``data`` (see the module docstring)."""
    _check_keys(data, TOP_KEYS, "")
    venue_name = venue if venue is not None else data.get("venue", "binance")
    rules = get_rules(_string(venue_name, "venue", "a venue name"))
    wallet = require_positive("wallet_balance", _require(data, "wallet_balance", ""), allow_zero=True)
    raw_positions = data.get("positions", [])
    if not isinstance(raw_positions, list):
        raise InputError("positions", raw_positions, "an array of tables ([[positions]])")
    positions = tuple(_position(raw, index, rules) for index, raw in enumerate(raw_positions))
    raw_marks = data.get("marks", {})
    if not isinstance(raw_marks, Mapping):
        raise InputError("marks", raw_marks, "a table of symbol = mark price")
    for symbol in raw_marks:
        rules.instrument(symbol, field=f"marks.{symbol}")
    marks = Marks({symbol: require_positive(f"marks.{symbol}", price) for symbol, price in raw_marks.items()})
    for position in positions:
        marks.price(position.symbol)
    return Portfolio(
        account=Account(venue=rules.name, wallet_balance=wallet, positions=positions), marks=marks, rules=rules
    )


def all_cross(account: Account) -> Account:
    """Return ``account`` with every position in cross margin (same wallet)."""
    return replace(
        account, positions=tuple(replace(p, mode=MarginMode.CROSS, isolated_margin=None) for p in account.positions)
    )


def all_isolated(account: Account) -> Account:
    """Return ``account`` with every position isolated (same wallet, quote currency).

    A position already isolated keeps its own ``isolated_margin``; a position recast from cross holds
    ``entry notional / leverage``. Raises InputError (field ``wallet_balance``) when the wallet cannot fund
    those isolated margins.
    """
    return replace(
        account,
        positions=tuple(
            p
            if p.mode is MarginMode.ISOLATED
            else replace(p, mode=MarginMode.ISOLATED, isolated_margin=initial_margin(p.entry_notional, p.leverage))
            for p in account.positions
        ),
    )


#: The books every face shows, in this order: the book as given, then what if all cross, all isolated.
MODES: tuple[str, ...] = ("as_given", "cross", "isolated")
#: How people read each of ``MODES``.
MODE_LABELS: Mapping[str, str] = {
    "as_given": "as given",
    "cross": "what if all cross",
    "isolated": "what if all isolated",
}


@dataclass(frozen=True, slots=True)
class ModeBooks:
    """The book as given and its recasts (``compare_modes``).

    ``books`` maps each mode asked for, in ``MODES`` order, to its account; 'isolated' is absent when the
    wallet cannot fund every position isolated, and ``notes`` then says why.
    """

    books: Mapping[str, Account]
    notes: tuple[str, ...] = ()

    def same_as(self, mode: str) -> str:
        """Return the first mode whose book equals ``mode``'s (itself when none before it does)."""
        book = self.books[mode]
        return next(m for m, account in self.books.items() if account == book)


def compare_modes(account: Account, modes: Sequence[str] = MODES, *, strict: bool = False) -> ModeBooks:
    """Return ``account`` as given, ``all_cross`` and ``all_isolated`` of it, for each of ``modes``.

    Raises InputError (field ``modes``) for a mode not in ``MODES``. When the wallet cannot fund every
    position isolated, 'isolated' is left out with a note (never silently), or, with ``strict``, the
    InputError of ``all_isolated`` (field ``wallet_balance``) is raised.
    """
    for mode in modes:
        if mode not in MODES:
            raise InputError("modes", mode, ", ".join(MODES))
    books: dict[str, Account] = {}
    notes: list[str] = []
    for mode in (m for m in MODES if m in modes):
        if mode == "as_given":
            books[mode] = account
        elif mode == "cross":
            books[mode] = all_cross(account)
        else:
            try:
                books[mode] = all_isolated(account)
            except InputError as error:
                if strict:
                    raise
                notes.append(f"isolated: not evaluated, the wallet cannot fund every position isolated ({error})")
    return ModeBooks(books=MappingProxyType(books), notes=tuple(notes))
