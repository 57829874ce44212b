"""What a backtest returns: per-mode time series and ledgers as DataFrames, and the summary metrics.

Units: money in the quote currency (USDT; USDC on Hyperliquid), sizes in base units, times as UTC
``pandas.Timestamp``; ratios and returns are fractions (0.8 = 80 %). ``margin_ratio`` is the highest pool
ratio as requirement / margin balance (1 = liquidation), whatever the venue displays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["BacktestResult", "ModeResult", "Summary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """The headline figures of one mode's run (see ``docs/backtest.md`` for each definition)."""

    mode: str
    initial_equity: float
    final_equity: float
    return_on_collateral: float
    max_drawdown: float
    liquidations: int
    fees: float
    funding_paid: float
    funding_received: float
    peak_margin_ratio: float
    time_above_80pct: float
    capital_efficiency: float
    rejected_orders: int


@dataclass(frozen=True, eq=False, kw_only=True)
class ModeResult:
    """One mode's run.

    ``equity``: index time, columns ``equity`` (margin balance plus spot holdings at the close),
    ``margin_ratio``, ``gross_notional``. ``trades``: one row per fill (``time, symbol, side, size, price,
    fee, realized_pnl, kind`` where kind is 'open', 'increase', 'reduce', 'close', 'stop', 'take_profit',
    'limit', 'spot', 'liquidation'). ``liquidations``: ``time, symbol, side, size, price, loss, pool``
    (loss = margin of the pool lost, quote). ``positions``: ``time, symbol, side, size, entry_price,
    margin_mode`` at each bar where the book changed. ``funding``: ``time, symbol, rate, payment`` (> 0
    received). ``events``: free-text notes such as refused orders and risk-control warnings.
    """

    mode: str
    summary: Summary
    equity: pd.DataFrame
    trades: pd.DataFrame
    liquidations: pd.DataFrame
    positions: pd.DataFrame
    funding: pd.DataFrame
    events: pd.DataFrame


@dataclass(frozen=True, eq=False, kw_only=True)
class BacktestResult:
    """The same strategy run under one or more margin modes, on the same data, with its settings."""

    strategy: str
    venue: str
    symbols: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    settings: dict[str, Any] = field(default_factory=dict)
    modes: dict[str, ModeResult] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the ``--json`` object: settings, and per mode its summary and liquidations."""
        out: dict[str, Any] = {
            "strategy": self.strategy,
            "venue": self.venue,
            "symbols": list(self.symbols),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "settings": self.settings,
            "modes": {},
        }
        for name, run in self.modes.items():
            liquidations = run.liquidations.assign(time=run.liquidations["time"].map(lambda t: t.isoformat()))
            out["modes"][name] = {
                "summary": {k: getattr(run.summary, k) for k in run.summary.__dataclass_fields__},
                "liquidations": liquidations.to_dict(orient="records"),
            }
        return out
