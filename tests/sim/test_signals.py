"""The signal API (``sim.signals``): the compiled run equals the same signals through the per-bar engine.

The reference is ``SignalStrategy`` (the signals as a per-bar ``Strategy``) run by ``sim.engine.run_mode``
with ``margin.operations`` fills; ``engine='reference'`` runs it with the compiled scan, and
``scan_reference`` makes it plain Python. On real bars the compiled run equals the first to the bit
(trades, equity and margin ratio, positions, funding, liquidations, events, summary) and the second to
the scan kernel's 1e-12.

Data: Binance USDⓈ-M 1m bars of 2025-06-14 .. 06-23 (the 2025-06-22 sell-off; ``benchmarks/data``, see its
PROVENANCE.md), 1h trades, marks and funding of March 2026 (``tests/data/sim``), and the package's 1m week
of 2025-06-10 .. 06-16 with its funding (``crossmargin.data.sample``).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import MarketData
from crossmargin.sim import signal_run
from crossmargin.sim.backtest import KernelScanner, run_backtest, sample_market
from crossmargin.sim.config import RunConfig
from crossmargin.sim.engine import run_mode
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.result import BacktestResult, ModeResult
from crossmargin.sim.scan import scan_reference
from crossmargin.sim.signals import SignalStrategy, compiled_unsupported, run_signals, signal_plan
from crossmargin.sim.strategies import SmaCross, sma_cross_signals
from crossmargin.venues import get_rules
from tests.fixtures.harness import REPO
from tests.sim.conftest import SYMBOLS, march

BINANCE = get_rules("binance")
FRAMES = ("equity", "trades", "liquidations", "positions", "funding", "events")


@cache
def june() -> MarketData:
    """Binance 1m last-trade bars of BTC, ETH, SOL, 2025-06-14 .. 06-23 (14,400 bars; marks = trades)."""
    data = REPO / "benchmarks" / "data"
    return market_from_frames({s: pd.read_parquet(data / f"{s}-1m.parquet") for s in SYMBOLS}, interval_ms=60_000)


@cache
def june_week() -> MarketData:
    """The package's 1m week of 2025-06-10 .. 06-16 with its funding settlements."""
    return sample_market(SYMBOLS, interval="1m")


def assert_same_run(compiled: ModeResult, reference: ModeResult, *, rtol: float = 0.0) -> None:
    """Assert two runs equal: to the bit when ``rtol`` is 0, else floats to ``rtol``."""
    for name in FRAMES:
        left, right = getattr(compiled, name), getattr(reference, name)
        if rtol:
            pd.testing.assert_frame_equal(left, right, rtol=rtol, atol=1e-9)
        else:
            pd.testing.assert_frame_equal(left, right, check_exact=True)
    if not rtol:
        assert compiled.summary == reference.summary


def both(market: MarketData, **kwargs: Any) -> tuple[BacktestResult, BacktestResult]:
    """Return the compiled and the reference run of the same signals (both modes unless given)."""
    kwargs.setdefault("mode", "both")
    compiled = run_signals(market, BINANCE, engine="compiled", **kwargs)
    reference = run_signals(market, BINANCE, engine="reference", **kwargs)
    assert set(compiled.modes) == set(reference.modes)
    for mode in compiled.modes:
        assert_same_run(compiled.modes[mode], reference.modes[mode])
    return compiled, reference


def every(bars: int, step: int, offset: int = 0, width: int = 3) -> np.ndarray:
    """Return a (bars, width) boolean array true every ``step`` bars from ``offset``."""
    out = np.zeros((bars, width), dtype=np.bool_)
    out[offset::step] = True
    return out


def test_sma_cross_signals_equal_the_sma_cross_strategy_and_the_reference() -> None:
    # Arrange: BTC 1m, SMA(10/30) long/short, each position 1 x equity of notional at 5x, 2 bps slippage.
    market = june()
    up, down = sma_cross_signals(market.close[:, market.column("BTCUSDT")], 10, 30)
    config = RunConfig(leverage=5)
    # Act
    compiled, _ = both(market, symbols=["BTCUSDT"], entries=up, short_entries=down, config=config)
    strategy = run_backtest(SmaCross, market, BINANCE, mode="both", config=config, scanner=KernelScanner())
    # Assert: the per-bar SmaCross, called at every close, trades exactly as its signals do.
    assert compiled.settings["engine"] == {"cross": "compiled", "isolated": "compiled"}
    for mode in ("cross", "isolated"):
        run = compiled.modes[mode]
        assert len(run.trades) > 500  # a reversal at each cross: close and open
        assert set(run.trades.kind) == {"open", "close"}
        for name in ("trades", "equity", "positions"):
            pd.testing.assert_frame_equal(getattr(run, name), getattr(strategy.modes[mode], name), check_exact=True)


