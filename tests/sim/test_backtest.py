"""Side-by-side runs, the compiled loop against the reference, the figure and the backtest command."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crossmargin.cli import app
from crossmargin.errors import InputError
from crossmargin.kernels.layout import MarketData
from crossmargin.report.plot import backtest_figure, save_figure
from crossmargin.risk.leverage import max_leverage
from crossmargin.sim.backtest import kernel_scan, resolve_strategy, run_backtest, sample_market
from crossmargin.sim.config import AutoLeverage, RunConfig
from crossmargin.sim.strategies import CaseStudy, HedgePair, Scalp
from crossmargin.venues import get_rules
from tests.sim.conftest import crash

RUNNER = CliRunner()
BINANCE = get_rules("binance")


@pytest.mark.parametrize("factory", [CaseStudy, lambda: HedgePair(neutral="beta", lookback=48)])
@pytest.mark.parametrize("mode", ["cross", "isolated"])
def test_compiled_loop_equals_the_reference(march_market: MarketData, factory: type, mode: str) -> None:
    fast = run_backtest(factory, march_market, BINANCE, mode=mode, scanner=kernel_scan).modes[mode]
    slow = run_backtest(factory, march_market, BINANCE, mode=mode).modes[mode]
    pd.testing.assert_frame_equal(fast.equity, slow.equity, rtol=1e-12)
    pd.testing.assert_frame_equal(fast.trades, slow.trades)
    pd.testing.assert_frame_equal(fast.liquidations, slow.liquidations)
    assert fast.summary.liquidations == slow.summary.liquidations


def test_compiled_loop_equals_the_reference_through_a_crash() -> None:
    market = crash()
    fast = run_backtest(CaseStudy, market, BINANCE, mode="both", config=RunConfig(leverage=10), scanner=kernel_scan)
    slow = run_backtest(CaseStudy, market, BINANCE, mode="both", config=RunConfig(leverage=10))
    for mode in ("cross", "isolated"):
        pd.testing.assert_frame_equal(fast.modes[mode].equity, slow.modes[mode].equity, rtol=1e-12)
        pd.testing.assert_frame_equal(fast.modes[mode].liquidations, slow.modes[mode].liquidations)


def test_both_modes_see_identical_signals(march_market: MarketData) -> None:
    result = run_backtest(CaseStudy, march_market, BINANCE, mode="both", scanner=kernel_scan)
    cross, isolated = result.modes["cross"], result.modes["isolated"]
    opened = ["time", "symbol", "side", "size"]
    first = cross.trades[cross.trades.kind == "open"][opened].reset_index(drop=True)
    second = isolated.trades[isolated.trades.kind == "open"][opened].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, second)
    payload = result.to_json()
    assert set(payload["modes"]) == {"cross", "isolated"}
    assert payload["modes"]["isolated"]["liquidations"][0]["symbol"] == "ETHUSDT"
    json.dumps(payload)  # plain JSON


def test_figure_has_both_modes_and_the_liquidation(tmp_path: Path, march_market: MarketData) -> None:
    result = run_backtest(CaseStudy, march_market, BINANCE, mode="both", scanner=kernel_scan)
    figure = backtest_figure(result)
    names = {trace.name for trace in figure.data}
    assert {"cross: equity", "isolated: equity", "cross: margin ratio", "isolated: margin ratio"} <= names
    assert "isolated: liquidation" in names
    notes = save_figure(figure, tmp_path / "run.html", png=tmp_path / "run.png")
    html = (tmp_path / "run.html").read_text(encoding="utf-8")
    assert "isolated: margin ratio" in html
    assert 'src="https://cdn.plot.ly' not in html  # plotly.js is embedded: the page opens offline
    assert len(html) > 1_000_000
    assert (tmp_path / "run.png").exists() or (notes and "Chrome" in notes[0])


def test_sample_market_and_strategy_names() -> None:
    market = sample_market(Scalp().symbols, interval="1m", start_ms=None, end_ms=None)
    assert market.marks_from_trades
    assert market.interval_ms == 60_000
    assert len(market.funding_times["BTCUSDT"]) > 0
    with pytest.raises(Exception, match="strategy"):
        resolve_strategy("martingale")


def test_backtest_command_side_by_side() -> None:
    result = RUNNER.invoke(app, ["backtest", "case-study", "--mode", "both", "--end", "2026-04-01"])
    assert result.exit_code == 0, result.stderr
    assert "Liquidations (isolated)" in result.stdout
    assert "ETHUSDT" in result.stdout
    assert "Liquidations (cross)" not in result.stdout
    payload = json.loads(
        RUNNER.invoke(app, ["backtest", "hedge-pair", "--mode", "cross", "--json", "--end", "2026-03-15"]).stdout
    )
    assert list(payload["modes"]) == ["cross"]
    assert payload["settings"]["bars"] == 14 * 24


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["backtest", "martingale"], "strategy: 'martingale'"),
        (["backtest", "case-study", "--mode", "portfolio"], "mode: 'portfolio'"),
        (["backtest", "case-study", "--start", "yesterday-ish"], "--start"),
        (["backtest", "case-study", "--start", "2030-01-01"], "share no bar"),
        (["backtest", "case-study", "--wallet", "-5"], "wallet"),
        (["backtest", "case-study", "--venue", "okx"], "unknown symbol 'BTCUSDT' on okx"),
    ],
)
def test_backtest_command_bad_input(args: list[str], fragment: str) -> None:
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2, result.stdout
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1


def test_auto_leverage_policy_is_reported_against_fixed_leverage(march_market: MarketData) -> None:
    policy = AutoLeverage(cap=max_leverage, max_liq_prob=0.01, horizon_bars=24)
    result = run_backtest(CaseStudy, march_market, BINANCE, mode="both", scanner=kernel_scan, auto_leverage=policy)
    assert list(result.modes) == ["cross", "isolated", "cross+auto", "isolated+auto"]
    fixed, steered = result.modes["isolated"], result.modes["isolated+auto"]
    assert steered.summary.mode == "isolated+auto"
    assert steered.summary.liquidations < fixed.summary.liquidations  # the ETH short is kept alive
    assert "auto_leverage" in set(steered.events.kind)
    assert result.settings["auto_leverage"]["max_liq_prob"] == 0.01
    reference = run_backtest(CaseStudy, march_market, BINANCE, mode="isolated", auto_leverage=policy)
    pd.testing.assert_frame_equal(reference.modes["isolated+auto"].equity, steered.equity, rtol=1e-12)


@pytest.mark.parametrize(
    "bad", [{"max_liq_prob": 0.0}, {"max_liq_prob": 1.5}, {"horizon_bars": 0}, {"ewma_lambda": 1.0}, {"band": -1.0}]
)
def test_auto_leverage_refuses_bad_settings(bad: dict[str, float]) -> None:
    with pytest.raises(InputError):
        AutoLeverage(cap=max_leverage, **bad)  # type: ignore[arg-type]


def test_backtest_command_auto_leverage_flag() -> None:
    result = RUNNER.invoke(app, ["backtest", "case-study", "--end", "2026-03-20", "--auto-leverage", "1%"])
    assert result.exit_code == 0, result.stderr
    assert "isolated, auto" in result.stdout  # the isolated run with leverage set by --auto-leverage
    assert "auto: the same run with leverage" in result.stdout
    bad = RUNNER.invoke(app, ["backtest", "case-study", "--auto-leverage", "150%"])
    assert bad.exit_code == 2
    assert "--auto-leverage" in bad.stderr
