"""``portfolio.all_cross`` / ``all_isolated``: the recasts keep what the file says of a position already in the mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossmargin.errors import InputError
from crossmargin.margin.account import evaluate
from crossmargin.model import Account, MarginMode
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from tests.fixtures.harness import CASE_STUDY

#: The ETH short of the case study isolated on 2,300 USDT (entry notional / leverage would be 2,104.65).
ETH_CROSS = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"'
ETH_ISOLATED = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 2300'


@pytest.fixture
def mixed(tmp_path: Path) -> Portfolio:
    """The case study with the ETH short isolated at 2,300 USDT (BTC and SOL stay cross)."""
    text = CASE_STUDY.read_text(encoding="utf-8")
    assert ETH_CROSS in text
    path = tmp_path / "mixed.toml"
    path.write_text(text.replace(ETH_CROSS, ETH_ISOLATED), encoding="utf-8")
    return load_portfolio(path)


def test_all_isolated_keeps_the_files_isolated_margin(mixed: Portfolio) -> None:
    recast = all_isolated(mixed.account)
    btc, eth, sol = recast.positions
    assert {p.mode for p in recast.positions} == {MarginMode.ISOLATED}
    assert eth.isolated_margin == 2300.0
    assert eth == mixed.account.positions[1]  # untouched
    assert btc.isolated_margin == pytest.approx(0.15 * 68_241.4 / 5, rel=1e-12)  # 2,047.242
    assert sol.isolated_margin == pytest.approx(100 * 83.15 / 5, rel=1e-12)  # 1,663.00
    assert recast.wallet_balance == mixed.account.wallet_balance


def test_the_isolated_figures_use_2300_and_equal_the_book_as_given(mixed: Portfolio) -> None:
    as_given = evaluate(mixed.account, mixed.marks, mixed.rules).positions[1]
    isolated = evaluate(all_isolated(mixed.account), mixed.marks, mixed.rules).positions[1]
    assert as_given.liquidation_price is not None
    # Binance's isolated short in bracket 1 (MMR 0.4 %, cum 0): LP = (WB + q E) / (q MMR + q), WB = 2,300.
    assert as_given.liquidation_price == pytest.approx((2300 + 5 * 2104.65) / (5 * 0.004 + 5), rel=1e-12)
    assert isolated.liquidation_price == as_given.liquidation_price
    assert isolated.distance_to_liquidation == as_given.distance_to_liquidation
    # The 2,104.65 margin that entry notional / leverage gives is liquidated on a smaller rise.
    default = evaluate(all_isolated(load_portfolio(CASE_STUDY).account), mixed.marks, mixed.rules).positions[1]
    assert default.isolated_margin == pytest.approx(2104.65, rel=1e-12)
    assert default.liquidation_price is not None
    assert default.liquidation_price < as_given.liquidation_price


def test_an_all_isolated_book_is_its_own_isolated_recast(mixed: Portfolio) -> None:
    isolated = all_isolated(mixed.account)
    assert all_isolated(isolated) == isolated
    cross = all_cross(mixed.account)
    assert all_cross(cross) == cross
    assert all(p.isolated_margin is None for p in cross.positions)


def test_a_wallet_that_cannot_fund_the_recast_is_refused_by_field(mixed: Portfolio) -> None:
    # 2,300 (ETH, kept) + 2,047.24 (BTC) + 1,663.00 (SOL) = 6,010.24 USDT of isolated margin.
    small = Account(venue="binance", wallet_balance=6_000.0, positions=mixed.account.positions)
    with pytest.raises(InputError, match=r"^wallet_balance: .*6,010\.24") as raised:
        all_isolated(small)
    assert raised.value.field == "wallet_balance"
