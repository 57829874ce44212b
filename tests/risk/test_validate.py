"""Calibration: the Kupiec and Christoffersen tests by hand, the report on shipped history, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from scipy.stats import chi2
from typer.testing import CliRunner

from crossmargin.cli.forecast import register
from crossmargin.errors import InputError, LeverageError, UnknownSymbolError
from crossmargin.risk.forecast import load_daily
from crossmargin.risk.validate import (
    brier_score,
    calibration_report,
    christoffersen_independence,
    conditional_coverage,
    count_test,
    innovation_quantile,
    kupiec_pof,
    reliability_table,
    summary_table,
    transition_counts,
)
from tests.fixtures.harness import command_app


def test_kupiec_by_hand_ten_exceedances_in_500_days_at_one_percent() -> None:
    # LR = -2 [ (490 ln 0.99 + 10 ln 0.01) - (490 ln 0.98 + 10 ln 0.02) ]
    #    = -2 [ (-4.924665 - 46.051702) - (-9.899327 - 39.120230) ] = -2 [-50.976367 + 49.019557] = 3.913620
    expected = -2 * ((490 * math.log(0.99) + 10 * math.log(0.01)) - (490 * math.log(0.98) + 10 * math.log(0.02)))
    assert expected == pytest.approx(3.913620, abs=1e-6)

    result = kupiec_pof(10, 500, 0.01)

    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.dof == 1
    # chi2(1) survival is erfc(sqrt(x / 2)): erfc(1.398860) = 0.04790
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(expected / 2)), rel=1e-9)
    assert result.p_value == pytest.approx(0.0479, abs=1e-4)


def test_kupiec_at_the_edges() -> None:
    # No exceedance: LR = -2 n ln(1 - a) = -2 * 500 * ln 0.99 = 10.0503
    assert kupiec_pof(0, 500, 0.01).statistic == pytest.approx(-1000 * math.log(0.99))
    # Exactly the expected count: LR = 0, p = 1
    exact = kupiec_pof(5, 500, 0.01)
    assert exact.statistic == pytest.approx(0.0, abs=1e-12)
    assert exact.p_value == pytest.approx(1.0)
    with pytest.raises(InputError, match=r"exceedances"):
        kupiec_pof(501, 500, 0.01)
    with pytest.raises(InputError, match=r"rate"):
        kupiec_pof(1, 500, 1.0)


def test_christoffersen_independence_by_hand() -> None:
    # Arrange: 0 0 0 1 1 0 0 1 1 0 -> pairs 00 00 01 11 10 00 01 11 10: n00 = 3, n01 = 2, n10 = 2, n11 = 2
    hits = [0, 0, 0, 1, 1, 0, 0, 1, 1, 0]
    # pi = 4/9, pi01 = 2/5, pi11 = 2/4
    independent = 5 * math.log(5 / 9) + 4 * math.log(4 / 9)
    markov = 3 * math.log(3 / 5) + 2 * math.log(2 / 5) + 2 * math.log(1 / 2) + 2 * math.log(1 / 2)
    expected = -2 * (independent - markov)

    # Act
    result = christoffersen_independence(hits)

    # Assert
    assert transition_counts(hits) == (3, 2, 2, 2)
    assert result.statistic == pytest.approx(expected, rel=1e-12)
    assert result.p_value == pytest.approx(float(chi2.sf(expected, 1)))
    combined = conditional_coverage(hits, 0.3)
    assert combined.dof == 2
    assert combined.statistic == pytest.approx(kupiec_pof(4, 10, 0.3).statistic + expected)


def test_christoffersen_without_hits_or_with_isolated_hits() -> None:
    assert christoffersen_independence([0] * 50).statistic == 0.0
    assert christoffersen_independence([0] * 50).p_value == 1.0
    spread = christoffersen_independence([1, 0, 0, 0, 0] * 20)
    clustered = christoffersen_independence([1] * 20 + [0] * 80)
    assert clustered.statistic > spread.statistic
    assert clustered.p_value < 0.001


def test_reliability_brier_and_count_test_by_hand() -> None:
    predicted = [0.0005, 0.002, 0.002, 0.5]
    realised = [0, 1, 0, 1]

    bins = reliability_table(predicted, realised)

    assert [(b.low, b.high, b.days, b.hits) for b in bins] == [
        (0.0, 0.001, 1, 0),
        (0.001, 0.003, 2, 1),
        (0.3, 1.0, 1, 1),
    ]
    assert bins[1].mean_predicted == pytest.approx(0.002)
    assert bins[1].rate == 0.5
    # (0.0005^2 + 0.998^2 + 0.002^2 + 0.5^2) / 4
    assert brier_score(predicted, realised) == pytest.approx((0.0005**2 + 0.998**2 + 0.002**2 + 0.5**2) / 4)
    assert reliability_table([1.0], [1])[0].high == 1.0
    # 5 events where 1 was expected: 2 P(X >= 5) = 2 (1 - e^-1 (1 + 1 + 1/2 + 1/6 + 1/24)) = 0.007320
    assert count_test(5, 1.0) == pytest.approx(2 * (1 - math.exp(-1) * (1 + 1 + 1 / 2 + 1 / 6 + 1 / 24)))
    assert count_test(0, 0.0) == 1.0


def test_innovation_quantile_gaussian_and_student() -> None:
    quantiles = innovation_quantile(0.01, [math.inf, 5.0])

    assert quantiles[0] == pytest.approx(-2.326348, abs=1e-6)
    # t_5^-1(0.01) = -3.364930, times sqrt(3/5)
    assert quantiles[1] == pytest.approx(-3.364930 * math.sqrt(3 / 5), abs=1e-5)


@pytest.fixture(scope="module")
def btc_report() -> Any:
    return calibration_report("BTCUSDT", start_test="2024-01-01")


def test_report_on_shipped_btc_is_consistent(btc_report: Any) -> None:
    report = btc_report
    daily = load_daily("BTCUSDT").loc["2024-01-01":]

    assert report.days == len(daily)
    assert report.start == "2024-01-01"
    assert [m.method for m in report.methods] == ["EWMA", "GARCH-t"]
    # Liquidation price of a 10x long at m = 0.5 %: open (1 - 1/10) / (1 - 0.005), reached by the day's LOW
    liquidation_price = daily["open"] * (1 - 1 / 10) / (1 - 0.005)
    hits_low = int((daily["low"] <= liquidation_price).sum())
    hits_close = int((daily["close"] <= liquidation_price).sum())
    assert report.liquidation_move == pytest.approx(1 - 0.9 / 0.995)
    for m in report.methods:
        assert m.days == report.days
        exceeded = report.daily[f"{m.method} exceeded"].to_numpy()
        assert m.var_exceedances == int(exceeded.sum())
        assert m.var_expected == pytest.approx(0.01 * report.days)
        assert sum(m.transitions) == report.days - 1
        _, n01, _, n11 = m.transitions
        assert n01 + n11 + int(exceeded[0]) == m.var_exceedances
        assert m.kupiec == kupiec_pof(m.var_exceedances, m.days, 0.01)
        for test in (m.kupiec, m.independence, m.conditional):
            assert 0.0 <= test.p_value <= 1.0
        assert 0.0 <= m.liq_count_p <= 1.0
        assert m.liq_hits == hits_low >= hits_close
        assert sum(b.days for b in m.bins) == m.days
        assert sum(b.hits for b in m.bins) == m.liq_hits
        assert sum(b.expected for b in m.bins) == pytest.approx(m.liq_expected)
        assert 0.0 <= m.brier <= 1.0
        assert m.mark_days == report.days


def test_report_renders_frame_markdown_and_json(btc_report: Any) -> None:
    report = btc_report

    frame = report.frame()
    text = report.markdown()
    payload = json.loads(json.dumps(report.to_json(), allow_nan=False))

    assert list(frame.index) == ["EWMA", "GARCH-t"]
    assert frame.loc["EWMA", "var_exceedances"] == report.methods[0].var_exceedances
    assert f"| EWMA | {report.days} | {report.methods[0].var_exceedances} |" in text
    assert "Kupiec LR (p)" in text
    assert payload["methods"][1]["kupiec"]["p_value"] == report.methods[1].kupiec.p_value
    assert report.reliability_frame()["days"].sum() == 2 * report.days


def test_report_refuses_bad_inputs() -> None:
    with pytest.raises(LeverageError, match=r"leverage: 0.5"):
        calibration_report("BTCUSDT", leverage=0.5)
    with pytest.raises(InputError, match=r"level: .*\(0.5, 1\)"):
        calibration_report("BTCUSDT", level=1.0)
    with pytest.raises(InputError, match=r"level"):
        calibration_report("BTCUSDT", level=0.5)
    with pytest.raises(UnknownSymbolError, match=r"XRPUSDT"):
        calibration_report("XRPUSDT")
    with pytest.raises(InputError, match=r"leverage: .*1 / mm_rate = 200"):
        calibration_report("BTCUSDT", leverage=250)


# --- the CLI, mounted on a local app ------------------------------------------------------------------------

RUNNER = CliRunner()


def _app() -> typer.Typer:
    return command_app(register)


def test_cli_forecast_json_marks_the_best_model() -> None:
    result = RUNNER.invoke(_app(), ["forecast", "--symbol", "ETHUSDT", "--start-test", "2025-11-01", "--json"])

    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [row["model"] for row in payload["models"]] == ["EWMA", "GARCH-t", "HAR-RV", "GBM"]
    best = min(payload["models"], key=lambda row: row["qlike"])
    assert payload["best"] == best["model"]
    assert [row["best"] for row in payload["models"]].count(True) == 1
    assert payload["start"] == "2025-11-01"
    assert all(np.isfinite(row["qlike"]) for row in payload["models"])


def test_cli_forecast_table_and_validate_markdown() -> None:
    table = RUNNER.invoke(_app(), ["forecast", "--start-test", "2026-01-01"])
    markdown = RUNNER.invoke(_app(), ["validate", "--symbol", "SOLUSDT", "--leverage", "5", "--markdown"])
    tables = RUNNER.invoke(_app(), ["validate", "--symbol", "SOLUSDT", "--start-test", "2026-01-01"])

    assert table.exit_code == 0, table.stderr
    assert "best (lowest QLIKE)" in table.stdout
    assert markdown.exit_code == 0, markdown.stderr
    assert markdown.stdout.startswith("#### SOLUSDT: held-out days 2025-01-02")
    assert "long at 5x" in markdown.stdout
    assert "Kupiec" in markdown.stdout
    assert tables.exit_code == 0, tables.stderr
    assert "Kupiec LR" in tables.stdout
    assert table.stderr == markdown.stderr == ""  # no progress bar when stderr is no terminal


def test_cli_validate_json() -> None:
    result = RUNNER.invoke(_app(), ["validate", "--symbol", "SOLUSDT", "--level", "0.95", "--json"])

    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["level"] == 0.95
    assert {m["method"] for m in payload["methods"]} == {"EWMA", "GARCH-t"}
    assert payload["methods"][0]["var_expected"] == pytest.approx(0.05 * payload["days"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["forecast", "--symbol", "BTCUSD"], "error: --symbol: unknown symbol 'BTCUSD'"),
        (["forecast", "--start-test", "2024-13-01"], "error: --start-test: '2024-13-01' is not allowed"),
        (["forecast", "--start-test", "2019-12-01"], "error: --start-test: 2019-12-01 leaves"),
        (["validate", "--leverage", "0.5"], "error: --leverage: 0.5 is not allowed (allowed: >= 1)"),
        (["validate", "--level", "1"], "error: --level: 1.0 is not allowed"),
        (["validate", "--level", "0.5"], "error: --level: 0.5 is not allowed"),
        (["validate", "--symbol", "DOGEUSDT", "--json"], "error: --symbol: unknown symbol 'DOGEUSDT'"),
    ],
)
def test_cli_bad_inputs_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = RUNNER.invoke(_app(), args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(message)
    assert result.stderr.count("\n") == 1


def test_the_readme_table_in_the_docs_is_what_the_code_produces() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "forecast.md").read_text(encoding="utf-8")

    table = summary_table([calibration_report("BTCUSDT"), calibration_report("ETHUSDT")])

    assert table in docs
