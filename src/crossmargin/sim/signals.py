"""Vectorised backtests: whole arrays of signals or target positions run through the compiled engine.

``run_signals(market, rules, entries=..., exits=..., short_entries=..., short_exits=...)`` (or
``targets=...``) is this package's ``Portfolio.from_signals`` (vectorbt): one call runs every bar of every
traded symbol through ``kernels.signals`` (numba) with the venue's fills, fees, funding and liquidation,
under cross or isolated margin or both, and returns the ``BacktestResult`` of the per-bar backtest
(``sim.result``), so every face shows it. The per-bar ``Strategy`` API (``sim.strategy``) stays for logic
that needs state.

Signals (boolean arrays of shape ``(bars,)`` for one symbol or ``(bars, symbols)``), read at each bar's
close; the orders fill at the next bar's open, as market orders (slippage, taker fee):

- ``entries``: go long (from flat, or reversing a short: one order); ignored while long;
- ``exits``: close a long; ``short_entries`` / ``short_exits``: the same for shorts;
- a bar with both an entry and the exit of the same side, or both entries, does nothing (vectorbt's
  'ignore' of a conflict).

A new position's size is ``size`` base units (``size_type='base'``), or ``size`` x the equity at the
signal's close of notional (``size_type='equity'``), in base units at that close. ``targets`` instead
gives the signed position to hold from each bar on (base units, or a signed fraction of equity; NaN: keep
what is held): at every bar with a target the change is sent (none within ``1e-9`` of it).

The compiled engine needs a venue whose requirement is the bracket of the mark notional, with initial
margin at the mark (Binance, Hyperliquid, Bybit cross); elsewhere (OKX's tiers by size, Bybit isolated at
entry) ``engine='auto'`` runs the same signals through the per-bar engine (``engine`` in the settings says
which ran). That per-bar run, ``SignalStrategy``, is the reference: the tests hold the two equal on real
bars. Money in quote currency, sizes in base units, fractions as fractions (0.5 = 50 %).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from crossmargin.errors import InputError
from crossmargin.kernels.layout import BoolArray, FloatArray, IntArray, MarketData
from crossmargin.kernels.signals import LONG_ENTRY, LONG_EXIT, SHORT_ENTRY, SHORT_EXIT
from crossmargin.margin.account import position_states
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.sim.backtest import MODES, KernelScanner, run_settings
from crossmargin.sim.config import Mode, RunConfig, rules_for_run
from crossmargin.sim.engine import run_mode
from crossmargin.sim.orders import Order
from crossmargin.sim.result import BacktestResult, ModeResult
from crossmargin.sim.signal_run import run_compiled
from crossmargin.sim.strategy import BarContext, Strategy
from crossmargin.venues.base import VenueRules

__all__ = [
    "ENGINES",
    "SignalPlan",
    "SignalStrategy",
    "SizeType",
    "compiled_unsupported",
    "run_signals",
    "signal_plan",
]

SizeType = Literal["base", "equity"]
#: What runs the signals: the compiled engine, the per-bar engine, or the compiled one where it can.
ENGINES = ("auto", "compiled", "reference")


@dataclass(frozen=True, eq=False, kw_only=True)
class SignalPlan:
    """Signals checked and packed, one column per traded symbol (a "slot"), for either engine.

    ``flags`` (int8, ``LONG_ENTRY | LONG_EXIT | SHORT_ENTRY | SHORT_EXIT``, conflicts cleared) or
    ``targets`` (float64, signed, NaN: none) of shape ``(bars, n)``; ``sizes`` of shape ``(1, n)`` (every
    bar alike) or ``(bars, n)``; ``size_type`` says their unit (and that of ``targets``); ``signal_bars``:
    the sorted bars where some slot has a flag or a target.
    """

    symbols: tuple[str, ...]
    flags: npt.NDArray[np.int8] | None
    targets: FloatArray | None
    sizes: FloatArray
    size_type: SizeType
    signal_bars: IntArray

    def row(self, bar: int) -> int:
        """Return the row of ``sizes`` that holds ``bar``."""
        return bar if self.sizes.shape[0] > 1 else 0


def _columns(name: str, values: Any, bars: int, width: int) -> npt.NDArray[Any]:
    """Return ``values`` as an array of shape ``(bars, width)``; InputError names ``name`` and the shapes allowed."""
    array = np.asarray(values)
    if array.ndim == 1 and width == 1 and array.shape[0] == bars:
        return array.reshape(bars, 1)
    if array.shape != (bars, width):
        allowed = f"shape ({bars},) for one symbol" if width == 1 else f"shape ({bars}, {width}): bars x symbols"
        raise InputError(name, f"an array of shape {array.shape}", allowed)
    return array


def _flags(name: str, values: Any, bars: int, width: int) -> BoolArray:
    array = _columns(name, values, bars, width)
    if array.dtype != np.bool_:
        if not np.issubdtype(array.dtype, np.number) or not np.isin(array, (0, 1)).all():
            raise InputError(name, f"values of type {array.dtype}", "booleans (or 0 / 1)")
        array = array.astype(np.bool_)
    return array


def signal_plan(
    market: MarketData,
    *,
    symbols: Sequence[str] | None = None,
    entries: Any = None,
    exits: Any = None,
    short_entries: Any = None,
    short_exits: Any = None,
    targets: Any = None,
    size: Any = 1.0,
    size_type: SizeType = "equity",
) -> SignalPlan:
    """Return the signals as a ``SignalPlan``; InputError names a bad array, shape or value.

    ``symbols`` default to every symbol of ``market``. Arrays have shape ``(bars,)`` (one symbol) or
    ``(bars, len(symbols))``; ``size`` is a number or such an array (finite, > 0).
    """
    symbols = tuple(market.symbols if symbols is None else symbols)
    if not symbols:
        raise InputError("symbols", symbols, "at least one symbol of the market")
    for symbol in symbols:
        market.column(symbol)
    if len(set(symbols)) != len(symbols):
        raise InputError("symbols", symbols, "each symbol once")
    if size_type not in ("base", "equity"):
        raise InputError("size_type", size_type, "base | equity")
    bars, width = market.bars, len(symbols)
    given = {"entries": entries, "exits": exits, "short_entries": short_entries, "short_exits": short_exits}
    signalled = {name: value for name, value in given.items() if value is not None}
    if targets is not None and signalled:
        raise InputError("targets", "given with " + ", ".join(signalled), "targets or entry/exit signals, not both")
    if targets is None and not signalled:
        raise InputError("entries", None, "entries / exits / short_entries / short_exits, or targets")
    sizes = np.asarray(size, dtype=np.float64)
    sizes = sizes.reshape(1, 1).repeat(width, axis=1) if sizes.ndim == 0 else _columns("size", sizes, bars, width)
    if not (np.all(np.isfinite(sizes)) and np.all(sizes > 0)):
        raise InputError("size", "a value <= 0 or not finite", "> 0 (base units, or a fraction of equity)")
    if targets is not None:
        wanted = _columns("targets", targets, bars, width).astype(np.float64)
        if np.any(np.isinf(wanted)):
            raise InputError("targets", "an infinite target", "finite signed targets, NaN where none")
        active = ~np.isnan(wanted).all(axis=1)
        return SignalPlan(
            symbols=symbols,
            flags=None,
            targets=np.ascontiguousarray(wanted),
            sizes=np.ascontiguousarray(sizes),
            size_type=size_type,
            signal_bars=np.flatnonzero(active).astype(np.int64),
        )
    arrays = {name: _flags(name, value, bars, width) for name, value in signalled.items()}
    none = np.zeros((bars, width), dtype=np.bool_)
    long_in, long_out = arrays.get("entries", none), arrays.get("exits", none)
    short_in, short_out = arrays.get("short_entries", none), arrays.get("short_exits", none)
    conflict = (long_in & long_out) | (short_in & short_out) | (long_in & short_in)
    keep = ~conflict
    flags = (
        (long_in & keep) * LONG_ENTRY
        + (long_out & keep) * LONG_EXIT
        + (short_in & keep) * SHORT_ENTRY
        + (short_out & keep) * SHORT_EXIT
    ).astype(np.int8)
    return SignalPlan(
        symbols=symbols,
        flags=np.ascontiguousarray(flags),
        targets=None,
        sizes=np.ascontiguousarray(sizes),
        size_type=size_type,
        signal_bars=np.flatnonzero(flags.any(axis=1)).astype(np.int64),
    )


class SignalStrategy(Strategy):
    """A ``SignalPlan`` as a per-bar ``Strategy``: the plain-Python reference of the compiled signal run.

    Called at the plan's signal bars only (``due_bars``); at each, slot by slot, it turns the signals into
    ``ctx.target`` orders exactly as ``kernels.signals`` does (the rules of the module docstring).
    """

    def __init__(self, plan: SignalPlan, *, name: str = "signals") -> None:
        self.name = name
        self.symbols = plan.symbols
        self.every = 1
        self.warmup = 0
        self.plan = plan

    def due_bars(self, start: int, stop: int) -> Sequence[int]:
        """Return the plan's signal bars in ``[start, stop)``."""
        bars = self.plan.signal_bars
        due: list[int] = bars[np.searchsorted(bars, start) : np.searchsorted(bars, stop)].tolist()
        return due

    def target(self, ctx: BarContext, slot: int, held: float) -> float | None:
        """Return the signed target of ``slot`` at ``ctx.bar`` (base units), or None when nothing is to do."""
        plan, bar = self.plan, ctx.bar
        close = float(ctx.market.close[bar, ctx.market.column(plan.symbols[slot])])
        by_equity = plan.size_type == "equity"
        if plan.targets is not None:
            target = float(plan.targets[bar, slot])
            if np.isnan(target):
                return None
            if by_equity:
                target = target * ctx.equity / close
            return target if np.isfinite(target) else None
        assert plan.flags is not None  # a plan holds flags or targets
        flag = int(plan.flags[bar, slot])
        if flag & LONG_ENTRY:
            direction = 0.0 if held > 0 else 1.0
        elif flag & SHORT_ENTRY:
            direction = 0.0 if held < 0 else -1.0
        elif (flag & LONG_EXIT and held > 0) or (flag & SHORT_EXIT and held < 0):
            return 0.0
        else:
            return None
        if direction == 0.0:
            return None
        amount = float(plan.sizes[plan.row(bar), slot])
        if by_equity:
            amount = amount * ctx.equity / close
        return direction * amount if amount > 0 else None

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """Return the orders that move each slot to its target."""
        orders: list[Order] = []
        for slot, symbol in enumerate(self.plan.symbols):
            target = self.target(ctx, slot, ctx.signed_size(symbol))
            if target is not None:
                orders += ctx.target(symbol, target)
        return orders


