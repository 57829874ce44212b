"""A small synthetic market and a fresh ``RunState`` on it, for the tests of the engine's parts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crossmargin.kernels.layout import MarketData
from crossmargin.model import Account
from crossmargin.sim.config import Mode, RunConfig
from crossmargin.sim.ledger import Ledger
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.state import RunState
from crossmargin.sim.strategy import FunctionStrategy
from crossmargin.venues import get_rules

HOUR = 3_600_000
BINANCE = get_rules("binance")


def flat_market(
    closes: list[float], *, symbol: str = "BTCUSDT", funding: list[tuple[int, float]] | None = None
) -> MarketData:
    """Return 1h bars of ``symbol`` opening at the previous close, high/low 1 % around open and close.

    ``funding``: (bar, rate) pairs settled at that bar's open time (rates as fractions).
    """
    close = np.asarray(closes, dtype=np.float64)
    open_ = np.concatenate([[close[0]], close[:-1]])
    frame = pd.DataFrame(
        {
            "timestamp": np.arange(len(close), dtype=np.int64) * HOUR,
            "open": open_,
            "high": np.maximum(open_, close) * 1.01,
            "low": np.minimum(open_, close) * 0.99,
            "close": close,
        }
    )
    rates = None
    if funding is not None:
        rates = {
            symbol: pd.DataFrame(
                {"timestamp": [bar * HOUR for bar, _ in funding], "funding_rate": [rate for _, rate in funding]}
            )
        }
    return market_from_frames({symbol: frame}, interval_ms=HOUR, funding=rates)


def state_on(market: MarketData, mode: Mode = "cross", config: RunConfig | None = None) -> RunState:
    """Return a fresh run of a strategy that never trades on ``market`` (its first symbol), 10,000 USDT."""
    config = config or RunConfig()
    return RunState(
        strategy=FunctionStrategy("idle", [market.symbols[0]], lambda ctx: [], every=None, warmup=10**9),
        market=market,
        rules=BINANCE,
        mode=mode,
        config=config,
        account=Account(venue=BINANCE.name, wallet_balance=config.wallet, cross_deficit_allowed=True),
        ledger=Ledger(market.bars),
    )
