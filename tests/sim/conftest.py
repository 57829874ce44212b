"""Real market slices for the backtest tests (``tests/data/sim``, provenance in its README)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crossmargin.kernels.layout import MarketData
from crossmargin.sim.market import market_from_frames

DATA = Path(__file__).parent.parent / "data" / "sim"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
HOUR = 3_600_000


def march(symbols: tuple[str, ...] = SYMBOLS, *, spot: bool = False) -> MarketData:
    """Binance 1h trades, mark prices and funding of March 2026."""
    return market_from_frames(
        {s: pd.read_parquet(DATA / f"{s}-trades-1h-2026-03.parquet") for s in symbols},
        marks={s: pd.read_parquet(DATA / f"{s}-mark-1h-2026-03.parquet") for s in symbols},
        funding={s: pd.read_csv(DATA / f"{s}-funding-2026-03.csv") for s in symbols},
        spot={"BTCUSDT": pd.read_parquet(DATA / "BTCUSDT-spot-1h-2026-03.parquet")} if spot else None,
        interval_ms=HOUR,
    )


def crash() -> MarketData:
    """Binance 5m perpetual bars of 2025-10-09 .. 2025-10-11 (the 2025-10-10 crash); trades stand in for marks."""
    return market_from_frames(
        {s: pd.read_parquet(DATA / f"{s}-trades-5m-2025-10-10.parquet") for s in SYMBOLS}, interval_ms=300_000
    )


@pytest.fixture(scope="session")
def march_market() -> MarketData:
    """March 2026, 1h, BTC/ETH/SOL, with marks and funding."""
    return march()
