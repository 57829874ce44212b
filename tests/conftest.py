"""Shared fixtures: the shipped Binance rules and the path of the test data."""

from __future__ import annotations

import os
import tempfile

import pytest
from hypothesis import HealthCheck, settings

from crossmargin.venues.binance import BinanceRules
from tests.fixtures.harness import REPO

#: CI draws the same examples on every run (derandomize), so that a run's failures and its coverage of
#: margin/ and venues/ are reproducible; the stress profile draws fresh ones.
settings.register_profile(
    "ci", max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("stress", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The tests never read the user's data folder (refreshed venue tables, stored bars): they get an empty one.
#: Tests that need a store set ``$CROSSMARGIN_DATA_DIR`` to a folder of their own.
os.environ["CROSSMARGIN_DATA_DIR"] = tempfile.mkdtemp(prefix="crossmargin-tests-")

#: Fixtures shared across test folders, each in its own module of ``tests/fixtures``.
pytest_plugins = ("tests.fixtures.checklists",)

#: The tests' folder and the repository's root (``tests.fixtures.harness`` holds the paths).
TESTS = REPO / "tests"


@pytest.fixture(scope="session")
def binance() -> BinanceRules:
    """The Binance rules shipped in the package."""
    return BinanceRules.load()
