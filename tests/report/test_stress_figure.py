"""``report.stress_figure``: the heat map's boundaries and colours held against ``evaluate`` and ``stress_grid``."""

from __future__ import annotations

import numpy as np
import pytest

from crossmargin.margin.account import evaluate
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, Marks
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from crossmargin.report.stress_figure import grid_heatmap
from crossmargin.risk.stress import grid_moves, stress_grid
from tests.fixtures.harness import CASE_STUDY

#: The case study's ETH short, and the same short isolated on 2,300 USDT (entry notional / leverage: 2,104.65).
ETH_CROSS = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"'
ETH_ISOLATED = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 2300'


@pytest.fixture(scope="module")
def case_study() -> Portfolio:
    return load_portfolio(CASE_STUDY)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Portfolio:
    """The case study with the ETH short isolated at 2,300 USDT; BTC and SOL stay cross."""
    text = CASE_STUDY.read_text(encoding="utf-8")
    assert ETH_CROSS in text
    path = tmp_path_factory.mktemp("books") / "mixed.toml"
    path.write_text(text.replace(ETH_CROSS, ETH_ISOLATED), encoding="utf-8")
    return load_portfolio(path)


def _views(account: Account, marks: Marks, portfolio: Portfolio) -> list[float]:
    risk = evaluate(account, marks, portfolio.rules)
    return [risk_view(portfolio.rules, ratio) for ratio in risk.pool_ratios]


def _shocked(portfolio: Portfolio, moves: dict[str, float]) -> Marks:
    return Marks({s: p * (1.0 + moves.get(s, 0.0)) for s, p in portfolio.marks.prices.items()})


def test_heat_map_boundaries_agree_with_evaluate(case_study: Portfolio) -> None:
    moves = grid_moves(0.9, 0.1)  # wide enough for the cross account to fail (ETH short, BTC long)
    figure = grid_heatmap(case_study, "BTCUSDT", "ETHUSDT", moves)
    heat = next(t for t in figure.data if t.type == "heatmap")
    contours = [t.name for t in figure.data if t.type == "contour"]
    assert contours == [
        "as given: a position liquidated",
        "what if all cross: account liquidated",
        "what if all isolated: a position liquidated",
    ]
    lines = {t.name: np.asarray(t.z) for t in figure.data if t.type == "contour"}
    cross_z = lines["what if all cross: account liquidated"]
    isolated_z = lines["what if all isolated: a position liquidated"]
    np.testing.assert_array_equal(lines["as given: a position liquidated"], cross_z)  # the case study is all cross
    cross, isolated = all_cross(case_study.account), all_isolated(case_study.account)
    checked = {"cross": 0, "isolated": 0}
    for name, z, account, combine in (
        ("cross", cross_z, cross, all),
        ("isolated", isolated_z, isolated, any),
    ):
        inside = z >= 1.0
        for i in range(len(moves)):
            for j in range(len(moves)):
                neighbours = [
                    inside[a, b]
                    for a, b in ((i - 1, j), (i + 1, j), (i, j - 1), (i, j + 1))
                    if 0 <= a < len(moves) and 0 <= b < len(moves)
                ]
                if all(n == inside[i, j] for n in neighbours):
                    continue  # not a boundary cell
                marks = _shocked(case_study, {"BTCUSDT": moves[j], "ETHUSDT": moves[i]})
                assert bool(inside[i, j]) == combine(v >= 1 for v in _views(account, marks, case_study))
                assert heat.z[i][j] == evaluate(account, marks, case_study.rules).account.margin_balance
                checked[name] += 1
    assert checked["cross"] > 0
    assert checked["isolated"] > 0
    assert "Visual guide" in figure.layout.title.text


def test_as_given_boundary_is_the_grids_liquidated_cells(mixed: Portfolio) -> None:
    moves = grid_moves(0.2, 0.1)
    grid = stress_grid(mixed, "BTCUSDT", "ETHUSDT", moves)
    figure = grid_heatmap(mixed, "BTCUSDT", "ETHUSDT", moves)
    as_given = next(t for t in figure.data if t.type == "contour")
    assert as_given.name == "as given: a position liquidated"
    assert (np.asarray(as_given.z) >= 1).tolist() == grid.as_given_liquidated.tolist()
