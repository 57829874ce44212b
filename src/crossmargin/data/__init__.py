"""Market data: load bar and funding files, validate them, store them, download them through ccxt.

Bars are frames with ``timestamp`` (int64, bar open time in ms since the Unix epoch, UTC), ``open, high,
low, close`` (float64, quote currency) and ``volume`` (float64, base units). Funding frames have
``timestamp`` (ms UTC) and ``funding_rate`` (a fraction per settlement). Modules:

- ``load``: :func:`load_bars`, :func:`load_funding`, :func:`bars_from_ccxt` (formats in its docstring);
- ``validate``: :func:`validate_bars`, :func:`validate_funding`, :func:`interval_ms`;
- ``store``: :class:`DataStore`, :func:`default_data_dir`, and the shipped real sample
  (:func:`sample_frames`, :func:`sample_funding`, :func:`sample_path`);
- ``download``: :func:`download_bars`, :func:`download_funding`, :func:`make_exchange`.

The ``crossmargin data`` commands are in ``crossmargin.cli.data``. The names below are imported on first use,
so that importing this package does not load pandas, pyarrow or ccxt.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crossmargin.data.download import download_bars, download_funding, make_exchange
    from crossmargin.data.load import bars_from_ccxt, funding_from_ccxt, load_bars, load_funding
    from crossmargin.data.store import (
        DataStore,
        default_data_dir,
        sample_frames,
        sample_funding,
        sample_names,
        sample_path,
    )
    from crossmargin.data.validate import interval_ms, iso_utc, validate_bars, validate_funding

__all__ = [
    "DataStore",
    "bars_from_ccxt",
    "default_data_dir",
    "download_bars",
    "download_funding",
    "funding_from_ccxt",
    "interval_ms",
    "iso_utc",
    "load_bars",
    "load_funding",
    "make_exchange",
    "sample_frames",
    "sample_funding",
    "sample_names",
    "sample_path",
    "validate_bars",
    "validate_funding",
]

_HOMES = {
    "download_bars": "download",
    "download_funding": "download",
    "make_exchange": "download",
    "bars_from_ccxt": "load",
    "funding_from_ccxt": "load",
    "load_bars": "load",
    "load_funding": "load",
    "DataStore": "store",
    "default_data_dir": "store",
    "sample_frames": "store",
    "sample_funding": "store",
    "sample_names": "store",
    "sample_path": "store",
    "interval_ms": "validate",
    "iso_utc": "validate",
    "validate_bars": "validate",
    "validate_funding": "validate",
}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'crossmargin.data' has no attribute {name!r}")
    return getattr(import_module(f"crossmargin.data.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