def test_high_leverage_through_the_june_22_sell_off_liquidates_both_ways() -> None:
    # Arrange: long all three from the first bar of each day, 10 x equity of notional each at 50x (an
    # isolated position holds 20 % of the equity, liquidated by a ~2 % fall), flat at each midday.
    market = june()
    entries, exits = every(market.bars, 1440), every(market.bars, 1440, 720)
    # Act
    compiled, _ = both(market, entries=entries, exits=exits, size=10.0, config=RunConfig(leverage=50))
    # Assert
    isolated = compiled.modes["isolated"]
    assert isolated.summary.liquidations >= 5
    assert set(isolated.liquidations.pool) <= {f"isolated:{s}" for s in SYMBOLS}
    day = pd.Timestamp("2025-06-22", tz="UTC")
    assert ((isolated.liquidations.time >= day) & (isolated.liquidations.time < day + pd.Timedelta(days=1))).any()
    assert (isolated.trades.kind == "liquidation").sum() == len(isolated.liquidations)


def test_a_cross_pool_liquidated_whole_then_no_equity_to_size_from() -> None:
    # SOL long, 40 x equity at 50x, re-entered every 4 hours: the cross wallet is emptied.
    market = june()
    entries = every(market.bars, 240, width=1)
    compiled, _ = both(market, symbols=["SOLUSDT"], entries=entries, size=40.0, config=RunConfig(leverage=50))
    cross = compiled.modes["cross"]
    assert cross.summary.liquidations >= 1
    assert cross.summary.final_equity < 1.0
    assert compiled.modes["isolated"].summary.liquidations > cross.summary.liquidations


def test_funding_on_real_settlements_and_off() -> None:
    # Arrange: March 2026 1h with marks and funding; BTC long on and off, ETH long and short, SOL short.
    market = march()
    entries = np.zeros((market.bars, 3), dtype=np.bool_)
    entries[::50, 0] = entries[::70, 1] = True
    exits = np.zeros_like(entries)
    exits[30::50, 0] = True
    shorts = np.zeros_like(entries)
    shorts[10::90, 2] = shorts[35::70, 1] = True
    signals = {"entries": entries, "exits": exits, "short_entries": shorts}
    # Act
    on, _ = both(market, **signals, config=RunConfig(leverage=5))
    off, _ = both(market, **signals, config=RunConfig(leverage=5, funding=False, taker_fee=0.0004))
    # Assert
    for mode in ("cross", "isolated"):
        paid = on.modes[mode].funding
        assert len(paid) > 100
        assert set(paid.symbol) == set(SYMBOLS)
        assert on.modes[mode].summary.funding_paid > 0
        assert off.modes[mode].funding.empty
        fills = off.modes[mode].trades
        assert np.allclose(fills.fee, fills["size"] * fills.price * 0.0004, rtol=1e-12)


def test_one_minute_week_with_funding_and_the_june_13_sell_off() -> None:
    market = june_week()
    entries, exits = every(market.bars, 600), every(market.bars, 600, 400)
    compiled, _ = both(market, entries=entries, exits=exits, size=8.0, config=RunConfig(leverage=40))
    assert len(compiled.modes["cross"].funding) > 0
    assert compiled.modes["isolated"].summary.liquidations > 0


def test_targets_in_base_units_and_in_equity() -> None:
    # Targets at 300 random bars of the 1m days (rebalances, reversals, partial reductions, increases).
    market = june()
    rng = np.random.default_rng(7)
    targets = np.full((market.bars, 3), np.nan)
    rows = rng.choice(market.bars, 300, replace=False)
    targets[rows] = rng.uniform(-2.0, 2.0, (300, 3))
    compiled, _ = both(market, targets=targets, size_type="equity", config=RunConfig(leverage=10))
    kinds = set(compiled.modes["cross"].trades.kind)
    assert {"open", "increase", "reduce", "close"} <= kinds
    base = np.where(np.isnan(targets), np.nan, targets * np.array([0.05, 1.0, 20.0]))
    both(market, targets=base, size_type="base", mode="cross", config=RunConfig(leverage=10))


