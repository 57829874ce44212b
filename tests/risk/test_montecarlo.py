"""Monte Carlo liquidation probability: against the closed form, kernel against reference, on the case study.

Market data: the package sample (Binance USDⓈ-M 1h mark prices of BTCUSDT, ETHUSDT, SOLUSDT, 2026-03-01 to
2026-04-27, ``crossmargin.data.store``). Closed form: ``crossmargin.risk.leverage`` (risk-methods §3.2).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossmargin.cli.risk import parse_horizon, register
from crossmargin.errors import BeyondTableError, DataError, InputError
from crossmargin.kernels.montecarlo import NOT_LIQUIDATED, first_breach, first_breach_reference
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.portfolio import Portfolio, load_portfolio
from crossmargin.risk.leverage import first_passage_probability, liquidation_distance
from crossmargin.risk.montecarlo import (
    FHSModel,
    GarchModel,
    GaussianModel,
    StudentTModel,
    bgk_distance,
    finish,
    fit_model,
    horizon_steps,
    liquidation_probability,
    merge_tallies,
    pack_for_paths,
    plan_paths,
    return_history,
    run_batches,
    sample_returns,
    sample_symbol,
    simulate_paths,
    wilson_interval,
)
from crossmargin.venues import get_rules
from tests.fixtures.harness import CASE_STUDY, command_app
from tests.fixtures.strategies import accounts

SAMPLE = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BINANCE = get_rules("binance")


def _fresh(side: Side, *, leverage: int = 10, price: float = 60_000.0) -> Portfolio:
    """One fresh BTCUSDT position, 1 BTC at ``price``, its margin the whole wallet (cross and isolated alike)."""
    margin = price / leverage
    position = Position(
        symbol="BTCUSDT",
        side=side,
        size=1.0,
        entry_price=price,
        leverage=leverage,
        mode=MarginMode.ISOLATED,
        isolated_margin=margin,
    )
    account = Account(venue="binance", wallet_balance=margin, positions=(position,))
    return Portfolio(account=account, marks=Marks({"BTCUSDT": price}), rules=BINANCE)


# (a) against the closed form -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "steps_per_hour"), [(Side.LONG, 1), (Side.LONG, 12), (Side.SHORT, 1), (Side.SHORT, 12)]
)
def test_gaussian_first_passage_matches_the_closed_form(side: Side, steps_per_hour: int) -> None:
    # Arrange: 10x on BTCUSDT, notional 60,000 (first bracket: mm_rate 0.4 %, no deduction), so the log
    # distance is b = ln(0.996 / 0.9) = 0.1014 long, ln(1.1 / 1.004) = 0.0913 short; sigma 1 % per sqrt hour,
    # 24 h: 2 Phi(-b / 0.049) = 3.86 % long, 6.23 % short with continuous monitoring.
    sigma = 0.01
    model = GaussianModel.of(sigma, ("BTCUSDT",))
    # Act
    result = liquidation_probability(
        _fresh(side), horizon_hours=24, paths=40_000, model=model, seed=11, steps_per_hour=steps_per_hour, funding=False
    )
    # Assert: checking every 1/k hour is a barrier farther by 0.5826 sigma sqrt(1/k) (BGK); the shifted
    # closed form lies in the 95 % Wilson interval, the unshifted one above it (discrete checks miss crossings).
    odds = result.odds("isolated", f"BTCUSDT {side.label}")
    distance = liquidation_distance(side, 10, 0.004)
    shifted = first_passage_probability(bgk_distance(distance, sigma, 1 / steps_per_hour), sigma, 24)
    assert odds.ci_low <= shifted <= odds.ci_high
    assert first_passage_probability(distance, sigma, 24) > odds.ci_high
    # One position in cross with its margin as the wallet is the same pool, on the same paths.
    assert result.odds("cross").liquidated_paths == odds.liquidated_paths


def test_finer_monitoring_finds_more_liquidations() -> None:
    # Same seed and hourly returns: splitting hours into 12 checks can only add crossings between checks.
    model = GaussianModel.of(0.01, ("BTCUSDT",))
    hourly, fine = (
        liquidation_probability(_fresh(Side.LONG), paths=20_000, model=model, seed=3, steps_per_hour=k, funding=False)
        for k in (1, 12)
    )
    assert fine.odds("cross").liquidated_paths > hourly.odds("cross").liquidated_paths


# (b) kernel against reference, on real paths ---------------------------------------------------------------


def _real_paths(hours: int = 48, count: int = 12) -> np.ndarray:
    """Return windows of the sample's real hourly returns, and their mirror images, as (paths, hours, 3)."""
    returns = sample_returns(SAMPLE)
    starts = np.linspace(0, len(returns) - hours, count // 2).astype(int)
    windows = np.stack([returns[s : s + hours] for s in starts])
    return np.concatenate([windows, -windows])


def _leveraged_book(mode: MarginMode) -> tuple[Account, Marks]:
    marks = Marks({"BTCUSDT": 70_000.0, "ETHUSDT": 2_000.0, "SOLUSDT": 85.0})
    legs = (("BTCUSDT", Side.LONG, 1.0, 30), ("ETHUSDT", Side.SHORT, 30.0, 25), ("SOLUSDT", Side.LONG, 600.0, 20))
    positions = []
    for symbol, side, size, leverage in legs:
        notional = size * marks.price(symbol)
        positions.append(
            Position(
                symbol=symbol,
                side=side,
                size=size,
                entry_price=marks.price(symbol),
                leverage=leverage,
                mode=mode,
                isolated_margin=notional / leverage if mode is MarginMode.ISOLATED else None,
            )
        )
    # Isolated: the wallet holds the three margins (8,683) and a little more; cross: 3,000 for 181,000 of
    # notional, so that some real windows liquidate the pool and others do not.
    wallet = 9_000.0 if mode is MarginMode.ISOLATED else 3_000.0
    return Account(venue="binance", wallet_balance=wallet, positions=tuple(positions)), marks


@pytest.mark.parametrize("mode", [MarginMode.CROSS, MarginMode.ISOLATED])
def test_kernel_equals_reference_on_real_paths(mode: MarginMode) -> None:
    # Arrange: 20-30x positions on 48 h windows of real returns (and mirrored), funding exaggerated to
    # 0.05 % per 8 h so that it moves the wallets.
    account, marks = _leveraged_book(mode)
    paths = _real_paths()
    rates = np.array([5e-4, 5e-4, -5e-4])
    book = pack_for_paths(account, BINANCE, SAMPLE, marks)
    start = np.array([marks.price(s) for s in SAMPLE])
    # Act
    kernel = first_breach(book, paths, start, funding_rate=rates, funding_every=8)
    reference = first_breach_reference(account, BINANCE, marks, SAMPLE, paths, funding_rate=rates, funding_every=8)
    # Assert: the same first-breach step for every pool on every path, and the check is not idle.
    np.testing.assert_array_equal(kernel, reference)
    breached = kernel[:, 1:] if mode is MarginMode.ISOLATED else kernel[:, :1]
    assert (breached != NOT_LIQUIDATED).any()
    assert (breached == NOT_LIQUIDATED).any()


def _inside_table(account: Account, marks: Marks, symbols: tuple[str, ...], paths: np.ndarray) -> np.ndarray:
    """Return which paths keep every position's notional below its last tier's cap at every step."""
    start = np.array([marks.price(s) for s in symbols])
    highest = (start * np.exp(np.cumsum(paths, axis=1))).max(axis=1)
    inside = np.ones(len(paths), dtype=bool)
    for position in account.positions:
        cap = BINANCE.instrument(position.symbol).last_cap
        inside &= position.size * highest[:, symbols.index(position.symbol)] < cap
    return inside


@settings(max_examples=25, deadline=None)
@given(drawn=accounts(), window=st.integers(0, 1300), scale=st.floats(1.0, 6.0))
def test_kernel_equals_reference_on_random_books(drawn: tuple[Account, Marks], window: int, scale: float) -> None:
    # Random Binance books; real returns of the three sample symbols, stretched, assigned to the drawn ones.
    # Compared on the paths that stay inside the venue's tables: beyond them the reference refuses the
    # position (BeyondTableError) and the estimate refuses the path (check_within_table, tested below).
    account, marks = drawn
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    returns = sample_returns(SAMPLE)[window : window + 24] * scale
    paths = np.stack(
        [returns[:, [j % 3 for j in range(len(symbols))]], -returns[:, [(j + 1) % 3 for j in range(len(symbols))]]]
    )
    inside = _inside_table(account, marks, symbols, paths)
    assume(inside.any())
    paths = np.ascontiguousarray(paths[inside])
    rates = np.full(len(account.positions), 1e-4)
    book = pack_for_paths(account, BINANCE, symbols, marks)
    start = np.array([marks.price(s) for s in symbols])
    kernel = first_breach(book, paths, start, funding_rate=rates, funding_every=8)
    reference = first_breach_reference(account, BINANCE, marks, symbols, paths, funding_rate=rates, funding_every=8)
    np.testing.assert_array_equal(kernel, reference)


@pytest.mark.parametrize("mode", [MarginMode.CROSS, MarginMode.ISOLATED])
def test_peak_marks_are_the_highest_marks_up_to_the_breach(mode: MarginMode) -> None:
    # The kernel's peak mark of a position is the highest mark of its symbol over the steps up to and
    # including its pool's first breach (all steps when the pool survives): the marks the requirement was
    # valued at, so the ones the venue's table must cover.
    account, marks = _leveraged_book(mode)
    paths = _real_paths()
    book = pack_for_paths(account, BINANCE, SAMPLE, marks)
    start = np.array([marks.price(s) for s in SAMPLE])
    peaks = np.empty((len(paths), len(account.positions)))
    first = first_breach(book, paths, start, peak_marks=peaks)
    walk = start * np.exp(np.cumsum(paths, axis=1))
    for path in range(len(paths)):
        for i, position in enumerate(account.positions):
            pool = int(book.pool[i])
            last = first[path, pool] if first[path, pool] != NOT_LIQUIDATED else paths.shape[1] - 1
            expected = walk[path, : last + 1, SAMPLE.index(position.symbol)].max()
            assert peaks[path, i] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(InputError, match="peak_marks"):
        first_breach(book, paths, start, peak_marks=np.empty((1, 1)))


@pytest.mark.parametrize(("side", "liquidated"), [(Side.LONG, True), (Side.SHORT, False)])
def test_a_long_pays_a_positive_funding_rate(side: Side, liquidated: bool) -> None:
    # Flat prices, 10x, margin 6,000 and requirement 240: 1 % per 8 h costs a long 600 a settlement, so its
    # margin balance 6,000 - 600 n falls to 240 at the 10th settlement (step 79); the short receives it.
    portfolio = _fresh(side)
    book = pack_for_paths(portfolio.account, BINANCE, ("BTCUSDT",), portfolio.marks)
    first = first_breach(
        book, np.zeros((1, 96, 1)), np.array([60_000.0]), funding_rate=np.array([0.01]), funding_every=8
    )
    assert bool(first[0, 1] == 79) is liquidated
    assert bool(first[0, 1] == NOT_LIQUIDATED) is not liquidated


# (c) the case study: cross vs isolated ---------------------------------------------------------------------


def test_hedged_cross_account_is_safer_than_the_isolated_eth_short() -> None:
    # examples/case_study.toml: long BTC, short ETH (12.5 % against it), long SOL at 5x. Isolated, the ETH
    # short holds 2,104.65 and has lost 1,318.4; in cross the BTC and SOL gains carry it.
    result = liquidation_probability(load_portfolio(CASE_STUDY), horizon_hours=24, paths=20_000, seed=5)
    cross = result.odds("cross")
    eth = result.odds("isolated", "ETHUSDT short")
    assert cross.ci_high < eth.ci_low
    assert eth.probability > 0.005
    assert eth.median_hours is not None
    assert 0 < eth.median_hours <= 24
    assert {o.pool for o in result.pools if o.mode == "isolated"} == {"BTCUSDT long", "ETHUSDT short", "SOLUSDT long"}


def test_a_mixed_portfolio_is_also_simulated_as_given() -> None:
    # BTC cross, ETH and SOL isolated: the portfolio's own pools are added to the all-cross and all-isolated
    # ones; its isolated pools hold what all_isolated gives them, so on the same paths they count the same.
    account, marks = _leveraged_book(MarginMode.ISOLATED)
    btc = dataclasses.replace(account.positions[0], mode=MarginMode.CROSS, isolated_margin=None)
    mixed = dataclasses.replace(account, positions=(btc, *account.positions[1:]))
    model = GaussianModel.of(0.008, SAMPLE)
    result = liquidation_probability(Portfolio(mixed, marks, BINANCE), paths=4_000, seed=3, model=model, funding=False)
    assert {o.pool for o in result.pools if o.mode == "as given"} == {"cross", "ETHUSDT short", "SOLUSDT long"}
    for pool in ("ETHUSDT short", "SOLUSDT long"):
        isolated = result.odds("isolated", pool)
        assert isolated.liquidated_paths > 0
        assert result.odds("as given", pool) == dataclasses.replace(isolated, mode="as given")


@pytest.mark.parametrize("model", ["fhs", "t", "garch"])
def test_every_model_runs_on_the_case_study_and_a_seed_reproduces(model: str) -> None:
    portfolio = load_portfolio(CASE_STUDY)
    first = liquidation_probability(portfolio, paths=3_000, model=model, seed=42)
    again = liquidation_probability(portfolio, paths=3_000, model=model, seed=42)
    assert first == again
    assert first.model == model
    assert all(0.0 <= o.ci_low <= o.probability <= o.ci_high <= 1.0 for o in first.pools)


def test_seeds_reproduce_paths_and_differ_between_seeds() -> None:
    model = fit_model("fhs", SAMPLE)
    np.testing.assert_array_equal(simulate_paths(model, 24, 500, 9), simulate_paths(model, 24, 500, 9))
    assert not np.array_equal(simulate_paths(model, 24, 500, 9), simulate_paths(model, 24, 500, 10))
    assert simulate_paths(model, 30, 7, 1, steps_per_hour=4).shape == (7, 30, 3)


def test_funding_rates_are_reported_per_symbol() -> None:
    result = liquidation_probability(load_portfolio(CASE_STUDY), paths=1_000, seed=1)
    assert set(result.funding_rates) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert result.funding_interval_hours == 8.0
    assert set(dataclasses.asdict(result)) >= {"pools", "paths", "model", "seed", "horizon_hours"}


# (d) models ------------------------------------------------------------------------------------------------


def test_fhs_keeps_the_sample_correlation_and_the_filter_volatility() -> None:
    returns = sample_returns(SAMPLE)
    model = FHSModel.from_returns(returns, SAMPLE)
    first_hour = simulate_paths(model, 1, 40_000, 2)[:, 0, :]
    # One hour ahead the volatility is the EWMA forecast (residuals have unit variance) ...
    np.testing.assert_allclose(first_hour.std(axis=0), model.sigma, rtol=0.03)
    # ... and whole residual rows are drawn, so the sample's correlation (about 0.9 here) is kept.
    np.testing.assert_allclose(np.corrcoef(first_hour, rowvar=False), np.corrcoef(returns, rowvar=False), atol=0.03)


def test_student_t_and_garch_fit_fat_tails() -> None:
    returns = sample_returns(SAMPLE)
    t_model = StudentTModel.from_returns(returns, SAMPLE)
    garch = GarchModel.from_returns(returns, SAMPLE)
    assert 2.5 < t_model.dof < 10  # hourly crypto returns: low degrees of freedom
    assert all(2 < fit.nu < 10 and fit.alpha + fit.beta <= 1.0 + 1e-6 for fit in garch.fits)
    assert FHSModel.from_returns(returns, SAMPLE, filter="garch").filter == "garch"


def test_symbols_map_to_the_sample_by_base() -> None:
    # The same asset on another venue or in another USD stablecoin reads the sample; another asset never does:
    # Binance ETHBTC is ETH priced in BTC, DOGEUSDT another coin.
    assert sample_symbol("BTC-USDT-SWAP", get_rules("okx")) == "BTCUSDT"
    assert sample_symbol("ETH", get_rules("hyperliquid")) == "ETHUSDT"
    assert sample_symbol("BTCUSDC", BINANCE) == "BTCUSDT"
    with pytest.raises(DataError, match="no sample returns for DOGEUSDT"):
        sample_symbol("DOGEUSDT", BINANCE)
    with pytest.raises(DataError, match="no sample returns for ETHBTC"):
        sample_symbol("ETHBTC", BINANCE)


def test_the_case_study_reads_the_package_sample_and_says_so() -> None:
    history = return_history(("BTCUSDT", "ETHUSDT", "SOLUSDT"), BINANCE)
    np.testing.assert_array_equal(history.returns, sample_returns(SAMPLE))
    assert history.series == SAMPLE
    assert [s.origin for s in history.sources] == ["package sample"] * 3
    assert history.notes[0] == (
        "returns of BTCUSDT: package sample (binance BTCUSDT mark 1h), 2026-03-01T00:00:00Z to "
        "2026-04-27T10:00:00Z, 1,379 hourly closes"
    )
    okx = return_history(("BTC-USDT-SWAP",), get_rules("okx"))
    assert okx.column == {"BTC-USDT-SWAP": "BTCUSDT"}
    assert "reads the sample's Binance BTCUSDT: the same asset" in okx.notes[0]
    result = liquidation_probability(load_portfolio(CASE_STUDY), paths=1_000, seed=1)
    assert result.notes[:3] == history.notes
    assert result.sources == history.sources


def test_wilson_interval() -> None:
    # 50 of 100 at 95 %: 0.5 -+ 1.96 / (1 + 0.0384) x sqrt(0.0025 + 0.000096) = 0.5 -+ 0.0962.
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4)
    assert high == pytest.approx(0.5962, abs=1e-4)
    # 0 of 100000: the interval is [0, 3.84e-5], not a zero-width point.
    low, high = wilson_interval(0, 100_000)
    assert low == 0.0
    assert high == pytest.approx(3.8413e-5, rel=1e-3)


