"""The batch re-mark's cached brackets along a real mark walk: each step equals a fresh pack and the reference.

Marks: Binance BTCUSDT mark-price 1h closes of 2025-10-08 .. 2025-10-14 (the crash of 10 October: 109.6k ..
124.0k) and the first 150 DOGEUSDT 1h mark closes from 2026-02-22, both shipped in ``tests/data`` (see its
PROVENANCE.md), paired row by row. Sizes put each position's notional on one of its symbol's bracket caps
at a mark inside the walk's range, so the walk carries positions across caps up and down.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crossmargin.errors import BeyondTableError
from crossmargin.kernels.batch import BatchBook, pack_accounts, remark, remark_reference
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.venues import get_rules

DATA = Path(__file__).resolve().parent.parent / "data"
SYMBOLS = ("BTCUSDT", "DOGEUSDT")
STEPS = 150
LEVERAGE = 5.0


def _walk() -> np.ndarray:
    """Return the marks (quote), shape ``(STEPS, 2)``: one column per symbol of ``SYMBOLS``."""
    btc = np.asarray(pd.read_parquet(DATA / "BTCUSDT-mark-1h-2025-10-08.parquet")["close"])
    doge = np.asarray(pd.read_parquet(DATA / "DOGEUSDT-mark-1h-2026-02-22.parquet")["close"])
    return np.column_stack([btc[:STEPS], doge[:STEPS]]).astype(np.float64)


def _accounts(walk: np.ndarray) -> list[Account]:
    """Return 9 accounts, each one BTCUSDT and one DOGEUSDT position sized onto a bracket cap of its symbol.

    Account k: caps[k // 3] reached at the (25, 50, 75)[k % 3] percentile of the walk; long BTC and short DOGE
    for even k (the reverse for odd); both cross (k % 3 == 0), BTC isolated (1) or both isolated (2).
    """
    rules = get_rules("binance")
    accounts = []
    for k in range(9):
        positions = []
        for column, symbol in enumerate(SYMBOLS):
            cap = rules.instrument(symbol).brackets[k // 3].cap
            level = float(np.percentile(walk[:, column], (25, 50, 75)[k % 3]))
            size = cap / level
            entry = float(walk[0, column]) * (0.97 if k % 2 else 1.03)
            isolated = (k % 3 == 1 and column == 0) or k % 3 == 2
            long = (k % 2 == 0) == (column == 0)
            positions.append(
                Position(
                    symbol=symbol,
                    side=Side.LONG if long else Side.SHORT,
                    size=size,
                    entry_price=entry,
                    leverage=LEVERAGE,
                    mode=MarginMode.ISOLATED if isolated else MarginMode.CROSS,
                    isolated_margin=size * entry / LEVERAGE * 1.2 if isolated else None,
                )
            )
        gross = sum(p.size * p.entry_price for p in positions)
        isolated_total = sum(p.isolated_margin or 0.0 for p in positions)
        accounts.append(
            Account(venue="binance", wallet_balance=isolated_total + 0.12 * gross, positions=tuple(positions))
        )
    return accounts


def _brackets(book: BatchBook, marks: np.ndarray) -> np.ndarray:
    """Return each position's bracket at ``marks`` as its table finds it (first cap above the notional)."""
    found = []
    for i in range(book.positions):
        start, stop = book.table_start[book.table[i]], book.table_start[book.table[i] + 1]
        notional = book.size[i] * marks[book.symbol[i]]
        found.append(int(np.argmax(notional < book.caps[start:stop])))
    return np.array(found)


def test_a_walk_across_bracket_caps_equals_a_fresh_pack_at_every_step() -> None:
    """Cached brackets (re-searched when the notional leaves them) give a fresh pack's figures, bit for bit."""
    rules = get_rules("binance")
    walk = _walk()
    held = _accounts(walk)
    book = pack_accounts(held, rules, SYMBOLS)
    ups = downs = 0
    before = book.bracket.astype(np.int64)
    for step in range(STEPS):
        walked = remark(book, walk[step])
        fresh = remark(pack_accounts(held, rules, SYMBOLS), walk[step])
        for name in ("margin_balance", "requirement", "margin_ratio", "liquidated", "priced", "liquidation_price"):
            np.testing.assert_array_equal(getattr(walked, name), getattr(fresh, name), err_msg=f"{name} at {step}")
        now = book.bracket.astype(np.int64)
        np.testing.assert_array_equal(now, _brackets(book, walk[step]))
        if step:
            ups += int(np.sum(now > before))
            downs += int(np.sum(now < before))
        before = now
        if step % 10 == 0:
            want = remark_reference(held, rules, Marks(dict(zip(SYMBOLS, walk[step].tolist(), strict=True))))
            np.testing.assert_allclose(walked.margin_balance, want.margin_balance, rtol=1e-12)
            np.testing.assert_allclose(walked.requirement, want.requirement, rtol=1e-12)
            np.testing.assert_allclose(walked.margin_ratio, want.margin_ratio, rtol=1e-12)
            np.testing.assert_array_equal(walked.liquidated, want.liquidated)
            np.testing.assert_allclose(walked.liquidation_price, want.liquidation_price, rtol=1e-9, equal_nan=True)
    assert ups >= 50  # 84 crossings up and 102 down on this walk
    assert downs >= 50


def test_a_cached_last_bracket_is_still_refused_past_the_cap() -> None:
    """A position whose hint is its table's last bracket is refused once the mark carries it past the cap."""
    rules = get_rules("binance")
    instrument = rules.instrument("DOGEUSDT")
    mark = 0.1
    size = 0.99 * instrument.last_cap / mark
    held = [
        Account(
            venue="binance",
            wallet_balance=1e9,
            positions=(Position(symbol="DOGEUSDT", side=Side.SHORT, size=size, entry_price=mark, leverage=1.0),),
        )
    ]
    book = pack_accounts(held, rules, ("DOGEUSDT",))
    remark(book, np.array([mark]), liquidation_prices=False)
    assert int(book.bracket[0]) == len(instrument.brackets) - 1
    with pytest.raises(BeyondTableError, match=r"accounts\[0\]\.positions\[0\]\.size"):
        remark(book, np.array([1.02 * mark]), liquidation_prices=False)
