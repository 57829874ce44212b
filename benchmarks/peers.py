"""Peer benchmarks in one run: one SMA(10/30) cross on 72,000 real BTCUSDT 1m bars, run by each backtester.

Run, from the repository root:

- ``make bench-peers``: creates ``.venv-bench`` if missing, installs ``-e '.[dev,bench]'`` into it (the peers
  are the ``bench`` extra of ``pyproject.toml``, pinned; kept out of ``.venv`` so they never move its numba or
  pandas) and runs ``.venv-bench/bin/python benchmarks/peers.py``;
- ``.venv/bin/python benchmarks/peers.py``: the same in the dev venv, where the peers are not installed: each
  missing peer is skipped with a note, crossmargin's runners still run.

Options: ``--repeats N`` (interleaved rounds, default 5), ``--import-repeats N`` (fresh interpreters per
import figure, default 3).

**The work.** ``benchmarks/data/BTCUSDT-1m-72k.parquet``: 72,000 Binance USDⓈ-M BTCUSDT 1m last-trade
bars, 2025-05-05 00:00 to 2025-06-23 23:59 UTC (provenance in ``benchmarks/data/PROVENANCE.md``). The same
strategy for every runner: **long or flat** (no shorts), on the crosses of the 10-bar and 30-bar SMAs of
closes: at the close of a bar where SMA(10) crosses above SMA(30) (``fast[t-1] < slow[t-1]`` and
``fast[t] > slow[t]``, backtesting.py's ``crossover``) go long 1 BTC; where it crosses below, go flat. Once
the first cross has happened this is "long while SMA(10) > SMA(30), flat otherwise" (the data hold no tie); the
one difference is the start: a fast SMA already above the slow one at the first decision is not bought
until the next up-cross (backtesting.py's own SmaCross example, and crossmargin's ``SmaCross``). Decisions
from bar 30 on (bar index, 0-based: backtesting.py's warm-up, one bar past the first full 30-bar window), as a
market order filled at the **next bar's open**, no slippage, taker fee 0.05 % of fill notional (USDT) at every
fill, 1,000,000 USDT of starting cash, every entry 1 BTC. A position still open at the last bar stays open:
final equity is cash plus its unrealised PnL at the last close, with no exit fee (every runner's convention).

**The runners**, one table (``RUNNERS``); a runner whose package is absent is skipped with a note:

- backtesting.py (``backtesting``): a per-bar ``Strategy`` (``next()`` per bar; SMAs through ``self.I``);
- vectorbt ``Portfolio.from_signals`` with its numba engine and with its Rust engine (``vectorbt-rust``):
  entries and exits shifted one bar, filled at ``price=open``;
- crossmargin's per-bar Strategy API (``sim.backtest.run_backtest``, the compiled scanner, cross margin):
  ``SmaCrossPerBar``, a ``Strategy`` subclass written here as a user would (``on_bar`` at every close reads
  ``ctx.close`` and returns ``ctx.target``); and, where it exists, the built-in
  ``sim.strategies.sma_cross.SmaCross`` (``size_type='base', short=False``) called at every close
  (``every_bar=True``) and only at the cross bars (``every_bar=False``: the engine scans the bars between in
  the compiled kernel, without calling Python). No funding: the market is built without a funding
  schedule (and with ``funding=False`` where ``RunConfig`` has that setting), so no settlement falls in any
  bar; no liquidation: 1 BTC (about 100,000 USDT of notional) against a 1,000,000 USDT cross wallet never
  comes near its maintenance margin (the agreement check prints the liquidation count, which must be 0).
  The fee is Binance's regular taker rate, 0.0005 (the script checks it and also sets ``taker_fee`` where
  ``RunConfig`` has it). Leverage (5x, the default) sets only the initial margin, not the PnL;
- crossmargin's signal API, where it exists: ``sim.signals.run_signals(market, rules, entries=up,
  exits=down, size=1, size_type='base', mode='cross', engine='compiled')``, the same config (it reads the
  signals at each close and fills at the next open itself, so they are not shifted).

**Agreement, checked before timing.** Every runner must give the same number of entries and of closed round
trips, and a final equity within ``TOLERANCE`` (1e-4 USDT) of the first runner's. Why that tolerance: the
runners add up the same ~2,900 fills (PnL and fees, terms under 1.1e6 USDT) in different orders, so float64
round-off is bounded by about 2,900 x 2 x 1.1e6 x 1.1e-16 = 7e-7 USDT; any real difference of convention is
far larger: a fee forgotten or charged twice moves equity by >= 37 USDT (0.05 % of a fill above 74,000
USDT), and a fill at another price moves it by a multiple of the 0.1 USDT price tick on 1 BTC. The closest
SMA(10) - SMA(30) gap over the decision bars is printed too: it is far above the round-off of any way of
computing an SMA, so no runner's arithmetic can flip a signal.

**Timing.** Converting the bars to each runner's input (a capitalised DataFrame, ``MarketData``) is done once,
untimed. Per runner: the import in fresh interpreters that have already imported numpy and pandas (so the
figure is the framework's own, median of ``--import-repeats``); the first run in this process (warm-up:
numba compilation or cache loading, first-call set-up), reported as its excess over the median run; then
``--repeats`` interleaved rounds (the order of the runners rotates each round), each sample being as many
back-to-back runs as fill ``MIN_SAMPLE_S`` seconds. A run is everything from the strategy's indicators to
its result (trades and final equity). bars/s = 72,000 / seconds per run: median, with the min .. max over
rounds. Ratios crossmargin / peer are of medians, with the min .. max of the same-round ratios.

**Goals** printed beside the figures: crossmargin's per-bar Strategy >= 10x backtesting.py's bars/s; the
crossmargin signal API (``run_signals``) >= vectorbt's ``from_signals`` (each engine).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import math
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

# backtesting.py wraps its bar loop in tqdm when tqdm is importable (vectorbt brings it): no progress bars.
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np
import pandas as pd

from crossmargin.kernels.layout import FloatArray, MarketData
from crossmargin.sim.backtest import kernel_scan, run_backtest
from crossmargin.sim.config import RunConfig
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.orders import Order
from crossmargin.sim.result import BacktestResult
from crossmargin.sim.strategy import BarContext, Strategy
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "BTCUSDT-1m-72k.parquet"
SYMBOL = "BTCUSDT"
FAST, SLOW = 10, 30
#: The first bar (0-based) whose close decides: backtesting.py calls ``next()`` first one bar past the first
#: full SLOW window, and every runner starts there.
FIRST_DECISION = SLOW
CASH = 1_000_000.0  # USDT
SIZE = 1.0  # BTC per entry
TAKER_FEE = 0.0005  # fraction of fill notional (0.05 %)
TOLERANCE = 1e-4  # USDT on the final equity (see the module docstring)
MIN_SAMPLE_S = 0.2
BENCH_HINT = "`make bench-peers` installs the bench extra into .venv-bench and runs this script there"

Kind = Literal["per-bar", "signals"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a run ends with: fills that opened a position, closed round trips, final equity (USDT)."""

    entries: int
    round_trips: int
    final_equity: float
    liquidations: int | None = None