def test_bad_arguments_raise_input_errors() -> None:
    portfolio = load_portfolio(CASE_STUDY)
    with pytest.raises(InputError, match="paths"):
        liquidation_probability(portfolio, paths=0)
    with pytest.raises(InputError, match="model"):
        liquidation_probability(portfolio, paths=10, model="gbm")
    with pytest.raises(InputError, match="horizon_hours"):
        liquidation_probability(portfolio, paths=10, horizon_hours=1.5)
    with pytest.raises(InputError, match="seed"):
        liquidation_probability(portfolio, paths=10, seed=-1)
    with pytest.raises(InputError, match="horizon_hours"):
        horizon_steps(0.0, 1)
    assert horizon_steps(1.5, 2) == 3


# (e) command line ------------------------------------------------------------------------------------------

RUNNER = CliRunner()


def _app() -> typer.Typer:
    return command_app(register)


def test_montecarlo_command_json() -> None:
    result = RUNNER.invoke(_app(), ["montecarlo", str(CASE_STUDY), "--paths", "2000", "--horizon", "1d", "--json"])
    assert result.exit_code == 0, result.stderr
    assert '"ETHUSDT short"' in result.stdout
    assert '"horizon_hours": 24.0' in result.stdout


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--horizon", "24"], "--horizon"),
        (["--horizon", "0h"], "--horizon"),
        (["--horizon", "200d"], "--horizon"),
        (["--paths", "0"], "--paths"),
        (["--paths", "2000000"], "--paths"),
        (["--model", "fsh"], "did you mean fhs"),
        (["--steps-per-hour", "0"], "--steps-per-hour"),
    ],
)
def test_montecarlo_command_bad_input(extra: list[str], fragment: str) -> None:
    result = RUNNER.invoke(_app(), ["montecarlo", str(CASE_STUDY), *extra])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_montecarlo_command_missing_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(_app(), ["montecarlo", str(tmp_path / "absent.toml")])
    assert result.exit_code == 2
    assert "no such file" in result.stderr


