"""Create the tables of the store: snapshots, alerts, backtest_runs.

Revision ID: 0001
Revises: (none)

Times: ``time_ms`` in ms since the Unix epoch (UTC); ``created_at``, ``start`` and ``end`` UTC datetimes.
Money in quote currency, ratios as fractions (see ``crossmargin.store.models``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the three tables and their indexes."""
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("wallet_balance", sa.Double(), nullable=False),
        sa.Column("margin_balance", sa.Double(), nullable=False),
        sa.Column("margin_ratio", sa.Double(), nullable=False),
        sa.Column("stale_seconds", sa.Double(), nullable=False),
        sa.Column("positions", sa.JSON(), nullable=False),
        sa.Column("reported", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_snapshots_venue_time_ms", "snapshots", ["venue", "time_ms"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("key", sa.String(128), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_alerts_venue_time_ms", "alerts", ["venue", "time_ms"])
    op.create_table(
        "backtest_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("strategy", sa.String(64), nullable=False),
        sa.Column("venue", sa.String(64), nullable=False),
        sa.Column("symbols", sa.JSON(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_backtest_runs_strategy", "backtest_runs", ["strategy"])


def downgrade() -> None:
    """Drop the three tables (and with them their indexes)."""
    op.drop_table("backtest_runs")
    op.drop_table("alerts")
    op.drop_table("snapshots")