@dataclass(frozen=True, kw_only=True)
class Runner:
    """One backtester running the strategy: ``build(bars)`` does the imports and input conversion (untimed)
    and returns the run to time; ``modules`` must be importable; ``imports`` is what the import figure times."""

    name: str
    kind: Kind
    crossmargin: bool
    modules: tuple[str, ...]
    imports: str
    build: Callable[[pd.DataFrame], Callable[[], Outcome]]


def sma(values: FloatArray, window: int) -> FloatArray:
    """Return the simple moving average of ``values`` over ``window`` bars (NaN before the first full window)."""
    out = np.full(len(values), np.nan)
    sums = np.cumsum(np.concatenate(([0.0], values)))
    out[window - 1 :] = (sums[window:] - sums[:-window]) / window
    return out


def crosses(close: FloatArray) -> tuple[Any, Any]:
    """Return ``(up, down)`` per bar: SMA(FAST) crosses above / below SMA(SLOW) at its close (False before FIRST)."""
    fast, slow = sma(close, FAST), sma(close, SLOW)
    up = np.zeros(len(close), dtype=np.bool_)
    down = np.zeros(len(close), dtype=np.bool_)
    up[1:] = (fast[:-1] < slow[:-1]) & (fast[1:] > slow[1:])
    down[1:] = (fast[:-1] > slow[:-1]) & (fast[1:] < slow[1:])
    up[:FIRST_DECISION] = down[:FIRST_DECISION] = False
    return up, down


# --- backtesting.py ------------------------------------------------------------------------------------------


