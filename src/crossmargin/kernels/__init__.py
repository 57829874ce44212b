"""Compiled (numba) twins of hot paths over struct-of-arrays, each held equal to its plain-Python reference.

- ``layout``: the array layouts (``BookArrays``) and ``pack_book``, which builds them from model values.
- ``scan``: the backtest's inner loop; reference ``crossmargin.sim.scan.scan_reference``.

Importing this package imports numba; the check path (``margin/``, ``venues/``) never does.
"""

from __future__ import annotations

from crossmargin.kernels.layout import BookArrays, pack_book
from crossmargin.kernels.scan import scan

__all__ = ["BookArrays", "pack_book", "scan"]
