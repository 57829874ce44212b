"""``risk.stress`` and ``crossmargin stress``: figures held against direct ``evaluate`` calls or the shipped bars."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossmargin.cli.risk import register
from crossmargin.errors import DataError, InputError
from crossmargin.margin.account import evaluate
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from crossmargin.risk.stress import (
    CORRELATION_BREAKS,
    MODES,
    Scenario,
    base_of,
    episode_coverage,
    episodes,
    grid_moves,
    historical_scenarios,
    hypothetical_scenarios,
    peak_to_trough,
    run_stress,
    shock_grid,
    stress_grid,
    worst_joint_move,
)
from crossmargin.venues import get_rules
from tests.fixtures.harness import CASE_STUDY, command_app
from tests.fixtures.strategies import accounts

RUNNER = CliRunner()
#: The case study's ETH short, and the same short isolated on 2,300 USDT (entry notional / leverage: 2,104.65).
ETH_CROSS = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "cross"'
ETH_ISOLATED = 'entry_price = 2104.65\nleverage = 5\nmargin_mode = "isolated"\nisolated_margin = 2300'

#: Peak-to-trough moves (%) of shared/data/PROVENANCE.md's table 'Crash episodes covered', 0.1 % precision.
PUBLISHED = {
    "2020-03-12": {"BTC": -54.7, "ETH": -73.9},
    "2021-05-19": {"BTC": -37.4, "ETH": -60.8, "SOL": -54.6},
    "2022-06": {"BTC": -42.1, "ETH": -51.3, "SOL": -36.8},
    "2022-11": {"BTC": -28.0, "ETH": -35.7, "SOL": -68.1},
    "2024-08-05": {"BTC": -25.4, "ETH": -34.3, "SOL": -35.5},
    "2025-10-10": {"BTC": -17.1, "ETH": -22.6, "SOL": -37.0},
}


@pytest.fixture(scope="module")
def case_study() -> Portfolio:
    return load_portfolio(CASE_STUDY)


@pytest.fixture(scope="module")
def mixed_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The case study with the ETH short isolated at 2,300 USDT; BTC and SOL stay cross."""
    text = CASE_STUDY.read_text(encoding="utf-8")
    assert ETH_CROSS in text
    path = tmp_path_factory.mktemp("books") / "mixed.toml"
    path.write_text(text.replace(ETH_CROSS, ETH_ISOLATED), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def mixed(mixed_path: Path) -> Portfolio:
    return load_portfolio(mixed_path)


def _as_given(account: Account) -> Account:
    return account


def _views(account: Account, marks: Marks, portfolio: Portfolio) -> list[float]:
    risk = evaluate(account, marks, portfolio.rules)
    return [risk_view(portfolio.rules, ratio) for ratio in risk.pool_ratios]


def _shocked(portfolio: Portfolio, moves: dict[str, float]) -> Marks:
    return Marks({s: p * (1.0 + moves.get(s, 0.0)) for s, p in portfolio.marks.prices.items()})


# --- scenarios ----------------------------------------------------------------------------------------


def test_scenario_applies_returns_to_todays_marks_and_holds_the_rest() -> None:
    marks = Marks({"BTCUSDT": 80_000.0, "ETHUSDT": 2_000.0})
    shocked = Scenario("s", {"BTCUSDT": -0.25}, "custom", "test").apply(marks)
    assert shocked.price("BTCUSDT") == pytest.approx(60_000.0)  # 80,000 x (1 - 0.25)
    assert shocked.price("ETHUSDT") == 2_000.0  # no move: keeps its mark


@pytest.mark.parametrize("move", [-1.0, -1.5, math.nan, math.inf])
def test_scenario_refuses_a_move_that_is_not_a_return_above_minus_one(move: float) -> None:
    with pytest.raises(InputError, match=r"moves\.BTCUSDT"):
        Scenario("s", {"BTCUSDT": move}, "custom", "test")


@pytest.mark.parametrize(
    ("symbol", "base"),
    [("BTCUSDT", "BTC"), ("BTC-USDT-SWAP", "BTC"), ("BTC", "BTC"), ("ETH/USDT:USDT", "ETH"), ("SOLUSDC", "SOL")],
)
def test_base_of_venue_spellings(symbol: str, base: str) -> None:
    assert base_of(symbol) == base


def test_shock_grid_is_y_outer_x_inner_with_others_held() -> None:
    grid = shock_grid("BTCUSDT", "ETHUSDT", [-0.1, 0.0, 0.1])
    assert len(grid) == 9
    assert dict(grid[1].moves) == {"BTCUSDT": 0.0, "ETHUSDT": -0.1}  # row 0 (y = -10 %), column 1 (x = 0)
    assert grid[1].move("SOLUSDT") == 0.0


@pytest.mark.parametrize(
    ("extent", "step", "field"),
    [(0.0, 0.05, "range"), (1.0, 0.05, "range"), (-0.2, 0.05, "range"), (0.3, 0.07, "step"), (0.3, 0.0, "step")],
)
def test_grid_moves_refuses_bad_ranges_and_steps(extent: float, step: float, field: str) -> None:
    with pytest.raises(InputError, match=f"^{field}:"):
        grid_moves(extent, step)


def test_grid_moves_are_symmetric_with_an_exact_zero() -> None:
    moves = grid_moves(0.3, 0.05)
    assert len(moves) == 13
    assert moves[6] == 0.0
    assert moves[0] == pytest.approx(-0.3)
    assert moves[-1] == pytest.approx(0.3)


# --- historical episodes ------------------------------------------------------------------------------


def test_episode_slices_reproduce_the_published_peak_to_trough_table() -> None:
    for episode in episodes():
        assert set(episode.bars) == set(PUBLISHED[episode.id])
        for base, published in PUBLISHED[episode.id].items():
            assert round(peak_to_trough(episode.frame(base)) * 100, 1) == published, (episode.id, base)


def test_historical_moves_equal_min_over_max_of_the_shipped_bars() -> None:
    symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    scenarios = {s.name: s for s in historical_scenarios(symbols)}
    assert len(scenarios) == 10  # 5 episodes with SOL bars x (peak-to-trough, worst joint hour)
    for episode in episodes():
        if "SOL" not in episode.bars:
            assert f"{episode.id} peak-to-trough" not in scenarios
            continue
        frames = {base: episode.frame(base) for base in ("BTC", "ETH", "SOL")}
        fall = scenarios[f"{episode.id} peak-to-trough"]
        for symbol, base in zip(symbols, ("BTC", "ETH", "SOL"), strict=True):
            high, low = frames[base]["high"].to_numpy(), frames[base]["low"].to_numpy()
            assert int(np.argmax(high)) <= int(np.argmin(low))  # the peak comes first in every window
            assert fall.move(symbol) == pytest.approx(low.min() / high.max() - 1.0, rel=1e-12)
        # Worst joint hour: the basket of close / first open - 1, at its lowest close.
        start = {base: frames[base]["open"].iloc[0] for base in frames}
        returns = {base: frames[base]["close"].to_numpy() / start[base] - 1.0 for base in frames}
        at = int(np.argmin((returns["BTC"] + returns["ETH"] + returns["SOL"]) / 3))
        joint = scenarios[f"{episode.id} worst joint hour"]
        for symbol, base in zip(symbols, ("BTC", "ETH", "SOL"), strict=True):
            assert joint.move(symbol) == pytest.approx(returns[base][at], rel=1e-12)


def test_historical_scenarios_map_venue_spellings_to_the_same_moves() -> None:
    binance = historical_scenarios(["BTCUSDT", "ETHUSDT"])
    okx = historical_scenarios(["BTC-USDT-SWAP", "ETH-USDT-SWAP"])
    assert len(binance) == len(okx) == 12  # all six episodes hold BTC and ETH
    for b, o in zip(binance, okx, strict=True):
        assert b.move("BTCUSDT") == o.move("BTC-USDT-SWAP")
        assert b.move("ETHUSDT") == o.move("ETH-USDT-SWAP")


def test_uncovered_symbols_get_no_historical_scenario() -> None:
    assert historical_scenarios(["DOGEUSDT", "BTCUSDT"]) == []
    assert episode_coverage(["DOGEUSDT"])["2022-11"] == ("DOGE",)
    assert episode_coverage(["BTC", "SOL"])["2020-03-12"] == ("SOL",)


def test_worst_joint_move_refuses_misaligned_bars() -> None:
    frames = {"BTC": episodes()[0].frame("BTC"), "ETH": episodes()[0].frame("ETH").iloc[1:]}
    with pytest.raises(DataError, match="do not cover the same hours"):
        worst_joint_move(frames)


# --- hypothetical set and run_stress ------------------------------------------------------------------


def test_hypothetical_set_holds_correlation_breaks_both_ways() -> None:
    names = {s.name for s in hypothetical_scenarios(["BTCUSDT", "ETHUSDT"])}
    assert {"BTC +8% / ETH -8%", "BTC -8% / ETH +8%", "alts -50% / BTC -20%", "OKX MR6 extreme down"} <= names
    assert "BTC -5% / SOL -25%" not in names  # needs SOL in the book


def test_correlation_break_liquidates_the_isolated_eth_short_but_not_the_cross_account(case_study: Portfolio) -> None:
    breaks = [s for s in hypothetical_scenarios(case_study.marks.prices) if s.name in dict(CORRELATION_BREAKS)]
    report = run_stress(case_study, breaks)
    cross, isolated = report.results("cross"), report.results("isolated")
    hits = [i for i, row in enumerate(isolated) if "ETHUSDT" in row.liquidated and not cross[i].liquidated]
    assert hits, "no correlation break separates the modes"
    for index in hits:
        marks = breaks[index].apply(case_study.marks)
        # Direct: the isolated ETH pool breaches; the ETH mark is beyond its isolated liquidation price of today.
        eth = [p.symbol for p in case_study.account.positions].index("ETHUSDT")
        iso_account = all_isolated(case_study.account)
        assert _views(iso_account, marks, case_study)[eth] >= 1.0
        liq = evaluate(iso_account, case_study.marks, case_study.rules).positions[eth].liquidation_price
        assert liq is not None
        assert marks.price("ETHUSDT") >= liq
        # ... while every cross pool ratio stays below 1.
        assert max(_views(all_cross(case_study.account), marks, case_study)) < 1.0
    assert "BTC -8% / ETH +8%" in {breaks[i].name for i in hits}


def test_run_stress_rows_equal_direct_evaluate(case_study: Portfolio) -> None:
    scenarios = hypothetical_scenarios(case_study.marks.prices)
    report = run_stress(case_study, scenarios)
    assert report.modes == MODES == ("as_given", "cross", "isolated")
    assert len(report.rows) == 3 * len(scenarios)
    assert [row.mode for row in report.rows[:3]] == list(MODES)  # scenario-major, as given first
    for mode, build in (("as_given", _as_given), ("cross", all_cross), ("isolated", all_isolated)):
        account = build(case_study.account)
        for scenario, row in zip(scenarios, report.results(mode), strict=True):
            marks = scenario.apply(case_study.marks)
            risk = evaluate(account, marks, case_study.rules)
            assert row.equity_after == risk.account.margin_balance
            views = _views(account, marks, case_study)
            assert row.liquidated == tuple(p.symbol for p, v in zip(account.positions, views, strict=True) if v >= 1)
            assert row.margin_ratio == max(views)


def test_a_wallet_that_cannot_fund_isolated_is_stressed_in_cross_only() -> None:
    rules = get_rules("binance")
    position = Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=60_000.0, leverage=10)
    account = Account(venue="binance", wallet_balance=1_000.0, positions=(position,))  # isolated needs 6,000
    portfolio = Portfolio(account=account, marks=Marks({"BTCUSDT": 60_000.0}), rules=rules)
    report = run_stress(portfolio, [Scenario("down", {"BTCUSDT": -0.05}, "custom", "test")])
    assert report.modes == ("as_given", "cross")
    assert "isolated: not evaluated" in report.notes[0]
    json.dumps(report.to_json(), allow_nan=False)


