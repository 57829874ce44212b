"""The Monte Carlo kernel that draws its own paths: its draws against a plain-Python drawing of the models, its
breach steps against ``first_breach_reference`` on those draws, and its independence of threads and splits.

Market data: the package sample (Binance USDⓈ-M 1h mark prices of BTCUSDT, ETHUSDT, SOLUSDT, 2026-03-01 to
2026-04-27), on which the FHS, Student-t and GARCH models are fitted.
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from scipy import special, stats

from crossmargin.errors import InputError
from crossmargin.kernels.montecarlo import (
    NOT_LIQUIDATED,
    ZIGGURAT_R,
    PathModel,
    _copula,
    draw_returns,
    first_breach,
    first_breach_drawn,
    first_breach_reference,
    path_key,
    stack_books,
    ziggurat_tables,
)
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.portfolio import all_cross, all_isolated
from crossmargin.risk.montecarlo import pack_for_paths
from crossmargin.risk.return_models import (
    FHSModel,
    GarchModel,
    GaussianModel,
    ReturnModel,
    StudentTModel,
    cholesky,
    copula_table,
    fit_model,
    path_model,
)
from crossmargin.venues import get_rules

SAMPLE = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
BINANCE = get_rules("binance")
MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
ZK, ZW, ZF = ziggurat_tables()


def _model(name: str) -> ReturnModel:
    if name == "gaussian":
        correlation = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])
        return GaussianModel.of([0.012, 0.018, 0.02], SAMPLE, correlation)
    return fit_model(name, SAMPLE)


MODELS = ("gaussian", "t", "fhs", "garch")


def _compiled(model: ReturnModel) -> PathModel:
    compiled = path_model(model)
    assert compiled is not None
    return compiled


# A plain-Python drawing: SplitMix64 seeding, xoshiro256++, the ziggurat and Marsaglia-Tsang gamma on Python
# integers and floats, then each model's hour from the model object's own fields (not from its PathModel).


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class _Stream:
    def __init__(self, key: np.ndarray, path: int, stream: int) -> None:
        x = int(key[0]) ^ _mix64((int(key[1]) + 2 * path + stream) & MASK)
        self.state = []
        for _ in range(4):
            x = (x + GOLDEN) & MASK
            self.state.append(_mix64(x))

    def bits(self) -> int:
        s0, s1, s2, s3 = self.state
        total = (s0 + s3) & MASK
        result = ((((total << 23) | (total >> 41)) & MASK) + s0) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        self.state = [s0, s1, s2, ((s3 << 45) | (s3 >> 19)) & MASK]
        return result

    def uniform(self) -> float:
        return (self.bits() >> 11) * 2.0**-53

    def uniform_open(self) -> float:
        return ((self.bits() >> 11) + 0.5) * 2.0**-53

    def normal(self) -> float:
        while True:
            bits = self.bits()
            layer, negative, magnitude = bits & 255, (bits >> 8) & 1, float(bits >> 11)
            x = magnitude * float(ZW[layer])
            if magnitude < ZK[layer]:
                return -x if negative else x
            if layer == 0:
                while True:
                    tail = -math.log(self.uniform_open()) / ZIGGURAT_R
                    if -2.0 * math.log(self.uniform_open()) >= tail * tail:
                        return -(ZIGGURAT_R + tail) if negative else ZIGGURAT_R + tail
            if ZF[layer] + self.uniform() * (ZF[layer - 1] - ZF[layer]) < math.exp(-0.5 * x * x):
                return -x if negative else x

    def chi_square(self, dof: float) -> float:
        d = 0.5 * dof - 1.0 / 3.0  # dof > 2 here: shape >= 1, no boost
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            x = self.normal()
            v = 1.0 + c * x
            if v <= 0.0:
                continue
            v = v * v * v
            u = self.uniform_open()
            if u < 1.0 - 0.0331 * x * x * x * x or math.log(u) < 0.5 * x * x + d * (1.0 - v + math.log(v)):
                return 2.0 * d * v

    def correlated(self, chol: np.ndarray) -> list[float]:
        normals = [self.normal() for _ in range(len(chol))]
        out = []
        for i in range(len(chol)):
            total = 0.0
            for j in range(i + 1):
                total += float(chol[i, j]) * normals[j]
            out.append(total)
        return out


def _reference_draws(model: ReturnModel, key: np.ndarray, path: int, steps: int, k: int) -> np.ndarray:
    """Return path ``path``'s log returns ``(steps, columns)`` drawn in plain Python."""
    hours, bridge = _Stream(key, path, 0), _Stream(key, path, 1)
    chol = cholesky(model.correlation)
    width = len(model.symbols)
    fits = model.filters if isinstance(model, FHSModel) else model.fits if isinstance(model, GarchModel) else ()
    variance = [float(s) * float(s) for s in model.sigma]
    out: list[list[float]] = []
    while len(out) < steps:
        sigmas = [float(s) for s in model.sigma]
        if isinstance(model, FHSModel):
            rows = model.residuals.shape[0]
            row = min(int(hours.uniform() * rows), rows - 1)
            shocks = [float(model.residuals[row, j]) for j in range(width)]
        else:
            shocks = hours.correlated(chol)
        if isinstance(model, FHSModel | GarchModel):
            returns = []
            for j, fit in enumerate(fits):
                sigmas[j] = math.sqrt(variance[j])
                if isinstance(model, GarchModel):
                    nu = fit.nu
                    shocks[j] = float(special.stdtrit(nu, special.ndtr(shocks[j]))) * math.sqrt((nu - 2) / nu)
                shock = sigmas[j] * shocks[j]
                returns.append(shock)
                variance[j] = fit.omega + fit.alpha * shock * shock + fit.beta * variance[j]
        else:
            mixing = (
                math.sqrt((model.dof - 2.0) / hours.chi_square(model.dof)) if isinstance(model, StudentTModel) else 1.0
            )
            returns = [shocks[j] * mixing * sigmas[j] for j in range(width)]
        if k == 1:
            out.append(returns)
            continue
        noise = [bridge.correlated(chol) for _ in range(k)]
        mean = [sum(row[j] for row in noise) / k for j in range(width)]  # summed in step order, as the kernel
        scale = 1.0 / math.sqrt(k)
        out.extend([[returns[j] / k + sigmas[j] * scale * (row[j] - mean[j]) for j in range(width)] for row in noise])
    return np.array(out[:steps])


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("steps_per_hour", [1, 4])
def test_draws_equal_a_plain_python_drawing(name: str, steps_per_hour: int) -> None:
    # Arrange: paths 5 .. 7 of seed 3, 10 steps.
    model = _model(name)
    key = path_key(3)
    # Act
    drawn = draw_returns(_compiled(model), key, first_path=5, paths=3, steps=10, steps_per_hour=steps_per_hour)
    expected = np.stack([_reference_draws(model, key, 5 + p, 10, steps_per_hour) for p in range(3)])
    # Assert: bit for bit, but for GARCH's copula map, which the kernel reads off cubic Hermite nodes.
    if name == "garch":
        np.testing.assert_allclose(drawn, expected, rtol=1e-9, atol=0.0)
    else:
        np.testing.assert_array_equal(drawn, expected)


