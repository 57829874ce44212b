"""Binance USDⓈ-M (linear perpetuals): brackets, fees, funding schedule and clearance fee, as data.

Tables: ``data/binance_usdm.json`` (leverage brackets of every linear perpetual, built from Binance's
``GET /fapi/v1/leverageBracket`` by ``scripts/import_binance_brackets.py``) and
``data/binance_usdm_params.json`` (fees, funding interval, clearance fee, leverage rule); each carries
``source`` and ``as_of``. Formulas live in ``crossmargin.margin``; this module only answers questions of
data (which bracket, which fee, which leverage is allowed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from crossmargin.errors import LeverageError, UnknownSymbolError
from crossmargin.model import Bracket, Instrument
from crossmargin.venues.base import Liquidity, Sourced, read_package_json, risk_ratio

__all__ = ["BinanceRules", "validate_maint_amounts"]

BRACKETS_FILE = "binance_usdm.json"
PARAMS_FILE = "binance_usdm_params.json"


@dataclass(frozen=True, slots=True)
class BinanceRules:
    """Rules of Binance USDⓈ-M futures. Build it with ``BinanceRules.load()``."""

    instruments: Mapping[str, Instrument]
    maker_rate: float
    taker_rate: float
    funding_interval_hours: float
    clearance_fee_default: float
    clearance_fee_rates: Mapping[str, float]
    integer_leverage: bool
    sources: Mapping[str, Sourced]

    @property
    def name(self) -> str:
        """Return 'binance'."""
        return "binance"

    @classmethod
    def load(cls) -> BinanceRules:
        """Return the rules from the package data (read once, then cached)."""
        return _load()

    def with_brackets(self, brackets: Mapping[str, tuple[Bracket, ...]]) -> BinanceRules:
        """Return a copy in which the given symbols use ``brackets`` instead of today's table.

        Used to reproduce worked examples made with older tables (and to pin one bracket).
        """
        instruments = dict(self.instruments)
        for symbol, table in brackets.items():
            base = instruments.get(symbol) or Instrument(
                symbol=symbol, venue=self.name, base=symbol.removesuffix("USDT"), quote="USDT", brackets=table
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
        except KeyError:
            raise UnknownSymbolError(field, symbol, self.name, self.instruments) from None

    def fee_rate(self, liquidity: Liquidity) -> float:
        """Return the regular-user fee rate (fraction of fill notional) for a maker or taker fill."""
        return self.maker_rate if liquidity == "maker" else self.taker_rate

    def clearance_fee_rate(self, symbol: str) -> float:
        """Return the liquidation clearance fee rate of ``symbol`` (fraction of liquidated notional)."""
        return self.clearance_fee_rates.get(symbol, self.clearance_fee_default)

    def check_leverage(self, symbol: str, leverage: float, notional: float, *, field: str = "leverage") -> None:
        """Raise LeverageError unless ``leverage`` is allowed for a position of ``notional`` (quote).

        Binance takes integer leverage from 1 to the ``initialLeverage`` of the bracket that holds the
        notional (API ``POST /fapi/v1/leverage``; 'Leverage and Margin of USDⓈ-M Futures').
        """
        instrument = self.instrument(symbol)
        cap = instrument.bracket_for(notional).max_leverage
        allowed = f"{'an integer ' if self.integer_leverage else ''}1..{cap:g} for {symbol} at notional {notional:,.2f}"
        if not math.isfinite(leverage) or leverage < 1:
            raise LeverageError(field, leverage, allowed, detail=f"leverage {leverage!r} is below 1 or not finite")
        if self.integer_leverage and leverage != int(leverage):
            raise LeverageError(field, leverage, allowed, detail=f"leverage {leverage!r} is not an integer")
        if leverage > cap:
            raise LeverageError(
                field, leverage, allowed, detail=f"leverage {leverage:g} above the bracket cap {cap:g} for {symbol}"
            )

    def margin_ratio(self, maintenance_margin: float, margin_balance: float) -> float:
        """Return maintenance margin / margin balance (fraction; liquidation at 1)."""
        return risk_ratio(maintenance_margin, margin_balance)


def validate_maint_amounts(symbol: str, brackets: tuple[Bracket, ...], *, rel_tol: float = 1e-9) -> None:
    """Raise ValueError unless each bracket's maintenance amount follows Binance's recursion.

    ``cum_1 = 0`` and ``cum_n = floor_n x (mmr_n - mmr_(n-1)) + cum_(n-1)``, which makes maintenance margin
    continuous in notional ('How to Calculate Liquidation Price of COIN-M Futures Contracts').
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


def _instrument(symbol: str, entry: Mapping[str, Any]) -> Instrument:
    brackets = tuple(
        Bracket(floor=floor, cap=cap, mm_rate=rate, maint_amount=cum, max_leverage=lev)
        for floor, cap, rate, cum, lev in entry["brackets"]
    )
    validate_maint_amounts(symbol, brackets)
    return Instrument(symbol=symbol, venue="binance", base=entry["base"], quote=entry["quote"], brackets=brackets)


@lru_cache(maxsize=1)
def _load() -> BinanceRules:
    table = read_package_json(BRACKETS_FILE)
    params = read_package_json(PARAMS_FILE)
    instruments = {symbol: _instrument(symbol, entry) for symbol, entry in table["symbols"].items()}
    sources = {"brackets": Sourced(table["source"], table["as_of"])}
    sources |= {
        key: Sourced(params[key]["source"], params[key]["as_of"])
        for key in ("fees", "funding", "liquidation_clearance_fee", "leverage", "margin_ratio", "available_balance")
    }
    clearance = params["liquidation_clearance_fee"]
    return BinanceRules(
        instruments=MappingProxyType(instruments),
        maker_rate=float(params["fees"]["maker_rate"]),
        taker_rate=float(params["fees"]["taker_rate"]),
        funding_interval_hours=float(params["funding"]["interval_hours"]),
        clearance_fee_default=float(clearance["default_rate"]),
        clearance_fee_rates=MappingProxyType({k: float(v) for k, v in clearance["rates"].items()}),
        integer_leverage=bool(params["leverage"]["integer_only"]),
        sources=MappingProxyType(sources),
    )
