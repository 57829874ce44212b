"""The example portfolios shipped in the package: the same bytes as the repository's, usable from any folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crossmargin.examples import CASE_STUDY, PAPER_CRASH, example_path
from tests.fixtures.harness import REPO


@pytest.mark.parametrize("name", [CASE_STUDY, PAPER_CRASH])
def test_the_packaged_example_is_the_repository_one_byte_for_byte(name: str) -> None:
    # Act
    packaged = example_path(name).read_bytes()

    # Assert
    assert packaged == (REPO / "examples" / name).read_bytes()


def test_monitor_paper_runs_from_any_working_directory(tmp_path: Path) -> None:
    # Act: a folder with no examples/ in it
    completed = subprocess.run(
        [sys.executable, "-m", "crossmargin", "monitor", "--paper", "--ticks", "2", "--interval", "0s"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    # Assert
    assert completed.returncode == 0, completed.stderr
    ticks = [line for line in completed.stdout.splitlines() if "Z binance: margin ratio " in line]
    assert len(ticks) == 2
    assert "Traceback" not in completed.stderr
