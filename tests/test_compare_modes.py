"""``compare_modes``: the book as given, then what if all cross and all isolated, for every face."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crossmargin.errors import InputError
from crossmargin.model import MarginMode
from crossmargin.portfolio import MODES, compare_modes, load_portfolio
from tests.fixtures.harness import CASE_STUDY


def test_the_three_books_in_order_and_the_file_margin_kept() -> None:
    account = load_portfolio(CASE_STUDY).account
    eth = next(p for p in account.positions if p.symbol == "ETHUSDT")
    mixed = replace(
        account,
        positions=tuple(
            replace(p, mode=MarginMode.ISOLATED, isolated_margin=2_300.0) if p is eth else p for p in account.positions
        ),
    )
    compared = compare_modes(mixed)
    assert tuple(compared.books) == MODES
    assert compared.books["as_given"] is mixed
    assert {p.mode for p in compared.books["cross"].positions} == {MarginMode.CROSS}
    isolated = compared.books["isolated"].positions
    assert {p.mode for p in isolated} == {MarginMode.ISOLATED}
    assert next(p for p in isolated if p.symbol == "ETHUSDT").isolated_margin == 2_300.0  # the file's, kept
    assert compared.notes == ()
    # an all-cross book is its own cross recast
    assert compare_modes(account).same_as("cross") == "as_given"
    assert compared.same_as("cross") == "cross"


def test_an_unfundable_isolated_recast_is_left_out_with_a_note() -> None:
    account = load_portfolio(CASE_STUDY).account
    poor = replace(account, wallet_balance=100.0)
    compared = compare_modes(poor, ("cross", "isolated"))
    assert tuple(compared.books) == ("cross",)
    (note,) = compared.notes
    assert note.startswith("isolated: not evaluated, the wallet cannot fund every position isolated")


def test_an_unknown_mode_names_the_field() -> None:
    with pytest.raises(InputError, match="modes: 'hedged' is not allowed"):
        compare_modes(load_portfolio(CASE_STUDY).account, ("hedged",))


def test_strict_raises_the_wallet_error_instead() -> None:
    poor = replace(load_portfolio(CASE_STUDY).account, wallet_balance=100.0)
    with pytest.raises(InputError, match="wallet_balance"):
        compare_modes(poor, strict=True)
