"""Risk figures for a symbol the package sample lacks: its returns come from the local data store, or it is refused.

Market data: real Binance USDⓈ-M DOGEUSDT 1h mark prices and funding (``tests/data/PROVENANCE.md``), imported
with ``crossmargin data import`` into a store under a temporary ``$CROSSMARGIN_DATA_DIR``; the package sample
(Binance BTCUSDT, ETHUSDT, SOLUSDT 1h marks, 2026-03-01 to 2026-04-27 10:00 UTC) for the other symbols.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from crossmargin.cli import app
from crossmargin.data.load import load_bars, load_funding
from crossmargin.data.store import DATA_DIR_ENV, DataStore, sample_frames
from crossmargin.data.validate import iso_utc
from crossmargin.errors import DataError
from crossmargin.portfolio import load_portfolio
from crossmargin.risk.montecarlo import (
    MIN_HISTORY_HOURS,
    RECENT_SETTLEMENTS,
    hourly_closes,
    liquidation_probability,
    return_history,
    sample_returns,
)
from crossmargin.risk.safe_leverage import recommend_leverage
from crossmargin.venues import get_rules
from tests.conftest import TESTS

DATA = TESTS / "data"
DOGE_MARK = DATA / "DOGEUSDT-mark-1h-2026-02-22.parquet"
DOGE_FUNDING = DATA / "DOGEUSDT-funding-2026-02-22.csv"
BINANCE = get_rules("binance")
RUNNER = CliRunner()
HOUR = 3_600_000
#: First and last hourly mark close of the package sample (2026-03-01 00:00, 2026-04-27 10:00 UTC).
SAMPLE_FIRST, SAMPLE_LAST = 1_772_323_200_000, 1_777_284_000_000
DOWNLOAD = "crossmargin data download --venue binance --symbol DOGEUSDT --kind mark --interval 1h"

BOOK = """\
venue = "binance"
wallet_balance = 5000
[[positions]]
symbol = "DOGEUSDT"
side = "long"
size = 40000
entry_price = 0.095
leverage = 5
margin_mode = "cross"
[[positions]]
symbol = "BTCUSDT"
side = "short"
size = 0.02
entry_price = 76000
leverage = 5
margin_mode = "isolated"
[marks]
DOGEUSDT = 0.1
BTCUSDT = 78610.7
"""


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty local store, made the default by ``$CROSSMARGIN_DATA_DIR``."""
    folder = tmp_path / "store"
    monkeypatch.setenv(DATA_DIR_ENV, str(folder))
    return folder


def _import(*args: str) -> None:
    result = RUNNER.invoke(app, ["data", "import", *args])
    assert result.exit_code == 0, result.stderr


@pytest.fixture
def doge_store(data_dir: Path) -> Path:
    """The store holding the real DOGEUSDT 1h marks and funding, imported as a user would."""
    _import(str(DOGE_MARK), "--venue", "binance", "--symbol", "DOGEUSDT", "--kind", "mark", "--interval", "1h")
    _import(str(DOGE_FUNDING), "--venue", "binance", "--symbol", "DOGEUSDT", "--kind", "funding")
    return data_dir


def _book(tmp_path: Path, text: str = BOOK) -> Path:
    path = tmp_path / "doge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _assert_one_line_error(result: Result, *expected: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    stderr = result.stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])
    return str(lines[0])


# --- where the returns come from ------------------------------------------------------------------------


def test_a_symbol_the_sample_lacks_reads_the_local_store(doge_store: Path) -> None:
    # DOGE from the store (2026-02-22 .. 2026-05-03), BTC from the sample: joined on the sample's 1,379 hours.
    history = return_history(("DOGEUSDT", "BTCUSDT"), BINANCE)
    doge, btc = history.sources
    assert doge.origin == "local store"
    assert doge.path == str(doge_store / "binance" / "mark" / "DOGEUSDT-1h.parquet")
    assert (doge.kind, doge.interval, doge.note) == ("mark", "1h", "")
    assert btc.origin == "package sample"
    assert (doge.first, doge.last, doge.bars) == ("2026-03-01T00:00:00Z", "2026-04-27T10:00:00Z", 1_379)
    assert history.series == ("binance:DOGEUSDT", "BTCUSDT")
    # The returns are the file's own closes (no borrowing) and the sample's, on the same hours.
    bars = load_bars(DOGE_MARK)
    span = bars[(bars["timestamp"] >= SAMPLE_FIRST) & (bars["timestamp"] <= SAMPLE_LAST)]
    np.testing.assert_array_equal(history.returns[:, 0], np.diff(np.log(span["close"].to_numpy())))
    np.testing.assert_array_equal(history.returns[:, 1], sample_returns(("BTCUSDT",))[:, 0])
    assert history.notes[0].startswith(f"returns of DOGEUSDT: local store {doge.path} (binance DOGEUSDT mark 1h)")


