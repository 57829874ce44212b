"""What every command shares: the one-line error, strict JSON values, and tables printed uncut.

Faces only (``cli.py``, ``data/cli.py``, ``risk/*_cli.py``): nothing here computes a figure.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any

import typer
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from crossmargin.model import AccountRisk

__all__ = ["fail", "format_money", "format_price", "jsonable", "print_whole", "risk_json"]


def fail(error: Exception, context: str = "") -> typer.Exit:
    """Print ``error: [context: ]message`` as ONE line on stderr and return the exit (code 2) to raise."""
    prefix = f"{context}: " if context else ""
    print(f"error: {prefix}{' '.join(str(error).split())}", file=sys.stderr)
    return typer.Exit(code=2)


def format_money(value: float | None) -> str:
    """Return an amount (quote currency) with 2 decimals and thousands separators; '--' where there is none.

    An amount that rounds to zero prints as 0.00, never -0.00.
    """
    if value is None or not math.isfinite(value):
        return "--"
    rounded = round(value, 2)
    return f"{rounded if rounded != 0 else 0.0:,.2f}"


def format_price(value: float | None) -> str:
    """Return a price (quote currency) as tables print it: 2 decimals from 1,000, 4 from 1, else 6 digits.

    '--' where there is none (None or not finite).
    """
    if value is None or not math.isfinite(value):
        return "--"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    if abs(value) >= 1:
        return f"{value:,.4f}"
    return f"{value:.6g}"


def jsonable(value: Any) -> Any:
    """Return ``value`` with non-finite floats as None, so that the output is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def print_whole(table: Table) -> None:
    """Print ``table`` at its natural width even where the terminal is narrower: a figure is never cut."""
    console = Console()
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if needed > console.width:
        console = Console(width=needed)
    console.print(table)


def risk_json(risk: AccountRisk) -> dict[str, Any]:
    """Return the public ``--json`` object of one evaluated account (the contract keys, strict JSON)."""
    result: dict[str, Any] = jsonable(dataclasses.asdict(risk))
    del result["pool_ratios"]
    return result
