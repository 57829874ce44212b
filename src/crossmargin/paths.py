"""Where crossmargin keeps the user's files: one data folder for market data, refreshed venue tables and the
SQLite store.

``default_data_dir()`` is ``$CROSSMARGIN_DATA_DIR`` when set, else the platform's user data folder
(platformdirs). A base module: everything may import it, it imports nothing of crossmargin.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["DATA_DIR_ENV", "default_data_dir"]

#: Environment variable that moves the data folder (tests point it at a temporary folder).
DATA_DIR_ENV = "CROSSMARGIN_DATA_DIR"


def default_data_dir() -> Path:
    """Return the folder the user's data lives in: ``$CROSSMARGIN_DATA_DIR`` if set, else the user data folder."""
    override = os.environ.get(DATA_DIR_ENV, "").strip()
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_data_dir("crossmargin", appauthor=False))