def compiled_unsupported(rules: VenueRules, symbols: Sequence[str], mode: Mode) -> str | None:
    """Return why the compiled engine cannot run ``symbols`` on ``rules`` in ``mode``, or None when it can.

    It needs, per symbol, tiers by notional, a requirement schedule that is the instrument's brackets
    whatever the position, and initial margin and tiers valued at the mark (probed on two positions).
    """
    margin_mode = MarginMode.CROSS if mode == "cross" else MarginMode.ISOLATED
    for symbol in symbols:
        instrument = rules.instrument(symbol)
        if instrument.tier_basis != "notional":
            return f"{rules.name} tiers {symbol} by position size"
        for size, entry, mark in ((1e-6, 100.0, 101.0), (2e-6, 250.0, 240.0)):
            probe = Position(
                symbol=symbol,
                side=Side.LONG,
                size=size,
                entry_price=entry,
                leverage=1,
                mode=margin_mode,
                isolated_margin=size * entry if margin_mode is MarginMode.ISOLATED else None,
            )
            account = Account(venue=rules.name, wallet_balance=1.0, positions=(probe,))
            (state,) = position_states(account, Marks({symbol: mark}), rules)
            if (
                state.schedule != instrument.brackets
                or not rules.requirement_follows_mark(probe)
                or rules.im_price(probe, mark) != mark
                or rules.tier_price(probe, mark) != mark
            ):
                return f"{rules.name} values {mode} positions in {symbol} at entry or by a schedule of their own"
    return None


