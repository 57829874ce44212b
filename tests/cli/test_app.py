"""The ``crossmargin`` app: ``--version``, every command mounted, ``python -m crossmargin``."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version

from typer.testing import CliRunner

from crossmargin.cli import app
from tests.fixtures.harness import REPO

#: The commands and groups ``crossmargin --help`` lists, one module of ``crossmargin/cli/`` each mounting some.
COMMANDS = (
    "check",
    "backtest",
    "monitor",
    "stress",
    "montecarlo",
    "leverage",
    "forecast",
    "validate",
    "report",
    "serve",
    "sweep",
    "brackets",
    "accounts",
    "venues",
    "data",
)


def test_version_prints_the_installed_version() -> None:
    # Act
    result = CliRunner().invoke(app, ["--version"])

    # Assert
    assert result.exit_code == 0
    assert result.stdout == f"crossmargin {version('crossmargin')}\n"
    assert re.fullmatch(r"crossmargin \d+\.\d+\.\d+\n", result.stdout)


def test_help_lists_every_command() -> None:
    # Act
    result = CliRunner().invoke(app, ["--help"], terminal_width=200)

    # Assert
    assert result.exit_code == 0
    listed = re.findall(r"^│ (\w+) ", result.stdout, flags=re.MULTILINE)
    assert sorted(listed) == sorted(COMMANDS)
    assert "--install-completion" in result.stdout  # shell completion, as typer offers it


def test_python_m_crossmargin_runs_the_app() -> None:
    # Act
    completed = subprocess.run(
        [sys.executable, "-m", "crossmargin", "--version"], cwd=REPO, capture_output=True, text=True, check=False
    )

    # Assert
    assert completed.returncode == 0
    assert completed.stdout == f"crossmargin {version('crossmargin')}\n"
