"""The store: account snapshots, alerts and backtest runs in SQLite (or Postgres), through SQLAlchemy 2.

Where: ``Store()`` opens ``default_data_dir() / 'crossmargin.sqlite'`` (the user data folder, or
``$CROSSMARGIN_DATA_DIR``); ``$CROSSMARGIN_DB_URL`` overrides that, and an explicit ``url`` overrides both.
A URL is a SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user@host/db``); a string without
``://`` is taken as the path of a SQLite file.

Durability: SQLite runs in WAL mode with ``synchronous=FULL``. In WAL mode a commit appends the
transaction to the ``-wal`` file; with FULL that file is fsynced before the commit returns, so a committed
transaction survives a killed process (which NORMAL already guarantees, the pages being in the OS cache)
and also a power cut or OS crash (which NORMAL does not). The cost is one fsync per commit, nothing at the
rate a monitor records. Every ``record_*`` call is one committed transaction, begun with ``BEGIN
IMMEDIATE`` so that concurrent writers queue (``busy_timeout``) instead of failing. Foreign keys are on.

Schema: opening a store runs the packaged Alembic migrations up to head, in one transaction, so a fresh
file gets the tables and an older file is brought up to date; a file written by a newer crossmargin is
refused. Nothing secret is stored: snapshots hold account figures only, and URLs are shown without their
password.

Units: ``time_ms`` in ms since the Unix epoch (UTC); money in the quote currency; ratios as fractions.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, Select, create_engine, event, select, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session

from crossmargin.errors import DataError, InputError
from crossmargin.model import AccountRisk
from crossmargin.paths import default_data_dir
from crossmargin.store.models import AlertRecord, BacktestRecord, SnapshotRecord

if TYPE_CHECKING:  # upper layers, named for the type checker only: the store never imports them
    from crossmargin.live.base import VenueSnapshot
    from crossmargin.sim.result import BacktestResult

__all__ = [
    "BUSY_TIMEOUT_MS",
    "DB_FILE",
    "DB_URL_ENV",
    "Store",
    "alembic_config",
    "create_store_engine",
    "redacted",
    "store_url",
]

#: Environment variable holding the store's URL; overrides the default SQLite file.
DB_URL_ENV = "CROSSMARGIN_DB_URL"
#: File name of the default SQLite store, inside ``default_data_dir()``.
DB_FILE = "crossmargin.sqlite"
#: How long a SQLite connection waits for another writer's lock before failing (ms).
BUSY_TIMEOUT_MS = 10_000

_BACKENDS = ("sqlite", "postgresql")
_URL_FORM = "sqlite:///<path>, a file path, or postgresql+<driver>://<user>@<host>/<database>"
_BEGIN_OPTION = "crossmargin_begin"  # execution option: the SQLite BEGIN form of a connection's transactions
_POSTGRES_CONNECT_TIMEOUT_S = 10

_Record = TypeVar("_Record", SnapshotRecord, AlertRecord, BacktestRecord)


def store_url(url: str | None = None) -> URL:
    """Return the parsed URL of the store: ``url``, else ``$CROSSMARGIN_DB_URL``, else the default file.

    A string without ``://`` is a SQLite file path. Raises InputError (showing the URL without its
    password) for a URL that does not parse or names a backend other than SQLite or Postgres.
    """
    text = (url if url is not None else os.environ.get(DB_URL_ENV, "")).strip()
    if not text:
        return URL.create("sqlite", database=str(default_data_dir() / DB_FILE))
    if "://" not in text:
        return URL.create("sqlite", database=str(Path(text).expanduser()))
    try:
        parsed = make_url(text)
    except ArgumentError:
        scheme = text.split("://", 1)[0]
        raise InputError("url", f"{scheme}://...", _URL_FORM, detail="the store URL does not parse") from None
    if parsed.get_backend_name() not in _BACKENDS:
        raise InputError(
            "url",
            redacted(parsed),
            _URL_FORM,
            detail=f"unsupported database {parsed.get_backend_name()!r} in {redacted(parsed)}",
        )
    return parsed


def redacted(url: URL) -> str:
    """Return ``url`` as text with its password replaced by ``***``: the only form shown to people."""
    return url.render_as_string(hide_password=True)


def create_store_engine(url: URL) -> Engine:
    """Return an engine for ``url``; for SQLite, every connection gets WAL, ``synchronous=FULL``, foreign keys.

    Creates the SQLite file's folder. Raises InputError when the URL's driver is not installed, DataError
    when the folder cannot be created.
    """
    options: dict[str, Any] = {}
    psycopg = url.get_backend_name() == "postgresql" and url.get_driver_name() in ("psycopg", "psycopg2")
    if psycopg and "connect_timeout" not in url.query:  # an unreachable host fails in seconds, not minutes
        options["connect_args"] = {"connect_timeout": _POSTGRES_CONNECT_TIMEOUT_S}
    if url.get_backend_name() == "sqlite":
        _make_folder(url)
    try:
        engine = create_engine(url, **options)
    except NoSuchModuleError:
        raise InputError(
            "url", redacted(url), _URL_FORM, detail=f"unknown driver {url.get_driver_name()!r} in {redacted(url)}"
        ) from None
    except ImportError as error:
        module = error.name or url.get_driver_name()
        raise InputError(
            "url",
            redacted(url),
            f"a URL whose driver is installed (pip install {module})",
            detail=f"the driver {module!r} of {redacted(url)} is not installed",
        ) from None
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config(url: URL) -> Config:
    """Return the Alembic configuration of the store at ``url``, with the packaged migrations.

    For maintainers writing a revision: ``alembic.command.revision(alembic_config(url), 'message',
    autogenerate=True)``.
    """
    config = Config()
    config.set_main_option("script_location", str(_migrations_folder()))
    # ConfigParser interpolates '%': a percent-encoded password must reach SQLAlchemy unchanged.
    config.set_main_option("sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


class Store:
    """The store of snapshots, alerts and backtest runs at ``url`` (see the module docstring).

    Opening it brings the schema to the current revision. Raises InputError for a bad URL or a missing
    driver, DataError (one line, URL without password) when the database cannot be opened or migrated.
    Use as a context manager, or call ``close()``.
    """

    def __init__(self, url: str | None = None) -> None:
        self._url = store_url(url)
        self._engine = create_store_engine(self._url)
        # Writes take SQLite's write lock at BEGIN, so that a second writer waits instead of failing.
        self._writer = self._engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        try:
            self._migrate()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def url(self) -> str:
        """Return the store's URL without its password."""
        return redacted(self._url)

    @property
    def engine(self) -> Engine:
        """Return the SQLAlchemy engine, for reading the tables directly (SQL, ``pandas.read_sql``)."""
        return self._engine

    @property
    def backend(self) -> str:
        """Return the database kind: 'sqlite' or 'postgresql'."""
        return self._url.get_backend_name()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the store's connections (the file stays; nothing uncommitted exists to lose)."""
        self._engine.dispose()

    def record_snapshot(self, snapshot: VenueSnapshot, risk: AccountRisk) -> int:
        """Store ``snapshot`` with the engine's evaluation ``risk`` of it; return the new row's id.

        Stored: time (ms UTC), venue, wallet and margin balance (quote currency), the cross margin ratio
        (fraction, may be +inf), ``stale_seconds`` (s), each position's ``PositionRisk`` fields and the
        venue's own ``ReportedFigures``. Raises InputError when ``risk`` is of another venue or a figure
        is NaN; DataError when the database fails.
        """
        if risk.venue != snapshot.venue:
            raise InputError(
                "risk.venue", risk.venue, repr(snapshot.venue), detail="the risk was evaluated for another venue"
            )
        totals = risk.account
        record = SnapshotRecord(
            time_ms=_time_ms("time_ms", snapshot.time_ms),
            venue=_name("venue", snapshot.venue, 64),
            wallet_balance=_figure("wallet_balance", totals.wallet_balance),
            margin_balance=_figure("margin_balance", totals.margin_balance),
            margin_ratio=_figure("margin_ratio", totals.margin_ratio),
            stale_seconds=_figure("stale_seconds", snapshot.stale_seconds),
            positions=[_plain(dataclasses.asdict(position), "positions") for position in risk.positions],
            reported={
                "account": _plain(dataclasses.asdict(snapshot.account_reported), "account_reported"),
                "positions": {
                    key: _plain(dataclasses.asdict(figures), f"reported[{key!r}]")
                    for key, figures in sorted(snapshot.reported.items())
                },
            },
        )
        return self._add(record).id

    def record_alert(
        self,
        *,
        time_ms: int,
        venue: str,
        rule: str,
        severity: str,
        message: str,
        key: str = "",
        value: float | None = None,
        threshold: float | None = None,
    ) -> int:
        """Store one alert, not yet acknowledged; return its id.

        ``time_ms`` ms since the Unix epoch (UTC); ``key`` '' for the account or a position key;
        ``value`` and ``threshold`` in the rule's unit (quote currency or fraction), +-inf allowed, NaN not.
        Raises InputError for an empty name or a bad figure, DataError when the database fails.
        """
        record = AlertRecord(
            time_ms=_time_ms("time_ms", time_ms),
            venue=_name("venue", venue, 64),
            rule=_name("rule", rule, 64),
            key=_text("key", key, 128),
            severity=_name("severity", severity, 16),
            message=_name("message", message, None),
            value=None if value is None else _figure("value", value),
            threshold=None if threshold is None else _figure("threshold", threshold),
        )
        return self._add(record).id

    def acknowledge(self, alert_id: int) -> None:
        """Mark alert ``alert_id`` acknowledged (one transaction); InputError when no such alert exists."""
        statement = update(AlertRecord).where(AlertRecord.id == alert_id).values(acknowledged=True)
        with self._failures(), Session(self._writer) as session, session.begin():
            found = session.execute(select(AlertRecord.id).where(AlertRecord.id == alert_id)).first()
            if found is None:
                raise InputError("alert_id", alert_id, "the id of a stored alert", detail=f"no alert {alert_id}")
            session.execute(statement)

    def record_backtest(self, result: BacktestResult) -> int:
        """Store a backtest run: settings and, per margin mode, its ``Summary``; return the run's id.

        ``start`` / ``end`` are kept as UTC datetimes; summary money in quote currency, ratios as
        fractions, a non-finite figure as null. The time series and ledgers are not stored.
        """
        summaries = {
            name: _plain(dataclasses.asdict(run.summary), f"modes[{name!r}].summary")
            for name, run in result.modes.items()
        }
        record = BacktestRecord(
            strategy=_name("strategy", result.strategy, 64),
            venue=_name("venue", result.venue, 64),
            symbols=[_name("symbols", symbol, None) for symbol in result.symbols],
            start=_utc("start", result.start),
            end=_utc("end", result.end),
            settings=_plain(dict(result.settings), "settings"),
            summary=summaries,
        )
        return self._add(record).id

    def snapshots(self, venue: str, since_ms: int | None = None, limit: int | None = None) -> list[SnapshotRecord]:
        """Return the snapshots of ``venue`` at or after ``since_ms`` (ms UTC), oldest first.

        With ``limit``, only the latest ``limit`` of them (still oldest first).
        """
        query = select(SnapshotRecord).where(SnapshotRecord.venue == venue)
        if since_ms is not None:
            query = query.where(SnapshotRecord.time_ms >= _time_ms("since_ms", since_ms))
        newest = (SnapshotRecord.time_ms.desc(), SnapshotRecord.id.desc())
        return self._latest(query.order_by(*newest), limit)

    def alerts(
        self,
        venue: str | None = None,
        *,
        since_ms: int | None = None,
        unacknowledged: bool = False,
        limit: int | None = None,
    ) -> list[AlertRecord]:
        """Return the alerts (of ``venue``, at or after ``since_ms`` ms UTC, only open ones), oldest first.

        With ``limit``, only the latest ``limit`` of them (still oldest first).
        """
        query = select(AlertRecord)
        if venue is not None:
            query = query.where(AlertRecord.venue == venue)
        if since_ms is not None:
            query = query.where(AlertRecord.time_ms >= _time_ms("since_ms", since_ms))
        if unacknowledged:
            query = query.where(AlertRecord.acknowledged.is_(False))
        return self._latest(query.order_by(AlertRecord.time_ms.desc(), AlertRecord.id.desc()), limit)

    def backtests(
        self, *, strategy: str | None = None, venue: str | None = None, limit: int | None = None
    ) -> list[BacktestRecord]:
        """Return the stored backtest runs (of ``strategy``, on ``venue``), in the order they were recorded.

        With ``limit``, only the latest ``limit`` of them.
        """
        query = select(BacktestRecord)
        if strategy is not None:
            query = query.where(BacktestRecord.strategy == strategy)
        if venue is not None:
            query = query.where(BacktestRecord.venue == venue)
        return self._latest(query.order_by(BacktestRecord.id.desc()), limit)

    def _add(self, record: _Record) -> _Record:
        """Insert ``record`` in its own transaction and return it, committed, with its id."""
        with self._failures(), Session(self._writer, expire_on_commit=False) as session, session.begin():
            session.add(record)
        return record

    def _latest(self, query: Select[Any], limit: int | None) -> list[Any]:
        """Run ``query`` (records ordered newest first), keep ``limit`` rows, and return them oldest first.

        (``Select`` is typed per row in SQLAlchemy 2.0 and per column in 2.1: ``Any`` serves both.)
        """
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise InputError("limit", limit, "an integer >= 1, or None for all")
            query = query.limit(limit)
        with self._failures(), Session(self._engine) as session:
            rows = list(session.scalars(query))
        rows.reverse()
        return rows

    def _failures(self) -> _DatabaseFailure:
        return _DatabaseFailure(self._url)

    def _migrate(self) -> None:
        """Bring the schema to the head revision; DataError if the file is from a newer crossmargin."""
        config = alembic_config(self._url)
        script = ScriptDirectory.from_config(config)
        head = script.get_current_head()
        with self._failures():
            with self._engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            if current == head:
                return
            if current is not None:
                try:
                    script.get_revision(current)
                except CommandError:
                    raise DataError(
                        f"the store {self.url} is at schema revision {current!r}, unknown to this crossmargin "
                        f"(head {head!r}): it was written by a newer version; upgrade crossmargin"
                    ) from None
            with self._writer.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")


