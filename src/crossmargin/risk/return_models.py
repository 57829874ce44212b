"""The Monte Carlo's return models, fitted on hourly log returns (risk-methods §3.3).

- ``FHSModel`` (default), filtered historical simulation: the demeaned hourly log returns are standardised
  by an EWMA (lambda 0.94) or GARCH(1,1) volatility; whole vectors of standardised residuals (one time index
  for all symbols, so their dependence is kept) are bootstrapped and re-scaled by the volatility recursion
  run along the path from the current volatility, so a shock raises the volatility after it.
- ``StudentTModel``: multivariate Student-t with one shared chi-square per step (joint crashes), the
  degrees of freedom fitted by maximum likelihood, the sample correlation and unconditional volatility.
- ``GarchModel``: per-symbol GARCH(1,1) with standardised-t innovations (``arch``), the innovations made
  dependent through the correlation of the joint standardised residuals (Gaussian copula).
- ``GaussianModel``: i.i.d. correlated Gaussian returns with a given volatility (the closed form's world).

All models have zero drift in log price (the sample's two-month drift is not a forecast). Returns are
fractions (log returns per hour).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Protocol

import numpy as np
from scipy import optimize, special, stats

from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import FloatArray
from crossmargin.kernels.montecarlo import MODEL_FHS, MODEL_GARCH, MODEL_GAUSSIAN, MODEL_STUDENT_T, PathModel
from crossmargin.numeric import require_positive
from crossmargin.risk.history import ReturnHistory, sample_returns

__all__ = [
    "COPULA_GRID",
    "EWMA_LAMBDA",
    "MODELS",
    "FHSModel",
    "GarchFit",
    "GarchModel",
    "GaussianModel",
    "ReturnModel",
    "StudentTModel",
    "cholesky",
    "copula_table",
    "ewma_variance",
    "fit_garch",
    "fit_model",
    "fit_returns",
    "path_model",
]

#: Names of the fitted models accepted by ``fit_model`` and ``liquidation_probability``.
MODELS: tuple[str, ...] = ("fhs", "t", "garch")
#: RiskMetrics decay of the EWMA variance (hourly returns).
EWMA_LAMBDA = 0.94
#: Scale of returns handed to ``arch`` (per mille), where its optimiser is well conditioned.
_ARCH_SCALE = 1000.0
#: Nodes of the GARCH copula map in the compiled kernel: x from -8.5 to 8.5 every 1/256 (P(|x| > 8.5) = 2e-17).
COPULA_GRID = (-8.5, 8.5, 256)


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


def cholesky(correlation: FloatArray) -> FloatArray:
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
        shocks = rng.standard_normal((paths, hours, len(self.symbols))) @ cholesky(self.correlation).T
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
        shocks = rng.standard_normal((paths, hours, len(self.symbols))) @ cholesky(self.correlation).T
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
        chol = cholesky(self.correlation)
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
    return fit_returns(name, sample_returns(symbols), symbols)


def fit_returns(name: str, returns: FloatArray, symbols: Sequence[str]) -> ReturnModel:
    """Return the model ``name`` ('fhs', 't', 'garch') fitted on hourly log ``returns`` ``(hours, symbols)``.

    Raises InputError for an unknown model name.
    """
    names = tuple(symbols)
    if name == "fhs":
        return FHSModel.from_returns(returns, names)
    if name == "t":
        return StudentTModel.from_returns(returns, names)
    if name == "garch":
        return GarchModel.from_returns(returns, names)
    raise InputError("model", name, " | ".join(MODELS), detail=f"unknown model {name!r}")


@lru_cache(maxsize=16)
def _fitted(name: str, history: ReturnHistory) -> ReturnModel:
    """Return ``fit_returns`` on ``history`` (cached: one history object per set of files and their dates)."""
    return fit_returns(name, history.returns, history.series)


def copula_table(nu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return ``g(x) = t_nu^-1(Phi(x)) sqrt((nu - 2) / nu)`` and ``g'(x)`` on ``COPULA_GRID``, ``(len(nu), nodes)``.

    ``g' = phi(x) / f_nu(t) x sqrt((nu - 2) / nu)`` (f_nu the t density at the quantile t); the upper half is
    the mirror of the lower (``Phi(x)`` near 1 has no digits left in float64). Cubic Hermite interpolation on
    these nodes is within 1e-9 (relative) of ``scipy.special.stdtrit`` (``tests/kernels/test_montecarlo.py``).
    """
    low, high, per_unit = COPULA_GRID
    x = np.linspace(low, high, round((high - low) * per_unit) + 1)
    degrees = np.asarray(nu, dtype=np.float64)[:, None]
    lower = special.stdtrit(degrees, special.ndtr(-np.abs(x)))
    quantile = np.where(x <= 0, lower, -lower)
    scale = np.sqrt((degrees - 2) / degrees)
    slope = stats.norm.pdf(x) / stats.t.pdf(quantile, degrees)
    return np.ascontiguousarray(quantile * scale), np.ascontiguousarray(slope * scale)


def path_model(model: ReturnModel) -> PathModel | None:
    """Return ``model`` as the ``kernels.montecarlo.PathModel`` the compiled kernel draws from.

    Gaussian, Student-t, FHS (EWMA or GARCH filter) and GARCH models map one to one; another class of
    ``ReturnModel`` gives None (its paths are drawn by its own ``hourly``, in numpy).
    """
    width = len(model.symbols)
    arrays: dict[str, object] = {
        "sigma": model.sigma,
        "chol": cholesky(np.asarray(model.correlation, dtype=np.float64)),
        "residuals": np.zeros((1, width)),
        "quantiles": np.zeros((width, 2)),
        "slopes": np.zeros((width, 2)),
    }
    dof, grid_start, grid_step = 0.0, 0.0, 1.0
    fits: Sequence[GarchFit] = ()
    if isinstance(model, GaussianModel):
        kind = MODEL_GAUSSIAN
    elif isinstance(model, StudentTModel):
        kind, dof = MODEL_STUDENT_T, float(model.dof)
    elif isinstance(model, FHSModel):
        kind, fits, arrays["residuals"] = MODEL_FHS, model.filters, model.residuals
    elif isinstance(model, GarchModel):
        kind, fits = MODEL_GARCH, model.fits
        arrays["quantiles"], arrays["slopes"] = copula_table(np.array([fit.nu for fit in fits]))
        grid_start, _, per_unit = COPULA_GRID
        grid_step = 1.0 / per_unit
    else:
        return None
    for name in ("omega", "alpha", "beta"):
        arrays[name] = [getattr(fit, name) for fit in fits] if fits else np.zeros(width)
    # Writable C-contiguous float64 copies: one array type for every model, so the kernel compiles once.
    copies = {name: np.array(value, dtype=np.float64, order="C") for name, value in arrays.items()}
    return PathModel(kind=kind, dof=dof, grid_start=grid_start, grid_step=grid_step, **copies)
