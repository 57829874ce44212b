"""One-step-ahead daily variance forecasts: EWMA, GARCH(1,1)-t, HAR-RV and gradient boosting (risk-methods §4).

Units. A day is a UTC calendar day (crypto trades all 365 of them). ``ret`` is a day's log close-to-close
return (a fraction, per day); ``rv`` its realised variance, the sum of the day's 24 squared 1h log returns
(fraction squared, per day). Every model returns the variance of day t (fraction squared, per day) from
the days before t only: :func:`walk_forward` hands a model ``daily.iloc[:t]`` and nothing else, so a
forecast cannot see its own day or any later one.

The models (sources in ``docs/forecast.md``):

- ``EWMA``: RiskMetrics, ``h_t = lam h_{t-1} + (1 - lam) ret_{t-1}^2`` with ``lam = 0.94``, seeded with the
  mean squared return of the first 30 days.
- ``GARCH-t``: ``h_t = omega + alpha ret_{t-1}^2 + beta h_{t-1}``, zero mean, Student-t innovations, fitted
  by ``arch`` by maximum likelihood on an expanding window, refitted every ``refit_every`` days; between
  fits the recursion runs on with the last parameters.
- ``HAR-RV`` (Corsi 2009): ``rv_{t+1} = b0 + bd rv_t + bw mean(rv_{t-6..t}) + bm mean(rv_{t-29..t})``,
  OLS on every day so far, refitted daily (7 and 30 days: weeks and months of a market that never closes).
- ``GBM``: scikit-learn ``HistGradientBoostingRegressor`` on log realised variance over 1, 7, 30 and 90
  days and the last 1 and 7 days' returns, target ``ln rv_{t+1}``, refitted every ``refit_every`` days; the
  forecast is ``exp(prediction)`` times the mean of ``exp(residual)`` in training (Duan's smearing), since
  ``exp(E[ln rv])`` is the geometric mean and sits below the mean.

Losses (Patton 2011, robust to a noisy variance proxy): ``QLIKE = rv / h - ln(rv / h) - 1`` and
``MSE = (rv - h)^2`` (fraction squared per day, squared). QLIKE ranks: it punishes under-prediction, the
error that liquidates. :func:`diebold_mariano` tests a model's loss against EWMA's with a Newey-West
variance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd
from arch import arch_model
from scipy.signal import lfilter
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from crossmargin.data.load import plain_symbol
from crossmargin.errors import DataError, InputError, UnknownSymbolError

__all__ = [
    "DAYS_PER_YEAR",
    "DEFAULT_START_TEST",
    "HISTORY_SYMBOLS",
    "HOURS_PER_DAY",
    "METHODS",
    "MIN_TRAIN_DAYS",
    "BoostingModel",
    "EwmaModel",
    "FloatArray",
    "GarchModel",
    "GarchParams",
    "HarModel",
    "Method",
    "VarianceModel",
    "annualised_sigma",
    "compare_forecasts",
    "default_models",
    "default_start",
    "diebold_mariano",
    "forecast_sigma",
    "har_features",
    "history_path",
    "load_daily",
    "loss_table",
    "make_model",
    "parse_day",
    "qlike",
    "sigma_per_hour",
    "squared_error",
    "walk_forward",
]

#: Days in a year of a market that trades every day: annualise a daily sigma with sqrt(365).
DAYS_PER_YEAR = 365.0
#: Hours in a UTC day.
HOURS_PER_DAY = 24.0
#: Symbols whose daily history ships in ``crossmargin/risk/history`` (provenance beside the files).
HISTORY_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
#: Fewest days of history before the first out-of-sample day.
MIN_TRAIN_DAYS = 365
#: First out-of-sample day of the model comparison when none is given (UTC).
DEFAULT_START_TEST = "2024-01-01"
#: Method keys of :func:`forecast_sigma` and :func:`make_model`.
METHODS: tuple[str, ...] = ("ewma", "garch", "har", "gbm")

Method = Literal["ewma", "garch", "har", "gbm"]
FloatArray = npt.NDArray[np.float64]

_SEED_DAYS = 30


# --- data -------------------------------------------------------------------------------------------------


def history_path(symbol: str) -> Path:
    """Return the path of the shipped daily history of ``symbol`` (``<SYMBOL>-1d.parquet``).

    Raises UnknownSymbolError, with near matches, for a symbol without shipped history.
    """
    plain = plain_symbol(symbol).upper()
    if plain not in HISTORY_SYMBOLS:
        raise UnknownSymbolError("symbol", symbol, "the shipped daily history", HISTORY_SYMBOLS)
    return Path(str(resources.files("crossmargin.risk").joinpath("history", f"{plain}-1d.parquet")))


@lru_cache(maxsize=len(HISTORY_SYMBOLS))
def _read_daily(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("timestamp"), unit="ms", utc=True), name="day")
    frame["ret"] = np.log(frame["close"]).diff()
    return frame.iloc[1:]


def load_daily(symbol: str) -> pd.DataFrame:
    """Return the shipped daily bars of ``symbol``, one row per UTC day, indexed by the day (UTC midnight).

    Columns: ``open, high, low, close`` (last-trade prices, USDT), ``volume`` (base units), ``rv`` (sum of
    the day's 24 squared 1h log returns, fraction squared per day), ``n_hours`` (24), ``mark_low`` (lowest
    1h mark-price low of the day, USDT; NaN before the mark history starts), ``ret`` (log close-to-close
    return, fraction per day). The first shipped day is dropped: its return needs the day before.
    """
    return _read_daily(history_path(symbol)).copy()


def parse_day(value: str | date | pd.Timestamp, field: str = "start_test") -> pd.Timestamp:
    """Return ``value`` (e.g. '2024-01-01') as UTC midnight of that day; raise InputError naming ``field``."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise InputError(field, value, "a UTC date YYYY-MM-DD") from None
    if pd.isna(stamp):
        raise InputError(field, value, "a UTC date YYYY-MM-DD")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.floor("D")


