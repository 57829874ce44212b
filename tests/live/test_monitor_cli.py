"""``crossmargin monitor --paper`` offline end to end, with the store; ``backtest --store``."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from crossmargin.cli import app
from crossmargin.store import Store

RUNNER = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_monitor_paper_replays_the_crash_and_stores_alerts(tmp_path: Path) -> None:
    database = tmp_path / "monitor.sqlite"
    result = RUNNER.invoke(
        app,
        [
            "monitor",
            "--paper",
            "--portfolio",
            str(ROOT / "examples" / "paper_crash.toml"),
            "--interval",
            "0s",
            "--store",
            str(database),
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "ALERT 2025-10-10 21:15:00Z position gone: BTCUSDT" in result.stdout
    assert "distance below" in result.stdout  # rule names in words in the view (the store keeps the names)
    assert max(len(line) for line in result.stdout.splitlines() if not line.startswith("ALERT")) <= 100
    with Store(str(database)) as store:
        alerts = store.alerts()
        snapshots = store.snapshots("binance")
    assert {a.rule for a in alerts} >= {"position_gone", "distance_below", "no_stop_loss"}
    assert len(snapshots) == 863  # one per replayed 5m bar after the first


def test_monitor_bad_input() -> None:
    for args, fragment in (
        (["monitor", "--paper", "--interval", "soon"], "--interval"),
        (["monitor", "--paper", "--episode", "1929-10-24"], "--episode"),
        (["monitor", "--paper", "--ticks", "0"], "--ticks"),
        (["monitor", "--paper", "--rules", "/nonexistent/rules.toml"], "no such file"),
        (["monitor", "--venue", "kraken"], "--venue"),
    ):
        result = RUNNER.invoke(app, args)
        assert result.exit_code == 2, (args, result.stdout)
        assert fragment in result.stderr
        assert result.stderr.count("\n") == 1


def test_backtest_run_is_recorded(tmp_path: Path) -> None:
    database = tmp_path / "runs.sqlite"
    result = RUNNER.invoke(app, ["backtest", "case-study", "--end", "2026-03-20", "--store", str(database)])
    assert result.exit_code == 0, result.stderr
    with Store(str(database)) as store:
        (run,) = store.backtests()
    assert run.strategy == "case-study"
    assert set(run.summary) == {"cross", "isolated"}