def build_backtesting(bars: pd.DataFrame) -> Callable[[], Outcome]:
    """Return a run of backtesting.py's per-bar Strategy (next-open fills are its default)."""
    bt = importlib.import_module("backtesting")
    crossover = importlib.import_module("backtesting.lib").crossover
    base: Any = bt.Strategy

    class SmaCrossBt(base):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.buy(size=SIZE)
            elif crossover(self.slow, self.fast):
                self.position.close()

    frame = pd.DataFrame(
        {"Open": bars["open"], "High": bars["high"], "Low": bars["low"], "Close": bars["close"]}
        | {"Volume": bars["volume"]},
    ).set_index(pd.to_datetime(bars["timestamp"], unit="ms"))

    def run() -> Outcome:
        engine = bt.Backtest(frame, SmaCrossBt, cash=CASH, commission=TAKER_FEE, trade_on_close=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Some trades remain open at the end": on purpose
            stats = engine.run()
        closed = len(stats["_trades"])
        return Outcome(
            entries=closed + len(stats["_strategy"].trades),
            round_trips=closed,
            final_equity=float(stats["Equity Final [$]"]),
        )

    return run


# --- vectorbt ------------------------------------------------------------------------------------------------


def vectorbt_builder(engine: str) -> Callable[[pd.DataFrame], Callable[[], Outcome]]:
    """Return the builder of a vectorbt ``Portfolio.from_signals`` run on ``engine`` ('numba' or 'rust')."""

    def build(bars: pd.DataFrame) -> Callable[[], Outcome]:
        vbt = importlib.import_module("vectorbt")
        close = bars["close"].to_numpy(dtype=np.float64)
        bar_open = bars["open"].to_numpy(dtype=np.float64)

        def run() -> Outcome:
            up, down = crosses(close)
            # the order decided at the close of bar t fills at the open of t + 1: shift by one bar
            entries = np.concatenate(([False], up[:-1]))
            exits = np.concatenate(([False], down[:-1]))
            portfolio = vbt.Portfolio.from_signals(
                close,
                entries,
                exits,
                price=bar_open,
                size=SIZE,
                size_type="amount",
                fees=TAKER_FEE,
                init_cash=CASH,
                engine=engine,
            )
            trades = portfolio.trades
            return Outcome(
                entries=int(trades.count()),
                round_trips=int(trades.closed.count()),
                final_equity=float(portfolio.final_value()),
            )

        return run

    return build


# --- crossmargin ---------------------------------------------------------------------------------------------


class SmaCrossPerBar(Strategy):
    """Long ``SIZE`` BTC from an up-cross of SMA(FAST) over SMA(SLOW) to the next down-cross (called per bar)."""

    name = "sma-cross-peers"
    symbols = (SYMBOL,)
    every = 1
    warmup = FIRST_DECISION

    def __init__(self) -> None:
        self._above: bool | None = None  # SMA(FAST) > SMA(SLOW) at the previous close

    def on_bar(self, ctx: BarContext) -> Sequence[Order]:
        """At a cross, return the market order (filled at the next open) to long ``SIZE`` or to flat."""
        closes = ctx.close(SYMBOL)
        if self._above is None:  # the first call: the previous close's averages, from the closes before it
            self._above = bool(closes[-FAST - 1 : -1].mean() > closes[-SLOW - 1 : -1].mean())
        above = bool(closes[-FAST:].mean() > closes[-SLOW:].mean())
        was, self._above = self._above, above
        if above == was:
            return ()
        return ctx.target(SYMBOL, SIZE if above else 0.0)


def crossmargin_market(bars: pd.DataFrame) -> MarketData:
    """Return the bars as crossmargin market data: last-trade bars as marks, no funding schedule."""
    return market_from_frames({SYMBOL: bars}, interval_ms=60_000)


def crossmargin_rules() -> VenueRules:
    """Return Binance's rules, after checking that their regular taker rate is the peers' ``TAKER_FEE``."""
    rules = get_rules("binance")
    if rules.fee_rate("taker") != TAKER_FEE:
        raise SystemExit(f"binance taker rate is {rules.fee_rate('taker')}, the peers are run at {TAKER_FEE}")
    return rules


def crossmargin_config() -> RunConfig:
    """Return the run settings: CASH wallet, no slippage, taker fee and no funding where the config has them."""
    wanted: dict[str, Any] = {"wallet": CASH, "slippage": 0.0, "taker_fee": TAKER_FEE, "funding": False}
    names = {f.name for f in fields(RunConfig)}
    return RunConfig(**{k: v for k, v in wanted.items() if k in names})


def crossmargin_outcome(result: BacktestResult) -> Outcome:
    """Return what the cross-margin run of ``result`` ended with; stop if it settled any funding."""
    mode = result.modes["cross"]
    kinds = mode.trades["kind"].value_counts()
    if mode.summary.funding_paid or mode.summary.funding_received:
        raise SystemExit("crossmargin settled funding: the comparison assumes none")
    return Outcome(
        entries=int(kinds.get("open", 0)),
        round_trips=int(kinds.get("close", 0)),
        final_equity=float(mode.summary.final_equity),
        liquidations=int(mode.summary.liquidations),
    )


def builtin_sma_cross(every_bar: bool) -> Callable[[], Strategy]:
    """Return the factory of crossmargin's built-in ``SmaCross`` set to this benchmark's strategy."""
    module = importlib.import_module("crossmargin.sim.strategies.sma_cross")

    def factory() -> Strategy:
        strategy: Strategy = module.SmaCross(
            fast=FAST, slow=SLOW, size=SIZE, size_type="base", short=False, symbol=SYMBOL, every_bar=every_bar
        )
        return strategy

    return factory


def crossmargin_strategy_builder(
    make_factory: Callable[[], Callable[[], Strategy]],
) -> Callable[[pd.DataFrame], Callable[[], Outcome]]:
    """Return the builder of a crossmargin per-bar Strategy run (``run_backtest``, cross margin, kernel scan)."""

    def build(bars: pd.DataFrame) -> Callable[[], Outcome]:
        factory = make_factory()
        rules = crossmargin_rules()
        market, config = crossmargin_market(bars), crossmargin_config()

        def run() -> Outcome:
            return crossmargin_outcome(
                run_backtest(factory, market, rules, mode="cross", config=config, scanner=kernel_scan)
            )

        return run

    return build


def build_crossmargin_signals(bars: pd.DataFrame) -> Callable[[], Outcome]:
    """Return a run of crossmargin's signal API (``sim.signals.run_signals``, compiled engine, cross margin).

    ``run_signals`` reads the signals at each bar's close and fills at the next open itself: no shift here.
    """
    signals = importlib.import_module("crossmargin.sim.signals")
    rules = crossmargin_rules()
    market, config = crossmargin_market(bars), crossmargin_config()
    close = bars["close"].to_numpy(dtype=np.float64)

    def run() -> Outcome:
        up, down = crosses(close)
        result = signals.run_signals(
            market,
            rules,
            entries=up,
            exits=down,
            size=SIZE,
            size_type="base",
            mode="cross",
            config=config,
            engine="compiled",
        )
        return crossmargin_outcome(result)

    return run


RUNNERS: tuple[Runner, ...] = (
    Runner(
        name="backtesting.py Strategy",
        kind="per-bar",
        crossmargin=False,
        modules=("backtesting",),
        imports="import backtesting",
        build=build_backtesting,
    ),
    # Rust first: its warm-up then counts whatever it needs, not what the numba run compiled before it.
    Runner(
        name="vectorbt from_signals (rust)",
        kind="signals",
        crossmargin=False,
        modules=("vectorbt", "vectorbt_rust"),
        imports="import vectorbt, vectorbt_rust",
        build=vectorbt_builder("rust"),
    ),
    Runner(
        name="vectorbt from_signals (numba)",
        kind="signals",
        crossmargin=False,
        modules=("vectorbt",),
        imports="import vectorbt",
        build=vectorbt_builder("numba"),
    ),
    Runner(
        name="crossmargin Strategy (peers.py)",
        kind="per-bar",
        crossmargin=True,
        modules=("crossmargin",),
        imports="import crossmargin.sim.backtest",
        build=crossmargin_strategy_builder(lambda: SmaCrossPerBar),
    ),
    Runner(
        name="crossmargin SmaCross (every bar)",
        kind="per-bar",
        crossmargin=True,
        modules=("crossmargin.sim.strategies.sma_cross",),
        imports="import crossmargin.sim.backtest, crossmargin.sim.strategies.sma_cross",
        build=crossmargin_strategy_builder(lambda: builtin_sma_cross(every_bar=True)),
    ),
    Runner(
        name="crossmargin SmaCross (crosses)",
        kind="per-bar",
        crossmargin=True,
        modules=("crossmargin.sim.strategies.sma_cross",),
        imports="import crossmargin.sim.backtest, crossmargin.sim.strategies.sma_cross",
        build=crossmargin_strategy_builder(lambda: builtin_sma_cross(every_bar=False)),
    ),
    Runner(
        name="crossmargin run_signals",
        kind="signals",
        crossmargin=True,
        modules=("crossmargin.sim.signals",),
        imports="import crossmargin.sim.signals",
        build=build_crossmargin_signals,
    ),
)


# --- measuring -----------------------------------------------------------------------------------------------


def missing_module(runner: Runner) -> str | None:
    """Return the first module of ``runner`` that cannot be imported here, or None."""
    for name in runner.modules:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ModuleNotFoundError:
            return name
    return None


def import_seconds(statement: str) -> float:
    """Return the seconds ``statement`` takes in a fresh interpreter that has already imported numpy and pandas."""
    code = f"import numpy, pandas, time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def spread(values: Sequence[float], fmt: str) -> str:
    """Return ``median (min .. max)`` of ``values`` in ``fmt``."""
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}} .. {max(values):{fmt}})"