def test_parse_horizon() -> None:
    assert parse_horizon("24h") == 24.0
    assert parse_horizon("7d") == 168.0
    assert parse_horizon("90m") == 1.5
    assert math.isclose(parse_horizon(" 2.5H "), 2.5)


# (f) paths beyond the venue's table ------------------------------------------------------------------------

BYBIT = get_rules("bybit")
#: Bybit's ETHUSDT table has one tier, up to 900,000 USDT of notional (tests/data/venues and the shipped table).
BYBIT_ETH_CAP = 900_000.0


def _bybit_eth(size: float, side: Side = Side.LONG) -> Portfolio:
    """A cross ETHUSDT position on Bybit at 10x, entered at the case study's ETH mark, 100,000 USDT wallet."""
    mark = 2368.32
    position = Position(symbol="ETHUSDT", side=side, size=size, entry_price=mark, leverage=10, mode=MarginMode.CROSS)
    account = Account(venue="bybit", wallet_balance=100_000.0, positions=(position,))
    return Portfolio(account=account, marks=Marks({"ETHUSDT": mark}), rules=BYBIT)


def test_a_path_past_the_last_tier_is_refused() -> None:
    # 370 ETH at 2,368.32 is 876,278 USDT of notional, 2.7 % below Bybit's last cap: over 24 h many FHS paths
    # (sigma 0.6 % an hour) carry the long past 900,000 while its cross pool is far from liquidation.
    portfolio = _bybit_eth(370.0)
    assert BYBIT.instrument("ETHUSDT").last_cap == BYBIT_ETH_CAP
    with pytest.raises(BeyondTableError) as caught:
        liquidation_probability(portfolio, horizon_hours=24, paths=10_000, seed=0, progress=False)
    error = caught.value
    assert error.field == "positions[0].size"
    assert error.symbol == "ETHUSDT"
    assert error.cap == BYBIT_ETH_CAP
    message = str(error)
    assert message.startswith("positions[0].size: a simulated path (cross margin, within 24 h) takes the ETHUSDT mark")
    assert "cap 900,000.00 USDT" in message
    # The price named is the highest simulated mark of the long before its pool was liquidated (it never was).
    plan = plan_paths(portfolio, horizon_hours=24, paths=10_000, seed=0)
    tally = run_batches(plan.work, range(plan.work.batches))
    highest = float(tally.peak_marks["cross"][0])
    assert 370.0 * highest >= BYBIT_ETH_CAP
    assert f"mark to {highest:,.6g} USDT" in message
    assert error.value == pytest.approx(370.0 * highest)


