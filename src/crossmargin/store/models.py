"""The store's tables as typed SQLAlchemy mappings: account snapshots, alerts and backtest runs.

Each class maps one table and is also a dataclass, so ``dataclasses.asdict(record)`` is its JSON object.
Units: ``time_ms`` is ms since the Unix epoch (UTC); ``created_at``, ``start`` and ``end`` are UTC datetimes;
money is in the account's quote currency (USDT, USDC); ratios are fractions (1 = liquidation for Binance's
and Bybit's margin ratio, OKX's health ratio is large when safe). A margin ratio may be ``+inf`` (a bankrupt
pool, or a health ratio with nothing required); inside the JSON columns a non-finite figure is ``null``.

The schema is created and changed only by the Alembic migrations in ``store/migrations``; a test holds
these mappings equal to what the migrations build.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Dialect, Double, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column
from sqlalchemy.types import DateTime, TypeDecorator

__all__ = ["AlertRecord", "BacktestRecord", "Base", "SnapshotRecord", "UtcDateTime", "utc_now"]


def utc_now() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A datetime stored in UTC and always read back timezone-aware (UTC).

    SQLite has no time zones: the value is stored as naive UTC text there, and tagged UTC when read.
    Postgres stores ``timestamp with time zone``. A naive datetime is refused: its zone would be a guess.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return ``value`` in UTC (naive for SQLite); raise ValueError for a naive datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given where a UTC time is stored")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Return the stored time as an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(MappedAsDataclass, DeclarativeBase):
    """Declarative base of the store's tables; floats are float64 (``DOUBLE`` / ``double precision``)."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {float: Double(), datetime: UtcDateTime()}


class SnapshotRecord(Base):
    """One account snapshot as the engine evaluated it (table ``snapshots``).

    ``wallet_balance`` and ``margin_balance`` in quote currency; ``margin_ratio`` the cross pool's, a
    fraction in the venue's sense (see ``AccountTotals``), possibly ``+inf``; ``stale_seconds`` the age of
    the venue data when read (s). ``positions`` holds one object per position with the keys of
    ``PositionRisk`` (the ``--json`` keys of ``crossmargin check``); ``reported`` holds the venue's own
    figures: ``{"account": {...}, "positions": {position key: {...}}}`` with the keys of
    ``ReportedFigures``. No credential is ever part of a snapshot.
    """

    __tablename__ = "snapshots"
    __table_args__ = (Index("ix_snapshots_venue_time_ms", "venue", "time_ms"),)

    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    time_ms: Mapped[int] = mapped_column(BigInteger)
    venue: Mapped[str] = mapped_column(String(64))
    wallet_balance: Mapped[float]
    margin_balance: Mapped[float]
    margin_ratio: Mapped[float]
    stale_seconds: Mapped[float]
    positions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reported: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default_factory=utc_now)


class AlertRecord(Base):
    """One alert raised by a monitoring rule (table ``alerts``).

    ``rule`` names the rule (e.g. 'margin_ratio'), ``key`` what it watched ('' for the account, else a
    position key such as 'BTCUSDT' or 'BTCUSDT:long'); ``value`` is the observed figure and ``threshold``
    the rule's limit, in the rule's unit (quote currency, or a fraction for ratios and distances).
    """

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_venue_time_ms", "venue", "time_ms"),)

    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    time_ms: Mapped[int] = mapped_column(BigInteger)
    venue: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(128))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None]
    threshold: Mapped[float | None]
    acknowledged: Mapped[bool] = mapped_column(default=False)


class BacktestRecord(Base):
    """One backtest run (table ``backtest_runs``): what was run, and each margin mode's summary.

    ``start`` and ``end`` are the first and last bar open times (UTC). ``settings`` is
    ``BacktestResult.settings``; ``summary`` maps each mode ('cross', 'isolated', 'cross+auto', ...) to its
    ``Summary`` fields (money in quote currency, returns and ratios as fractions).
    """

    __tablename__ = "backtest_runs"
    __table_args__ = (Index("ix_backtest_runs_strategy", "strategy"),)

    id: Mapped[int] = mapped_column(primary_key=True, init=False)
    strategy: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str] = mapped_column(String(64))
    symbols: Mapped[list[str]] = mapped_column(JSON)
    start: Mapped[datetime]
    end: Mapped[datetime]
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default_factory=utc_now)