@settings(max_examples=30)  # each example runs evaluate and liquidate; 30 keep the file under a few seconds
@given(drawn=accounts(modes=(MarginMode.CROSS,)), move=st.floats(-0.5, 0.5))
def test_stress_equity_is_evaluate_at_the_shocked_marks(drawn: tuple[Account, Marks], move: float) -> None:
    account, marks = drawn
    portfolio = Portfolio(account=account, marks=marks, rules=get_rules("binance"))
    symbol = account.positions[0].symbol
    row = run_stress(portfolio, [Scenario("s", {symbol: move}, "custom", "test")]).results("cross")[0]
    shocked = marks.with_price(symbol, marks.price(symbol) * (1.0 + move))
    assert row.equity_after == evaluate(account, shocked, portfolio.rules).account.margin_balance


# --- grid ----------------------------------------------------------------------------------------------


def test_stress_grid_equals_direct_evaluate_cell_by_cell(case_study: Portfolio) -> None:
    moves = grid_moves(0.3, 0.1)
    grid = stress_grid(case_study, "BTCUSDT", "ETHUSDT", moves)
    cross, isolated = all_cross(case_study.account), all_isolated(case_study.account)
    today = evaluate(isolated, case_study.marks, case_study.rules)
    for i, my in enumerate(moves):
        for j, mx in enumerate(moves):
            marks = _shocked(case_study, {"BTCUSDT": mx, "ETHUSDT": my})
            assert grid.equity_after[i, j] == evaluate(cross, marks, case_study.rules).account.margin_balance
            assert bool(grid.cross_liquidated[i, j]) == all(v >= 1 for v in _views(cross, marks, case_study))
            iso_views = _views(isolated, marks, case_study)
            assert bool(grid.isolated_liquidated[i, j]) == any(v >= 1 for v in iso_views)
            # An isolated pool depends on its own mark only: breached iff the mark is past today's liq price.
            for k, p in enumerate(today.positions):
                past = p.liquidation_price is not None and (
                    marks.price(p.symbol) <= p.liquidation_price
                    if p.side == "long"
                    else marks.price(p.symbol) >= p.liquidation_price
                )
                assert (iso_views[k] >= 1) == past


