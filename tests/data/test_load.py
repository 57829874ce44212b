"""``crossmargin.data.load`` and ``.validate`` on real Binance data (``tests/data/PROVENANCE.md``).

Every format must read to the same values as the Parquet file of the same bars; every check must name
the first offending bar and the count; every repair must be logged.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossmargin.data.load import BAR_COLUMNS, bars_from_ccxt, funding_from_ccxt, load_bars, load_funding
from crossmargin.data.validate import interval_ms, iso_utc, validate_bars, validate_funding
from crossmargin.errors import DataError, InputError

DATA = Path(__file__).parent
ZIP = DATA / "BTCUSDT-5m-2025-10-10.zip"
MARK = DATA / "BTCUSDT-mark-1h-2025-10-08.parquet"
TRADES = DATA / "BTCUSDT-trades-1h-2025-10-08.parquet"
TRADES_CCXT = DATA / "BTCUSDT-trades-1h-2025-10-08-ccxt.json"
SPOT_PARQUET = DATA / "BTCUSDT-spot-1h-2018-02-06.parquet"
SPOT_CSV = DATA / "BTCUSDT-spot-1h-2018-02-06.csv"
FUNDING_CSV = DATA / "BTCUSDT-funding-2025-10-01.csv"
FUNDING_CCXT = DATA / "BTCUSDT-funding-2025-10-01-ccxt.json"

MINUTE = 60_000
HOUR = 3_600_000
OCT_08 = 1_759_881_600_000  # 2025-10-08 00:00 UTC
OCT_10 = 1_760_054_400_000  # 2025-10-10 00:00 UTC


def to_hourly(bars: pd.DataFrame) -> pd.DataFrame:
    """Aggregate bars to 1h the way a venue does: first open, highest high, lowest low, last close."""
    hours = bars["timestamp"] // HOUR * HOUR
    grouped = bars.groupby(hours, sort=True)
    return pd.DataFrame(
        {
            "timestamp": grouped["timestamp"].first().index.to_numpy(np.int64),
            "open": grouped["open"].first().to_numpy(),
            "high": grouped["high"].max().to_numpy(),
            "low": grouped["low"].min().to_numpy(),
            "close": grouped["close"].last().to_numpy(),
        }
    )


def zip_csv_text() -> str:
    with zipfile.ZipFile(ZIP) as archive:
        (name,) = archive.namelist()
        return archive.read(name).decode()


# --- formats -----------------------------------------------------------------------------------------


def test_parquet_reads_the_bar_layout() -> None:
    bars = load_bars(TRADES)

    assert list(bars.columns) == list(BAR_COLUMNS)
    assert bars["timestamp"].dtype == np.int64
    assert all(bars[column].dtype == np.float64 for column in BAR_COLUMNS[1:])
    assert len(bars) == 150
    assert int(bars["timestamp"].iloc[0]) == OCT_08
    # 150 hourly bars from 2025-10-08 00:00: the last opens 149 h later, 2025-10-14 05:00
    assert iso_utc(int(bars["timestamp"].iloc[-1])) == "2025-10-14T05:00:00Z"


def test_binance_zip_aggregates_to_the_mark_price_parquet() -> None:
    # Arrange: Binance's own 5m mark-price dump of 2025-10-10 and the 1h mark klines of the same day
    five_minute = load_bars(ZIP, symbol="BTCUSDT")
    hourly_mark = load_bars(MARK)
    day = hourly_mark[(hourly_mark["timestamp"] >= OCT_10) & (hourly_mark["timestamp"] < OCT_10 + 24 * HOUR)]

    # Act
    aggregated = to_hourly(five_minute)

    # Assert: 288 bars of 5 min; the 24 hourly aggregates equal the 1h file exactly
    assert len(five_minute) == 288
    assert set(np.diff(five_minute["timestamp"])) == {5 * MINUTE}
    assert (five_minute["volume"] == 0).all()
    pd.testing.assert_frame_equal(aggregated, day.drop(columns="volume").reset_index(drop=True), check_exact=True)


def test_binance_csv_with_and_without_header_reads_like_the_zip(tmp_path: Path) -> None:
    text = zip_csv_text()
    with_header = tmp_path / "BTCUSDT-5m-2025-10-10.csv"
    with_header.write_text(text)
    headerless = tmp_path / "headerless.csv"
    headerless.write_text(text.split("\n", 1)[1])

    from_zip = load_bars(ZIP)

    assert text.startswith("open_time,open,high,low,close,volume,close_time,")
    pd.testing.assert_frame_equal(load_bars(with_header), from_zip, check_exact=True)
    pd.testing.assert_frame_equal(load_bars(headerless), from_zip, check_exact=True)


def test_binance_microsecond_times_are_read_as_ms(tmp_path: Path) -> None:
    # Binance's spot dumps from 2025 on give open_time and close_time in microseconds
    rows = [line.split(",") for line in zip_csv_text().split("\n")[1:] if line]
    for row in rows:
        row[0], row[6] = f"{row[0]}000", f"{row[6]}000"
    micro = tmp_path / "micro.csv"
    micro.write_text("\n".join(",".join(row) for row in rows) + "\n")

    pd.testing.assert_frame_equal(load_bars(micro), load_bars(ZIP), check_exact=True)


def test_bar_csv_reads_like_the_parquet_with_or_without_header(tmp_path: Path) -> None:
    headerless = tmp_path / "spot.csv"
    headerless.write_text(SPOT_CSV.read_text().split("\n", 1)[1])

    expected = load_bars(SPOT_PARQUET)

    pd.testing.assert_frame_equal(load_bars(SPOT_CSV), expected, check_exact=True)
    pd.testing.assert_frame_equal(load_bars(headerless), expected, check_exact=True)


def test_ccxt_json_reads_like_the_parquet() -> None:
    from_json = load_bars(TRADES_CCXT)

    pd.testing.assert_frame_equal(from_json, load_bars(TRADES).iloc[:50], check_exact=True)


def test_bars_from_ccxt_keeps_a_missing_volume_as_nan() -> None:
    rows: list[list[float | None]] = json.loads(TRADES_CCXT.read_text())[:3]
    rows[1][5] = None  # ccxt gives None for a field the venue left out

    bars = bars_from_ccxt(rows)

    assert np.isnan(bars["volume"].iloc[1])
    assert bars["close"].tolist() == [row[4] for row in rows]


def test_bars_from_ccxt_rejects_a_short_row() -> None:
    rows = json.loads(TRADES_CCXT.read_text())[:2]
    rows[1] = rows[1][:4]

    with pytest.raises(DataError, match=r"row 1 is .* not \[ms, open, high, low, close, volume\]"):
        bars_from_ccxt(rows)


def test_symbol_must_match_what_the_file_declares() -> None:
    assert len(load_bars(TRADES, symbol="BTC/USDT:USDT")) == 150
    with pytest.raises(DataError, match=r"holds BTCUSDT, not ETHUSDT"):
        load_bars(TRADES, symbol="ETHUSDT")
    with pytest.raises(DataError, match=r"BTCUSDT-5m-2025-10-10\.csv: the file holds BTCUSDT, not SOLUSDT"):
        load_bars(ZIP, symbol="SOLUSDT")


def test_unknown_columns_name_the_file_and_the_columns() -> None:
    # a real funding file given where bars are expected
    with pytest.raises(DataError) as caught:
        load_bars(FUNDING_CSV)

    message = str(caught.value)
    assert str(FUNDING_CSV) in message
    assert "['timestamp', 'datetime_utc', 'funding_rate']" in message
    assert "['timestamp', 'open', 'high', 'low', 'close', 'volume']" in message


def test_unknown_type_and_missing_file(tmp_path: Path) -> None:
    notes = tmp_path / "bars.txt"
    notes.write_text(SPOT_CSV.read_text())

    with pytest.raises(DataError, match=r"bars\.txt: unknown bar file type '\.txt'"):
        load_bars(notes)
    with pytest.raises(DataError, match=r"absent\.parquet: no such file"):
        load_bars(tmp_path / "absent.parquet")


def test_funding_csv_ccxt_and_binance_layouts_agree(tmp_path: Path) -> None:
    # Arrange: the same real settlements under Binance's API and public-data column names
    shared = load_funding(FUNDING_CSV)
    api = tmp_path / "fundingRate.json"
    api.write_text(
        json.dumps(
            [
                {"symbol": "BTCUSDT", "fundingTime": int(t), "fundingRate": np.format_float_positional(r)}
                for t, r in zip(shared["timestamp"], shared["funding_rate"], strict=True)
            ]
        )
    )
    dump = tmp_path / "BTCUSDT-fundingRate-2025-10.csv"
    dump.write_text(
        "calc_time,funding_interval_hours,last_funding_rate\n"
        + "".join(f"{t},8,{r!r}\n" for t, r in zip(shared["timestamp"], shared["funding_rate"], strict=True))
    )

    # Act / Assert
    assert list(shared.columns) == ["timestamp", "funding_rate"]
    assert len(shared) == 42
    assert shared["timestamp"].dtype == np.int64
    pd.testing.assert_frame_equal(load_funding(FUNDING_CCXT), shared.iloc[:10], check_exact=True)
    pd.testing.assert_frame_equal(load_funding(api), shared, check_exact=True)
    pd.testing.assert_frame_equal(load_funding(dump), shared, check_exact=True)
    pd.testing.assert_frame_equal(
        funding_from_ccxt(json.loads(FUNDING_CCXT.read_text())), shared.iloc[:10], check_exact=True
    )


def test_funding_with_bar_columns_is_refused() -> None:
    with pytest.raises(DataError, match=r"match no funding layout"):
        load_funding(SPOT_CSV)


# --- validation --------------------------------------------------------------------------------------


def test_real_bars_pass_unchanged() -> None:
    bars = load_bars(TRADES)

    checked, log = validate_bars(bars, interval_ms=HOUR, name="trades", repair=("sort", "drop_duplicates", "fill_gaps"))

    assert log == []
    pd.testing.assert_frame_equal(checked, bars, check_exact=True)


def test_the_real_2018_spot_outage_is_a_gap() -> None:
    # the bar of 2018-02-08 00:00 is followed by the one of 2018-02-09 10:00: 34 h later, 33 bars missing
    with pytest.raises(DataError) as caught:
        validate_bars(load_bars(SPOT_CSV), interval_ms=HOUR, name="spot.csv")

    assert str(caught.value) == (
        "spot.csv: 33 missing bars in 1 gap, first missing bar 2018-02-08T01:00:00Z "
        "(after the bar at 2018-02-08T00:00:00Z); repair with 'fill_gaps'"
    )


def test_fill_gaps_inserts_flat_bars_at_the_previous_close() -> None:
    bars = load_bars(SPOT_CSV)
    before_gap = bars[bars["timestamp"] == 1_518_048_000_000].iloc[0]  # 2018-02-08 00:00

    filled, log = validate_bars(bars, interval_ms=HOUR, name="spot", repair=["fill_gaps"])

    inserted = filled[~filled["timestamp"].isin(bars["timestamp"])]
    assert len(bars) == 87
    assert len(filled) == 5 * 24  # 2018-02-06 00:00 .. 2018-02-10 23:00, every hour
    assert len(inserted) == 33
    assert (inserted[["open", "high", "low", "close"]] == before_gap["close"]).all().all()
    assert (inserted["volume"] == 0).all()
    assert log == [
        "fill_gaps: filled 33 missing bars in 1 gap, first missing bar 2018-02-08T01:00:00Z "
        "(after the bar at 2018-02-08T00:00:00Z) with flat bars at the previous close, volume 0"
    ]
    pd.testing.assert_frame_equal(filled[filled["timestamp"].isin(bars["timestamp"])].reset_index(drop=True), bars)
    assert validate_bars(filled, interval_ms=HOUR, name="spot")[1] == []


def with_duplicate(bars: pd.DataFrame, row: int) -> pd.DataFrame:
    return pd.concat([bars.iloc[: row + 1], bars.iloc[row : row + 1], bars.iloc[row + 1 :]], ignore_index=True)


def test_duplicate_row_is_an_error_until_dropped() -> None:
    bars = load_bars(TRADES)
    doubled = with_duplicate(bars, 10)  # the 2025-10-08 10:00 bar twice

    with pytest.raises(DataError, match=r"^trades: duplicate timestamps at 2025-10-08T10:00:00Z \(1 row in all\)"):
        validate_bars(doubled, interval_ms=HOUR, name="trades")
    repaired, log = validate_bars(doubled, interval_ms=HOUR, name="trades", repair=["drop_duplicates"])

    pd.testing.assert_frame_equal(repaired, bars, check_exact=True)
    assert log == ["drop_duplicates: dropped 1 row identical to an earlier row (first at 2025-10-08T10:00:00Z)"]


def test_conflicting_duplicate_stays_an_error() -> None:
    bars = load_bars(TRADES)
    doubled = with_duplicate(bars, 10)
    doubled.loc[11, "close"] = bars.loc[11, "close"]  # same time, the next bar's close

    with pytest.raises(DataError, match=r"duplicate timestamps with different values .* at 2025-10-08T10:00:00Z"):
        validate_bars(doubled, interval_ms=HOUR, name="trades", repair=["drop_duplicates"])


def test_unsorted_rows_are_an_error_until_sorted() -> None:
    bars = load_bars(TRADES)
    swapped = bars.iloc[[*range(20), 21, 20, *range(22, 150)]].reset_index(drop=True)

    with pytest.raises(DataError, match=r"out of time order at 2025-10-08T20:00:00Z \(1 row in all\); repair with"):
        validate_bars(swapped, interval_ms=HOUR, name="trades")
    repaired, log = validate_bars(swapped, interval_ms=HOUR, name="trades", repair=["sort"])

    pd.testing.assert_frame_equal(repaired, bars, check_exact=True)
    assert log == ["sort: moved 2 rows into time order (first bar out of order: 2025-10-08T20:00:00Z)"]


def swap_high_low(bars: pd.DataFrame) -> None:
    high, low = bars.loc[30, "high"], bars.loc[30, "low"]
    bars.loc[30, "high"], bars.loc[30, "low"] = low, high


def nan_close(bars: pd.DataFrame) -> None:
    bars.loc[40, "close"] = np.nan


def zero_low(bars: pd.DataFrame) -> None:
    bars.loc[50, "low"] = 0.0


def negative_volume(bars: pd.DataFrame) -> None:
    bars.loc[60, "volume"] = -bars.loc[60, "volume"]


def open_above_high(bars: pd.DataFrame) -> None:
    bars.loc[70, "open"] = bars.loc[70, "high"] + 1.0


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (swap_high_low, "high below low at 2025-10-09T06:00:00Z (1 row in all)"),
        (nan_close, "non-finite price (NaN or infinite) at 2025-10-09T16:00:00Z (1 row in all)"),
        (zero_low, "price <= 0 at 2025-10-10T02:00:00Z (1 row in all)"),
        (negative_volume, "negative volume at 2025-10-10T12:00:00Z (1 row in all)"),
        (open_above_high, "open or close outside [low, high] at 2025-10-10T22:00:00Z (1 row in all)"),
    ],
)
def test_bad_values_name_the_first_bad_bar(corrupt: Callable[[pd.DataFrame], None], message: str) -> None:
    bars = load_bars(TRADES)
    corrupt(bars)

    with pytest.raises(DataError) as caught:
        validate_bars(bars, interval_ms=HOUR, name="trades", repair=["sort", "drop_duplicates", "fill_gaps"])

    assert str(caught.value) == f"trades: {message}"


def test_empty_bars() -> None:
    with pytest.raises(DataError, match=r"^trades: no bars \(the data is empty\)$"):
        validate_bars(load_bars(TRADES).iloc[:0], interval_ms=HOUR, name="trades")


def test_wrong_interval_is_not_taken_for_a_gap() -> None:
    with pytest.raises(DataError, match=r"bars not 3600000 ms apart .* at 2025-10-10T00:05:00Z \(287 rows in all\)"):
        validate_bars(load_bars(ZIP), interval_ms=HOUR, name="mark 5m")


def test_interval_names() -> None:
    assert interval_ms("1m") == 60_000
    assert interval_ms("15m") == 15 * 60_000
    assert interval_ms("8h") == 8 * HOUR
    assert interval_ms("1d") == 24 * HOUR
    with pytest.raises(InputError, match=r"^interval: unknown bar interval '2h' \(allowed: 1m, 5m, 15m, 1h"):
        interval_ms("2h")


def test_unknown_repair_is_an_input_error() -> None:
    with pytest.raises(InputError, match=r"^repair: unknown repair 'interpolate'"):
        validate_bars(load_bars(TRADES), interval_ms=HOUR, name="trades", repair=["interpolate"])


def test_real_funding_passes() -> None:
    funding = load_funding(FUNDING_CSV)

    pd.testing.assert_frame_equal(validate_funding(funding, name="funding"), funding, check_exact=True)


def funding_duplicate(funding: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([funding.iloc[:5], funding.iloc[4:]], ignore_index=True)


def funding_swapped(funding: pd.DataFrame) -> pd.DataFrame:
    return funding.iloc[[0, 1, 3, 2, *range(4, len(funding))]].reset_index(drop=True)


def funding_nan(funding: pd.DataFrame) -> pd.DataFrame:
    funding.loc[6, "funding_rate"] = np.nan
    return funding


def funding_in_percent_points(funding: pd.DataFrame) -> pd.DataFrame:
    funding.loc[7, "funding_rate"] = 1.0  # a rate of 1 = 100 % per settlement: a unit mistake
    return funding


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (funding_duplicate, "duplicate timestamps at 2025-10-02T08:00:00Z"),
        (funding_swapped, "timestamps out of time order at 2025-10-01T16:00:00Z"),
        (funding_nan, "non-finite funding rate (NaN or infinite) at 2025-10-03T00:00:00Z"),
        (funding_in_percent_points, "funding rate of magnitude >= 1 (rates are fractions: 0.0001 = 0.01 %) at 2025-10"),
        (lambda funding: funding.iloc[:0], "no funding settlements (the data is empty)"),
    ],
)
def test_bad_funding(corrupt: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> None:
    with pytest.raises(DataError) as caught:
        validate_funding(corrupt(load_funding(FUNDING_CSV)), name="funding")

    assert str(caught.value).startswith(f"funding: {message}")


def test_iso_utc_shows_milliseconds_only_when_present() -> None:
    assert iso_utc(OCT_10) == "2025-10-10T00:00:00Z"
    assert iso_utc(OCT_10 + 7) == "2025-10-10T00:00:00.007Z"


def test_csv_from_memory_of_the_zip_member_equals_the_zip() -> None:
    # the zip member read by pandas directly: the loader adds nothing and drops nothing
    raw = pd.read_csv(io.StringIO(zip_csv_text()))

    bars = load_bars(ZIP)

    assert bars["timestamp"].tolist() == raw["open_time"].tolist()
    assert bars["close"].tolist() == raw["close"].tolist()