def run_signals(
    market: MarketData,
    rules: VenueRules,
    *,
    entries: Any = None,
    exits: Any = None,
    short_entries: Any = None,
    short_exits: Any = None,
    targets: Any = None,
    symbols: Sequence[str] | None = None,
    size: Any = 1.0,
    size_type: SizeType = "equity",
    leverage: float | None = None,
    mode: str = "both",
    config: RunConfig | None = None,
    engine: str = "auto",
    name: str = "signals",
) -> BacktestResult:
    """Run whole signal arrays on ``market`` under ``rules``; return the per-bar backtest's ``BacktestResult``.

    Signals, targets and sizes as in the module docstring; ``leverage`` of every position (default
    ``config.leverage``); ``mode`` 'cross', 'isolated' or 'both'; ``config`` the wallet, slippage, fees
    (``taker_fee``: the fills are market orders) and funding on or off; its leverage cap, volatility target
    and auto-leverage belong to the per-bar API and must be off. ``engine``: 'compiled', 'reference' (the
    per-bar engine with ``SignalStrategy``) or 'auto' (compiled where the venue allows, see
    ``compiled_unsupported``). InputError names a bad argument.
    """
    config = config or RunConfig()
    if mode not in MODES:
        raise InputError("mode", mode, " | ".join(MODES))
    if engine not in ENGINES:
        raise InputError("engine", engine, " | ".join(ENGINES))
    for field_name in ("leverage_cap", "vol_target", "auto_leverage"):
        if getattr(config, field_name) is not None:
            raise InputError(f"config.{field_name}", getattr(config, field_name), "None: a per-bar Strategy control")
    config = replace(config, leverage=config.leverage if leverage is None else leverage)
    plan = signal_plan(
        market,
        symbols=symbols,
        entries=entries,
        exits=exits,
        short_entries=short_entries,
        short_exits=short_exits,
        targets=targets,
        size=size,
        size_type=size_type,
    )
    venue = rules_for_run(rules, config)
    for symbol in plan.symbols:
        venue.check_leverage(symbol, config.leverage, size=0.0, price=1.0)
    result = BacktestResult(
        strategy=name,
        venue=rules.name,
        symbols=plan.symbols,
        start=pd.Timestamp(int(market.times[0]), unit="ms", tz="UTC"),
        end=pd.Timestamp(int(market.times[-1]), unit="ms", tz="UTC"),
        settings={**run_settings(config, market), "size_type": size_type, "signals": _kind(plan)},
    )
    engines: dict[str, str] = {}
    for run in MODES[mode]:
        why = compiled_unsupported(venue, plan.symbols, run)  # type: ignore[arg-type]
        if engine == "compiled" and why is not None:
            raise InputError("engine", engine, f"'reference' or 'auto': {why}")
        compiled = engine == "compiled" or (engine == "auto" and why is None)
        engines[run] = "compiled" if compiled else "reference"
        result.modes[run] = _run_mode(plan, market, rules, run, config, compiled=compiled, name=name)  # type: ignore[arg-type]
    result.settings["engine"] = engines
    return result


def _kind(plan: SignalPlan) -> str:
    return "targets" if plan.targets is not None else "entries/exits"


def _run_mode(
    plan: SignalPlan, market: MarketData, rules: VenueRules, mode: Mode, config: RunConfig, *, compiled: bool, name: str
) -> ModeResult:
    strategy = SignalStrategy(plan, name=name)
    if not compiled:
        return run_mode(strategy, market, rules, mode, config, scanner=KernelScanner())
    return run_compiled(strategy, market, rules, mode, config)
