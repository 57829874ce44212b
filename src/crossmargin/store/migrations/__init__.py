"""Alembic migrations of the crossmargin store, applied by ``Store`` on open (see ``docs/store.md``)."""