def test_a_book_inside_the_table_is_simulated() -> None:
    # 10 ETH: a 3,700 % rise would be needed to reach the cap; the figures come out as usual.
    result = liquidation_probability(_bybit_eth(10.0), horizon_hours=24, paths=10_000, seed=0, progress=False)
    assert {o.pool for o in result.pools} == {"cross", "ETHUSDT long"}
    plan = plan_paths(_bybit_eth(10.0), horizon_hours=24, paths=10_000, seed=0)
    assert 10.0 * run_batches(plan.work, range(plan.work.batches)).peak_marks["cross"][0] < BYBIT_ETH_CAP


def test_a_pool_liquidated_before_the_cap_is_not_refused() -> None:
    # A 10x short of 300 ETH on a 9,000 USDT wallet is liquidated about 0.8 % up, the cap is 26.7 % up: every
    # path that rises is liquidated long before it (the highest mark checked, at a breach step, is 9 % up),
    # so nothing is refused. With 370 ETH the cap is 2.7 % up and that breach step lies past it: refused, as
    # the requirement of the breach step itself is valued at that mark.
    def short(size: float) -> Portfolio:
        account = dataclasses.replace(_bybit_eth(size, Side.SHORT).account, wallet_balance=9_000.0)
        return Portfolio(account=account, marks=Marks({"ETHUSDT": 2368.32}), rules=BYBIT)

    kwargs = {"horizon_hours": 24.0, "paths": 10_000, "seed": 0, "funding": False, "progress": False}
    result = liquidation_probability(short(300.0), **kwargs)  # type: ignore[arg-type]
    assert result.odds("cross").liquidated_paths > 0
    with pytest.raises(BeyondTableError, match=r"positions\[0\]\.size"):
        liquidation_probability(short(370.0), **kwargs)  # type: ignore[arg-type]


