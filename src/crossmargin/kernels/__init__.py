"""Compiled (numba) twins of hot paths over struct-of-arrays, each held equal to its plain-Python reference.

- ``layout``: the array layouts (``MarketData``, ``BookArrays``, the scan's ``Trigger`` and ``ScanResult``)
  and ``pack_book``, which builds a book's arrays from model values. numpy only: no numba.
- ``scan``: the backtest's inner loop; reference ``crossmargin.sim.scan.scan_reference``.
- ``batch`` (Python side) and ``batch_nb`` (its numba kernel): many accounts re-marked in one pass; reference
  ``batch.remark_reference``.
- ``montecarlo``: paths drawn in the kernel and the first liquidation step of each pool on them; reference
  ``montecarlo.first_breach_reference``.
- ``signals``: a whole signal array run as a backtest (``crossmargin.sim.signals.run_signals``); reference the
  per-bar engine (``crossmargin.sim.backtest.run_backtest``).

Importing the package imports none of them: the modules are imported where they are used, so that reading
market data or packing a book never loads numba.
"""
