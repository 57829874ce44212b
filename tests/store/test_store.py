"""Tests of ``store/``: round trips with real figures, migrations, SQLite settings, durability, URLs."""

from __future__ import annotations

import dataclasses
import math
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from crossmargin.errors import DataError, InputError
from crossmargin.live.base import ReportedFigures, VenueSnapshot
from crossmargin.margin import evaluate
from crossmargin.model import Account, AccountRisk, Marks
from crossmargin.portfolio import Portfolio, load_portfolio
from crossmargin.sim.backtest import resolve_strategy, run_backtest, sample_market
from crossmargin.sim.result import BacktestResult
from crossmargin.store import DB_URL_ENV, Store, store_url
from crossmargin.store.db import alembic_config
from crossmargin.store.models import Base
from crossmargin.venues import get_rules
from tests.fixtures.harness import REPO

WRITER = Path(__file__).with_name("writer.py")
#: 2026-04-27 00:00 UTC (ms since the Unix epoch): the case study's marks.
APRIL_27_MS = 1_777_248_000_000
#: 2026-03-01 00:00 UTC (ms): the start of the package's 1h sample.
MARCH_1_MS = 1_772_323_200_000
DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def case_study() -> tuple[Portfolio, AccountRisk]:
    """The case-study portfolio (long BTC, short ETH, long SOL at 5x cross on Binance) and its evaluation."""
    portfolio = load_portfolio(REPO / "examples" / "case_study.toml")
    return portfolio, evaluate(portfolio.account, portfolio.marks, portfolio.rules)


