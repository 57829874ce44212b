"""Side-by-side runs: the same strategy, the same bars, under cross and under isolated margin.

``run_backtest`` runs each mode with identical signals (the strategy is rebuilt for each run, so no state
leaks from one to the other) and returns a ``BacktestResult``. ``sample_market`` builds the market data
a built-in strategy needs from the real bars shipped in the package (``crossmargin.data.sample``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import pandas as pd

from crossmargin.data.store import sample_frames, sample_funding
from crossmargin.errors import InputError
from crossmargin.kernels.layout import BookArrays, MarketData, ScanResult, Trigger, pack_book, pool_wallets
from crossmargin.kernels.scan import scan
from crossmargin.model import Account
from crossmargin.sim.config import AutoLeverage, RunConfig, Scanner
from crossmargin.sim.engine import run_mode
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.result import BacktestResult
from crossmargin.sim.strategies import STRATEGIES
from crossmargin.sim.strategy import Strategy
from crossmargin.venues.base import VenueRules

__all__ = [
    "MODES",
    "KernelScanner",
    "kernel_scan",
    "resolve_strategy",
    "run_backtest",
    "run_settings",
    "sample_market",
]

MODES = {"cross": ("cross",), "isolated": ("isolated",), "both": ("cross", "isolated")}


def kernel_scan(
    account: Account,
    rules: VenueRules,
    market: MarketData,
    triggers: Sequence[Trigger],
    *,
    start: int,
    stop: int,
) -> ScanResult:
    """Scan quiet bars with the compiled kernel (``kernels.scan``): the engine's fast ``Scanner``.

    Packs the book at every call; ``run_backtest`` runs each mode with a ``KernelScanner``, which keeps it.
    """
    return scan(pack_book(account, rules, market, triggers=triggers), market, start=start, stop=stop)


@dataclass(eq=False)
class KernelScanner:
    """``kernel_scan`` for one run: the packed book is kept while the positions and triggers are unchanged.

    Accounts are immutable values: the same ``positions`` tuple means the same schedules, pools and
    extremes, so only the pool wallets (funding, fees) are refreshed (``kernels.layout.pool_wallets``).
    """

    _key: tuple[object, ...] = field(default=(None, None, None), init=False)
    _triggers: tuple[Trigger, ...] = field(default=(), init=False)
    _book: BookArrays | None = field(default=None, init=False)

    def __call__(
        self,
        account: Account,
        rules: VenueRules,
        market: MarketData,
        triggers: Sequence[Trigger],
        *,
        start: int,
        stop: int,
    ) -> ScanResult:
        """Return what bars ``[start, stop)`` hold, as ``kernel_scan`` does."""
        key = (account.positions, rules, market)
        triggers = tuple(triggers)
        book = self._book
        if book is None or any(a is not b for a, b in zip(key, self._key, strict=True)) or triggers != self._triggers:
            book = pack_book(account, rules, market, triggers=triggers)
        elif book.wallet_balance != account.wallet_balance or book.pool_wallet[0] != account.cross_wallet_balance:
            book = replace(book, pool_wallet=pool_wallets(account), wallet_balance=float(account.wallet_balance))
        self._key, self._triggers, self._book = key, triggers, book
        return scan(book, market, start=start, stop=stop)


def resolve_strategy(name: str) -> Callable[[], Strategy]:
    """Return the factory of the built-in strategy ``name``; InputError lists the names."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise InputError("strategy", name, " | ".join(STRATEGIES)) from None


def run_backtest(
    factory: Callable[[], Strategy],
    market: MarketData,
    rules: VenueRules,
    *,
    mode: str = "both",
    config: RunConfig | None = None,
    scanner: Scanner | None = None,
    auto_leverage: AutoLeverage | None = None,
) -> BacktestResult:
    """Run a fresh ``factory()`` strategy once per margin mode of ``mode`` ('cross', 'isolated', 'both').

    With ``auto_leverage`` each mode also runs under that policy, as ``'<mode>+auto'``, so the report shows
    it against fixed leverage (liquidations avoided, return given up)."""
    if mode not in MODES:
        raise InputError("mode", mode, " | ".join(MODES))
    config = config or RunConfig()
    first = factory()
    result = BacktestResult(
        strategy=first.name,
        venue=rules.name,
        symbols=first.symbols,
        start=pd.Timestamp(int(market.times[0]), unit="ms", tz="UTC"),
        end=pd.Timestamp(int(market.times[-1]), unit="ms", tz="UTC"),
        settings=run_settings(config, market, auto_leverage),
    )

    def fresh() -> Scanner | None:  # the compiled scan keeps its packed book for one run
        return KernelScanner() if scanner is kernel_scan else scanner

    for name in MODES[mode]:
        result.modes[name] = run_mode(factory(), market, rules, name, config, scanner=fresh())  # type: ignore[arg-type]
    if auto_leverage is not None:  # the same runs under the auto-leverage policy, beside the fixed ones
        steered = replace(config, auto_leverage=auto_leverage)
        for name in MODES[mode]:
            run = run_mode(factory(), market, rules, name, steered, scanner=fresh())  # type: ignore[arg-type]
            label = f"{name}+auto"
            result.modes[label] = replace(run, mode=label, summary=replace(run.summary, mode=label))
    return result


def run_settings(config: RunConfig, market: MarketData, auto_leverage: AutoLeverage | None = None) -> dict[str, Any]:
    """Return the ``settings`` of a ``BacktestResult``: the run's config, the policy and the market's shape."""
    return {
        **{k: v for k, v in asdict(config).items() if k != "auto_leverage"},
        "auto_leverage": None
        if auto_leverage is None
        else {k: v for k, v in asdict(auto_leverage).items() if k != "cap"},
        "interval_ms": market.interval_ms,
        "bars": market.bars,
        "marks_from_trades": market.marks_from_trades,
    }


def sample_market(
    symbols: Sequence[str],
    *,
    interval: str,
    spot: bool = False,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> MarketData:
    """Return the package's real sample bars of ``symbols`` at ``interval`` ('1h' or '1m') as market data.

    ``start_ms`` / ``end_ms`` (ms since the Unix epoch, UTC) cut the span to ``[start, end)``.
    """
    interval_ms = {"1h": 3_600_000, "1m": 60_000}.get(interval)
    if interval_ms is None:
        raise InputError("interval", interval, "1h | 1m (the shipped samples)")
    trades = sample_frames(symbols, interval=interval, kind="trades")
    # The one-minute week has no one-minute marks: its last-trade bars stand in (marks_from_trades).
    marks = sample_frames(symbols, interval=interval, kind="mark") if interval == "1h" else None
    spot_frames = sample_frames(["BTCUSDT"], interval="1h", kind="spot") if spot else None
    window = "2025-06" if interval == "1m" else None
    return market_from_frames(
        trades,
        interval_ms=interval_ms,
        marks=marks,
        funding=sample_funding(symbols, window=window),
        spot=spot_frames,
        start_ms=start_ms,
        end_ms=end_ms,
    )
