"""``crossmargin check`` and ``--help`` start light: no engine (pandas, numba, SQLAlchemy, ccxt, ...) is imported.

Each case runs the command in a fresh interpreter and reads back the names in ``sys.modules`` at its end.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.fixtures.harness import REPO

#: The heavy stacks a command may import only inside its own function.
HEAVY = (
    "numba",
    "scipy",
    "sklearn",
    "arch",
    "pandas",
    "polars",
    "pyarrow",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "uvicorn",
    "ccxt",
    "dask",
    "distributed",
    "reportlab",
    "plotly",
)

#: Runs ``crossmargin <args>`` as the console script does, then prints the top-level modules loaded as a last line.
_PROBE = """
import json, sys
{preamble}
sys.argv = ["crossmargin", *json.loads(sys.argv[1])]
from crossmargin.cli import main
try:
    main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
print()
print(json.dumps({{"code": code, "modules": sorted({{name.partition(".")[0] for name in sys.modules}})}}))
"""


def loaded_modules(args: list[str], preamble: str = "") -> tuple[int, set[str]]:
    """Return the exit code of ``crossmargin <args>`` run in a fresh interpreter and the top-level modules it loaded."""
    completed = subprocess.run(
        [sys.executable, "-c", _PROBE.format(preamble=preamble), json.dumps(args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    report = json.loads(completed.stdout.splitlines()[-1])
    return report["code"], set(report["modules"])


@pytest.mark.parametrize(
    "args",
    [["check", "examples/case_study.toml", "--json"], ["--help"], ["--version"]],
    ids=["check", "help", "version"],
)
def test_a_light_command_imports_no_engine(args: list[str]) -> None:
    # Act
    code, modules = loaded_modules(args)

    # Assert
    assert code == 0
    assert "crossmargin" in modules
    assert sorted(modules.intersection(HEAVY)) == []


def test_the_probe_sees_an_engine_that_is_imported() -> None:
    # Act: the same command, with pandas imported first (as a top-level import in cli/ would)
    code, modules = loaded_modules(["check", "examples/case_study.toml", "--json"], preamble="import pandas")

    # Assert
    assert code == 0
    assert "pandas" in modules
