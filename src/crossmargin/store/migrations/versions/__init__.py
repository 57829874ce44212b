"""Alembic revisions of the crossmargin store, oldest first: ``v0001_initial`` creates the tables."""
