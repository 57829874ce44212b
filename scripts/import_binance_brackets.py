"""Convert Binance USDⓈ-M leverage brackets (ccxt ``fetch_leverage_tiers`` output) to package data.

Usage::

    python scripts/import_binance_brackets.py SOURCE.json src/crossmargin/venues/data/binance_usdm.json

SOURCE.json is a map from ccxt symbol (``BTC/USDT:USDT``) to tiers carrying Binance's raw ``info``
(``notionalFloor``, ``notionalCap``, ``maintMarginRatio``, ``cum``, ``initialLeverage``), as shipped by
freqtrade (``freqtrade/exchange/binance_leverage_tiers.json``). Only linear perpetuals (settled in their
quote currency, no expiry) are kept; they are keyed by Binance's own symbol id (``BTCUSDT``).

This script is a maintainer tool: the package never reads SOURCE.json at run time.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SOURCE = (
    "Binance GET /fapi/v1/leverageBracket via ccxt fetch_leverage_tiers, as shipped in "
    "freqtrade 2026.9 (freqtrade/exchange/binance_leverage_tiers.json)"
)
AS_OF = "2026-09"


def convert(raw: dict[str, list[dict[str, object]]]) -> dict[str, object]:
    """Return the package table: ``{"symbols": {id: {"base", "quote", "brackets": [[floor, cap, mmr, cum, lev]]}}}``."""
    symbols: dict[str, object] = {}
    for ccxt_symbol, tiers in sorted(raw.items()):
        pair, _, settle = ccxt_symbol.partition(":")
        base, _, quote = pair.partition("/")
        if settle != quote:  # inverse contracts and dated futures are out of scope
            continue
        rows = []
        for tier in tiers:
            info = tier["info"]
            assert isinstance(info, dict)
            rows.append(
                [
                    float(info["notionalFloor"]),
                    float(info["notionalCap"]),
                    float(info["maintMarginRatio"]),
                    float(info["cum"]),
                    int(info["initialLeverage"]),
                ]
            )
        symbols[f"{base}{quote}"] = {"base": base, "quote": quote, "brackets": rows}
    return {
        "venue": "binance",
        "market": "USDⓈ-M linear perpetuals",
        "columns": ["floor", "cap", "mm_rate", "maint_amount", "max_leverage"],
        "units": "floor/cap/maint_amount in quote currency (notional); mm_rate a fraction",
        "source": SOURCE,
        "as_of": AS_OF,
        "symbols": symbols,
    }


def main(argv: list[str]) -> int:
    source, target = Path(argv[1]), Path(argv[2])
    table = convert(json.loads(source.read_text()))
    target.write_text(json.dumps(table, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"wrote {len(table['symbols'])} symbols to {target}")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