class _DatabaseFailure:
    """Context manager turning a database driver's error into a one-line DataError naming the store."""

    def __init__(self, url: URL) -> None:
        self._url = url

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if isinstance(error, DBAPIError):
            reason = _one_line(error.orig if error.orig is not None else error)
            if self._url.password:
                reason = reason.replace(str(self._url.password), "***")
            raise DataError(f"cannot use the store {redacted(self._url)}: {reason}") from None


def _migrations_folder() -> Path:
    return Path(str(resources.files("crossmargin.store").joinpath("migrations")))


def _make_folder(url: URL) -> None:
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    folder = Path(database).expanduser().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"cannot create the folder of the store {redacted(url)}: {_one_line(error)}") from None


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    """Set up each new SQLite connection (pragmas are per connection; journal_mode persists in the file)."""
    # Take transaction control from the sqlite3 module, which would not BEGIN before DDL or reads;
    # _sqlite_begin emits BEGIN itself, so migrations and reads are real transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql(connection.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _time_ms(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise InputError(field, value, "an integer >= 0 (ms since the Unix epoch, UTC)")
    return int(value)


def _figure(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(float(value)):
        raise InputError(field, value, "a number (+-inf allowed, NaN not)")
    return float(value)


def _text(field: str, value: object, max_length: int | None) -> str:
    if not isinstance(value, str) or (max_length is not None and len(value) > max_length):
        limit = "" if max_length is None else f" of at most {max_length} characters"
        raise InputError(field, value, f"a string{limit}")
    return value


def _name(field: str, value: object, max_length: int | None) -> str:
    text = _text(field, value, max_length)
    if not text.strip():
        raise InputError(field, value, "a non-empty string")
    return text


def _utc(field: str, value: object) -> datetime:
    """Return ``value`` (a datetime or pandas Timestamp; naive means UTC, as in ``BacktestResult``) in UTC."""
    if not isinstance(value, datetime):
        raise InputError(field, value, "a datetime (UTC)")
    to_pydatetime = getattr(value, "to_pydatetime", None)  # a pandas Timestamp: drop the nanoseconds
    plain: datetime = to_pydatetime() if callable(to_pydatetime) else value
    return plain.replace(tzinfo=UTC) if plain.tzinfo is None else plain.astimezone(UTC)


def _plain(value: Any, field: str) -> Any:
    """Return ``value`` as strict JSON values: non-finite floats as None, numpy scalars as Python numbers."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{field}.{key}") for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_plain(item, f"{field}[{index}]") for index, item in enumerate(value)]
    raise InputError(field, type(value).__name__, "JSON values: numbers, strings, booleans, lists, mappings")
