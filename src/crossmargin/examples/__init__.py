"""The example portfolios the package itself uses: the dashboard's default book and the paper monitor's.

Byte-for-byte copies of ``examples/case_study.toml`` and ``examples/paper_crash.toml`` at the repository root
(a test holds them equal), shipped as package data so that ``crossmargin serve`` and ``crossmargin monitor
--paper`` work from any working directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["CASE_STUDY", "PAPER_CRASH", "example_path"]

#: The case study (Binance, cross and isolated side by side): the dashboard's default portfolio.
CASE_STUDY = "case_study.toml"
#: The book the paper monitor replays through the 2025-10-10 crash.
PAPER_CRASH = "paper_crash.toml"


def example_path(name: str) -> Path:
    """Return the path of the shipped example ``name`` (e.g. ``CASE_STUDY``) inside the installed package."""
    return Path(str(resources.files(__name__) / name))
