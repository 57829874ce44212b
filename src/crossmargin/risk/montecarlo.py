"""Monte Carlo probability of liquidation within a horizon, per cross account and per isolated position.

Target quantity (risk-methods §3.1): ``p = P(tau <= h)`` with ``tau`` the first step at which a margin pool's
margin balance falls to its requirement, ``E <= R`` (quote currency). Liquidation is a first-passage event:
every step of every path is checked, not only the end.

Return models, fitted on the real sample shipped in the package (Binance USDⓈ-M 1h mark prices,
2026-03-01 to 2026-04-27; OKX / Hyperliquid / Bybit symbols map to it by base: BTC-USDT-SWAP, BTC ->
BTCUSDT), each simulating hourly log returns of all the portfolio's symbols jointly (§3.3):

- ``FHSModel`` (default), filtered historical simulation: the demeaned hourly log returns are standardised
  by an EWMA (lambda 0.94) or GARCH(1,1) volatility; whole vectors of standardised residuals (one time index
  for all symbols, so their dependence is kept) are bootstrapped and re-scaled by the volatility recursion
  run along the path from the current volatility, so a shock raises the volatility after it.
- ``StudentTModel``: multivariate Student-t with one shared chi-square per step (joint crashes), the
  degrees of freedom fitted by maximum likelihood, the sample correlation and unconditional volatility.
- ``GarchModel``: per-symbol GARCH(1,1) with standardised-t innovations (``arch``), the innovations made
  dependent through the correlation of the joint standardised residuals (Gaussian copula).
- ``GaussianModel``: i.i.d. correlated Gaussian returns with a given volatility (the closed form's world).

All models have zero drift in log price (the sample's two-month drift is not a forecast). With
``steps_per_hour`` k > 1 each simulated hour is split into k steps by a Brownian bridge with that hour's
volatility: the hourly returns keep their distribution and the path is monitored k times an hour, which
shrinks the bias of discrete monitoring (§3.4; a Brownian path checked every ``dt`` hours behaves like
one checked continuously against a barrier farther by ``0.5826 sigma sqrt(dt)``, ``bgk_distance``).

Funding (optional): at every settlement (the venue's interval, counted from the start of the path) each
position pays ``side x size x mark x rate`` out of its pool's wallet on the path's marks; the rate is the
mean of the sample's last ``RECENT_SETTLEMENTS`` 8-hourly rates of the symbol, scaled to the venue's
interval. The compiled path loop is ``montecarlo_kernel.first_breach``; its plain-Python twin,
``montecarlo_kernel.first_breach_reference``, is built on ``margin.account.evaluate``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, Protocol

import numpy as np
from scipy import optimize, special, stats

from crossmargin.data.store import SAMPLE_SYMBOLS, sample_frames, sample_funding
from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import BookArrays, pack_book
from crossmargin.margin.account import evaluate
from crossmargin.margin.position import unrealized_pnl
from crossmargin.model import Account, MarginMode, Marks
from crossmargin.numeric import require_positive
from crossmargin.portfolio import Portfolio, all_cross, all_isolated
from crossmargin.progress import stderr_progress
from crossmargin.risk.montecarlo_kernel import NOT_LIQUIDATED, first_breach
from crossmargin.sim.market import FloatArray, IntArray, MarketData, market_from_frames
from crossmargin.venues.base import VenueRules

__all__ = [
    "BATCH_PATHS",
    "BGK_BETA",
    "EWMA_LAMBDA",
    "MAX_HORIZON_HOURS",
    "MAX_PATHS",
    "MAX_STEPS_PER_HOUR",
    "MODELS",
    "NOT_LIQUIDATED",
    "RECENT_SETTLEMENTS",
    "SAMPLE_FUNDING_HOURS",
    "FHSModel",
    "GarchFit",
    "GarchModel",
    "GaussianModel",
    "MCResult",
    "PoolOdds",
    "ReturnModel",
    "StudentTModel",
    "bgk_distance",
    "equity_quantiles",
    "ewma_variance",
    "fit_garch",
    "fit_model",
    "horizon_steps",
    "liquidation_probability",
    "mean_funding_rate",
    "pack_for_paths",
    "path_batches",
    "sample_returns",
    "sample_symbol",
    "simulate_paths",
    "wilson_interval",
]

#: Names of the fitted models accepted by ``fit_model`` and ``liquidation_probability``.
MODELS: tuple[str, ...] = ("fhs", "t", "garch")
#: RiskMetrics decay of the EWMA variance (hourly returns).
EWMA_LAMBDA = 0.94
#: Paths simulated at a time (memory and progress granularity). Fixed, so a seed gives one answer.
BATCH_PATHS = 10_000
#: Most paths one estimate may ask for.
MAX_PATHS = 1_000_000
#: Most steps an hour may be split into.
MAX_STEPS_PER_HOUR = 60
#: Longest horizon (hours): 90 days, beyond which an hourly model of two months of data says little.
MAX_HORIZON_HOURS = 2160.0
#: Funding settlements of the sample averaged for the path's rate: 21 x 8 h = the last 7 days.
RECENT_SETTLEMENTS = 21
#: Hours between the sample's (Binance) funding settlements.
SAMPLE_FUNDING_HOURS = 8.0
#: Broadie-Glasserman-Kou constant: -zeta(1/2) / sqrt(2 pi).
BGK_BETA = 0.5826
#: Scale of returns handed to ``arch`` (per mille), where its optimiser is well conditioned.
_ARCH_SCALE = 1000.0
_HOUR_MS = 3_600_000


def sample_symbol(symbol: str, rules: VenueRules) -> str:
    """Return the sample's Binance symbol for the venue's ``symbol`` (same base, quoted in USDT).

    Raises UnknownSymbolError for a symbol the venue does not list, DataError for a base the sample lacks.
    """
    base = rules.instrument(symbol).base.upper()
    name = f"{base}USDT"
    if name not in SAMPLE_SYMBOLS:
        raise DataError(
            f"no sample returns for {symbol} on {rules.name} (base {base}); the sample holds "
            f"{', '.join(SAMPLE_SYMBOLS)}"
        )
    return name


@lru_cache(maxsize=8)
def sample_returns(symbols: tuple[str, ...]) -> FloatArray:
    """Return hourly log returns of the sample's mark closes, shape ``(hours, symbols)`` (fractions).

    The bars of all ``symbols`` (sample names such as 'BTCUSDT') are aligned on one unbroken hourly grid.
    Raises InputError for a symbol not in the sample, DataError for a gap.
    """
    frames = sample_frames(list(symbols), interval="1h", kind="mark")
    market = market_from_frames(frames, interval_ms=_HOUR_MS)
    returns = np.diff(np.log(market.close), axis=0)
    returns.setflags(write=False)
    return returns


def mean_funding_rate(symbol: str, *, interval_hours: float = SAMPLE_FUNDING_HOURS) -> float:
    """Return the mean of the sample's last ``RECENT_SETTLEMENTS`` funding rates of ``symbol`` (sample name).

    Fraction per settlement, > 0 when longs pay shorts, scaled from the sample's 8-hourly settlements to
    ``interval_hours`` (the same rate per hour).
    """
    rates = sample_funding(symbol)[symbol]["funding_rate"].to_numpy(dtype=np.float64)
    return float(rates[-RECENT_SETTLEMENTS:].mean() * interval_hours / SAMPLE_FUNDING_HOURS)


def ewma_variance(returns: FloatArray, lam: float = EWMA_LAMBDA) -> tuple[FloatArray, FloatArray]:
    """Return the EWMA variance before each return and the forecast for the next hour (fraction^2 per hour).

    ``var_t = lam var_{t-1} + (1 - lam) r_{t-1}^2``, started at the mean square of ``returns``
    (``(hours, symbols)``). Shapes: ``(hours, symbols)`` and ``(symbols,)``.
    """
    if not 0 < lam < 1:
        raise InputError("lam", lam, "a decay in (0, 1)")
    series = np.asarray(returns, dtype=np.float64)
    variance = np.empty_like(series)
    current = np.mean(series**2, axis=0)
    for t in range(series.shape[0]):
        variance[t] = current
        current = lam * current + (1 - lam) * series[t] ** 2
    return variance, current


@dataclass(frozen=True, slots=True, kw_only=True)
class GarchFit:
    """GARCH(1,1)-t of one symbol's hourly log returns: ``var_t = omega + alpha r_{t-1}^2 + beta var_{t-1}``.

    ``omega`` in fraction^2 per hour; ``nu`` the degrees of freedom of the standardised-t innovations;
    ``variance`` the fitted conditional variance of each hour and ``next_variance`` the forecast for the
    hour after the sample (fraction^2 per hour).
    """

    omega: float
    alpha: float
    beta: float
    nu: float
    variance: FloatArray
    next_variance: float

    def horizon_variance(self, hours: int) -> float:
        """Return the mean forecast variance per hour over the next ``hours`` (fraction^2 per hour)."""
        total = 0.0
        current = self.next_variance
        for _ in range(hours):
            total += current
            current = self.omega + (self.alpha + self.beta) * current
        return total / hours


def fit_garch(returns: FloatArray) -> GarchFit:
    """Return the GARCH(1,1)-t fit (``arch``, zero mean) of one series of hourly log returns (fractions).

    Raises DataError when the optimiser does not converge.
    """
    from arch import arch_model  # noqa: PLC0415 - arch is slow to import; only the GARCH paths need it

    series = np.asarray(returns, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arch warns about starting values it then improves on
        result = arch_model(series * _ARCH_SCALE, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(
            disp="off"
        )
    if result.convergence_flag != 0:
        raise DataError(f"GARCH(1,1)-t fit did not converge (flag {result.convergence_flag})")
    params = result.params
    omega = float(params["omega"]) / _ARCH_SCALE**2
    alpha, beta = float(params["alpha[1]"]), float(params["beta[1]"])
    variance = np.asarray(result.conditional_volatility, dtype=np.float64) ** 2 / _ARCH_SCALE**2
    return GarchFit(
        omega=omega,
        alpha=alpha,
        beta=beta,
        nu=float(params["nu"]),
        variance=variance,
        next_variance=omega + alpha * float(series[-1]) ** 2 + beta * float(variance[-1]),
    )


class ReturnModel(Protocol):
    """A joint model of hourly log returns of ``symbols`` (sample names), simulated path by path."""

    @property
    def name(self) -> str:
        """Return the model's short name ('fhs', 't', 'garch', 'gaussian')."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]:
        """Return the symbols of the model's columns."""
        ...

    @property
    def sigma(self) -> FloatArray:
        """Return each symbol's volatility for the next hour (fraction per sqrt hour)."""
        ...

    @property
    def correlation(self) -> FloatArray:
        """Return the correlation of the symbols' shocks (used to split hours into steps)."""
        ...

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return log returns and the volatility they were drawn with, each ``(paths, hours, symbols)``."""
        ...


def _cholesky(correlation: FloatArray) -> FloatArray:
    return np.asarray(np.linalg.cholesky(correlation + 1e-12 * np.eye(len(correlation))), dtype=np.float64)


def _check_symbols(symbols: Sequence[str], width: int) -> tuple[str, ...]:
    names = tuple(symbols)
    if len(names) != width or len(set(names)) != width:
        raise InputError("symbols", names, f"{width} distinct names, one per column")
    return names


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GaussianModel:
    """I.i.d. Gaussian log returns with volatility ``sigma`` (fraction per sqrt hour) and zero drift.

    Brownian log prices: the world of the closed form (``risk.leverage``), for tests and comparisons.
    """

    sigma: FloatArray
    symbols: tuple[str, ...]
    correlation: FloatArray
    name: str = "gaussian"

    @classmethod
    def of(
        cls, sigma: float | Sequence[float], symbols: Sequence[str], correlation: FloatArray | None = None
    ) -> GaussianModel:
        """Return the model of ``symbols`` with hourly volatilities ``sigma`` (one, or one per symbol)."""
        names = tuple(symbols)
        sigmas = np.broadcast_to(np.asarray(sigma, dtype=np.float64), (len(names),)).copy()
        for value in sigmas:
            require_positive("sigma", float(value))
        corr = np.eye(len(names)) if correlation is None else np.asarray(correlation, dtype=np.float64)
        if corr.shape != (len(names), len(names)):
            raise InputError("correlation", corr.shape, f"a {len(names)} x {len(names)} matrix")
        return cls(sigma=sigmas, symbols=_check_symbols(names, len(names)), correlation=corr)

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return ``sigma x C eps`` per hour (C the Cholesky factor of the correlation) and the sigmas."""
        shocks = rng.standard_normal((paths, hours, len(self.symbols))) @ _cholesky(self.correlation).T
        scale = np.broadcast_to(self.sigma, shocks.shape)
        return shocks * scale, np.array(scale)