# --- models -----------------------------------------------------------------------------------------------


class VarianceModel(Protocol):
    """A one-step-ahead variance forecaster: ``fit`` on days before t, ``forecast`` the variance of day t.

    ``history`` is a frame like :func:`load_daily`'s (columns ``ret`` and ``rv`` are read) holding the days
    before the forecast day and nothing after. ``forecast`` returns fraction squared per day.
    ``refit_every`` is the number of forecast days between fits (0: the model has nothing to fit);
    ``dof`` the Student-t degrees of freedom of the standardised innovation (inf: Gaussian).
    """

    @property
    def name(self) -> str: ...

    @property
    def refit_every(self) -> int: ...

    @property
    def dof(self) -> float: ...

    def fit(self, history: pd.DataFrame) -> None: ...

    def forecast(self, history: pd.DataFrame) -> float: ...


def _returns(history: pd.DataFrame) -> FloatArray:
    values = np.asarray(history["ret"].to_numpy(dtype=np.float64), dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        raise DataError(f"{values.size} daily returns given; a forecast needs at least one and all finite")
    return values


def _seed_variance(returns: FloatArray) -> float:
    return float(np.mean(returns[:_SEED_DAYS] ** 2))


@dataclass(slots=True)
class EwmaModel:
    """RiskMetrics EWMA of squared daily returns: ``h_t = lam h_{t-1} + (1 - lam) ret_{t-1}^2``, lam = 0.94."""

    lam: float = 0.94
    name: str = "EWMA"
    refit_every: int = 0
    dof: float = math.inf

    def fit(self, history: pd.DataFrame) -> None:
        """Nothing to estimate: lambda is fixed."""

    def forecast(self, history: pd.DataFrame) -> float:
        """Return the EWMA variance of the day after ``history`` (fraction squared per day)."""
        returns = _returns(history)
        seed = _seed_variance(returns)
        path, _ = lfilter([1 - self.lam], [1.0, -self.lam], returns**2, zi=[self.lam * seed])
        return float(path[-1])


@dataclass(frozen=True, slots=True)
class GarchParams:
    """GARCH(1,1)-t parameters on daily returns: omega (fraction squared per day), alpha, beta, nu."""

    omega: float
    alpha: float
    beta: float
    nu: float


@dataclass(slots=True)
class GarchModel:
    """GARCH(1,1), zero mean, Student-t innovations, fitted by ``arch``; expanding window unless ``window``.

    Returns are divided by their sample standard deviation before the fit (the optimiser's comfort zone)
    and omega scaled back, so ``params`` are in daily fractions whatever the data's size.
    """

    refit_every: int = 20
    window: int | None = None
    name: str = "GARCH-t"
    params: GarchParams | None = None

    @property
    def dof(self) -> float:
        """Student-t degrees of freedom of the fitted innovation (inf before a fit)."""
        return math.inf if self.params is None else self.params.nu

    def fit(self, history: pd.DataFrame) -> None:
        """Estimate omega, alpha, beta and nu by maximum likelihood on the returns of ``history``.

        A fit the optimiser reports as not converged keeps the previous parameters, if there are any.
        """
        self.params = self._estimate(history)

    def _estimate(self, history: pd.DataFrame) -> GarchParams:
        returns = _returns(history)
        if self.window is not None:
            returns = returns[-self.window :]
        scale = float(np.std(returns))
        if returns.size < 100 or scale <= 0:
            raise DataError(f"GARCH needs at least 100 varying daily returns, got {returns.size}")
        model = arch_model(returns / scale, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False)
        result = model.fit(disp="off", show_warning=False)
        if result.convergence_flag != 0 and self.params is not None:
            return self.params
        values = result.params
        return GarchParams(
            omega=float(values["omega"]) * scale**2,
            alpha=float(values["alpha[1]"]),
            beta=float(values["beta[1]"]),
            nu=float(values["nu"]),
        )

    def forecast(self, history: pd.DataFrame) -> float:
        """Return the GARCH variance of the day after ``history`` (fraction squared per day); fits if unfitted."""
        p = self.params
        if p is None:
            p = self.params = self._estimate(history)
        returns = _returns(history)
        # z_n = h_{n+1} = omega + alpha ret_n^2 + beta z_{n-1}, from h_0 = the seed variance.
        path, _ = lfilter([1.0], [1.0, -p.beta], p.omega + p.alpha * returns**2, zi=[p.beta * _seed_variance(returns)])
        return float(path[-1])


def har_features(rv: FloatArray, spans: Sequence[int] = (1, 7, 30)) -> FloatArray:
    """Return the HAR regressors of each day: the mean realised variance over the last ``span`` days, per span.

    Shape (days, len(spans)), fraction squared per day; NaN where fewer than ``span`` days exist. Row t uses
    days t - span + 1 .. t only.
    """
    total = np.concatenate(([0.0], np.cumsum(rv)))
    columns = []
    for span in spans:
        mean = np.full(rv.size, np.nan)
        if rv.size >= span:
            mean[span - 1 :] = (total[span:] - total[:-span]) / span
        columns.append(mean)
    return np.column_stack(columns)


@dataclass(slots=True)
class HarModel:
    """HAR-RV in levels (Corsi 2009), OLS on an expanding window, refitted every ``refit_every`` days.

    A level forecast below the smallest realised variance seen is raised to it: OLS can go negative.
    """

    spans: tuple[int, ...] = (1, 7, 30)
    refit_every: int = 1
    name: str = "HAR-RV"
    dof: float = math.inf
    coef: FloatArray | None = None

    def fit(self, history: pd.DataFrame) -> None:
        """Estimate ``b0, bd, bw, bm`` by OLS of ``rv_{t+1}`` on the regressors of day t."""
        self.coef = self._estimate(history)

    def _estimate(self, history: pd.DataFrame) -> FloatArray:
        rv = _realised(history)
        features = har_features(rv, self.spans)
        rows = np.flatnonzero(np.isfinite(features).all(axis=1))
        rows = rows[rows < rv.size - 1]
        if rows.size < 20:
            raise DataError(f"HAR needs at least {max(self.spans) + 20} days of history, got {rv.size}")
        design = np.column_stack((np.ones(rows.size), features[rows]))
        coef, *_ = np.linalg.lstsq(design, rv[rows + 1], rcond=None)
        return np.asarray(coef, dtype=np.float64)

    def forecast(self, history: pd.DataFrame) -> float:
        """Return the HAR variance of the day after ``history`` (fraction squared per day); fits if unfitted."""
        coef = self.coef
        if coef is None:
            coef = self.coef = self._estimate(history)
        rv = _realised(history)
        latest = har_features(rv[-max(self.spans) :], self.spans)[-1]
        level = float(coef[0] + latest @ coef[1:])
        return max(level, float(rv.min()))


def _realised(history: pd.DataFrame) -> FloatArray:
    rv = np.asarray(history["rv"].to_numpy(dtype=np.float64), dtype=np.float64)
    if rv.size == 0 or not (np.isfinite(rv).all() and (rv > 0).all()):
        raise DataError("realised variance must be finite and > 0 on every day")
    return rv


_BOOST_SPANS = (1, 7, 30, 90)


def _boost_features(history: pd.DataFrame) -> FloatArray:
    """Return the GBM features of each day (NaN rows until 90 days exist): log rv means, last 1 and 7 returns."""
    rv = _realised(history)
    returns = _returns(history)
    logs = np.log(har_features(rv, _BOOST_SPANS))
    week = har_features(returns, (7,))[:, 0] * 7
    return np.column_stack((logs, returns, week))


@dataclass(slots=True)
class BoostingModel:
    """Gradient boosting on log realised variance (HistGradientBoostingRegressor), fixed seed.

    Features of day t: ln of the mean rv over 1, 7, 30, 90 days, the return of day t and of the week to t.
    Target ``ln rv_{t+1}``. Forecast ``exp(prediction) * mean(exp(training residual))``.
    """

    refit_every: int = 20
    seed: int = 0
    name: str = "GBM"
    dof: float = math.inf
    regressor: HistGradientBoostingRegressor | None = None
    smearing: float = 1.0

    def fit(self, history: pd.DataFrame) -> None:
        """Fit the trees on every day with a complete feature row and a next day in ``history``."""
        self.regressor, self.smearing = self._estimate(history)

    def _estimate(self, history: pd.DataFrame) -> tuple[HistGradientBoostingRegressor, float]:
        features = _boost_features(history)
        target = np.log(_realised(history))
        rows = np.flatnonzero(np.isfinite(features).all(axis=1))
        rows = rows[rows < target.size - 1]
        if rows.size < 200:
            raise DataError(f"GBM needs at least {max(_BOOST_SPANS) + 200} days of history, got {target.size}")
        regressor = HistGradientBoostingRegressor(
            max_iter=100,
            learning_rate=0.1,
            max_leaf_nodes=8,
            min_samples_leaf=50,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=self.seed,
        )
        with threadpool_limits(limits=1, user_api="openmp"):
            regressor.fit(features[rows], target[rows + 1])
        residuals = target[rows + 1] - regressor.predict(features[rows])
        return regressor, float(np.mean(np.exp(residuals)))

    def forecast(self, history: pd.DataFrame) -> float:
        """Return the GBM variance of the day after ``history`` (fraction squared per day); fits if unfitted."""
        regressor, smearing = self.regressor, self.smearing
        if regressor is None:
            regressor, smearing = self.regressor, self.smearing = self._estimate(history)
        latest = _boost_features(history.iloc[-max(_BOOST_SPANS) :])[-1:]
        return float(np.exp(regressor.predict(latest)[0]) * smearing)


def make_model(method: Method | str, *, refit_every: int = 20, seed: int = 0) -> VarianceModel:
    """Return a fresh model for ``method`` (one of :data:`METHODS`); raise InputError otherwise."""
    if method == "ewma":
        return EwmaModel()
    if method == "garch":
        return GarchModel(refit_every=refit_every)
    if method == "har":
        return HarModel()
    if method == "gbm":
        return BoostingModel(refit_every=refit_every, seed=seed)
    raise InputError("method", method, ", ".join(METHODS))


def default_models(refit_every: int = 20, seed: int = 0) -> list[VarianceModel]:
    """Return fresh EWMA, GARCH-t, HAR-RV and GBM models, in that order (EWMA is the benchmark)."""
    return [make_model(method, refit_every=refit_every, seed=seed) for method in METHODS]


# --- walk-forward evaluation ------------------------------------------------------------------------------


def walk_forward(
    daily: pd.DataFrame,
    models: Sequence[VarianceModel],
    *,
    start: str | date | pd.Timestamp,
    end: str | date | pd.Timestamp | None = None,
    min_train_days: int = MIN_TRAIN_DAYS,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Return out-of-sample forecasts for every day of ``daily`` from ``start`` to ``end`` (inclusive, UTC).

    Columns: ``ret`` and ``rv`` of the day (realised), then per model its variance forecast (named after the
    model, fraction squared per day) and ``<name> dof`` (innovation degrees of freedom in force). A model sees
    ``daily.iloc[:t]`` for day t, never more; it is fitted on the first test day and every ``refit_every``
    test days after. ``progress(done, total)`` is called after each forecast. Raises InputError when fewer
    than ``min_train_days`` precede ``start`` or the span is empty.
    """
    first = parse_day(start, "start_test")
    last = parse_day(end, "end_test") if end is not None else None
    index = pd.DatetimeIndex(daily.index)
    begin = int(index.searchsorted(first))
    stop = int(index.searchsorted(last, side="right")) if last is not None else len(index)
    if begin < min_train_days:
        earliest = index[min(min_train_days, len(index) - 1)]
        raise InputError(
            "start_test",
            f"{first:%Y-%m-%d}",
            f"{earliest:%Y-%m-%d} or later",
            detail=f"{first:%Y-%m-%d} leaves {begin} days of history before it, fewer than {min_train_days}",
        )
    if stop <= begin:
        final = f"{index[-1]:%Y-%m-%d}"
        if last is None or begin >= len(index):
            raise InputError("start_test", f"{first:%Y-%m-%d}", f"a day up to {final}, the last day with data")
        raise InputError("end_test", f"{last:%Y-%m-%d}", f"a day from start_test {first:%Y-%m-%d} to {final}")
    positions = range(begin, stop)
    result = daily.iloc[begin:stop][["ret", "rv"]].copy()
    total, done = len(models) * len(positions), 0
    # One OpenMP thread: on these small fits, worker threads that spin-wait for a busy core cost more
    # (tenfold, measured on two shared cores) than they save.
    with threadpool_limits(limits=1, user_api="openmp"):
        for model in models:
            variance = np.empty(len(positions))
            dof = np.empty(len(positions))
            for step, position in enumerate(positions):
                history = daily.iloc[:position]
                if model.refit_every and step % model.refit_every == 0:
                    model.fit(history)
                variance[step] = model.forecast(history)
                dof[step] = model.dof
                done += 1
                if progress is not None:
                    progress(done, total)
            result[model.name] = variance
            result[f"{model.name} dof"] = dof
    return result


def qlike(realised: npt.ArrayLike, forecast: npt.ArrayLike) -> FloatArray:
    """Return ``rv / h - ln(rv / h) - 1`` per day (dimensionless, 0 for a perfect forecast)."""
    ratio = np.asarray(realised, dtype=np.float64) / np.asarray(forecast, dtype=np.float64)
    return np.asarray(ratio - np.log(ratio) - 1.0, dtype=np.float64)


def squared_error(realised: npt.ArrayLike, forecast: npt.ArrayLike) -> FloatArray:
    """Return ``(rv - h)^2`` per day ((fraction squared per day) squared)."""
    error = np.asarray(realised, dtype=np.float64) - np.asarray(forecast, dtype=np.float64)
    return np.asarray(error**2, dtype=np.float64)


def diebold_mariano(loss: npt.ArrayLike, benchmark_loss: npt.ArrayLike, lags: int | None = None) -> tuple[float, float]:
    """Return (statistic, two-sided p-value) of the Diebold-Mariano test of equal mean loss.

    ``d_t = loss_t - benchmark_loss_t``; statistic ``mean(d) / sqrt(S / n)`` with S the Newey-West
    (Bartlett) long-run variance of d over ``lags`` lags (default ``floor(n^(1/3))``); N(0, 1) under equal
    loss. Negative: the model's loss is lower than the benchmark's.
    """
    diff = np.asarray(loss, dtype=np.float64) - np.asarray(benchmark_loss, dtype=np.float64)
    n = diff.size
    lag_count = int(n ** (1 / 3)) if lags is None else lags
    centred = diff - diff.mean()
    long_run = float(centred @ centred) / n
    for lag in range(1, min(lag_count, n - 1) + 1):
        weight = 1 - lag / (lag_count + 1)
        long_run += 2 * weight * float(centred[lag:] @ centred[:-lag]) / n
    if long_run <= 0:
        return math.nan, math.nan
    statistic = float(diff.mean() / math.sqrt(long_run / n))
    return statistic, float(2 * norm.sf(abs(statistic)))


def loss_table(path: pd.DataFrame, names: Sequence[str], benchmark: str = "EWMA") -> pd.DataFrame:
    """Return per model: mean QLIKE, mean MSE, their ratios to ``benchmark``'s, the DM test on QLIKE, best.

    Index: model name. Columns ``qlike`` (dimensionless), ``mse`` ((fraction squared per day) squared),
    ``qlike_ratio`` and ``mse_ratio`` (model / benchmark; < 1 is better), ``dm_qlike`` and ``dm_qlike_p``
    (statistic and two-sided p-value; NaN for the benchmark), ``best`` (lowest QLIKE).
    """
    realised = path["rv"].to_numpy(dtype=np.float64)
    losses = {name: (qlike(realised, path[name]), squared_error(realised, path[name])) for name in names}
    base_q, base_m = losses[benchmark]
    rows = []
    for name, (q_loss, m_loss) in losses.items():
        stat, p_value = (math.nan, math.nan) if name == benchmark else diebold_mariano(q_loss, base_q)
        rows.append(
            {
                "model": name,
                "qlike": float(q_loss.mean()),
                "mse": float(m_loss.mean()),
                "qlike_ratio": float(q_loss.mean() / base_q.mean()),
                "mse_ratio": float(m_loss.mean() / base_m.mean()),
                "dm_qlike": stat,
                "dm_qlike_p": p_value,
            }
        )
    table = pd.DataFrame(rows).set_index("model")
    table["best"] = table.index == table["qlike"].idxmin()
    return table


def default_start(daily: pd.DataFrame, preferred: str = DEFAULT_START_TEST) -> pd.Timestamp:
    """Return ``preferred`` (UTC day), or the first day with :data:`MIN_TRAIN_DAYS` before it if that is later."""
    earliest = pd.DatetimeIndex(daily.index)[min(MIN_TRAIN_DAYS, len(daily) - 1)]
    return max(parse_day(preferred), earliest)


def compare_forecasts(
    symbol: str,
    *,
    start_test: str | date | pd.Timestamp | None = None,
    end_test: str | date | pd.Timestamp | None = None,
    refit_every: int = 20,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Return the out-of-sample loss table (see :func:`loss_table`) of the four models on ``symbol``'s days.

    Every day from ``start_test`` (default: 2024-01-01, or the first day with a year of history before it
    if later, as for SOLUSDT) to ``end_test`` (default: the last shipped day) is forecast from the days
    before it; GARCH and GBM are refitted every ``refit_every`` days, HAR daily. ``table.attrs`` holds
    ``symbol``, ``start``, ``end`` (YYYY-MM-DD) and ``days``. Deterministic for a given ``seed``.
    """
    if refit_every < 1:
        raise InputError("refit_every", refit_every, "an integer >= 1 (days)")
    daily = load_daily(symbol)
    models = default_models(refit_every=refit_every, seed=seed)
    start = default_start(daily) if start_test is None else start_test
    path = walk_forward(daily, models, start=start, end=end_test, progress=progress)
    table = loss_table(path, [model.name for model in models])
    table.attrs.update(
        symbol=plain_symbol(symbol).upper(),
        start=f"{path.index[0]:%Y-%m-%d}",
        end=f"{path.index[-1]:%Y-%m-%d}",
        days=len(path),
    )
    return table


# --- one sigma for the rest of the code ------------------------------------------------------------------


def forecast_sigma(
    returns: Sequence[float] | npt.ArrayLike | pd.Series,
    method: Method | str = "ewma",
    *,
    realized_variance: Sequence[float] | npt.ArrayLike | pd.Series | None = None,
    seed: int = 0,
) -> float:
    """Return the forecast volatility of the period after ``returns`` (a fraction, per period of the returns).

    ``returns`` are log returns, oldest first, one per period (a day, an hour: the sigma is per that same
    period; see :func:`annualised_sigma` and :func:`sigma_per_hour`). ``realized_variance`` (fraction squared
    per period, same length) feeds HAR and GBM; without it they use the squared returns, a noisier proxy.
    EWMA needs 1 return, GARCH 100, HAR 50, GBM 290. Raises InputError for an unknown method, non-finite
    returns or too few of them.
    """
    values = np.asarray(returns, dtype=np.float64).ravel()
    if values.size == 0 or not np.isfinite(values).all():
        raise InputError("returns", f"{values.size} values", "at least one return, all finite")
    variance = values**2 if realized_variance is None else np.asarray(realized_variance, dtype=np.float64).ravel()
    if variance.shape != values.shape:
        raise InputError("realized_variance", f"{variance.size} values", f"{values.size} values, one per return")
    floor = float(np.min(variance[variance > 0])) if (variance > 0).any() else 1e-12
    history = pd.DataFrame({"ret": values, "rv": np.maximum(variance, floor)})
    model = make_model(method, seed=seed)
    try:
        model.fit(history)
    except DataError as error:
        raise InputError("returns", f"{values.size} values", f"enough for {method}", detail=str(error)) from None
    return math.sqrt(model.forecast(history))


def annualised_sigma(sigma: float, periods_per_year: float = DAYS_PER_YEAR) -> float:
    """Return ``sigma * sqrt(periods_per_year)``: a per-period volatility (fraction) as annualised.

    Default: a daily sigma over 365 days (crypto trades every day); pass 8760 for an hourly sigma.
    """
    return sigma * math.sqrt(periods_per_year)


def sigma_per_hour(sigma_per_day: float) -> float:
    """Return a daily volatility (fraction per day) as per hour: ``sigma / sqrt(24)`` (i.i.d. hours)."""
    return sigma_per_day / math.sqrt(HOURS_PER_DAY)