def test_the_copula_nodes_follow_scipy() -> None:
    # g(x) = t_nu^-1(Phi(x)) sqrt((nu - 2) / nu), nu 3.2 and 5; x over the whole grid and beyond it.
    nu = np.array([3.2, 5.0])
    quantiles, slopes = copula_table(nu)
    xs = np.random.default_rng(1).uniform(-8.4, 8.4, 2000)
    for j, degrees in enumerate(nu):
        got = np.array([_copula(quantiles, slopes, -8.5, 1 / 256, j, x) for x in xs])
        lower = special.stdtrit(degrees, special.ndtr(-np.abs(xs)))
        exact = np.where(xs <= 0, lower, -lower) * math.sqrt((degrees - 2) / degrees)
        np.testing.assert_allclose(got, exact, rtol=1e-9)
        assert _copula(quantiles, slopes, -8.5, 1 / 256, j, 0.0) == 0.0
        assert _copula(quantiles, slopes, -8.5, 1 / 256, j, 9.0) > _copula(quantiles, slopes, -8.5, 1 / 256, j, 8.5)


def test_the_draws_have_the_models_distributions() -> None:
    # 200,000 first hours of one symbol: Gaussian shocks are N(0, sigma^2), Student-t ones t_nu scaled to
    # unit variance (KS tests), so the ziggurat and the gamma sampler draw what they should.
    gaussian = GaussianModel.of(0.01, ("BTCUSDT",))
    first = draw_returns(_compiled(gaussian), path_key(0), first_path=0, paths=200_000, steps=1)[:, 0, 0]
    assert stats.kstest(first / 0.01, "norm").pvalue > 0.01
    assert abs(np.mean(np.abs(first / 0.01) > ZIGGURAT_R) - 2 * stats.norm.sf(ZIGGURAT_R)) < 1.5e-4  # the tail layer
    t_model = StudentTModel(symbols=("BTCUSDT",), sigma=np.array([0.01]), correlation=np.eye(1), dof=3.5)
    first = draw_returns(_compiled(t_model), path_key(0), first_path=0, paths=200_000, steps=1)[:, 0, 0]
    unit = first / 0.01 / math.sqrt(1.5 / 3.5)
    assert stats.kstest(unit, "t", args=(3.5,)).pvalue > 0.01


