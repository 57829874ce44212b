"""Alembic environment of the crossmargin store.

``Store`` runs the migrations on a connection it already holds inside a transaction (handed over as
``config.attributes['connection']``), so a migration commits or rolls back as one unit with SQLite's
pragmas in force. Without one (``alembic revision --autogenerate`` through ``db.alembic_config``) the
URL in ``sqlalchemy.url`` is opened the way ``Store`` opens it. Offline mode writes the SQL instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.engine import make_url

from crossmargin.store.db import create_store_engine
from crossmargin.store.models import Base


def _migrate(connection: Connection) -> None:
    # Batch mode lets later revisions alter SQLite tables (which lack most ALTER TABLE forms).
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run() -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    handed: object = config.attributes.get("connection")
    if isinstance(handed, Connection):
        _migrate(handed)
        return
    if url is None:
        raise RuntimeError("no connection handed over and no sqlalchemy.url set: use crossmargin.store.db")
    engine = create_store_engine(make_url(url))
    try:
        with engine.begin() as connection:
            _migrate(connection)
    finally:
        engine.dispose()


_run()