def version_of(module: str) -> str:
    """Return the installed distribution version of ``module`` (or '?')."""
    top = module.split(".", maxsplit=1)[0]
    name = {"vectorbt_rust": "vectorbt-rust"}.get(top, top)
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "?"


@dataclass(eq=False)
class Measured:
    """What one runner measured."""

    runner: Runner
    run: Callable[[], Outcome]
    outcome: Outcome
    first_s: float
    number: int
    imports_s: list[float]
    samples_s: list[float]  # seconds per run, one per round


def agreement(measured: Sequence[Measured], close: FloatArray) -> bool:
    """Print what each runner ended with against the first one's; return True when all agree."""
    gap = np.abs(sma(close, FAST) - sma(close, SLOW))[FIRST_DECISION - 1 :]
    print(f"\nagreement (checked before timing; tolerance {TOLERANCE:g} USDT on final equity, see the docstring)")
    print(f"closest SMA({FAST}) - SMA({SLOW}) gap over the decision bars: {gap.min():.4f} USDT")
    reference = measured[0].outcome
    print(f"{'runner':<32} {'entries':>8} {'round trips':>12} {'final equity USDT':>20} {'diff USDT':>11} {'liq':>4}")
    agree = True
    for m in measured:
        o = m.outcome
        diff = o.final_equity - reference.final_equity
        same = (
            o.entries == reference.entries
            and o.round_trips == reference.round_trips
            and abs(diff) <= TOLERANCE
            and (o.liquidations or 0) == 0
        )
        agree &= same
        liquidations = "-" if o.liquidations is None else str(o.liquidations)
        print(
            f"{m.runner.name:<32} {o.entries:>8,} {o.round_trips:>12,} {o.final_equity:>20,.6f} {diff:>11.2e} "
            f"{liquidations:>4} {'agrees' if same else 'DISAGREES'}"
        )
    return agree