def test_refused_orders_go_through_margin_operations_with_their_reason() -> None:
    # 2 x equity each at 5x: the first open takes 40 % of the equity as margin, the third is refused.
    market = june()
    compiled, _ = both(market, entries=every(market.bars, 1440), exits=every(market.bars, 1440, 720), size=2.0)
    events = compiled.modes["cross"].events
    assert len(events) > 0
    assert set(events.kind) == {"refused"}
    assert events.text.str.contains("insufficient|available balance").all()
    assert compiled.modes["cross"].summary.rejected_orders == len(events)


def test_the_leverage_cap_of_a_bracket_refuses_a_large_position() -> None:
    market = june()
    entries = every(market.bars, 1440, width=1)
    compiled, _ = both(
        market, symbols=["BTCUSDT"], entries=entries, size=100.0, config=RunConfig(leverage=125, wallet=1e6)
    )
    events = compiled.modes["cross"].events
    assert len(events) == 10
    assert events.text.str.contains("above the bracket cap").all()


def test_full_record_arrays_are_handed_over_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signal_run, "RECORD_ROWS", 2)
    market = june()
    both(market, entries=every(market.bars, 97), short_entries=every(market.bars, 97, 41), size=0.5)


def test_the_plain_python_reference_agrees_to_the_scan_kernels_precision() -> None:
    # scan_reference sums with math.fsum where the kernel sums plainly within 1e-13 of it.
    market = march()
    plan = signal_plan(market, entries=every(market.bars, 60), exits=every(market.bars, 60, 40), size=2.0)
    compiled = run_signals(market, BINANCE, entries=every(market.bars, 60), exits=every(market.bars, 60, 40), size=2.0)
    for mode in ("cross", "isolated"):
        slow = run_mode(SignalStrategy(plan), market, BINANCE, mode, RunConfig(), scanner=scan_reference)
        assert_same_run(compiled.modes[mode], slow, rtol=1e-12)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_compiled_equals_reference_on_drawn_targets(data: st.DataObject) -> None:
    market = march()
    bars = market.bars
    rows = data.draw(st.lists(st.integers(0, bars - 1), min_size=1, max_size=25, unique=True))
    values = data.draw(st.lists(st.floats(-3.0, 3.0), min_size=3 * len(rows), max_size=3 * len(rows)))
    targets = np.full((bars, 3), np.nan)
    targets[rows] = np.array(values).reshape(len(rows), 3)
    leverage = data.draw(st.sampled_from([2, 5, 20, 50]))
    slippage = data.draw(st.sampled_from([0.0, 0.0005]))
    both(market, targets=targets, config=RunConfig(leverage=leverage, slippage=slippage))


def test_a_venue_the_kernel_cannot_value_runs_on_the_per_bar_engine() -> None:
    okx = get_rules("okx")
    frames = {
        name: pd.DataFrame(
            {"timestamp": np.arange(50, dtype=np.int64) * 3_600_000, "open": 100.0, "high": 101.0, "low": 99.0}
        ).assign(close=100.0)
        for name in ("BTC-USDT-SWAP",)
    }
    market = market_from_frames(frames, interval_ms=3_600_000)
    assert compiled_unsupported(okx, ["BTC-USDT-SWAP"], "cross") is not None
    assert compiled_unsupported(BINANCE, SYMBOLS, "isolated") is None
    entries = np.zeros(50, dtype=np.bool_)
    entries[3] = True
    result = run_signals(market, okx, entries=entries, size=0.01, size_type="base", mode="cross")
    assert result.settings["engine"] == {"cross": "reference"}
    assert len(result.modes["cross"].trades) == 1
    with pytest.raises(InputError, match="engine: 'compiled'"):
        run_signals(market, okx, entries=entries, mode="cross", engine="compiled")


NONE = np.zeros((744, 3), dtype=np.bool_)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({}, "entries: None is not allowed"),
        ({"entries": np.zeros(5, dtype=np.bool_)}, "entries: 'an array of shape (5,)' is not allowed"),
        ({"entries": np.full((744, 3), 2)}, "entries: 'values of type int64' is not allowed (allowed: booleans"),
        ({"entries": "yes", "symbols": ["BTCUSDT"]}, "entries: 'an array of shape ()'"),
        ({"targets": np.zeros((744, 3)), "entries": NONE}, "(allowed: targets or entry/exit signals, not both)"),
        ({"targets": np.full((744, 3), np.inf)}, "targets: 'an infinite target'"),
        ({"entries": NONE, "size": 0.0}, "size: 'a value <= 0 or not finite'"),
        ({"entries": NONE, "size_type": "lots"}, "size_type: 'lots'"),
        ({"entries": NONE, "mode": "portfolio"}, "mode: 'portfolio'"),
        ({"entries": NONE, "engine": "gpu"}, "engine: 'gpu'"),
        ({"entries": NONE, "leverage": 200}, "leverage: leverage 200 above the bracket cap"),
        ({"entries": NONE, "config": RunConfig(leverage_cap=2.0)}, "config.leverage_cap: 2.0"),
        ({"entries": NONE[:, :1], "symbols": ["DOGEUSDT"]}, "no bars for 'DOGEUSDT'"),
    ],
)
def test_bad_input_is_named(kwargs: dict[str, Any], fragment: str) -> None:
    with pytest.raises((InputError, DataError), match=re.escape(fragment)):
        run_signals(march(), BINANCE, **kwargs)


