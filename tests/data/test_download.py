"""``crossmargin.data.download`` and ``crossmargin data download``, replaying recorded ccxt responses.

There is no network in the tests: :class:`RecordedExchange` answers ``fetch_ohlcv`` and
``fetch_funding_rate_history`` from ``tests/data/recorded/``, which holds real Binance bars and funding
settlements laid out as ccxt returns them (``tests/data/PROVENANCE.md``). A request that was not recorded
fails the test, so the tests also pin which requests a download makes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import ccxt
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from crossmargin.cli.data import data_app
from crossmargin.data import download as download_module
from crossmargin.data.download import download_bars, download_funding, make_exchange
from crossmargin.data.load import load_bars, load_funding
from crossmargin.data.store import DataStore
from crossmargin.errors import InputError

DATA = Path(__file__).parent
RECORDED = DATA / "recorded"
TRADES = load_bars(DATA / "BTCUSDT-trades-1h-2025-10-08.parquet")
MARK = load_bars(DATA / "BTCUSDT-mark-1h-2025-10-08.parquet")
FUNDING = load_funding(DATA / "BTCUSDT-funding-2025-10-01.csv")
SYMBOL = "BTC/USDT:USDT"
HOUR = 3_600_000
OCT_01 = 1_759_276_800_000  # 2025-10-01 00:00 UTC
OCT_08 = 1_759_881_600_000  # 2025-10-08 00:00 UTC
OCT_11 = OCT_01 + 10 * 24 * HOUR
OCT_13 = OCT_08 + 5 * 24 * HOUR
PAGE_STARTS = [OCT_08, OCT_08 + 50 * HOUR, OCT_08 + 100 * HOUR]  # 10-08 00:00, 10-10 02:00, 10-12 04:00

app = typer.Typer()
app.add_typer(data_app, name="data")
RUNNER = CliRunner()


class RecordedExchange:
    """Answers ccxt requests from recorded responses; can break off after ``fail_after`` requests."""

    def __init__(self, *names: str, fail_after: int | None = None) -> None:
        self.responses: dict[tuple[Any, ...], Any] = {}
        for name in names:
            recording = json.loads((RECORDED / name).read_text())
            for page in recording["pages"]:
                key = (
                    recording["method"],
                    recording["symbol"],
                    recording.get("timeframe"),
                    json.dumps(recording["params"], sort_keys=True),
                    recording["limit"],
                    page["since"],
                )
                self.responses[key] = page["response"]
        self.fail_after = fail_after
        self.requests: list[tuple[str, int | None, dict[str, Any]]] = []

    def _answer(self, key: tuple[Any, ...], params: dict[str, Any]) -> Any:
        self.requests.append((key[0], key[-1], params))
        if self.fail_after is not None and len(self.requests) > self.fail_after:
            raise ccxt.NetworkError("binanceusdm GET https://fapi.binance.com/fapi/v1/klines (simulated interruption)")
        if key not in self.responses:
            raise LookupError(f"no recorded response for {key}")
        return copy.deepcopy(self.responses[key])

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: str = "1m",
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[list[Any]]:
        params = params or {}
        key = ("fetch_ohlcv", symbol, timeframe, json.dumps(params, sort_keys=True), limit, since)
        answer: list[list[Any]] = self._answer(key, params)
        return answer

    def fetch_funding_rate_history(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        params = params or {}
        key = ("fetch_funding_rate_history", symbol, None, json.dumps(params, sort_keys=True), limit, since)
        answer: list[dict[str, Any]] = self._answer(key, params)
        return answer


def trades_exchange(fail_after: int | None = None) -> RecordedExchange:
    return RecordedExchange("binanceusdm-BTCUSDT-1h-trades.json", fail_after=fail_after)


def get_bars(exchange: RecordedExchange, store: DataStore, *, until_ms: int = OCT_13, kind: str = "trades") -> int:
    return download_bars(
        exchange,
        SYMBOL,
        timeframe="1h",
        since_ms=OCT_08,
        until_ms=until_ms,
        store=store,
        venue="binance",
        kind=kind,
        progress=False,
        page_limit=50,
    )


@pytest.fixture
def store(tmp_path: Path) -> DataStore:
    return DataStore(tmp_path)


def test_pages_forward_until_the_bound(store: DataStore) -> None:
    exchange = trades_exchange()

    written = get_bars(exchange, store)

    # 2025-10-08 00:00 up to (not including) 2025-10-13 00:00: 120 bars in pages of 50, 50 and 20 (of 50 sent)
    assert written == 120
    assert [since for _, since, _ in exchange.requests] == PAGE_STARTS
    pd.testing.assert_frame_equal(store.read("binance", "BTCUSDT", "trades", "1h"), TRADES.iloc[:120])


def test_until_inside_the_first_page_stops_after_it(store: DataStore) -> None:
    exchange = trades_exchange()

    written = get_bars(exchange, store, until_ms=OCT_08 + 36 * HOUR)

    assert written == 36
    assert len(exchange.requests) == 1
    stored = store.read("binance", "BTCUSDT", "trades", "1h")
    assert int(stored["timestamp"].iloc[-1]) == OCT_08 + 35 * HOUR


def test_rerun_resumes_after_an_interruption(store: DataStore) -> None:
    # Arrange: the connection breaks on the third request, after two pages were stored
    broken = trades_exchange(fail_after=2)
    with pytest.raises(ccxt.NetworkError, match="simulated interruption"):
        get_bars(broken, store)
    assert len(store.read("binance", "BTCUSDT", "trades", "1h")) == 100

    # Act
    resumed = trades_exchange()
    written = get_bars(resumed, store)

    # Assert: only the missing page is asked for, and every bar is stored once
    assert written == 20
    assert [since for _, since, _ in resumed.requests] == [PAGE_STARTS[2]]
    pd.testing.assert_frame_equal(store.read("binance", "BTCUSDT", "trades", "1h"), TRADES.iloc[:120])


def test_rerun_of_a_complete_download_asks_nothing(store: DataStore) -> None:
    get_bars(trades_exchange(), store)
    again = trades_exchange()

    assert get_bars(again, store) == 0
    assert again.requests == []


def test_mark_prices_are_asked_for_as_such(store: DataStore) -> None:
    exchange = RecordedExchange("binanceusdm-BTCUSDT-1h-mark.json")

    written = get_bars(exchange, store, kind="mark")

    assert written == 120
    assert {str(params) for _, _, params in exchange.requests} == {"{'price': 'mark'}"}
    pd.testing.assert_frame_equal(store.read("binance", "BTCUSDT", "mark", "1h"), MARK.iloc[:120])


def test_funding_pages_resume_and_stop_at_the_bound(store: DataStore) -> None:
    def get_funding(exchange: RecordedExchange) -> int:
        return download_funding(
            exchange,
            SYMBOL,
            since_ms=OCT_01,
            until_ms=OCT_11,
            store=store,
            venue="binance",
            progress=False,
            page_limit=10,
        )

    broken = RecordedExchange("binanceusdm-BTCUSDT-funding.json", fail_after=1)
    with pytest.raises(ccxt.NetworkError):
        get_funding(broken)
    resumed = RecordedExchange("binanceusdm-BTCUSDT-funding.json")

    written = get_funding(resumed)

    # 2025-10-01 00:00 .. 2025-10-10 16:00: 30 settlements; the fourth page starts at 10-11 00:00, past the bound
    stored = store.read("binance", "BTCUSDT", "funding", "event")
    assert written == 20
    assert len(resumed.requests) == 3
    pd.testing.assert_frame_equal(stored, FUNDING.iloc[:30])


def test_bad_arguments_are_input_errors(store: DataStore) -> None:
    exchange = trades_exchange()
    common: dict[str, Any] = {"since_ms": OCT_08, "store": store, "venue": "binance", "progress": False}

    with pytest.raises(InputError, match=r"^interval: unknown bar interval '2h'"):
        download_bars(exchange, SYMBOL, timeframe="2h", until_ms=OCT_13, **common)
    with pytest.raises(InputError, match=r"^kind: 'funding' is not a kind of bars"):
        download_bars(exchange, SYMBOL, timeframe="1h", until_ms=OCT_13, kind="funding", **common)
    with pytest.raises(InputError, match=r"^until: .* \(allowed: a time after since \(2025-10-08T00:00:00Z\)\)"):
        download_bars(exchange, SYMBOL, timeframe="1h", until_ms=OCT_08, **common)
    assert exchange.requests == []


def test_make_exchange_builds_the_ccxt_class_without_network() -> None:
    assert isinstance(make_exchange("binance"), ccxt.binanceusdm)
    assert isinstance(make_exchange("binance", kind="spot"), ccxt.binance)
    assert isinstance(make_exchange("Bybit"), ccxt.bybit)
    assert isinstance(make_exchange("okx"), ccxt.okx)
    assert isinstance(make_exchange("hyperliquid"), ccxt.hyperliquid)
    with pytest.raises(InputError, match=r"^venue: unknown venue 'kraken' \(allowed: binance \| bybit \| okx"):
        make_exchange("kraken")


# --- crossmargin data download -----------------------------------------------------------------------

CLI_ARGS = ["data", "download", "--venue", "binance", "--symbol", SYMBOL, "--interval", "1h"]
CLI_SPAN = ["--since", "2025-10-08", "--until", "2025-10-13", "--page-limit", "50"]


def test_cli_download_then_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = trades_exchange()
    monkeypatch.setattr(download_module, "make_exchange", lambda venue, kind="trades": exchange)

    result = RUNNER.invoke(app, [*CLI_ARGS, *CLI_SPAN, "--data-dir", str(tmp_path), "--json"])
    listed = RUNNER.invoke(app, ["data", "list", "--data-dir", str(tmp_path), "--json"])

    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "path": str(tmp_path / "binance" / "trades" / "BTCUSDT-1h.parquet"),
        "rows_added": 120,
        "first": OCT_08,
        "last": OCT_13 - HOUR,
        "rows": 120,
    }
    assert [entry["rows"] for entry in json.loads(listed.stdout)["series"]] == [120]


def test_cli_download_funding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = RecordedExchange("binanceusdm-BTCUSDT-funding.json")
    monkeypatch.setattr(download_module, "make_exchange", lambda venue, kind="trades": exchange)
    arguments = ["data", "download", "--venue", "binance", "--symbol", SYMBOL, "--kind", "funding"]

    result = RUNNER.invoke(
        app,
        [
            *arguments,
            "--since",
            "2025-10-01",
            "--until",
            "2025-10-11",
            "--page-limit",
            "10",
            "--data-dir",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("stored 30 new rows (BTC/USDT:USDT funding event on binance)")


def test_cli_network_error_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = trades_exchange(fail_after=1)
    monkeypatch.setattr(download_module, "make_exchange", lambda venue, kind="trades": exchange)

    result = RUNNER.invoke(app, [*CLI_ARGS, *CLI_SPAN, "--data-dir", str(tmp_path)])

    assert result.exit_code == 2
    assert result.stderr.startswith("error: binance: NetworkError: binanceusdm GET")
    assert result.stderr.count("\n") == 1
    # the first page was stored before the break, ready for a rerun
    assert len(DataStore(tmp_path).read("binance", "BTCUSDT", "trades", "1h")) == 50


@pytest.mark.parametrize(
    ("arguments", "fragment"),
    [
        (["--venue", "kraken"], "venue: unknown venue 'kraken'"),
        (["--interval", "90m"], "interval: unknown bar interval '90m'"),
        (["--since", "08/10/2025"], "--since: '08/10/2025' is not allowed (allowed: a UTC date YYYY-MM-DD)"),
        (["--until", "2025-10-01"], "until: '2025-10-01T00:00:00Z' is not allowed"),
        (["--kind", "candles"], "kind: unknown kind 'candles'"),
    ],
)
def test_cli_download_bad_input_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arguments: list[str], fragment: str
) -> None:
    exchange = trades_exchange()
    monkeypatch.setattr(download_module, "make_exchange", lambda venue, kind="trades": exchange)

    result = RUNNER.invoke(app, [*CLI_ARGS, *CLI_SPAN, "--data-dir", str(tmp_path), *arguments])

    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1
    assert exchange.requests == []