def test_a_book_of_store_symbols_alone_uses_all_their_hours(doge_store: Path) -> None:
    history = return_history(("DOGEUSDT",), BINANCE)
    assert history.sources[0].bars == 1_704  # 2026-02-22 00:00 .. 2026-05-03 23:00, every hour
    assert history.sources[0].first == "2026-02-22T00:00:00Z"


def test_montecarlo_on_a_doge_book_uses_the_stored_returns_and_funding(doge_store: Path, tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["montecarlo", str(_book(tmp_path)), "--paths", "3000", "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["sample_symbols"] == ["binance:DOGEUSDT", "BTCUSDT"]
    assert [s["origin"] for s in payload["sources"]] == ["local store", "package sample"]
    assert any(note.startswith("returns of DOGEUSDT: local store") for note in payload["notes"])
    # Funding: the mean of the last 21 stored 8-hourly settlements (7 days), as the sample's symbols get.
    rates = load_funding(DOGE_FUNDING)["funding_rate"].to_numpy()
    assert payload["funding_rates"]["DOGEUSDT"] == pytest.approx(rates[-RECENT_SETTLEMENTS:].mean(), rel=1e-12)
    assert {p["pool"] for p in payload["pools"]} >= {"cross", "DOGEUSDT long", "BTCUSDT short"}
    # The same through the library; the table's notes on stderr say where each symbol's returns came from.
    direct = liquidation_probability(load_portfolio(_book(tmp_path)), paths=3000, seed=0, progress=False)
    assert [o.liquidated_paths for o in direct.pools] == [p["liquidated_paths"] for p in payload["pools"]]
    table = RUNNER.invoke(app, ["montecarlo", str(_book(tmp_path)), "--paths", "1000"])
    assert table.exit_code == 0, table.stderr
    assert f"note: returns of DOGEUSDT: local store {doge_store}" in table.stderr
    assert "note: returns of BTCUSDT: package sample" in table.stderr


def test_leverage_and_report_on_a_doge_book(doge_store: Path, tmp_path: Path) -> None:
    book = _book(tmp_path)
    advice = recommend_leverage(load_portfolio(book), paths=2000, steps_per_hour=1)
    assert list(advice["symbol"]) == ["DOGEUSDT", "BTCUSDT", "account"]
    assert advice["returns"].iloc[0].startswith("returns of DOGEUSDT: local store")
    assert advice["recommended_leverage"].iloc[0] >= 1
    leverage = RUNNER.invoke(app, ["leverage", str(book), "--paths", "2000", "--steps-per-hour", "1"])
    assert leverage.exit_code == 0, leverage.stderr
    assert "DOGEUSDT long" in leverage.stdout
    assert "note: returns of DOGEUSDT: local store" in leverage.stderr
    pdf = tmp_path / "doge.pdf"
    report = RUNNER.invoke(app, ["report", str(book), "--pdf", str(pdf), "--paths", "1000"])
    assert report.exit_code == 0, report.stderr
    assert pdf.stat().st_size > 0


# --- refused, in one line, with the command that brings the bars ------------------------------------------


@pytest.mark.parametrize(
    "command",
    [["montecarlo"], ["leverage", "--paths", "1000"], ["montecarlo", "--dask", "--chunks", "2"], ["report", "--pdf"]],
)
def test_without_history_the_commands_name_the_symbol_and_the_download(
    data_dir: Path, tmp_path: Path, command: list[str]
) -> None:
    book = str(_book(tmp_path))
    args = [command[0], book, *command[1:]]
    if command[0] == "report":
        args.append(str(tmp_path / "out.pdf"))
    line = _assert_one_line_error(
        RUNNER.invoke(app, args),
        "no return history for DOGEUSDT on binance",
        str(data_dir),
        f"{DOWNLOAD} --since 2026-03-01 --until 2026-04-28",
    )
    assert "BTCUSDT" not in line.split("bring them with")[1]  # never another asset's returns


def test_another_asset_is_never_borrowed(data_dir: Path) -> None:
    # Binance ETHBTC is ETH priced in BTC: not the sample's ETHUSDT, and no USDT perpetual stands in for it.
    with pytest.raises(DataError, match="no return history for ETHBTC") as caught:
        return_history(("ETHBTC",), BINANCE)
    assert "another ETH perpetual" not in str(caught.value)
    assert "--symbol ETHBTC --kind mark --interval 1h --since" in str(caught.value)


def test_the_same_underlying_on_another_venue_is_used_and_said(doge_store: Path) -> None:
    # Hyperliquid DOGE (USDC) has no bars of its own in the store: Binance DOGEUSDT's are the same coin.
    history = return_history(("DOGE",), get_rules("hyperliquid"))
    source = history.sources[0]
    assert (source.venue, source.series_symbol) == ("binance", "DOGEUSDT")
    assert "the same underlying (DOGE)" in source.note
    assert source.note in history.notes[0]


def test_too_short_a_history_is_refused_with_the_minimum(data_dir: Path) -> None:
    # 400 hourly closes of DOGE alone: fewer than the 720 the models need.
    bars = load_bars(DOGE_MARK)
    DataStore(data_dir).write(bars.iloc[-400:], "binance", "DOGEUSDT", "mark", "1h")
    with pytest.raises(DataError, match=f"fewer than the {MIN_HISTORY_HOURS:,} the return models need") as caught:
        return_history(("DOGEUSDT",), BINANCE)
    assert "400 hourly closes" in str(caught.value)
    assert f"{DOWNLOAD} --since" in str(caught.value)


def test_the_store_must_cover_the_samples_hours(data_dir: Path) -> None:
    # DOGE bars from 2026-04-10 only: 419 hours in common with the sample, so the sample's span is asked for.
    bars = load_bars(DOGE_MARK)
    DataStore(data_dir).write(bars[bars["timestamp"] >= 1_775_779_200_000], "binance", "DOGEUSDT", "mark", "1h")
    with pytest.raises(DataError, match="share 419 hourly closes") as caught:
        return_history(("DOGEUSDT", "BTCUSDT"), BINANCE)
    assert f"{DOWNLOAD} --since 2026-03-01 --until 2026-04-28" in str(caught.value)


def test_a_gap_is_refused_as_for_the_sample(data_dir: Path) -> None:
    # Six hours dropped from the real bars: the common span must be unbroken, as the sample's is.
    bars = load_bars(DOGE_MARK)
    holed = bars.drop(bars.index[800:806])
    DataStore(data_dir).write(holed, "binance", "DOGEUSDT", "mark", "1h")
    before = iso_utc(int(bars["timestamp"].iloc[799]))
    with pytest.raises(DataError, match=f"no hourly close for 6 h after {before}"):
        return_history(("DOGEUSDT",), BINANCE)


def test_finer_bars_are_resampled_to_hourly_closes_as_the_sample_is() -> None:
    # Binance's own 5m mark-price dump of BTCUSDT for 2025-10-10, resampled: each hour's close is its last
    # 5m close, and equals the 1h mark kline of that hour (tests/data/PROVENANCE.md).
    five = load_bars(DATA / "BTCUSDT-5m-2025-10-10.zip")
    hourly = hourly_closes(five, "5m")
    one = load_bars(DATA / "BTCUSDT-mark-1h-2025-10-08.parquet").set_index("timestamp")
    assert len(hourly) == 24
    np.testing.assert_array_equal(hourly["close"].to_numpy(), one.loc[hourly["timestamp"], "close"].to_numpy())
    # An hour with a missing 5m bar is not a close (it is missing, like a gap).
    partial = hourly_closes(five.drop(five.index[30]), "5m")
    assert len(partial) == 23
    assert 1_760_054_400_000 + 2 * HOUR not in set(partial["timestamp"])


def test_sample_frames_are_untouched_by_the_store(doge_store: Path) -> None:
    # A store holding DOGE does not change what the sample's symbols read.
    frame = sample_frames("BTCUSDT", kind="mark")["BTCUSDT"]
    assert isinstance(frame, pd.DataFrame)
    history = return_history(("BTCUSDT",), BINANCE)
    assert history.sources[0].origin == "package sample"
    assert history.sources[0].bars == len(frame)