def snapshot_of(portfolio: Portfolio, risk: AccountRisk, time_ms: int = APRIL_27_MS) -> VenueSnapshot:
    """The portfolio as a reader would return it, with the engine's figures standing in for the venue's."""
    return VenueSnapshot(
        venue=risk.venue,
        time_ms=time_ms,
        account=portfolio.account,
        marks=portfolio.marks,
        reported={
            p.symbol: ReportedFigures(liquidation_price=p.liquidation_price, unrealized_pnl=p.unrealized_pnl)
            for p in risk.positions
        },
        account_reported=ReportedFigures(margin_ratio=risk.account.margin_ratio),
        stale_seconds=1.5,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh store in a temporary SQLite file."""
    with Store(f"sqlite:///{tmp_path / 'store.sqlite'}") as opened:
        yield opened


@pytest.fixture(scope="module")
def backtest() -> BacktestResult:
    """The case-study strategy over the first week of March 2026 (real Binance 1h sample), both modes."""
    market = sample_market(
        ["BTCUSDT", "ETHUSDT", "SOLUSDT"], interval="1h", start_ms=MARCH_1_MS, end_ms=MARCH_1_MS + 7 * DAY_MS
    )
    return run_backtest(resolve_strategy("case-study"), market, get_rules("binance"), mode="both")


def test_snapshot_round_trip(store: Store, case_study: tuple[Portfolio, AccountRisk]) -> None:
    portfolio, risk = case_study
    recorded = store.record_snapshot(snapshot_of(portfolio, risk), risk)

    (stored,) = store.snapshots("binance")

    assert stored.id == recorded
    assert stored.time_ms == APRIL_27_MS
    assert stored.wallet_balance == 10_000.0
    # uPnL 0.15 x (78610.7 - 68241.4) - 5 x (2368.32 - 2104.65) + 100 x (86.87723102 - 83.15)
    #    = 1555.395 - 1318.35 + 372.723102 = 609.768102, on a wallet of 10 000
    assert stored.margin_balance == pytest.approx(10_609.768102, rel=1e-12)
    # MM 47.16642 + 47.3664 + 43.43861551 = 137.97143551; / 10 609.768102
    assert stored.margin_ratio == pytest.approx(137.97143551 / 10_609.768102, rel=1e-12)
    assert stored.stale_seconds == 1.5
    assert stored.positions == [dataclasses.asdict(p) for p in risk.positions]
    assert stored.positions[2]["liquidation_price"] is None  # SOL: no price liquidates the cross pool
    assert stored.reported["account"]["margin_ratio"] == risk.account.margin_ratio
    assert stored.reported["positions"]["ETHUSDT"]["liquidation_price"] == risk.positions[1].liquidation_price
    assert stored.created_at.tzinfo is UTC


def test_snapshot_keeps_an_infinite_ratio(store: Store) -> None:
    okx = get_rules("okx")
    empty = Account(venue=okx.name, wallet_balance=500.0)
    risk = evaluate(empty, Marks(), okx)
    snapshot = VenueSnapshot(venue=okx.name, time_ms=APRIL_27_MS, account=empty, marks=Marks())

    store.record_snapshot(snapshot, risk)

    (stored,) = store.snapshots(okx.name)
    # OKX's health ratio is margin balance / requirement: nothing required gives +inf
    assert stored.margin_ratio == math.inf
    assert stored.positions == []


def test_snapshots_since_and_limit(store: Store, case_study: tuple[Portfolio, AccountRisk]) -> None:
    portfolio, risk = case_study
    ids = [store.record_snapshot(snapshot_of(portfolio, risk, APRIL_27_MS + step * 1_000), risk) for step in range(5)]

    since = store.snapshots("binance", since_ms=APRIL_27_MS + 2_000)
    latest = store.snapshots("binance", limit=2)

    assert [s.id for s in since] == ids[2:]
    assert [s.id for s in latest] == ids[3:]  # the latest two, oldest first
    assert store.snapshots("bybit") == []


def test_snapshot_of_another_venue_is_refused(store: Store, case_study: tuple[Portfolio, AccountRisk]) -> None:
    portfolio, risk = case_study
    snapshot = dataclasses.replace(snapshot_of(portfolio, risk), venue="bybit")

    with pytest.raises(InputError, match=r"risk\.venue: the risk was evaluated for another venue"):
        store.record_snapshot(snapshot, risk)


def test_alert_round_trip_and_acknowledge(store: Store, case_study: tuple[Portfolio, AccountRisk]) -> None:
    _, risk = case_study
    eth = risk.positions[1]
    first = store.record_alert(
        time_ms=APRIL_27_MS,
        venue="binance",
        rule="distance_to_liquidation",
        key="ETHUSDT",
        severity="warning",
        message="ETHUSDT short within 90 % of its liquidation price",
        value=eth.distance_to_liquidation,
        threshold=0.9,
    )
    second = store.record_alert(
        time_ms=APRIL_27_MS + 60_000, venue="binance", rule="stale", severity="info", message="data 75 s old"
    )

    store.acknowledge(first)

    stored = store.alerts("binance")
    assert [a.id for a in stored] == [first, second]
    assert stored[0].value == eth.distance_to_liquidation
    assert stored[0].threshold == 0.9
    assert stored[0].acknowledged
    assert (stored[1].key, stored[1].value, stored[1].threshold) == ("", None, None)
    assert [a.id for a in store.alerts(unacknowledged=True)] == [second]
    assert store.alerts(since_ms=APRIL_27_MS + 1) == stored[1:]
    with pytest.raises(InputError, match="alert_id: no alert 99"):
        store.acknowledge(99)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"value": math.nan}, "value: nan is not allowed"),
        ({"time_ms": -1}, "time_ms: -1 is not allowed"),
        ({"rule": " "}, "rule: ' ' is not allowed"),
    ],
)
def test_bad_alert_is_refused(store: Store, changes: dict[str, object], message: str) -> None:
    alert: dict[str, object] = {
        "time_ms": APRIL_27_MS,
        "venue": "binance",
        "rule": "margin_ratio",
        "severity": "critical",
        "message": "m",
    }

    with pytest.raises(InputError, match=message):
        store.record_alert(**{**alert, **changes})  # type: ignore[arg-type]

    assert store.alerts() == []


def test_backtest_round_trip(store: Store, backtest: BacktestResult) -> None:
    recorded = store.record_backtest(backtest)

    (stored,) = store.backtests(strategy="case-study")

    assert stored.id == recorded
    assert (stored.venue, stored.symbols) == ("binance", ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    assert stored.start == datetime(2026, 3, 1, tzinfo=UTC)
    assert stored.end == datetime(2026, 3, 7, 23, tzinfo=UTC)  # the last of 7 x 24 hourly bars
    assert stored.settings == backtest.to_json()["settings"]
    assert set(stored.summary) == {"cross", "isolated"}
    for mode, run in backtest.modes.items():
        assert stored.summary[mode] == dataclasses.asdict(run.summary)
    assert store.backtests(venue="okx") == []
    assert [b.id for b in store.backtests(limit=1)] == [recorded]


def test_fresh_file_is_migrated_to_head_and_reopening_changes_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    head = ScriptDirectory.from_config(alembic_config(make_url(url))).get_current_head()

    with Store(url) as first:
        first.record_alert(time_ms=0, venue="binance", rule="r", severity="info", message="kept")
    with Store(url) as again:
        with again.engine.connect() as connection:
            revisions = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all()
        tables = set(inspect(again.engine).get_table_names())
        kept = again.alerts()

    assert revisions == [head]
    assert tables == {"alembic_version", "snapshots", "alerts", "backtest_runs"}
    assert [a.message for a in kept] == ["kept"]


def test_older_file_is_brought_up_to_date(tmp_path: Path) -> None:
    url = make_url(f"sqlite:///{tmp_path / 'old.sqlite'}")
    Store(str(url)).close()
    command.downgrade(alembic_config(url), "base")  # the file as a release before the tables would leave it

    with Store(str(url)) as store:
        tables = set(inspect(store.engine).get_table_names())

    assert {"snapshots", "alerts", "backtest_runs"} <= tables


def test_mappings_equal_what_the_migrations_build(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    # the same through the migrations' env.py, opening the URL itself as `alembic check` would
    command.check(alembic_config(make_url(store.url)))

    assert differences == []


def test_snapshot_columns_hold_figures_only(store: Store) -> None:
    columns = [column["name"] for column in inspect(store.engine).get_columns("snapshots")]

    assert columns == [
        "id",
        "time_ms",
        "venue",
        "wallet_balance",
        "margin_balance",
        "margin_ratio",
        "stale_seconds",
        "positions",
        "reported",
        "created_at",
    ]


def test_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite"
    with Store(str(path)) as store, store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(DataError, match=r"schema revision '9999', unknown to this crossmargin .*upgrade crossmargin"):
        Store(str(path))


def test_sqlite_runs_in_wal_mode_with_full_sync_and_foreign_keys(store: Store) -> None:
    with store.engine.connect() as connection:
        pragmas = {
            name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
        }

    # synchronous: 0 OFF, 1 NORMAL, 2 FULL
    assert pragmas == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 10_000}


def _start_writer(url: str) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    """Start writer.py on ``url``; a thread puts each line it prints on the queue, then None at its end."""
    writer = subprocess.Popen(
        [sys.executable, str(WRITER), url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert writer.stdout is not None
        for line in writer.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return writer, lines


def _kill_after(writer: subprocess.Popen[str], lines: queue.Queue[str | None], count: int) -> list[int]:
    """Return every id the writer printed: wait for ``count`` ids, SIGKILL it mid-loop, drain the rest."""
    printed: list[int] = []
    try:
        while len(printed) < count:
            line = lines.get(timeout=30)
            if line is None:
                _, errors = writer.communicate(timeout=5)
                pytest.fail(f"writer.py ended by itself: {errors}")
            printed.append(int(line))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=10)
        while (line := lines.get(timeout=10)) is not None:
            printed.append(int(line))
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
        for stream in (writer.stdout, writer.stderr):
            if stream is not None:
                stream.close()
    assert writer.returncode == -signal.SIGKILL
    return printed


def test_committed_snapshots_survive_sigkill(tmp_path: Path, case_study: tuple[Portfolio, AccountRisk]) -> None:
    url = f"sqlite:///{tmp_path / 'killed.sqlite'}"
    printed: list[int] = []

    for count in (5, 40, 200):  # kill at different points of the loop, reopening after each
        writer, lines = _start_writer(url)
        printed += _kill_after(writer, lines, count)

        with Store(url) as store:
            stored = {snapshot.id for snapshot in store.snapshots("binance")}
            with store.engine.connect() as connection:
                integrity = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
            portfolio, risk = case_study
            after = store.record_snapshot(snapshot_of(portfolio, risk), risk)

        assert set(printed) <= stored
        assert integrity == "ok"
        assert after > max(printed)


def test_postgres_url_is_parsed() -> None:
    url = store_url("postgresql+psycopg://crossmargin:s3cret@db.example.com:5432/risk")

    assert (url.get_backend_name(), url.get_driver_name()) == ("postgresql", "psycopg")
    assert (url.host, url.port, url.database, url.username) == ("db.example.com", 5432, "risk", "crossmargin")


def test_unreachable_postgres_is_refused_in_one_line_without_the_password() -> None:
    # Port 1 on the loopback refuses at once; without the driver installed the store refuses before connecting.
    url = "postgresql+psycopg://crossmargin:s3cret@127.0.0.1:1/risk"

    with pytest.raises(
        (DataError, InputError), match=r"postgresql\+psycopg://crossmargin:\*\*\*@127\.0\.0\.1:1/risk"
    ) as caught:
        Store(url)

    assert "s3cret" not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://root:pw@localhost/db", r"url: unsupported database 'mysql'.*mysql://root:\*\*\*@localhost/db"),
        (
            "postgresql+nosuchdriver://u:pw@localhost/db",
            r"url: unknown driver 'nosuchdriver' in postgresql\+nosuchdriver://u:\*\*\*@localhost/db",
        ),
        ("://nowhere", r"url: the store URL does not parse"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Store(url)


def test_unusable_sqlite_file_is_a_one_line_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite"
    folder.mkdir()

    with pytest.raises(DataError, match=r"^cannot use the store sqlite:///.*a-folder\.sqlite: unable to open"):
        Store(str(folder))


def test_default_file_is_in_the_data_dir_and_the_env_url_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSMARGIN_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(DB_URL_ENV, raising=False)
    with Store() as default:
        default_url = default.url
    monkeypatch.setenv(DB_URL_ENV, f"sqlite:///{tmp_path / 'elsewhere.sqlite'}")
    with Store() as chosen:
        chosen_url = chosen.url

    assert default_url == f"sqlite:///{tmp_path / 'data' / 'crossmargin.sqlite'}"
    assert (tmp_path / "data" / "crossmargin.sqlite").is_file()
    assert chosen_url == f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"


def test_limit_must_be_positive(store: Store) -> None:
    with pytest.raises(InputError, match="limit: 0 is not allowed"):
        store.snapshots("binance", limit=0)
