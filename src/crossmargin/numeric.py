"""Tolerances, finiteness checks and quantisation, in one place.

All arithmetic is float64. Roundoff accumulates where a liquidation price is solved from sums of large
notionals with small differences (a hedged cross account): the solver's relative error is of the order of
``1e-16 x (sum of |notional|) / |denominator|``, which is why the property tests hold the margin ratio at a
reported liquidation price to 1e-9, not to machine precision.
"""

from __future__ import annotations

import math
from typing import Literal

from crossmargin.errors import InputError

__all__ = ["NEGLIGIBLE", "REL_TOL", "is_close", "quantise", "require_finite", "require_positive"]

#: Relative tolerance used when comparing computed money or price figures.
REL_TOL = 1e-9

#: A solved price below this fraction of the entry price is roundoff of a zero (e.g. a 1x position whose
#: wallet equals its notional up to the last bit), not a price: it is reported as "no price".
NEGLIGIBLE = 1e-12


def is_close(a: float, b: float, *, rel_tol: float = REL_TOL, abs_tol: float = 0.0) -> bool:
    """Return True when ``a`` and ``b`` agree within ``rel_tol`` (fraction) or ``abs_tol`` (units of a)."""
    return math.isclose(a, b, rel_tol=rel_tol, abs_tol=abs_tol)


def require_finite(field: str, value: object) -> float:
    """Return ``value`` as a float when it is a finite real number; raise InputError naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(field, value, "a finite number", detail=f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(field, value, "a finite number", detail=f"{value!r} is not finite")
    return number


def require_positive(field: str, value: object, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a float when finite and > 0 (>= 0 with ``allow_zero``); else raise InputError."""
    number = require_finite(field, value)
    if number < 0 or (number == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise InputError(field, value, f"a finite number {allowed}", detail=f"{value!r} is not {allowed}")
    return number


def quantise(value: float, step: float, direction: Literal["nearest", "up", "down"] = "nearest") -> float:
    """Return ``value`` rounded to a multiple of ``step`` (same unit), towards ``direction``."""
    if step <= 0:
        raise ValueError(f"step must be > 0, got {step!r}")
    units = value / step
    if direction == "up":
        rounded = math.ceil(units - 1e-9)
    elif direction == "down":
        rounded = math.floor(units + 1e-9)
    else:
        rounded = round(units)
    return rounded * step