def goal_lines(measured: Sequence[Measured]) -> list[str]:
    """Return the goal lines: crossmargin per-bar >= 10x backtesting.py; crossmargin signals >= vectorbt."""
    by_kind: dict[tuple[bool, Kind], list[Measured]] = {}
    for m in measured:
        by_kind.setdefault((m.runner.crossmargin, m.runner.kind), []).append(m)
    goals: tuple[tuple[Kind, float, str], ...] = (
        ("per-bar", 10.0, "backtesting.py"),
        ("signals", 1.0, "vectorbt from_signals"),
    )
    lines = []
    for kind, factor, peer_label in goals:
        ours, peers = by_kind.get((True, kind), []), by_kind.get((False, kind), [])
        goal = f"crossmargin {kind} >= {factor:g}x {peer_label}"
        if not ours or not peers:
            absent = "crossmargin.sim.signals not present" if not ours else f"{peer_label} not installed ({BENCH_HINT})"
            lines.append(f"{goal}: NOT MEASURED ({absent})")
            continue
        for mine in ours:
            for peer in peers:
                ratio = statistics.median(peer.samples_s) / statistics.median(mine.samples_s)
                verdict = "MET" if ratio >= factor else "NOT MET"
                lines.append(f"{goal}: {mine.runner.name} / {peer.runner.name} = {ratio:.2f}x -> {verdict}")
    return lines


def available(runners: Sequence[Runner]) -> list[Runner]:
    """Return the runners whose modules import here; print a note for each one skipped."""
    found = []
    for runner in runners:
        absent = missing_module(runner)
        if absent is None:
            found.append(runner)
        else:
            print(f"skipped: {runner.name} ({absent} is not installed here; {BENCH_HINT})")
    return found