def _book(mode: MarginMode) -> tuple[Account, Marks]:
    """Long BTC, short ETH, long SOL at 20-30x, so that a day of paths liquidates some pools and not others."""
    marks = Marks({"BTCUSDT": 70_000.0, "ETHUSDT": 2_000.0, "SOLUSDT": 85.0})
    legs = (("BTCUSDT", Side.LONG, 1.0, 30), ("ETHUSDT", Side.SHORT, 30.0, 25), ("SOLUSDT", Side.LONG, 600.0, 20))
    positions = tuple(
        Position(
            symbol=symbol,
            side=side,
            size=size,
            entry_price=marks.price(symbol),
            leverage=leverage,
            mode=mode,
            isolated_margin=size * marks.price(symbol) / leverage if mode is MarginMode.ISOLATED else None,
        )
        for symbol, side, size, leverage in legs
    )
    return Account(venue="binance", wallet_balance=9_000.0, positions=positions), marks


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("steps_per_hour", [1, 3])
def test_the_kernel_equals_the_reference_on_its_own_draws(name: str, steps_per_hour: int) -> None:
    # Arrange: both books of the same portfolio on 6 paths of 12 hours, funding 0.05 % every 8 h.
    account, marks = _book(MarginMode.ISOLATED)
    accounts = [all_cross(account), all_isolated(account)]
    books = [pack_for_paths(a, BINANCE, SAMPLE, marks) for a in accounts]
    rates = [np.array([5e-4, 5e-4, -5e-4])] * 2
    model, key, steps = _compiled(_model(name)), path_key(11), 12 * steps_per_hour
    start = np.array([marks.price(s) for s in SAMPLE])
    every = 8 * steps_per_hour
    # Act
    firsts, peaks = first_breach_drawn(
        stack_books(books, rates), model, key, start, columns=[0, 1, 2], first_path=0, paths=6, steps=steps,
        steps_per_hour=steps_per_hour, funding_every=every,
    )  # fmt: skip
    draws = draw_returns(model, key, first_path=0, paths=6, steps=steps, steps_per_hour=steps_per_hour)
    # Assert: per book, the same steps as the plain-Python reference and as first_breach on those draws.
    for account_, book, rate, first, peak in zip(accounts, books, rates, firsts, peaks, strict=True):
        reference = first_breach_reference(
            account_, BINANCE, marks, SAMPLE, draws, funding_rate=rate, funding_every=every
        )
        np.testing.assert_array_equal(first, reference)
        given_peaks = np.empty_like(peak)
        given = first_breach(book, draws, start, funding_rate=rate, funding_every=every, peak_marks=given_peaks)
        np.testing.assert_array_equal(first, given)
        np.testing.assert_array_equal(peak, given_peaks)


