"""``crossmargin.data.store``: layout, round trip, merge, atomic writes, the package sample, and the
``crossmargin data import`` / ``list`` commands, on real Binance data (``tests/data/PROVENANCE.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from crossmargin.cli.data import data_app
from crossmargin.data.load import load_bars, load_funding
from crossmargin.data.store import (
    DATA_DIR_ENV,
    SAMPLE_SYMBOLS,
    DataStore,
    default_data_dir,
    sample_frames,
    sample_funding,
    sample_names,
    sample_path,
)
from crossmargin.data.validate import iso_utc, validate_bars, validate_funding
from crossmargin.errors import DataError, InputError

DATA = Path(__file__).parent
TRADES = DATA / "BTCUSDT-trades-1h-2025-10-08.parquet"
SPOT_CSV = DATA / "BTCUSDT-spot-1h-2018-02-06.csv"
ZIP = DATA / "BTCUSDT-5m-2025-10-10.zip"
FUNDING_CSV = DATA / "BTCUSDT-funding-2025-10-01.csv"
HOUR = 3_600_000

app = typer.Typer()
app.add_typer(data_app, name="data")
RUNNER = CliRunner()


@pytest.fixture
def trades() -> pd.DataFrame:
    return load_bars(TRADES)


@pytest.fixture
def store(tmp_path: Path) -> DataStore:
    return DataStore(tmp_path / "store")


# --- DataStore ---------------------------------------------------------------------------------------


def test_default_data_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv(DATA_DIR_ENV)
    assert default_data_dir().name == "crossmargin"


def test_path_layout(store: DataStore) -> None:
    assert store.path("binance", "BTC/USDT:USDT", "trades", "1h") == store.root / "binance/trades/BTCUSDT-1h.parquet"
    assert store.path("binance", "BTCUSDT", "funding", "event") == store.root / "binance/funding/BTCUSDT-event.parquet"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("binance", "BTCUSDT", "candles", "1h"), r"^kind: unknown kind 'candles' \(allowed: trades \| mark"),
        (("binance", "BTCUSDT", "trades", "2h"), r"^interval: unknown bar interval '2h'"),
        (("binance", "BTCUSDT", "funding", "8h"), r"^interval: funding settlements are stored as events"),
        (("binance", "../etc", "trades", "1h"), r"^symbol: bad symbol '\.\./etc'"),
        (("..", "BTCUSDT", "trades", "1h"), r"^venue: bad venue name '\.\.'"),
    ],
)
def test_path_refuses_bad_names(store: DataStore, arguments: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        store.path(*arguments)


def test_round_trip_keeps_values_and_describes_the_file(store: DataStore, trades: pd.DataFrame) -> None:
    added = store.write(trades, "binance", "BTCUSDT", "trades", "1h")

    back = store.read("binance", "BTCUSDT", "trades", "1h")
    metadata = pq.read_schema(store.path("binance", "BTCUSDT", "trades", "1h")).metadata

    assert added == 150
    pd.testing.assert_frame_equal(back, trades, check_exact=True)
    assert json.loads(metadata[b"crossmargin.dataset"]) == {
        "venue": "binance",
        "symbol": "BTCUSDT",
        "kind": "trades",
        "interval": "1h",
    }
    assert store.span("binance", "BTCUSDT", "trades", "1h") == (
        int(trades["timestamp"].iloc[0]),
        int(trades["timestamp"].iloc[-1]),
        150,
    )


def test_merge_unites_by_timestamp(store: DataStore, trades: pd.DataFrame) -> None:
    store.write(trades.iloc[:100], "binance", "BTCUSDT", "trades", "1h")
    target = store.path("binance", "BTCUSDT", "trades", "1h")

    # rows 50..149 overlap the stored 0..99 on 50 identical rows: 50 are new
    added = store.write(trades.iloc[50:].iloc[::-1], "binance", "BTCUSDT", "trades", "1h")
    stamp = target.stat().st_mtime_ns
    again = store.write(trades.iloc[20:40], "binance", "BTCUSDT", "trades", "1h")

    assert added == 50
    assert again == 0
    assert target.stat().st_mtime_ns == stamp  # nothing new: the file is not rewritten
    pd.testing.assert_frame_equal(store.read("binance", "BTCUSDT", "trades", "1h"), trades, check_exact=True)


def test_conflicting_merge_is_refused_and_leaves_the_file(store: DataStore, trades: pd.DataFrame) -> None:
    store.write(trades, "binance", "BTCUSDT", "trades", "1h")
    revised = trades.iloc[40:45].copy()
    revised.loc[42, "close"] = trades.loc[43, "close"]  # 2025-10-09 18:00 with the next bar's close

    with pytest.raises(DataError) as caught:
        store.write(revised, "binance", "BTCUSDT", "trades", "1h")

    message = str(caught.value)
    assert "1 new rows conflict with stored rows, first at 2025-10-09T18:00:00Z (close: stored" in message
    assert "the stored file is unchanged" in message
    pd.testing.assert_frame_equal(store.read("binance", "BTCUSDT", "trades", "1h"), trades, check_exact=True)


def test_duplicate_timestamp_with_other_values_in_one_write_is_refused(store: DataStore, trades: pd.DataFrame) -> None:
    clash = pd.concat([trades.iloc[:3], trades.iloc[1:2].assign(close=trades["close"].iloc[2])], ignore_index=True)

    with pytest.raises(DataError, match=r"one timestamp with different values, 2025-10-08T01:00:00Z"):
        store.write(clash, "binance", "BTCUSDT", "trades", "1h")
    assert not store.path("binance", "BTCUSDT", "trades", "1h").exists()


def test_failed_write_leaves_no_partial_file(
    store: DataStore, trades: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: 100 bars stored, then a writer that dies half-way through its file
    store.write(trades.iloc[:100], "binance", "BTCUSDT", "trades", "1h")
    target = store.path("binance", "BTCUSDT", "trades", "1h")
    before = target.read_bytes()

    def dies_half_way(table: Any, where: str | Path, **options: Any) -> None:
        Path(where).write_bytes(b"PAR1" + b"\0" * 64)
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(pq, "write_table", dies_half_way)

    # Act
    with pytest.raises(OSError, match="No space left"):
        store.write(trades, "binance", "BTCUSDT", "trades", "1h")
    with pytest.raises(OSError, match="No space left"):
        store.write(trades, "binance", "ETHUSDT", "trades", "1h")

    # Assert: the stored file is intact, the new one never appeared, no temporary file is left
    assert target.read_bytes() == before
    assert sorted(path.name for path in target.parent.iterdir()) == ["BTCUSDT-1h.parquet"]
    monkeypatch.undo()
    pd.testing.assert_frame_equal(store.read("binance", "BTCUSDT", "trades", "1h"), trades.iloc[:100])


def test_read_of_missing_series_says_what_to_run(store: DataStore) -> None:
    with pytest.raises(DataError) as caught:
        store.read("binance", "SOLUSDT", "mark", "1h")

    message = str(caught.value)
    assert str(store.path("binance", "SOLUSDT", "mark", "1h")) in message
    assert "crossmargin data import" in message
    assert "crossmargin data download" in message


def test_list_describes_each_series(store: DataStore, trades: pd.DataFrame) -> None:
    funding = load_funding(FUNDING_CSV)
    store.write(trades, "binance", "BTCUSDT", "trades", "1h")
    store.write(funding, "binance", "BTCUSDT", "funding", "event")

    entries = store.list()

    assert [(e["venue"], e["kind"], e["symbol"], e["interval"], e["rows"]) for e in entries] == [
        ("binance", "funding", "BTCUSDT", "event", 42),
        ("binance", "trades", "BTCUSDT", "1h", 150),
    ]
    assert iso_utc(entries[0]["first"]) == "2025-10-01T00:00:00Z"
    assert iso_utc(entries[0]["last"]) == "2025-10-14T16:00:00Z"
    assert iso_utc(entries[1]["last"]) == "2025-10-14T05:00:00Z"
    assert DataStore(store.root / "nothing here").list() == []


# --- the package sample ------------------------------------------------------------------------------

MARCH_1 = 1_772_323_200_000  # 2026-03-01 00:00 UTC
APRIL_27_10H = 1_777_284_000_000  # 2026-04-27 10:00 UTC
JUNE_10 = 1_749_513_600_000  # 2025-06-10 00:00 UTC


def test_sample_trades_mark_and_spot_share_one_clean_span() -> None:
    frames = [
        *sample_frames(SAMPLE_SYMBOLS).values(),
        *sample_frames(SAMPLE_SYMBOLS, kind="mark").values(),
        *sample_frames("BTCUSDT", kind="spot").values(),
    ]

    for frame in frames:
        checked, log = validate_bars(frame, interval_ms=HOUR, name="sample")
        assert log == []
        # 2026-03-01 00:00 .. 2026-04-27 10:00: 31 + 26 days and 11 hours = 1,379 hourly bars
        assert len(checked) == 1379
        assert (int(frame["timestamp"].iloc[0]), int(frame["timestamp"].iloc[-1])) == (MARCH_1, APRIL_27_10H)


def test_sample_one_minute_window_with_its_mark_prices_and_funding() -> None:
    minutes = sample_frames(SAMPLE_SYMBOLS, interval="1m")
    marks = sample_frames(SAMPLE_SYMBOLS, kind="mark", window="2025-06")
    funding = sample_funding(SAMPLE_SYMBOLS, window="2025-06")

    for symbol in SAMPLE_SYMBOLS:
        assert len(validate_bars(minutes[symbol], interval_ms=60_000, name=symbol)[0]) == 7 * 1440
        assert len(validate_bars(marks[symbol], interval_ms=HOUR, name=symbol)[0]) == 7 * 24
        assert len(validate_funding(funding[symbol], name=symbol)) == 7 * 3
        assert int(minutes[symbol]["timestamp"].iloc[0]) == int(marks[symbol]["timestamp"].iloc[0]) == JUNE_10


def test_sample_funding_covers_the_main_span() -> None:
    for symbol, funding in sample_funding(SAMPLE_SYMBOLS).items():
        validate_funding(funding, name=symbol)
        assert len(funding) == 173  # 57 days x 3 settlements, plus 00:00 and 08:00 of 2026-04-27
        assert MARCH_1 <= int(funding["timestamp"].iloc[0]) < int(funding["timestamp"].iloc[-1]) <= APRIL_27_10H


def test_sample_keeps_the_dataset_description() -> None:
    metadata = pq.read_schema(sample_path("ETHUSDT-mark-1h.parquet")).metadata

    assert json.loads(metadata[b"crossmargin.dataset"])["symbol"] == "ETHUSDT"
    assert len(sample_names()) == 19
    assert (sample_path("BTCUSDT-trades-1h.parquet").parent / "PROVENANCE.md").is_file()


def test_unknown_sample_suggests_a_name() -> None:
    with pytest.raises(InputError, match=r"no sample file 'BTCUSDT-trade-1h\.parquet' \(did you mean BTCUSDT-trades"):
        sample_path("BTCUSDT-trade-1h.parquet")
    with pytest.raises(InputError, match=r"no sample file 'BTCUSDT-mark-4h\.parquet'"):
        sample_frames("BTCUSDT", kind="mark", interval="4h")


# --- crossmargin data import / list ------------------------------------------------------------------


def test_cli_import_repairs_the_real_gap_and_lists_it(tmp_path: Path) -> None:
    imported = RUNNER.invoke(
        app,
        [
            "data",
            "import",
            str(SPOT_CSV),
            "--venue",
            "binance",
            "--symbol",
            "BTCUSDT",
            "--kind",
            "spot",
            "--interval",
            "1h",
            "--repair",
            "fill_gaps",
            "--data-dir",
            str(tmp_path),
        ],
    )
    listed = RUNNER.invoke(app, ["data", "list", "--data-dir", str(tmp_path), "--json"])
    table = RUNNER.invoke(app, ["data", "list", "--data-dir", str(tmp_path)])

    assert imported.exit_code == 0, imported.stderr
    # 87 bars read, 33 filled in: 120 stored
    assert imported.stdout.startswith("read 87 rows; stored 120 new rows (BTCUSDT spot 1h on binance)")
    assert "repair fill_gaps: filled 33 missing bars in 1 gap" in imported.stdout
    assert listed.exit_code == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)["series"]
    assert (entry["kind"], entry["rows"], iso_utc(entry["first"]), iso_utc(entry["last"])) == (
        "spot",
        120,
        "2018-02-06T00:00:00Z",
        "2018-02-10T23:00:00Z",
    )
    assert "2018-02-10T23:00:00Z" in table.stdout
    assert "BTCUSDT" in table.stdout


def test_cli_import_zip_and_funding_as_json(tmp_path: Path) -> None:
    common = ["--venue", "binance", "--symbol", "BTCUSDT", "--data-dir", str(tmp_path), "--json"]

    mark = RUNNER.invoke(app, ["data", "import", str(ZIP), "--kind", "mark", "--interval", "5m", *common])
    funding = RUNNER.invoke(app, ["data", "import", str(FUNDING_CSV), "--kind", "funding", *common])
    again = RUNNER.invoke(app, ["data", "import", str(FUNDING_CSV), "--kind", "funding", *common])

    assert mark.exit_code == 0, mark.stderr
    assert json.loads(mark.stdout) == {
        "path": str(tmp_path / "binance" / "mark" / "BTCUSDT-5m.parquet"),
        "rows_read": 288,
        "rows_added": 288,
        "repairs": [],
    }
    assert json.loads(funding.stdout)["rows_added"] == 42
    assert json.loads(again.stdout)["rows_added"] == 0
    stored = DataStore(tmp_path).read("binance", "BTCUSDT", "funding", "event")
    assert np.array_equal(stored["funding_rate"], load_funding(FUNDING_CSV)["funding_rate"])


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["absent.csv", "--interval", "1h"], "absent.csv: no such file"),
        ([str(SPOT_CSV), "--interval", "2h"], "interval: unknown bar interval '2h'"),
        ([str(SPOT_CSV)], "--interval is required for bars"),
        ([str(SPOT_CSV), "--interval", "1h"], "33 missing bars in 1 gap"),
        ([str(SPOT_CSV), "--interval", "1h", "--repair", "fill"], "unknown repair 'fill'"),
        ([str(SPOT_CSV), "--interval", "1h", "--venue", "binanse"], "unknown venue 'binanse' (did you mean binance?)"),
        ([str(SPOT_CSV), "--interval", "1h", "--kind", "candles"], "unknown kind 'candles'"),
        ([str(FUNDING_CSV), "--interval", "1h"], "match no bar layout"),
    ],
)
def test_cli_import_bad_input_is_one_line(tmp_path: Path, arguments: list[str], fragment: str) -> None:
    defaults = ["--venue", "binance", "--symbol", "BTCUSDT", "--data-dir", str(tmp_path)]

    result = RUNNER.invoke(app, ["data", "import", *defaults, *arguments])

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stdout == ""
    assert not any(tmp_path.rglob("*.parquet"))


def test_cli_list_of_an_empty_store(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["data", "list", "--data-dir", str(tmp_path)])

    assert result.exit_code == 0
    assert result.stdout.startswith(f"no data stored in {tmp_path}")
