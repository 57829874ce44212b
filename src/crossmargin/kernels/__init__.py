"""Compiled (numba) twins of hot paths over struct-of-arrays, each held equal to its plain-Python reference.

- ``layout``: the array layouts (``MarketData``, ``BookArrays``, the scan's ``Trigger`` and ``ScanResult``)
  and ``pack_book``, which builds a book's arrays from model values. numpy only: no numba.
- ``scan``: the backtest's inner loop; reference ``crossmargin.sim.scan.scan_reference``.
- ``batch``: many accounts re-marked in one pass; reference ``batch.remark_reference``.
- ``montecarlo``: first liquidation step of each pool on simulated paths; reference
  ``montecarlo.first_breach_reference``.

Importing the package imports none of them: the modules are imported where they are used, so that reading
market data or packing a book never loads numba.
"""