def test_conflicting_signals_do_nothing() -> None:
    market = march()
    entries = every(market.bars, 100)
    compiled, _ = both(market, entries=entries, exits=entries, mode="cross")
    assert compiled.modes["cross"].trades.empty
    assert len(signal_plan(market, entries=entries, short_entries=entries).signal_bars) == 0


def test_strategy_due_bars_are_arithmetic() -> None:
    strategy = SmaCross()
    assert list(strategy.due_bars(0, 35)) == [30, 31, 32, 33, 34]
    strategy.every, strategy.warmup = 4, 10
    assert list(strategy.due_bars(11, 30)) == [14, 18, 22, 26]
    assert [b for b in range(11, 30) if strategy.due(b)] == [14, 18, 22, 26]
    strategy.every = None
    assert list(strategy.due_bars(0, 100)) == [10]
    assert list(strategy.due_bars(11, 100)) == []


def test_sma_cross_called_only_at_its_crosses_is_the_same_run() -> None:
    market = june()
    config = RunConfig(leverage=3)
    every_bar = run_backtest(SmaCross, market, BINANCE, mode="cross", config=config, scanner=KernelScanner())
    crosses = run_backtest(
        lambda: SmaCross(every_bar=False), market, BINANCE, mode="cross", config=config, scanner=KernelScanner()
    )
    assert_same_run(every_bar.modes["cross"], crosses.modes["cross"])


def test_the_examples_of_docs_backtest_run() -> None:
    # Every Python block of docs/backtest.md runs as printed (the strategies it defines are called once).
    text = (REPO / "docs" / "backtest.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 3
    names: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, "docs/backtest.md", "exec"), names)
    assert set(names["result"].modes) == {"cross", "isolated"}
    market = march()
    strategy = names["AtSignals"](np.array([5, 200, 400], dtype=np.int64))
    run = run_backtest(lambda: strategy, market, BINANCE, mode="cross", scanner=KernelScanner()).modes["cross"]
    assert list(run.trades.kind) == ["open", "close", "open"]


@pytest.mark.parametrize(
    ("venue", "symbols", "size", "leverage"),
    [("bybit", ("BTCUSDT", "ETHUSDT"), 20.0, 50), ("hyperliquid", ("BTC", "ETH", "SOL"), 6.0, 20)],
)
def test_stepwise_liquidations_of_bybit_and_hyperliquid(
    venue: str, symbols: tuple[str, ...], size: float, leverage: int
) -> None:
    # The June 1m days under the venue's symbol names; long every 4 hours for 2 hours, ``size`` x equity each.
    source = june()
    columns = [source.column(s) for s in SYMBOLS[: len(symbols)]]
    market = MarketData(
        times=source.times,
        symbols=symbols,
        **{f: getattr(source, f)[:, columns] for f in ("open", "high", "low", "close")},
        **{f: getattr(source, f)[:, columns] for f in ("mark_open", "mark_high", "mark_low", "mark_close")},
        interval_ms=source.interval_ms,
        marks_from_trades=True,
    )
    rules = get_rules(venue)
    kwargs: dict[str, Any] = {
        "entries": every(market.bars, 240, width=len(symbols)),
        "exits": every(market.bars, 240, 120, width=len(symbols)),
        "size": size,
        "config": RunConfig(leverage=leverage),
    }
    compiled = run_signals(market, rules, **kwargs)
    reference = run_signals(market, rules, engine="reference", **kwargs)
    expected = {"cross": "compiled", "isolated": "reference" if venue == "bybit" else "compiled"}
    assert compiled.settings["engine"] == expected
    for mode in ("cross", "isolated"):
        assert_same_run(compiled.modes[mode], reference.modes[mode])
    assert compiled.modes["cross"].summary.liquidations > 0  # the venue's stepwise procedure, from the kernel
