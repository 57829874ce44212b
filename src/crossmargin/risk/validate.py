"""Calibration of volatility forecasts on held-out days: VaR backtests and liquidation probabilities (§3.6).

For each day t of the test span, from the days before t only (:func:`crossmargin.risk.forecast.walk_forward`):

- ``sigma_t``: the forecast volatility of day t (fraction per day) of EWMA (Gaussian innovation) and of
  GARCH-t (Student-t innovation with the fitted nu);
- the 1-day VaR of a long at ``level``: ``VaR_t = -q sigma_t`` (fraction, as a log return), ``q`` the
  ``1 - level`` quantile of the unit-variance innovation: ``Phi^-1(1 - level)``, or
  ``t_nu^-1(1 - level) sqrt((nu - 2) / nu)``. An exceedance is ``ret_t < -VaR_t``, ``ret_t`` the day's log
  close-to-close return;
- the probability that a fresh isolated long, opened at the day's open at leverage L with maintenance rate
  m, is liquidated within the day: ``p_t = first_passage_probability(b, sigma_t, 1 day)`` with
  ``b = liquidation_distance(LONG, L, m)`` (Brownian, no drift, risk-methods §3.2 and §5.1). Realised: the
  day's **low** (last trade) at or below the liquidation price ``open_t e^-b``: a first passage, not a
  close. The hits of the day's mark-price low, which venues liquidate on, are counted beside them.

Tests (Kupiec 1995, Christoffersen 1998). With x exceedances in n days and target rate a:
``LR_uc = -2 ln[(1 - a)^(n - x) a^x / ((1 - x/n)^(n - x) (x/n)^x)] ~ chi2(1)``. With n_ij the days in state j
after a day in state i (1 = exceedance), ``pi_01 = n01 / (n00 + n01)``, ``pi_11 = n11 / (n10 + n11)``,
``pi = (n01 + n11) / (n00 + n01 + n10 + n11)``:
``LR_ind = -2 ln[(1 - pi)^(n00 + n10) pi^(n01 + n11) / ((1 - pi_01)^n00 pi_01^n01 (1 - pi_11)^n10 pi_11^n11)]
~ chi2(1)`` and ``LR_cc = LR_uc + LR_ind ~ chi2(2)``, with ``0 ln 0 = 0``. Probabilities: a reliability
table (days binned by predicted p), the Brier score ``mean((p_t - I_t)^2)`` and a count test of the hits
against Poisson(sum of p_t), two-sided.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import xlogy
from scipy.stats import chi2, norm, poisson, t

from crossmargin.data.load import plain_symbol
from crossmargin.errors import InputError, LeverageError
from crossmargin.model import Side
from crossmargin.numeric import require_finite
from crossmargin.risk.forecast import (
    MIN_TRAIN_DAYS,
    EwmaModel,
    GarchModel,
    load_daily,
    walk_forward,
)
from crossmargin.risk.leverage import first_passage_probability, liquidation_distance

__all__ = [
    "PROBABILITY_EDGES",
    "CalibrationReport",
    "LikelihoodRatio",
    "MethodCalibration",
    "ReliabilityBin",
    "brier_score",
    "calibration_report",
    "christoffersen_independence",
    "conditional_coverage",
    "count_test",
    "innovation_quantile",
    "kupiec_pof",
    "reliability_table",
    "summary_table",
    "transition_counts",
]

#: Edges of the predicted-probability bins of the reliability table (fractions; the last bin holds 1).
PROBABILITY_EDGES: tuple[float, ...] = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class LikelihoodRatio:
    """A likelihood-ratio test: statistic, chi-squared degrees of freedom, p-value (fraction in [0, 1])."""

    statistic: float
    dof: int
    p_value: float


def _binomial_log_likelihood(hits: float, trials: float, rate: float) -> float:
    """Return ``x ln(p) + (n - x) ln(1 - p)`` with ``0 ln 0 = 0``."""
    return float(xlogy(hits, rate) + xlogy(trials - hits, 1.0 - rate))


def _ratio(statistic: float, dof: int) -> LikelihoodRatio:
    statistic = max(statistic, 0.0)  # a roundoff below zero is a zero
    return LikelihoodRatio(statistic=statistic, dof=dof, p_value=float(chi2.sf(statistic, dof)))


def kupiec_pof(exceedances: int, observations: int, rate: float) -> LikelihoodRatio:
    """Return Kupiec's proportion-of-failures test of ``exceedances`` in ``observations`` at target ``rate``.

    ``LR_uc = -2 [ln L(rate) - ln L(x / n)]`` with ``ln L(p) = x ln p + (n - x) ln(1 - p)``; chi2(1).
    ``rate`` is the expected exceedance fraction (0.01 for a 99 % VaR). Raises InputError for counts out of
    range or a rate outside (0, 1).
    """
    if observations < 1 or not 0 <= exceedances <= observations:
        raise InputError("exceedances", exceedances, f"an integer count in 0 .. observations = {observations}")
    if not 0 < require_finite("rate", rate) < 1:
        raise InputError("rate", rate, "a fraction in (0, 1)")
    observed = exceedances / observations
    statistic = -2 * (
        _binomial_log_likelihood(exceedances, observations, rate)
        - _binomial_log_likelihood(exceedances, observations, observed)
    )
    return _ratio(statistic, 1)


def transition_counts(hits: Sequence[bool] | npt.ArrayLike) -> tuple[int, int, int, int]:
    """Return ``(n00, n01, n10, n11)``: consecutive-day pairs by state (1 = hit) of the day before and after."""
    states = np.asarray(hits, dtype=bool)
    before, after = states[:-1], states[1:]
    return (
        int(np.sum(~before & ~after)),
        int(np.sum(~before & after)),
        int(np.sum(before & ~after)),
        int(np.sum(before & after)),
    )


def christoffersen_independence(hits: Sequence[bool] | npt.ArrayLike) -> LikelihoodRatio:
    """Return Christoffersen's independence test of a hit sequence: first-order Markov vs independent; chi2(1).

    Clustered hits (a hit more likely after a hit) give a large statistic. Formula in the module docstring.
    """
    n00, n01, n10, n11 = transition_counts(hits)
    total = n00 + n01 + n10 + n11
    if total == 0:
        return _ratio(0.0, 1)
    pi = (n01 + n11) / total
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    independent = _binomial_log_likelihood(n01 + n11, total, pi)
    markov = _binomial_log_likelihood(n01, n00 + n01, pi01) + _binomial_log_likelihood(n11, n10 + n11, pi11)
    return _ratio(-2 * (independent - markov), 1)


def conditional_coverage(hits: Sequence[bool] | npt.ArrayLike, rate: float) -> LikelihoodRatio:
    """Return Christoffersen's conditional-coverage test ``LR_cc = LR_uc + LR_ind``; chi2(2)."""
    states = np.asarray(hits, dtype=bool)
    unconditional = kupiec_pof(int(states.sum()), states.size, rate)
    independence = christoffersen_independence(states)
    return _ratio(unconditional.statistic + independence.statistic, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReliabilityBin:
    """Days whose predicted probability lies in ``[low, high)``: count, predicted and realised (fractions)."""

    low: float
    high: float
    days: int
    mean_predicted: float
    expected: float
    hits: int

    @property
    def rate(self) -> float:
        """Realised hit frequency of the bin (fraction)."""
        return self.hits / self.days


def reliability_table(
    predicted: npt.ArrayLike, realised: npt.ArrayLike, edges: Sequence[float] = PROBABILITY_EDGES
) -> tuple[ReliabilityBin, ...]:
    """Return the non-empty bins of predicted probability with the realised frequency of each.

    ``predicted`` are probabilities (fractions), ``realised`` 0/1 outcomes of the same days; the last bin is
    closed (holds p = 1). ``expected`` is the sum of the predicted probabilities in the bin.
    """
    p = np.asarray(predicted, dtype=np.float64)
    outcome = np.asarray(realised, dtype=bool)
    bins = []
    for low, high in itertools.pairwise(edges):
        inside = (p >= low) & ((p < high) if high < edges[-1] else (p <= high))
        days = int(inside.sum())
        if days:
            bins.append(
                ReliabilityBin(
                    low=low,
                    high=high,
                    days=days,
                    mean_predicted=float(p[inside].mean()),
                    expected=float(p[inside].sum()),
                    hits=int(outcome[inside].sum()),
                )
            )
    return tuple(bins)


def brier_score(predicted: npt.ArrayLike, realised: npt.ArrayLike) -> float:
    """Return ``mean((p - I)^2)``: 0 is perfect; a constant p scores ``p(1 - p)`` at best."""
    p = np.asarray(predicted, dtype=np.float64)
    outcome = np.asarray(realised, dtype=np.float64)
    return float(np.mean((p - outcome) ** 2))


def count_test(hits: int, expected: float) -> float:
    """Return the two-sided p-value of ``hits`` events under Poisson(``expected``), the sum of small p_t.

    ``min(1, 2 min(P(X <= hits), P(X >= hits)))``; 1 when nothing is expected and nothing happened.
    """
    if expected <= 0:
        return 1.0 if hits == 0 else 0.0
    lower = float(poisson.cdf(hits, expected))
    upper = float(poisson.sf(hits - 1, expected))
    return min(1.0, 2 * min(lower, upper))


def innovation_quantile(probability: float, dof: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Return the ``probability`` quantile of a unit-variance innovation per day: N(0,1) where ``dof`` is inf,
    else Student-t with ``dof`` degrees of freedom scaled by ``sqrt((dof - 2) / dof)``."""
    nu = np.asarray(dof, dtype=np.float64)
    gaussian = float(norm.ppf(probability))
    finite = np.isfinite(nu)
    safe = np.where(finite, nu, 3.0)
    student = t.ppf(probability, safe) * np.sqrt((safe - 2) / safe)
    return np.asarray(np.where(finite, student, gaussian), dtype=np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class MethodCalibration:
    """Calibration of one sigma model over the test days.

    VaR: ``var_exceedances`` of ``days`` (expected ``var_expected``), Kupiec (``kupiec``), Christoffersen
    (``independence``, ``conditional``), ``transitions`` (n00, n01, n10, n11). Liquidation: ``liq_expected``
    (sum of predicted probabilities), ``liq_hits`` (days whose last-trade low reached the liquidation price),
    ``liq_hits_mark`` (mark-price low) over ``mark_days`` days with mark prices, ``liq_count_p`` (count
    test), ``brier``, and the reliability ``bins``. ``mean_sigma``: mean forecast, fraction per day.
    """

    method: str
    days: int
    mean_sigma: float
    var_exceedances: int
    var_expected: float
    kupiec: LikelihoodRatio
    independence: LikelihoodRatio
    conditional: LikelihoodRatio
    transitions: tuple[int, int, int, int]
    liq_expected: float
    liq_hits: int
    liq_hits_mark: int
    mark_days: int
    liq_count_p: float
    brier: float
    bins: tuple[ReliabilityBin, ...]

    @property
    def var_rate(self) -> float:
        """Realised VaR exceedance frequency (fraction of days)."""
        return self.var_exceedances / self.days


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationReport:
    """Calibration of EWMA and GARCH-t sigma on ``symbol``'s held-out days ``start`` .. ``end`` (UTC, inclusive).

    ``leverage`` (x), ``mm_rate`` and ``level`` (fractions) as asked; ``liquidation_move`` is the fall from
    the open that liquidates the long (fraction, ``1 - e^-b``). ``daily`` holds the per-day figures.
    """

    symbol: str
    leverage: float
    mm_rate: float
    level: float
    start: str
    end: str
    days: int
    liquidation_move: float
    methods: tuple[MethodCalibration, ...]
    daily: pd.DataFrame = field(repr=False, compare=False)

    def frame(self) -> pd.DataFrame:
        """Return one row per sigma model with every summary figure (counts, fractions, statistics, p-values)."""
        rows = []
        for m in self.methods:
            rows.append(
                {
                    "method": m.method,
                    "days": m.days,
                    "mean_sigma": m.mean_sigma,
                    "var_level": self.level,
                    "var_exceedances": m.var_exceedances,
                    "var_expected": m.var_expected,
                    "var_rate": m.var_rate,
                    "kupiec_lr": m.kupiec.statistic,
                    "kupiec_p": m.kupiec.p_value,
                    "independence_lr": m.independence.statistic,
                    "independence_p": m.independence.p_value,
                    "conditional_lr": m.conditional.statistic,
                    "conditional_p": m.conditional.p_value,
                    "leverage": self.leverage,
                    "liq_expected": m.liq_expected,
                    "liq_hits": m.liq_hits,
                    "liq_hits_mark": m.liq_hits_mark,
                    "liq_count_p": m.liq_count_p,
                    "brier": m.brier,
                }
            )
        return pd.DataFrame(rows).set_index("method")

    def reliability_frame(self) -> pd.DataFrame:
        """Return the reliability bins of every sigma model, one row per (model, bin)."""
        rows = [{"method": m.method, **dataclasses.asdict(b), "rate": b.rate} for m in self.methods for b in m.bins]
        return pd.DataFrame(rows)

    def to_json(self) -> dict[str, Any]:
        """Return the report as JSON-ready values (the ``validate --json`` object); NaN becomes None."""
        methods = []
        for m in self.methods:
            entry = dataclasses.asdict(m)
            entry["var_rate"] = m.var_rate
            entry["bins"] = [{**dataclasses.asdict(b), "rate": b.rate} for b in m.bins]
            methods.append(entry)
        payload = {
            "symbol": self.symbol,
            "leverage": self.leverage,
            "mm_rate": self.mm_rate,
            "level": self.level,
            "start": self.start,
            "end": self.end,
            "days": self.days,
            "liquidation_move": self.liquidation_move,
            "methods": methods,
        }
        finite: dict[str, Any] = _finite(payload)
        return finite

    def markdown(self) -> str:
        """Return the report as Markdown: the VaR backtest, the liquidation calibration and the reliability bins."""
        tail = 1 - self.level
        lines = [
            f"#### {self.symbol}: held-out days {self.start} to {self.end} ({self.days} days)",
            "",
            f"1-day VaR {_percent(self.level)} of a long (expected exceedance rate {_percent(tail)}):",
            "",
            "| sigma model | days | exceedances | expected | rate | Kupiec LR (p) | Christoffersen LR_ind (p) "
            "| LR_cc (p) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for m in self.methods:
            lines.append(
                f"| {m.method} | {m.days} | {m.var_exceedances} | {m.var_expected:.1f} | {_percent(m.var_rate)} "
                f"| {_test(m.kupiec)} | {_test(m.independence)} | {_test(m.conditional)} |"
            )
        lines += [
            "",
            f"Liquidation within the day of a fresh isolated long at {self.leverage:g}x, maintenance rate "
            f"{_percent(self.mm_rate)} (liquidated by a fall of {_percent(self.liquidation_move)} from the day's "
            "open):",
            "",
            "| sigma model | predicted (sum of p) | realised, last-trade low | realised, mark low | count test p "
            "| Brier |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for m in self.methods:
            lines.append(
                f"| {m.method} | {m.liq_expected:.2f} | {m.liq_hits} | {m.liq_hits_mark} of {m.mark_days} days "
                f"| {m.liq_count_p:.3g} | {m.brier:.5f} |"
            )
        lines += [
            "",
            "Reliability (days binned by predicted probability; hits on the last-trade low):",
            "",
            "| sigma model | predicted p | days | mean predicted | expected hits | hits | realised rate |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for m in self.methods:
            for b in m.bins:
                lines.append(
                    f"| {m.method} | {_percent(b.low)} to {_percent(b.high)} | {b.days} | {_percent(b.mean_predicted)} "
                    f"| {b.expected:.2f} | {b.hits} | {_percent(b.rate)} |"
                )
        lines += ["", *(f"- {self._verdict(m)}" for m in self.methods)]
        return "\n".join(lines) + "\n"

    def _verdict(self, m: MethodCalibration) -> str:
        coverage = "rejects" if m.kupiec.p_value < 0.05 else "does not reject"
        clustering = "rejects" if m.independence.p_value < 0.05 else "does not reject"
        ratio = m.liq_hits / m.liq_expected if m.liq_expected > 0 else math.inf
        return (
            f"{m.method}: {m.var_exceedances} exceedances where {m.var_expected:.1f} were expected; Kupiec "
            f"{coverage} correct coverage at 5%, Christoffersen {clustering} independence. Liquidations: "
            f"{m.liq_hits} realised vs {m.liq_expected:.2f} predicted ({ratio:.1f}x)."
        )


def summary_table(reports: Sequence[CalibrationReport]) -> str:
    """Return one Markdown table of several reports (same leverage and level): a row per symbol and sigma model.

    Columns: held-out span, VaR exceedances (expected), Kupiec and Christoffersen p-values, liquidations
    realised on the last-trade low (sum of predicted probabilities) and the count-test p-value.
    """
    first = reports[0]
    lines = [
        f"| symbol | held-out days | sigma | VaR {_percent(first.level)} exceedances (expected) | Kupiec p "
        f"| Christoffersen p | {first.leverage:g}x long liquidated: realised (predicted) | count test p |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for report in reports:
        for m in report.methods:
            lines.append(
                f"| {report.symbol} | {report.start} to {report.end} ({report.days}) | {m.method} "
                f"| {m.var_exceedances} ({m.var_expected:.1f}) | {m.kupiec.p_value:.3g} | {m.independence.p_value:.3g} "
                f"| {m.liq_hits} ({m.liq_expected:.1f}) | {m.liq_count_p:.3g} |"
            )
    return "\n".join(lines) + "\n"


def _test(result: LikelihoodRatio) -> str:
    return f"{result.statistic:.2f} ({result.p_value:.3g})"


def _percent(value: float) -> str:
    return f"{value * 100:.3g}%"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _check_inputs(leverage: float, level: float, refit_every: int) -> None:
    if refit_every < 1:
        raise InputError("refit_every", refit_every, "an integer >= 1 (days)")
    if require_finite("leverage", leverage) < 1:
        raise LeverageError("leverage", leverage, ">= 1")
    if not 0.5 < require_finite("level", level) < 1:
        raise InputError("level", level, "a fraction in (0.5, 1), e.g. 0.99")


def calibration_report(
    symbol: str,
    *,
    leverage: float = 10.0,
    mm_rate: float = 0.005,
    level: float = 0.99,
    start_test: str | date | pd.Timestamp | None = None,
    end_test: str | date | pd.Timestamp | None = None,
    refit_every: int = 20,
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationReport:
    """Return the calibration of EWMA and GARCH-t sigma on ``symbol``'s shipped daily history, out of sample.

    Every day from ``start_test`` (default: the first day with a year of history before it) to ``end_test``
    (default: the last shipped day) is predicted from the days before it (GARCH refitted every
    ``refit_every`` days): the 1-day VaR at ``level`` and the probability that a long at ``leverage`` (x)
    with maintenance rate ``mm_rate`` (fraction) is liquidated within the day; then both are compared
    with what the day did (see the module docstring). Raises LeverageError for leverage below 1, InputError
    for leverage at or above ``1 / mm_rate``, a level outside (0.5, 1), an unknown symbol or a bad date.
    """
    _check_inputs(leverage, level, refit_every)
    distance = liquidation_distance(Side.LONG, leverage, mm_rate)
    daily = load_daily(symbol)
    start = pd.DatetimeIndex(daily.index)[min(MIN_TRAIN_DAYS, len(daily) - 1)] if start_test is None else start_test
    models = (EwmaModel(), GarchModel(refit_every=refit_every))
    path = walk_forward(daily, models, start=start, end=end_test, progress=progress)
    days = daily.loc[path.index]
    liquidation_price = days["open"].to_numpy() * math.exp(-distance)
    hit = days["low"].to_numpy() <= liquidation_price
    mark_low = days["mark_low"].to_numpy(dtype=np.float64)
    has_mark = np.isfinite(mark_low)
    hit_mark = has_mark & (np.where(has_mark, mark_low, np.inf) <= liquidation_price)
    returns = path["ret"].to_numpy(dtype=np.float64)
    frame = pd.DataFrame(
        {"ret": returns, "open": days["open"], "low": days["low"], "mark_low": mark_low, "liq_price": liquidation_price}
    )
    frame["liquidated"] = hit
    frame["liquidated_mark"] = hit_mark
    methods = []
    for model in models:
        sigma = np.sqrt(path[model.name].to_numpy(dtype=np.float64))
        value_at_risk = -innovation_quantile(1 - level, path[f"{model.name} dof"]) * sigma
        exceeded = returns < -value_at_risk
        predicted = np.array([first_passage_probability(distance, s, 1.0) for s in sigma])
        frame[f"{model.name} sigma"] = sigma
        frame[f"{model.name} var"] = value_at_risk
        frame[f"{model.name} exceeded"] = exceeded
        frame[f"{model.name} p_liq"] = predicted
        methods.append(
            MethodCalibration(
                method=model.name,
                days=len(sigma),
                mean_sigma=float(sigma.mean()),
                var_exceedances=int(exceeded.sum()),
                var_expected=len(sigma) * (1 - level),
                kupiec=kupiec_pof(int(exceeded.sum()), len(sigma), 1 - level),
                independence=christoffersen_independence(exceeded),
                conditional=conditional_coverage(exceeded, 1 - level),
                transitions=transition_counts(exceeded),
                liq_expected=float(predicted.sum()),
                liq_hits=int(hit.sum()),
                liq_hits_mark=int(hit_mark.sum()),
                mark_days=int(has_mark.sum()),
                liq_count_p=count_test(int(hit.sum()), float(predicted.sum())),
                brier=brier_score(predicted, hit),
                bins=reliability_table(predicted, hit),
            )
        )
    return CalibrationReport(
        symbol=plain_symbol(symbol).upper(),
        leverage=float(leverage),
        mm_rate=float(mm_rate),
        level=float(level),
        start=f"{path.index[0]:%Y-%m-%d}",
        end=f"{path.index[-1]:%Y-%m-%d}",
        days=len(path),
        liquidation_move=1 - math.exp(-distance),
        methods=tuple(methods),
        daily=frame,
    )
