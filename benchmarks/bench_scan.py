"""Throughput of the backtest's inner loop: compiled ``kernels.scan`` against ``sim.scan.scan_reference``.

Run: ``.venv/bin/python benchmarks/bench_scan.py`` (prints the work size, the figures and this command).
For the compile time of a cold cache: ``NUMBA_CACHE_DIR=$(mktemp -d) .venv/bin/python benchmarks/bench_scan.py``.

Work: one year of 1m bars (525,600) x 3 symbols (BTCUSDT, ETHUSDT, SOLUSDT) scanned by a 3-position cross
account, the case study's book: long BTC, short ETH, long SOL, 10,000 USDT notional each at leverage 5, on
a 10,000 USDT wallet (Binance rules). The reference runs the first 2,000 bars; parity is checked first.

Data: the year is synthesised from real bars. ``benchmarks/data`` holds 10 days of Binance USDⓈ-M 1m
klines (see its PROVENANCE.md); each bar is turned into its open / high / low / close relative to the
previous close, the close log-returns are demeaned per symbol (so that 36 replays of 10 days add no
drift), and the year is drawn as one-hour blocks of the three symbols together (block bootstrap, fixed
seed), chained from the real first price. Mark prices are the trade prices.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from crossmargin.kernels.layout import FloatArray, MarketData, ScanResult, pack_book
from crossmargin.kernels.scan import scan, scan_bars
from crossmargin.model import Account, MarginMode, Position, Side
from crossmargin.sim.scan import scan_reference
from crossmargin.venues import get_rules

DATA = Path(__file__).resolve().parent / "data"
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
YEAR = 365 * 24 * 60  # 1m bars
BLOCK = 60  # bars per bootstrap block
SEED = 20240805
REFERENCE_BARS = 2_000
MINUTE_MS = 60_000


def synthetic_year(bars: int = YEAR, seed: int = SEED) -> MarketData:
    """Return ``bars`` 1m bars of the three symbols, block-bootstrapped from the real 10 days in ``DATA``."""
    frames = [pd.read_parquet(DATA / f"{symbol}-1m.parquet") for symbol in SYMBOLS]
    first_open = np.array([float(frame["open"].iloc[0]) for frame in frames])
    # Relative bar shape: each price of bar t over the close of bar t-1, shape (real bars - 1, symbols).
    previous = np.column_stack([frame["close"].to_numpy()[:-1] for frame in frames])
    shape = {
        name: np.column_stack([frame[name].to_numpy()[1:] for frame in frames]) / previous
        for name in ("open", "high", "low", "close")
    }
    drift = np.log(shape["close"]).mean(axis=0)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(previous) - BLOCK, size=-(-bars // BLOCK))
    picks = (starts[:, None] + np.arange(BLOCK)[None, :]).ravel()[:bars]
    log_close = np.log(first_open) + np.cumsum(np.log(shape["close"][picks]) - drift, axis=0)
    prior = np.exp(np.vstack([np.log(first_open), log_close[:-1]]))
    factor = np.exp(-drift)
    prices: dict[str, FloatArray] = {
        name: prior * shape[name][picks] * factor for name in ("open", "high", "low", "close")
    }
    times = int(frames[0]["timestamp"].iloc[0]) + MINUTE_MS * np.arange(bars, dtype=np.int64)
    return MarketData(
        times=times,
        symbols=SYMBOLS,
        open=prices["open"],
        high=prices["high"],
        low=prices["low"],
        close=prices["close"],
        mark_open=prices["open"],
        mark_high=prices["high"],
        mark_low=prices["low"],
        mark_close=prices["close"],
        interval_ms=MINUTE_MS,
        marks_from_trades=True,
    )


def case_study(market: MarketData) -> Account:
    """Return long BTC, short ETH, long SOL, 10,000 USDT each at the first close, leverage 5, wallet 10,000."""
    sides = (Side.LONG, Side.SHORT, Side.LONG)
    positions = tuple(
        Position(
            symbol=symbol,
            side=side,
            size=10_000.0 / float(market.close[0, column]),
            entry_price=float(market.close[0, column]),
            leverage=5,
            mode=MarginMode.CROSS,
        )
        for column, (symbol, side) in enumerate(zip(SYMBOLS, sides, strict=True))
    )
    return Account(venue="binance", wallet_balance=10_000.0, positions=positions)


def _check_parity(kernel: ScanResult, reference: ScanResult) -> None:
    if kernel.event != reference.event or not np.allclose(kernel.equity, reference.equity, rtol=1e-12, atol=0.0):
        raise SystemExit("parity check failed: kernels.scan differs from scan_reference")
    if not np.allclose(kernel.ratio, reference.ratio, rtol=1e-12, atol=0.0):
        raise SystemExit("parity check failed: margin ratios differ")


def main() -> None:
    """Print bars per second of the kernel over a synthetic year and of the reference over 2,000 bars."""
    rules = get_rules("binance")
    market = synthetic_year()
    account = case_study(market)
    book = pack_book(account, rules, market)
    print("command: .venv/bin/python benchmarks/bench_scan.py")
    print(
        f"market: {market.bars:,} 1m bars x {len(SYMBOLS)} symbols, SYNTHESISED by block bootstrap "
        f"({BLOCK}-bar blocks, seed {SEED}) of real Binance 1m returns (benchmarks/data/, 10 days), marks = trades"
    )
    print("book: cross, long BTC / short ETH / long SOL, 10,000 USDT each at leverage 5, wallet 10,000 USDT")

    started = time.perf_counter()
    scan(book, market, start=0, stop=10)
    first_call = time.perf_counter() - started
    source = "loaded from the numba cache" if sum(scan_bars.stats.cache_hits.values()) else "compiled"
    print(f"first call (kernel {source}): {first_call:.3f} s")

    kernel = scan(book, market, start=0, stop=REFERENCE_BARS)
    started = time.perf_counter()
    reference = scan_reference(account, rules, market, [], start=0, stop=REFERENCE_BARS)
    reference_time = time.perf_counter() - started
    _check_parity(kernel, reference)
    reference_rate = max(reference.event, 1) / reference_time
    print(f"parity on bars 0..{REFERENCE_BARS:,}: same event bar ({kernel.event:,}), equity and ratio equal")

    best = float("inf")
    scanned = events = 0
    for _ in range(5):
        scanned = events = 0
        bar = 0
        started = time.perf_counter()
        while bar < market.bars:  # as a backtest does: scan to the event, handle it, scan on
            result = scan(book, market, start=bar, stop=market.bars)
            scanned += result.event - bar
            events += result.event < market.bars
            bar = result.event + 1
        best = min(best, time.perf_counter() - started)
    kernel_rate = scanned / best
    print(f"kernels.scan:   {scanned:>9,} bars in {best:8.4f} s  {kernel_rate:>14,.0f} bars/s  ({events} events)")
    print(f"scan_reference: {reference.event:>9,} bars in {reference_time:8.4f} s  {reference_rate:>14,.0f} bars/s")
    print(f"speed-up: {kernel_rate / reference_rate:,.0f}x")


if __name__ == "__main__":
    main()
