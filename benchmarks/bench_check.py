"""Throughput of the reference margin core: ``evaluate`` and ``liquidation_price`` on real-sized accounts.

Run: ``.venv/bin/python benchmarks/bench_check.py`` (prints the work size and the figures). Accounts are the
case study (``examples/case_study.toml``, and its Bybit, OKX and Hyperliquid versions) and a 20-position
cross account on the shipped Binance tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from crossmargin.margin.account import evaluate
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.liquidation import liquidation_price
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.portfolio import load_portfolio
from crossmargin.venues.binance import BinanceRules

ROOT = Path(__file__).resolve().parent.parent


def _rate(label: str, work: Callable[[], object], repeats: int) -> None:
    work()  # warm caches (bracket tables are loaded once)
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    elapsed = time.perf_counter() - start
    print(f"{label:<58} {repeats:>7} calls  {elapsed:7.3f} s  {repeats / elapsed:>10,.0f} calls/s")


def _wide_account(rules: BinanceRules) -> tuple[Account, Marks]:
    """Twenty cross positions, alternately long and short, 5,000 USDT notional each, at leverage 5."""
    symbols = [symbol for symbol in rules.symbols() if symbol.endswith("USDT")][:20]
    positions = tuple(
        Position(
            symbol=symbol,
            side=Side.LONG if index % 2 == 0 else Side.SHORT,
            size=50.0,
            entry_price=100.0,
            leverage=5,
            mode=MarginMode.CROSS,
        )
        for index, symbol in enumerate(symbols)
    )
    account = Account(venue="binance", wallet_balance=20_000.0, positions=positions)
    marks = Marks({symbol: 100.0 * (1.0 + 0.01 * (index % 5 - 2)) for index, symbol in enumerate(symbols)})
    return account, marks


def main() -> None:
    """Print calls per second of the check path on the case study and on a 20-position account."""
    rules = BinanceRules.load()
    portfolio = load_portfolio(ROOT / "examples" / "case_study.toml")
    _rate("evaluate(case study: 3 cross positions)", lambda: evaluate(portfolio.account, portfolio.marks, rules), 2_000)
    wide, marks = _wide_account(rules)
    _rate("evaluate(20 cross positions)", lambda: evaluate(wide, marks, rules), 200)
    for venue in ("bybit", "okx", "hyperliquid"):
        example = load_portfolio(ROOT / "examples" / f"{venue}.toml")
        _rate(
            f"evaluate(examples/{venue}.toml)", partial(evaluate, example.account, example.marks, example.rules), 2_000
        )
    crashed = portfolio.marks.with_price("ETHUSDT", 4_500.0)  # past the cross liquidation price of the ETH short
    _rate(
        "liquidate(case study at ETH 4,500: full cross liquidation)",
        lambda: liquidate(portfolio.account, crashed, rules),
        2_000,
    )
    btc = rules.instrument("BTCUSDT")
    _rate(
        "liquidation_price(BTCUSDT long 20 @ 60000, cross wallet 100k)",
        lambda: liquidation_price(
            side=Side.LONG, size=20.0, entry_price=60_000.0, wallet=100_000.0, brackets=btc.brackets
        ),
        20_000,
    )


if __name__ == "__main__":
    main()
