"""Pure formats shared by the faces and the reports: money, prices, strict JSON values.

No terminal, no exit codes here (those are in ``crossmargin.cli.render``): ``report/`` and ``web/`` import
this module too, and nothing here computes a figure.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from crossmargin.model import AccountRisk

__all__ = ["format_money", "format_percent", "format_price", "jsonable", "risk_json"]


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


def format_percent(value: float | None, digits: int = 2, *, nan: str = "--", infinite: str = "bankrupt") -> str:
    """Return a fraction as a percentage with ``digits`` decimals (0.0123 -> '1.23%').

    None and NaN print as '--' (``nan``); an infinite value as ``infinite``: 'bankrupt' by default, since
    the infinite figures shown are margin ratios of a pool whose margin balance is at or below zero.
    """
    if value is None:
        return "--"
    if math.isnan(value):
        return nan
    if math.isinf(value):
        return infinite
    return f"{value * 100:.{digits}f}%"


def jsonable(value: Any) -> Any:
    """Return ``value`` with non-finite floats as None, so that the output is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return value


def risk_json(risk: AccountRisk) -> dict[str, Any]:
    """Return the public ``--json`` object of one evaluated account (the contract keys, strict JSON)."""
    result: dict[str, Any] = jsonable(dataclasses.asdict(risk))
    del result["pool_ratios"]
    return result