def test_the_command_refuses_a_path_past_the_table_in_one_line(tmp_path: Path) -> None:
    book = tmp_path / "bybit.toml"
    book.write_text(
        'venue = "bybit"\nwallet_balance = 100000\n[[positions]]\nsymbol = "ETHUSDT"\nside = "long"\nsize = 370\n'
        'entry_price = 2368.32\nleverage = 10\nmargin_mode = "cross"\n[marks]\nETHUSDT = 2368.32\n',
        encoding="utf-8",
    )
    result = RUNNER.invoke(_app(), ["montecarlo", str(book), "--paths", "5000"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {book}: positions[0].size: a simulated path")
    assert "beyond the last tier of ETHUSDT on bybit (cap 900,000.00 USDT" in lines[0]


# (g) the compiled draw against the numpy one --------------------------------------------------------------


@pytest.mark.parametrize("model", ["gaussian", "fhs", "t", "garch"])
def test_the_compiled_estimator_agrees_with_the_numpy_one(model: str) -> None:
    # Arrange: 20-30x book, 12 h, 2 checks an hour, 4,000 paths each way; the same plan drawn by the kernel
    # (its own streams) and by the models' numpy hourly() (path_model=None: the path of earlier releases).
    account, marks = _leveraged_book(MarginMode.ISOLATED)
    fitted = GaussianModel.of([0.006, 0.009, 0.01], SAMPLE) if model == "gaussian" else fit_model(model, SAMPLE)
    plan = plan_paths(
        Portfolio(account, marks, BINANCE), horizon_hours=12, paths=4_000, model=fitted, seed=4, steps_per_hour=2
    )
    numpy_plan = dataclasses.replace(plan, work=dataclasses.replace(plan.work, path_model=None))
    # Act
    compiled = finish(plan, run_batches(plan.work, range(plan.work.batches)))
    drawn_in_numpy = finish(numpy_plan, merge_tallies([run_batches(numpy_plan.work, range(plan.work.batches))]))
    # Assert: two independent estimates of each pool's probability; the difference is within 3.5 standard
    # errors of a difference (sqrt(2 p (1 - p) / N)) and each estimate lies in the other's 99.9 % interval.
    assert plan.work.path_model is not None
    for new, old in zip(compiled.pools, drawn_in_numpy.pools, strict=True):
        assert (new.mode, new.pool) == (old.mode, old.pool)
        pooled = (new.liquidated_paths + old.liquidated_paths) / (2 * 4_000)
        error = math.sqrt(2 * pooled * (1 - pooled) / 4_000)
        assert abs(new.probability - old.probability) <= 3.5 * error + 1e-12
        low, high = wilson_interval(old.liquidated_paths, 4_000, 0.999)
        assert low <= new.probability <= high
    assert any(o.liquidated_paths > 100 for o in compiled.pools)


class _Wrapped:
    """A ReturnModel of a class the kernel does not know: the Gaussian model behind another face."""

    def __init__(self, inner: GaussianModel) -> None:
        self.inner = inner
        self.name, self.symbols, self.sigma, self.correlation = "wrapped", inner.symbols, inner.sigma, inner.correlation

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        return self.inner.hourly(hours, paths, rng)


def test_a_model_of_another_class_is_drawn_in_numpy_with_a_note() -> None:
    inner = GaussianModel.of(0.01, ("BTCUSDT",))
    result = liquidation_probability(_fresh(Side.LONG), paths=2_000, model=_Wrapped(inner), seed=1, funding=False)
    assert any("_Wrapped has no compiled draw" in note for note in result.notes)
    plan = plan_paths(_fresh(Side.LONG), paths=2_000, model=inner, seed=1, funding=False)
    numpy_plan = dataclasses.replace(plan, work=dataclasses.replace(plan.work, path_model=None))
    expected = finish(numpy_plan, run_batches(numpy_plan.work, range(plan.work.batches)))
    assert result.odds("cross").liquidated_paths == expected.odds("cross").liquidated_paths