def _volatility_path(
    residuals: Iterator[FloatArray], hours: int, paths: int, start_variance: FloatArray, fits: Sequence[GarchFit]
) -> tuple[FloatArray, FloatArray]:
    """Run ``var_{k+1} = omega + alpha r_k^2 + beta var_k`` along paths, ``r_k = sqrt(var_k) z_k``."""
    omega = np.array([f.omega for f in fits])
    alpha = np.array([f.alpha for f in fits])
    beta = np.array([f.beta for f in fits])
    width = len(fits)
    returns = np.empty((paths, hours, width))
    sigmas = np.empty((paths, hours, width))
    variance = np.broadcast_to(start_variance, (paths, width)).copy()
    for k in range(hours):
        sigma = np.sqrt(variance)
        shock = sigma * next(residuals)
        returns[:, k] = shock
        sigmas[:, k] = sigma
        variance = omega + alpha * shock**2 + beta * variance
    return returns, sigmas


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class FHSModel:
    """Filtered historical simulation: bootstrapped joint standardised residuals under a volatility recursion.

    ``residuals`` ``(hours, symbols)`` are the sample's demeaned returns over their filtered volatility;
    ``filters`` hold each symbol's recursion (EWMA: omega 0, alpha 1 - lambda, beta lambda);
    ``sigma`` the volatility of the hour after the sample (fraction per sqrt hour).
    """

    symbols: tuple[str, ...]
    residuals: FloatArray
    filters: tuple[GarchFit, ...]
    sigma: FloatArray
    correlation: FloatArray
    filter: Literal["ewma", "garch"] = "ewma"
    name: str = "fhs"

    @classmethod
    def from_returns(
        cls, returns: FloatArray, symbols: Sequence[str], *, filter: Literal["ewma", "garch"] = "ewma"
    ) -> FHSModel:
        """Return the model fitted on hourly log ``returns`` ``(hours, symbols)`` (fractions)."""
        series = np.asarray(returns, dtype=np.float64)
        names = _check_symbols(symbols, series.shape[1])
        demeaned = series - series.mean(axis=0)
        if filter == "ewma":
            variance, forecast = ewma_variance(demeaned)
            fits = tuple(
                GarchFit(
                    omega=0.0,
                    alpha=1 - EWMA_LAMBDA,
                    beta=EWMA_LAMBDA,
                    nu=math.inf,
                    variance=variance[:, j],
                    next_variance=float(forecast[j]),
                )
                for j in range(len(names))
            )
        elif filter == "garch":
            fits = tuple(fit_garch(demeaned[:, j]) for j in range(len(names)))
            variance = np.column_stack([fit.variance for fit in fits])
        else:
            raise InputError("filter", filter, "'ewma' or 'garch'")
        standardised = demeaned / np.sqrt(variance)
        # A filtered variance is a noisy estimate, so E[r^2 / var] > 1 even when it is unbiased (Jensen):
        # residuals are scaled to unit variance so the next hour's volatility is the filter's forecast.
        residuals = standardised / np.sqrt(np.mean(standardised**2, axis=0))
        residuals.setflags(write=False)
        return cls(
            symbols=names,
            residuals=residuals,
            filters=fits,
            sigma=np.sqrt([fit.next_variance for fit in fits]),
            correlation=np.atleast_2d(np.corrcoef(residuals, rowvar=False)),
            filter=filter,
        )

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return bootstrapped paths: one residual row (time index) per path and hour, re-scaled."""
        rows = self.residuals.shape[0]
        draws = (self.residuals[rng.integers(0, rows, size=paths)] for _ in range(hours))
        return _volatility_path(draws, hours, paths, self.sigma**2, self.filters)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class StudentTModel:
    """Multivariate Student-t log returns: ``r = sigma x C eps x sqrt((dof - 2) / W)``, ``W ~ chi2(dof)``.

    One ``W`` per path and hour is shared by all symbols, so large moves come together (tail dependence).
    ``sigma`` is the sample's hourly volatility (unconditional, fraction per sqrt hour), ``dof`` fitted by
    maximum likelihood.
    """

    symbols: tuple[str, ...]
    sigma: FloatArray
    correlation: FloatArray
    dof: float
    name: str = "t"

    @classmethod
    def from_returns(cls, returns: FloatArray, symbols: Sequence[str]) -> StudentTModel:
        """Return the model fitted on hourly log ``returns`` ``(hours, symbols)`` (fractions)."""
        series = np.asarray(returns, dtype=np.float64)
        names = _check_symbols(symbols, series.shape[1])
        demeaned = series - series.mean(axis=0)
        sigma = demeaned.std(axis=0)
        standard = demeaned / sigma
        correlation = np.atleast_2d(np.corrcoef(standard, rowvar=False))

        def loss(dof: float) -> float:
            shape = correlation * (dof - 2) / dof
            return -float(np.sum(stats.multivariate_t.logpdf(standard, shape=shape, df=dof)))

        fitted = optimize.minimize_scalar(loss, bounds=(2.05, 100.0), method="bounded")
        return cls(symbols=names, sigma=sigma, correlation=correlation, dof=float(fitted.x))

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return multivariate-t hourly returns with unit-variance shocks scaled by ``sigma``."""
        shocks = rng.standard_normal((paths, hours, len(self.symbols))) @ _cholesky(self.correlation).T
        mixing = np.sqrt((self.dof - 2) / rng.chisquare(self.dof, size=(paths, hours, 1)))
        scale = np.broadcast_to(self.sigma, shocks.shape)
        return shocks * mixing * scale, np.array(scale)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class GarchModel:
    """Per-symbol GARCH(1,1)-t simulated forward, innovations joined by their residual correlation.

    Innovations: ``z_i = t_nu_i^-1(Phi(x_i)) sqrt((nu_i - 2) / nu_i)`` with ``x ~ N(0, R)``, R the correlation
    of the sample's standardised residuals: each symbol keeps its fitted fat tail, the symbols their
    dependence.
    """

    symbols: tuple[str, ...]
    fits: tuple[GarchFit, ...]
    sigma: FloatArray
    correlation: FloatArray
    name: str = "garch"

    @classmethod
    def from_returns(cls, returns: FloatArray, symbols: Sequence[str]) -> GarchModel:
        """Return the model fitted on hourly log ``returns`` ``(hours, symbols)`` (fractions)."""
        series = np.asarray(returns, dtype=np.float64)
        names = _check_symbols(symbols, series.shape[1])
        demeaned = series - series.mean(axis=0)
        fits = tuple(fit_garch(demeaned[:, j]) for j in range(len(names)))
        residuals = demeaned / np.sqrt(np.column_stack([fit.variance for fit in fits]))
        return cls(
            symbols=names,
            fits=fits,
            sigma=np.sqrt([fit.next_variance for fit in fits]),
            correlation=np.atleast_2d(np.corrcoef(residuals, rowvar=False)),
        )

    def hourly(self, hours: int, paths: int, rng: np.random.Generator) -> tuple[FloatArray, FloatArray]:
        """Return GARCH paths from the current variance with copula-joined standardised-t innovations."""
        chol = _cholesky(self.correlation)
        nu = np.array([fit.nu for fit in self.fits])
        width = len(self.symbols)

        def innovations() -> Iterator[FloatArray]:
            while True:
                gauss = rng.standard_normal((paths, width)) @ chol.T
                yield special.stdtrit(nu, special.ndtr(gauss)) * np.sqrt((nu - 2) / nu)

        return _volatility_path(innovations(), hours, paths, self.sigma**2, self.fits)


