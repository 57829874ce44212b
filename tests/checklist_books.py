"""The case-study books the checklist tests judge: the case study and copies with one mode swapped."""

from __future__ import annotations

from pathlib import Path

from crossmargin.portfolio import Portfolio, load_portfolio
from tests.harness import CASE_STUDY

CASE = CASE_STUDY
PATHS = 400  # small: the tests check agreement with the library, not the odds' precision
#: Text swaps on the case study: one position's mode (and isolated margin) changed.
ETH_CROSS = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"'
ETH_ISOLATED = ETH_CROSS.replace('"cross"', '"isolated"\nisolated_margin = 2300')
BTC_ISOLATED = (
    'entry_price = 68241.4\nleverage = 5\nmargin_mode = "cross"',
    'entry_price = 68241.4\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 4000',
)
SOL_ISOLATED = (
    'entry_price = 83.15\nleverage = 5\nmargin_mode = "cross"',
    'entry_price = 83.15\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 3700',
)
#: The swaps that give the beyond-the-last-bracket book: a 2,000,000 SOL short on a 400M wallet.
BEYOND = (
    ("wallet_balance = 10000", "wallet_balance = 400000000"),
    (
        'side = "long"\nsize = 100                        # SOL\nentry_price = 83.15\nleverage = 5',
        'side = "short"\nsize = 2000000\nentry_price = 83.15\nleverage = 1',
    ),
)


def copy_case(path: Path, *swaps: tuple[str, str]) -> Portfolio:
    """Return the case study with each (old, new) text swapped, loaded from ``path``."""
    text = CASE.read_text(encoding="utf-8")
    for old, new in swaps:
        assert old in text
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return load_portfolio(path)