def warm(runners: Sequence[Runner], bars: pd.DataFrame, import_repeats: int) -> list[Measured]:
    """Return each runner built, with its import figures, its first (warm-up) run and its run count per sample."""
    imports: dict[str, list[float]] = {r.name: [] for r in runners}
    for _ in range(import_repeats):  # interleaved too
        for runner in runners:
            imports[runner.name].append(import_seconds(runner.imports))
    measured = []
    for runner in runners:
        run = runner.build(bars)
        began = time.perf_counter()
        outcome = run()
        first = time.perf_counter() - began
        began = time.perf_counter()
        run()
        number = max(1, math.ceil(MIN_SAMPLE_S / (time.perf_counter() - began)))
        measured.append(Measured(runner, run, outcome, first, number, imports[runner.name], []))
    return measured


def time_rounds(measured: Sequence[Measured], repeats: int) -> None:
    """Append to each runner's samples ``repeats`` timings (seconds per run), the runners' order rotating."""
    for round_index in range(repeats):
        shift = round_index % len(measured)
        for m in [*measured[shift:], *measured[:shift]]:
            began = time.perf_counter()
            for _ in range(m.number):
                m.run()
            m.samples_s.append((time.perf_counter() - began) / m.number)


def print_speed(measured: Sequence[Measured], n_bars: int, repeats: int) -> None:
    """Print the speed table and the ratios crossmargin / peer."""
    print(f"\nspeed: median (min .. max) over {repeats} interleaved rounds; import in a fresh interpreter after")
    print("numpy + pandas (median of its repeats); warm-up = the first run in this process less the median run")
    print("(under load a warm-up within the s/run spread, even below 0, means none that can be told from noise)")
    head = f"{'runner':<32} {'kind':<8} {'bars/s':>34} {'s/run':>8} {'runs/sample':>11} {'import s':>8}"
    print(f"{head} {'first run s':>11} {'warm-up s':>9}")
    for m in measured:
        rates = [n_bars / s for s in m.samples_s]
        median_s = statistics.median(m.samples_s)
        print(
            f"{m.runner.name:<32} {m.runner.kind:<8} {spread(rates, '>10,.0f'):>34} {median_s:>8.4f} "
            f"{m.number:>11} {statistics.median(m.imports_s):>8.2f} {m.first_s:>11.2f} {m.first_s - median_s:>9.2f}"
        )
    print("\nratios crossmargin / peer (bars/s; ratio of medians, min .. max of the same-round ratios)")
    for mine in (m for m in measured if m.runner.crossmargin):
        for peer in (m for m in measured if not m.runner.crossmargin):
            paired = [p / c for c, p in zip(mine.samples_s, peer.samples_s, strict=True)]
            ratio = statistics.median(peer.samples_s) / statistics.median(mine.samples_s)
            print(f"  {mine.runner.name} / {peer.runner.name}: {ratio:.3f}x ({min(paired):.3f} .. {max(paired):.3f})")


def main() -> None:
    """Check that the runners agree, time them interleaved, print the tables and the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=5, help="interleaved timing rounds (default 5)")
    parser.add_argument("--import-repeats", type=int, default=3, help="fresh interpreters per import (default 3)")
    args = parser.parse_args()
    bars = pd.read_parquet(DATA)
    python = os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT)) else sys.executable
    print(f"command: {python} benchmarks/peers.py --repeats {args.repeats} --import-repeats {args.import_repeats}")
    print(
        f"work: {len(bars):,} BTCUSDT 1m bars ({DATA.relative_to(ROOT)}); SMA({FAST}/{SLOW}) long/flat {SIZE:g} BTC, "
        f"next-open fills, taker fee {TAKER_FEE:.2%}, cash {CASH:,.0f} USDT, first decision at bar {FIRST_DECISION}"
    )
    stack = ", ".join(f"{m} {version_of(m)}" for m in ("numpy", "pandas", "numba"))
    print(f"python {sys.version.split()[0]}; {stack}; load average {os.getloadavg()[0]:.2f} at start; 2 cores")
    runners = available(RUNNERS)
    tops = {m.split(".", maxsplit=1)[0] for r in runners for m in r.modules}
    print("versions: " + ", ".join(f"{m} {version_of(m)}" for m in sorted(tops)))
    measured = warm(runners, bars, args.import_repeats)
    agree = agreement(measured, bars["close"].to_numpy(dtype=np.float64))
    time_rounds(measured, args.repeats)
    print_speed(measured, len(bars), args.repeats)
    print("\ngoals")
    for line in goal_lines(measured):
        print(f"  {line}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    if not agree:
        print("the runners DISAGREE on the trades: the figures above do not compare the same work")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