@lru_cache(maxsize=16)
def fit_model(name: str, symbols: tuple[str, ...]) -> ReturnModel:
    """Return the model ``name`` ('fhs', 't', 'garch') fitted on the sample returns of ``symbols``.

    Raises InputError for an unknown model name (with near matches) or symbol.
    """
    returns = sample_returns(symbols)
    if name == "fhs":
        return FHSModel.from_returns(returns, symbols)
    if name == "t":
        return StudentTModel.from_returns(returns, symbols)
    if name == "garch":
        return GarchModel.from_returns(returns, symbols)
    raise InputError("model", name, " | ".join(MODELS), detail=f"unknown model {name!r}")


def _split_hours(
    returns: FloatArray, sigmas: FloatArray, steps_per_hour: int, correlation: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Return each hour's return split into ``steps_per_hour`` steps by a Brownian bridge of that hour's sigma.

    Increments ``d_j = r / k + s (e_j - mean(e))`` with ``e_j ~ N(0, R / k)``: Gaussian increments conditioned
    on their sum ``r`` (exact for Brownian motion).
    """
    paths, hours, width = returns.shape
    noise = rng.standard_normal((paths, hours, steps_per_hour, width)) @ _cholesky(correlation).T
    noise *= (sigmas / math.sqrt(steps_per_hour))[:, :, None, :]
    noise -= noise.mean(axis=2, keepdims=True)
    noise += (returns / steps_per_hour)[:, :, None, :]
    return noise.reshape(paths, hours * steps_per_hour, width)


def _simulate(model: ReturnModel, steps: int, paths: int, rng: np.random.Generator, steps_per_hour: int) -> FloatArray:
    hours = -(-steps // steps_per_hour)
    returns, sigmas = model.hourly(hours, paths, rng)
    if steps_per_hour == 1:
        return np.ascontiguousarray(returns[:, :steps])
    return np.ascontiguousarray(_split_hours(returns, sigmas, steps_per_hour, model.correlation, rng)[:, :steps])


def _check_count(field_name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
        raise InputError(field_name, value, f"an integer {low:,} .. {high:,}")
    return int(value)


def horizon_steps(horizon_hours: float, steps_per_hour: int) -> int:
    """Return the number of steps of ``1 / steps_per_hour`` hours in ``horizon_hours``.

    Raises InputError unless the horizon is a whole number (>= 1) of steps.
    """
    steps = round(horizon_hours * steps_per_hour)
    if steps < 1 or not math.isclose(steps, horizon_hours * steps_per_hour, rel_tol=0.0, abs_tol=1e-9):
        raise InputError(
            "horizon_hours",
            horizon_hours,
            f"a whole number of steps of 1/{steps_per_hour} h (raise steps_per_hour)",
            detail=f"{horizon_hours:g} h is not a whole number of {60 / steps_per_hour:g}-minute steps",
        )
    return steps


def simulate_paths(
    model: ReturnModel, steps: int, paths: int, seed: int | None = 0, *, steps_per_hour: int = 1
) -> FloatArray:
    """Return simulated log returns, shape ``(paths, steps, symbols)`` (fraction per step; columns ``model.symbols``).

    Each step lasts ``1 / steps_per_hour`` hours; the same ``seed`` gives the same paths.
    """
    steps = _check_count("steps", steps, 1, int(MAX_HORIZON_HOURS) * MAX_STEPS_PER_HOUR)
    paths = _check_count("paths", paths, 1, MAX_PATHS)
    steps_per_hour = _check_count("steps_per_hour", steps_per_hour, 1, MAX_STEPS_PER_HOUR)
    return _simulate(model, steps, paths, np.random.default_rng(seed), steps_per_hour)


def path_batches(
    model: ReturnModel, steps: int, paths: int, seed: int | None, *, steps_per_hour: int = 1
) -> Iterator[FloatArray]:
    """Yield ``simulate_paths`` in batches of ``BATCH_PATHS`` (the last smaller), each from its own seed.

    The batch seeds are spawned from ``seed``, so a seed and a number of paths give one answer.
    """
    batches = -(-paths // BATCH_PATHS)
    for index, child in enumerate(np.random.SeedSequence(seed).spawn(batches)):
        size = min(BATCH_PATHS, paths - index * BATCH_PATHS)
        yield _simulate(model, steps, size, np.random.default_rng(child), steps_per_hour)


def bgk_distance(distance: float, sigma: float, step_hours: float) -> float:
    """Return the log distance a continuously monitored barrier needs to match monitoring every ``step_hours``.

    ``b + 0.5826 sigma sqrt(dt)`` (Broadie, Glasserman and Kou 1997), ``sigma`` per sqrt hour.
    """
    return distance + BGK_BETA * sigma * math.sqrt(step_hours)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval (fractions) of a probability estimated as ``successes / trials``."""
    if trials <= 0:
        raise InputError("trials", trials, "> 0")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z / (1 + z * z / trials) * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolOdds:
    """Liquidation odds of one margin pool within the horizon. Field names are the ``--json`` keys.

    ``mode``: 'cross' (all positions cross, one pool), 'isolated' (every position its own pool) or
    'as given'; ``pool``: 'cross' or the isolated position ('ETHUSDT short'). ``probability`` and its 95 %
    Wilson interval are fractions; ``median_hours`` is the median time to liquidation of the liquidated
    paths (hours from now), None when no path was liquidated.
    """

    mode: str
    pool: str
    symbols: tuple[str, ...]
    liquidated_paths: int
    probability: float
    ci_low: float
    ci_high: float
    median_hours: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MCResult:
    """What ``liquidation_probability`` found. ``dataclasses.asdict`` of it is the ``--json`` object.

    ``sigma_hourly`` is each symbol's current model volatility (fraction per sqrt hour); ``funding_rates``
    the rate applied to each symbol per settlement (fraction, > 0: longs pay) every
    ``funding_interval_hours``; ``sample_symbols`` the sample series each symbol's returns come from.
    """

    venue: str
    model: str
    seed: int | None
    paths: int
    horizon_hours: float
    steps_per_hour: int
    symbols: tuple[str, ...]
    sample_symbols: tuple[str, ...]
    sigma_hourly: tuple[float, ...]
    funding: bool
    funding_interval_hours: float
    funding_rates: dict[str, float]
    pools: tuple[PoolOdds, ...]
    notes: tuple[str, ...] = field(default=())

    def odds(self, mode: str, pool: str = "cross") -> PoolOdds:
        """Return the odds of ``pool`` in ``mode``; raise InputError when there is none."""
        for odds in self.pools:
            if odds.mode == mode and odds.pool == pool:
                return odds
        known = ", ".join(f"{o.mode}/{o.pool}" for o in self.pools)
        raise InputError("pool", f"{mode}/{pool}", known)


def _marks_market(symbols: tuple[str, ...], marks: Marks) -> MarketData:
    """Return a one-bar market at ``marks``: the columns ``pack_book`` lays the book out on."""
    row = np.array([[marks.price(s) for s in symbols]], dtype=np.float64)
    return MarketData(
        times=np.zeros(1, dtype=np.int64),
        symbols=symbols,
        open=row,
        high=row,
        low=row,
        close=row,
        mark_open=row,
        mark_high=row,
        mark_low=row,
        mark_close=row,
        interval_ms=_HOUR_MS,
    )


def pack_for_paths(account: Account, rules: VenueRules, symbols: tuple[str, ...], marks: Marks) -> BookArrays:
    """Return ``account``'s book laid out on the columns ``symbols`` (``kernels.layout.pack_book``)."""
    return pack_book(account, rules, _marks_market(symbols, marks))


def _pool_labels(account: Account) -> list[str]:
    """Return the label of each pool in ``pack_book`` order: 'cross', then each isolated position."""
    labels = ["cross"]
    for position in account.positions:
        if position.mode is MarginMode.ISOLATED:
            labels.append(f"{position.symbol} {position.side.label}")
    return labels


def _books(account: Account) -> tuple[dict[str, Account], list[str]]:
    books = {"cross": all_cross(account)}
    notes = []
    try:
        books["isolated"] = all_isolated(account)
    except InputError as error:
        notes.append(f"isolated not simulated: {error}")
    modes = {p.mode for p in account.positions}
    if len(modes) > 1:
        books["as given"] = account
    return books, notes


def liquidation_probability(
    portfolio: Portfolio,
    *,
    horizon_hours: float = 24.0,
    paths: int = 100_000,
    model: str | ReturnModel = "fhs",
    seed: int | None = 0,
    steps_per_hour: int = 1,
    funding: bool = True,
    progress: bool | None = None,
) -> MCResult:
    """Return the probability that each margin pool is liquidated within ``horizon_hours`` (fractions, 95 % CI).

    The portfolio is simulated twice on the same paths: all positions cross (one pool) and all isolated
    (one pool each), plus as given when it mixes modes. ``model`` is a name of ``MODELS`` (fitted on the
    sample) or a ``ReturnModel`` whose ``symbols`` are sample names. ``progress`` None shows a bar on stderr
    only on a terminal. Raises InputError for a bad horizon, path count, step count or model, DataError for
    a symbol the sample lacks.
    """
    horizon = require_positive("horizon_hours", horizon_hours)
    if horizon > MAX_HORIZON_HOURS:
        raise InputError("horizon_hours", horizon_hours, f"at most {MAX_HORIZON_HOURS:g} h (90 days)")
    paths = _check_count("paths", paths, 1, MAX_PATHS)
    steps_per_hour = _check_count("steps_per_hour", steps_per_hour, 1, MAX_STEPS_PER_HOUR)
    steps = horizon_steps(horizon, steps_per_hour)
    account, rules = portfolio.account, portfolio.rules
    if not account.positions:
        raise InputError("positions", (), "at least one position")
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    samples = tuple(sample_symbol(s, rules) for s in symbols)
    fitted = fit_model(model, tuple(dict.fromkeys(samples))) if isinstance(model, str) else model
    missing = [s for s in samples if s not in fitted.symbols]
    if missing:
        raise InputError("model", fitted.name, f"a model of {', '.join(samples)}", detail=f"no column for {missing}")
    columns = [fitted.symbols.index(s) for s in samples]
    interval = float(getattr(rules, "funding_interval_hours", SAMPLE_FUNDING_HOURS))
    rates = (
        {s: mean_funding_rate(samples[j], interval_hours=interval) for j, s in enumerate(symbols)} if funding else {}
    )
    every = round(interval * steps_per_hour) if funding else 0
    start = np.array([portfolio.marks.price(s) for s in symbols])

    books, notes = _books(account)
    packed = {mode: pack_for_paths(book, rules, symbols, portfolio.marks) for mode, book in books.items()}
    position_rates = {
        mode: np.array([rates.get(p.symbol, 0.0) for p in book.positions]) for mode, book in books.items()
    }
    firsts: dict[str, list[IntArray]] = {mode: [] for mode in books}
    with stderr_progress("Monte Carlo paths", show=progress) as bar:
        task = bar.add_task("paths", total=paths)
        for batch in path_batches(fitted, steps, paths, seed, steps_per_hour=steps_per_hour):
            moves = np.ascontiguousarray(batch[:, :, columns])
            for mode, arrays in packed.items():
                firsts[mode].append(
                    first_breach(arrays, moves, start, funding_rate=position_rates[mode], funding_every=every)
                )
            bar.advance(task, len(batch))

    odds = []
    for mode, book in books.items():
        first = np.concatenate(firsts[mode])
        members = np.diff(packed[mode].pool_offsets)
        for pool, label in enumerate(_pool_labels(book)):
            if members[pool] == 0:
                continue
            hit = first[:, pool] != NOT_LIQUIDATED
            count = int(hit.sum())
            low, high = wilson_interval(count, paths)
            held = packed[mode].pool_members[packed[mode].pool_offsets[pool] : packed[mode].pool_offsets[pool + 1]]
            odds.append(
                PoolOdds(
                    mode=mode,
                    pool=label,
                    symbols=tuple(dict.fromkeys(book.positions[i].symbol for i in held)),
                    liquidated_paths=count,
                    probability=count / paths,
                    ci_low=low,
                    ci_high=high,
                    median_hours=float(np.median(first[hit, pool] + 1) / steps_per_hour) if count else None,
                )
            )
    return MCResult(
        venue=rules.name,
        model=fitted.name,
        seed=seed,
        paths=paths,
        horizon_hours=horizon,
        steps_per_hour=steps_per_hour,
        symbols=symbols,
        sample_symbols=samples,
        sigma_hourly=tuple(float(fitted.sigma[c]) for c in columns),
        funding=funding,
        funding_interval_hours=interval,
        funding_rates=rates,
        pools=tuple(odds),
        notes=tuple(notes),
    )


def equity_quantiles(
    portfolio: Portfolio,
    *,
    horizon_hours: float,
    seed: int,
    model: str = "fhs",
    paths: int = 2000,
    quantiles: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99),
) -> dict[str, Any]:
    """Return quantiles of the all-cross margin balance (quote) per hour over ``paths`` simulated paths.

    Marks follow ``simulate_paths`` of the fitted ``model``; each position's PnL is ``margin.unrealized_pnl``
    (applied element-wise). ``maintenance_margin`` is today's requirement of the cross account, the level the
    fan is read against. Keys: ``hours``, ``quantiles`` (label -> array), ``equity_now``, ``maintenance_margin``.
    """
    account, rules = all_cross(portfolio.account), portfolio.rules
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    samples = tuple(sample_symbol(s, rules) for s in symbols)
    fitted = fit_model(model, tuple(dict.fromkeys(samples)))
    steps = horizon_steps(float(horizon_hours), 1)
    returns = simulate_paths(fitted, steps, paths, seed)
    growth = {
        s: np.exp(np.cumsum(returns[:, :, fitted.symbols.index(samples[j])], axis=1)) for j, s in enumerate(symbols)
    }
    equity = np.full((paths, steps), account.wallet_balance, dtype=np.float64)
    for position in account.positions:
        marks: Any = portfolio.marks.price(position.symbol) * growth[position.symbol]
        equity += unrealized_pnl(position.side, position.size, position.entry_price, marks)
    today = evaluate(account, portfolio.marks, rules)
    bands = np.quantile(equity, quantiles, axis=0)
    return {
        "hours": list(range(1, steps + 1)),
        "quantiles": {f"{q:g}": band for q, band in zip(quantiles, bands, strict=True)},
        "equity_now": today.account.margin_balance,
        "maintenance_margin": today.account.maintenance_margin,
    }