def test_the_check_is_not_idle() -> None:
    # The same book on 200 Gaussian paths (sigma 1.2 to 2 % an hour): isolated pools breach on some paths.
    account, marks = _book(MarginMode.ISOLATED)
    books = [pack_for_paths(a, BINANCE, SAMPLE, marks) for a in (all_cross(account), all_isolated(account))]
    start = np.array([marks.price(s) for s in SAMPLE])
    firsts, _ = first_breach_drawn(
        stack_books(books, [None, None]), _compiled(_model("gaussian")), path_key(0), start, columns=[0, 1, 2],
        first_path=0, paths=200, steps=24,
    )  # fmt: skip
    isolated = firsts[1][:, 1:]
    assert (isolated != NOT_LIQUIDATED).any()
    assert (isolated == NOT_LIQUIDATED).any()


def test_the_figures_do_not_depend_on_threads_or_on_the_split() -> None:
    account, marks = _book(MarginMode.ISOLATED)
    books = stack_books([pack_for_paths(all_isolated(account), BINANCE, SAMPLE, marks)], [None])
    model, key = _compiled(_model("fhs")), path_key(5)
    start = np.array([marks.price(s) for s in SAMPLE])

    def run(first_path: int, paths: int) -> np.ndarray:
        return first_breach_drawn(
            books, model, key, start, columns=[0, 1, 2], first_path=first_path, paths=paths, steps=48,
            steps_per_hour=2,
        )[0][0]  # fmt: skip

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run(0, 40)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        many = run(0, 40)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)
    np.testing.assert_array_equal(np.vstack([run(0, 13), run(13, 1), run(14, 26)]), one)
    assert not np.array_equal(
        draw_returns(model, key, first_path=0, paths=3, steps=5),
        draw_returns(model, path_key(6), first_path=0, paths=3, steps=5),
    )


def test_the_hours_do_not_depend_on_the_steps_per_hour() -> None:
    # The bridge has its own stream: with 4 steps an hour, each hour's 4 steps add up to the 1-step hour.
    model, key = _compiled(_model("fhs")), path_key(2)
    hourly = draw_returns(model, key, first_path=0, paths=4, steps=6)
    fine = draw_returns(model, key, first_path=0, paths=4, steps=24, steps_per_hour=4)
    np.testing.assert_allclose(fine.reshape(4, 6, 4, 3).sum(axis=2), hourly, rtol=0, atol=1e-15)


def test_bad_arguments_raise_input_errors() -> None:
    account, marks = _book(MarginMode.CROSS)
    book = pack_for_paths(account, BINANCE, SAMPLE, marks)
    model, key = _compiled(_model("gaussian")), path_key(0)
    start = np.array([marks.price(s) for s in SAMPLE])
    with pytest.raises(InputError, match="paths"):
        draw_returns(model, key, first_path=0, paths=-1, steps=3)
    with pytest.raises(InputError, match="steps_per_hour"):
        draw_returns(model, key, first_path=0, paths=1, steps=3, steps_per_hour=0)
    with pytest.raises(InputError, match="funding_rate"):
        stack_books([book], [np.zeros(2)])
    with pytest.raises(InputError, match="books"):
        stack_books([], [])
    books = stack_books([book], [None])
    with pytest.raises(InputError, match="columns"):
        first_breach_drawn(books, model, key, start, columns=[0, 1, 3], first_path=0, paths=1, steps=2)
    with pytest.raises(InputError, match="start_marks"):
        first_breach_drawn(books, model, key, start[:2], columns=[0, 1, 2], first_path=0, paths=1, steps=2)
