"""The store: account snapshots, alerts and backtest runs in SQLite (Postgres by URL); see ``docs/store.md``.

``Store()`` opens (and migrates) ``<user data dir>/crossmargin.sqlite``, or ``$CROSSMARGIN_DB_URL``. Each
``record_*`` call is one committed transaction; the query methods return detached, typed records.
"""

from crossmargin.store.db import DB_FILE, DB_URL_ENV, Store, store_url
from crossmargin.store.models import AlertRecord, BacktestRecord, SnapshotRecord

__all__ = ["DB_FILE", "DB_URL_ENV", "AlertRecord", "BacktestRecord", "SnapshotRecord", "Store", "store_url"]