def test_stress_grid_refuses_symbols_outside_the_portfolio(case_study: Portfolio) -> None:
    with pytest.raises(InputError, match=r"grid: 'BTCUSD' is not a symbol .*did you mean BTCUSDT"):
        stress_grid(case_study, "BTCUSD", "ETHUSDT", [0.0])


# --- the command --------------------------------------------------------------------------------------


def _app() -> typer.Typer:
    return command_app(register)


def test_stress_command_json_has_both_modes_and_the_grid() -> None:
    result = RUNNER.invoke(_app(), ["stress", str(CASE_STUDY), "--json", "--grid", "BTCUSDT,ETHUSDT", "--range", "0.1"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["modes"] == ["as_given", "cross", "isolated"]
    for scenario in payload["scenarios"]:
        assert list(scenario)[-3:] == ["as_given", "cross", "isolated"]
        assert scenario["as_given"] == scenario["cross"]  # the case study is all cross: as given is the cross book
    assert payload["grid"]["modes"] == ["as_given", "cross", "isolated"]
    assert payload["grid"]["as_given_ratio"] == payload["grid"]["cross_ratio"]
    names = [s["name"] for s in payload["scenarios"]]
    assert "BTC -8% / ETH +8%" in names
    assert "2022-11 peak-to-trough" in names
    assert "historical: 2020-03-12 skipped (no shipped bars for SOL)" in payload["notes"]
    assert len(payload["grid"]["moves"]) == 5  # -10 % .. +10 % in 5 % steps


def test_stress_command_tables_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "heat.html"
    result = RUNNER.invoke(
        _app(), ["stress", str(CASE_STUDY), "--no-historical", "--plot", str(plot), "--range", "0.1"]
    )
    assert result.exit_code == 0, result.stderr
    assert "BTC -8% / ETH +8%" in result.stdout
    assert "peak-to-trough" not in result.stdout
    assert "Grid: ETHUSDT across, BTCUSDT down" in result.stdout  # largest notionals: ETH 11,842, BTC 11,792
    assert result.stderr == ""  # no progress bar off a terminal, no notes
    assert plot.stat().st_size > 100_000


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--grid", "DOGEUSDT,ETHUSDT"], ["--grid:", "DOGEUSDT", "not a symbol of the portfolio"]),
        (["--grid", "BTCUSDT"], ["--grid:", "two symbols separated by a comma"]),
        (["--range", "0"], ["--range:", "(0, 1)"]),
        (["--range", "1"], ["--range:", "(0, 1)"]),
        (["--range", "-0.3"], ["--range:", "(0, 1)"]),
        (["--step", "0.07"], ["--step:", "does not divide 0.3"]),
        (["--step", "0.5"], ["--step:", "(0, 0.3]"]),
        (["--step", "0.0001"], ["--step:", "at most 100 steps"]),
        (["--venue", "binanse"], ["venue:", "did you mean binance"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragments: list[str]) -> None:
    result = RUNNER.invoke(_app(), ["stress", str(CASE_STUDY), *args])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {CASE_STUDY}: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# --- the book as given beside the recasts ---------------------------------------------------------------


def test_as_given_is_the_files_book_and_isolated_keeps_2300(mixed: Portfolio, case_study: Portfolio) -> None:
    # ETH +7 %: past the 6.2 % of the 2,104.65 recast, short of the 7.9 % that 2,300 of margin gives.
    scenarios = [Scenario("ETH +7%", {"ETHUSDT": 0.07}, "custom", "test"), *hypothetical_scenarios(mixed.marks.prices)]
    report = run_stress(mixed, scenarios)
    assert report.modes == MODES
    for mode, account in (
        ("as_given", mixed.account),
        ("cross", all_cross(mixed.account)),
        ("isolated", all_isolated(mixed.account)),
    ):
        for scenario, row in zip(scenarios, report.results(mode), strict=True):
            marks = scenario.apply(mixed.marks)
            assert row.equity_after == evaluate(account, marks, mixed.rules).account.margin_balance
            views = _views(account, marks, mixed)
            assert row.liquidated == tuple(p.symbol for p, v in zip(account.positions, views, strict=True) if v >= 1)
            assert row.margin_ratio == max(views)
    eth_up = {mode: report.results(mode)[0] for mode in MODES}
    assert eth_up["as_given"].liquidated == eth_up["isolated"].liquidated == ()  # 2,300 holds at +7 %
    original = run_stress(case_study, scenarios[:1]).results("isolated")[0]
    assert original.liquidated == ("ETHUSDT",)  # 2,104.65 does not
    # As given, the ETH short's own pool breaches where the cross recast holds: BTC -8 % / ETH +8 %.
    names = [s.name for s in scenarios]
    at = names.index("BTC -8% / ETH +8%")
    assert report.results("as_given")[at].liquidated == ("ETHUSDT",)
    assert report.results("cross")[at].liquidated == ()
    payload = report.to_json()
    assert payload["modes"] == ["as_given", "cross", "isolated"]
    assert payload["scenarios"][0]["as_given"]["liquidated"] == []
    assert payload["scenarios"][at]["as_given"]["liquidated"] == ["ETHUSDT"]


def test_run_stress_evaluates_only_the_modes_asked(mixed: Portfolio) -> None:
    scenario = Scenario("down", {"BTCUSDT": -0.1}, "custom", "test")
    only = run_stress(mixed, [scenario], modes=("as_given",))
    assert only.modes == ("as_given",)
    assert only.rows == tuple(r for r in run_stress(mixed, [scenario]).rows if r.mode == "as_given")
    with pytest.raises(InputError, match=r"^modes: "):
        run_stress(mixed, [scenario], modes=("mixed",))


def test_grid_as_given_equals_direct_evaluate_cell_by_cell(mixed: Portfolio) -> None:
    moves = grid_moves(0.2, 0.1)
    grid = stress_grid(mixed, "BTCUSDT", "ETHUSDT", moves)
    isolated = all_isolated(mixed.account)
    for i, my in enumerate(moves):
        for j, mx in enumerate(moves):
            marks = _shocked(mixed, {"BTCUSDT": mx, "ETHUSDT": my})
            views = _views(mixed.account, marks, mixed)
            assert grid.as_given_ratio[i, j] == max(views)
            assert bool(grid.as_given_liquidated[i, j]) == any(v >= 1 for v in views)
            assert grid.isolated_ratio[i, j] == max(_views(isolated, marks, mixed))
    eth_up = moves.index(0.1)
    assert grid.as_given_liquidated[eth_up].all()  # ETH +10 %: past the as-given 7.9 %, whatever BTC does
    assert not grid.cross_liquidated[eth_up].any()
    payload = grid.to_json()
    assert payload["as_given_liquidated"] == grid.as_given_liquidated.tolist()
    assert {"cross_ratio", "isolated_ratio", "cross_liquidated", "isolated_liquidated"} <= set(payload)


def test_stress_command_shows_as_given_first(mixed_path: Path) -> None:
    result = RUNNER.invoke(
        _app(), ["stress", str(mixed_path), "--no-historical", "--grid", "BTCUSDT,ETHUSDT", "--range", "0.1"]
    )
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    header = next(line for line in text.splitlines() if "all isolated" in line and "scenario" in line)
    assert header.index("as given") < header.index("all cross") < header.index("all isolated")
    row = next(line for line in text.splitlines() if line.strip().startswith("BTC -8% / ETH +8%"))
    cells = re.findall(r"-?[\d,]+\.\d\d(?: \([^)]*\))?", row)  # equity after, then each mode's equity left
    assert cells[0] == cells[2] == "8,719.11"  # all cross: nothing liquidated, the equity after is left
    assert cells[1].endswith("(ETH)")  # as given: the ETH short's own pool is liquidated
    grid = text[text.index("Grid: BTCUSDT across, ETHUSDT down") :]
    plus_ten = next(line for line in grid.splitlines() if line.strip().startswith("+10%"))
    assert plus_ten.split()[1:] == ["A.I"] * 5  # as given and all-isolated liquidated, all-cross not
    flat = next(line for line in grid.splitlines() if line.strip().startswith("+0%"))
    assert flat.split()[1:] == ["..."] * 5


def test_a_shock_past_the_last_bracket_is_one_line_naming_the_scenario(tmp_path: Path) -> None:
    # 3,000,000 SOL short at 83.15 (249M USDT notional, under Binance's last SOLUSDT cap of 400M): a +100 %
    # move takes it past that cap, where the venue lists no tier.
    text = CASE_STUDY.read_text(encoding="utf-8")
    sol = 'side = "long"\nsize = 100                        # SOL\nentry_price = 83.15\nleverage = 5'
    assert sol in text
    path = tmp_path / "big.toml"
    path.write_text(
        text.replace("wallet_balance = 10000", "wallet_balance = 300000000").replace(
            sol, 'side = "short"\nsize = 3000000\nentry_price = 83.15\nleverage = 1'
        ),
        encoding="utf-8",
    )
    result = RUNNER.invoke(_app(), ["stress", str(path), "--no-historical"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {path}: scenario 'extended +100%' (as given): positions[2].size: ")
    assert "beyond the last tier of SOLUSDT" in lines[0]
