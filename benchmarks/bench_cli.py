"""Cold start of the command line: ``crossmargin --help`` and ``crossmargin check`` against a bare Python start.

Run: ``.venv/bin/python benchmarks/bench_cli.py`` from the repository root. Work: 10 fresh processes of each of
``python -c pass``, ``crossmargin --help`` and ``crossmargin check examples/case_study.toml --json`` (and, as
the floor of any typer command line, a typer app of one empty command), run interleaved (pass, help, check,
typer, pass, help, check, typer, ...) so that a busy spell of the machine falls on all of them alike, after one
untimed run of each that leaves the bytecode cache an installed package has (the children
run without ``PYTHONDONTWRITEBYTECODE``). Prints the median wall time of each with its spread (min .. max) and
the ratio of each median to bare Python's. The goal: ``check`` within 10x a bare Python start.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 10
#: A typer app of one command that does nothing: what typer itself costs.
_EMPTY_TYPER = "import typer\n\ndef run() -> None:\n    pass\n\ntyper.run(run)"
#: The console script installed beside this interpreter (``.venv/bin/crossmargin``).
SCRIPT = str(Path(sys.executable).with_name("crossmargin"))
COMMANDS: dict[str, list[str]] = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "crossmargin --help": [SCRIPT, "--help"],
    "crossmargin check examples/case_study.toml --json": [SCRIPT, "check", "examples/case_study.toml", "--json"],
    # The floor any typer command line stands on: one command that does nothing.
    "typer app of one empty command": [sys.executable, "-c", _EMPTY_TYPER],
}


#: The children's environment: this one, with bytecode caching on (as for an installed package).
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def _wall(command: list[str]) -> float:
    """Return the seconds ``command`` takes from start to exit (its output discarded; a failure stops the run)."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Time the commands interleaved and print the table."""
    for command in COMMANDS.values():
        _wall(command)  # untimed: writes the bytecode cache
    times: dict[str, list[float]] = {label: [] for label in COMMANDS}
    for _ in range(RUNS):
        for label, command in COMMANDS.items():
            times[label].append(_wall(command))
    bare = statistics.median(times["python -c pass"])
    print(
        f"{RUNS} cold processes each, interleaved, bytecode cached; {sys.executable} (Python {sys.version.split()[0]})"
    )
    print(f"{'command':<52} {'median':>9} {'min .. max':>19} {'x bare python':>14}")
    for label, samples in times.items():
        median = statistics.median(samples)
        spread = f"{min(samples) * 1000:.0f} .. {max(samples) * 1000:.0f} ms"
        print(f"{label:<52} {median * 1000:>6.0f} ms {spread:>19} {median / bare:>13.1f}x")


if __name__ == "__main__":
    main()
