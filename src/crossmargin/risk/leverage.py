"""Closed-form liquidation probability and safe leverage for a linear perpetual (risk-methods §3.2, §5.1-5.3).

Log price ``X_t = mu t + sigma W_t``. A position liquidates when the log move against it reaches ``b``,
the log distance to liquidation; for a fresh isolated position at leverage L with maintenance rate m
(fees ignored): long ``b = ln((1 - m) / (1 - 1/L))``, short ``b = ln((1 + 1/L) / (1 + m))`` (at these
prices equity equals maintenance margin exactly). The first-passage probability within ``h`` is
``Phi((-b - mu h) / (sigma sqrt h)) + exp(-2 mu b / sigma^2) Phi((-b + mu h) / (sigma sqrt h))``, which is
``2 Phi(-b / (sigma sqrt h))`` without drift. Capping it at p gives ``b >= k = z sigma sqrt h`` with
``z = Phi^-1(1 - p/2)`` and the leverage caps ``L_long = 1 / (1 - (1 - m) e^-k)``,
``L_short = 1 / ((1 + m) e^k - 1)``. Units: ``sigma`` per square root of the unit of ``h`` (pass an
annualised sigma with ``h`` in years), probabilities and rates as fractions.
"""

from __future__ import annotations

import math

from scipy.stats import norm

from crossmargin.errors import InputError
from crossmargin.model import Side
from crossmargin.numeric import require_positive

__all__ = [
    "first_passage_probability",
    "liquidation_distance",
    "max_leverage",
    "portfolio_max_gross_leverage",
    "z_for",
]


def _fraction(field: str, value: float, *, upper: float = 1.0) -> float:
    number = require_positive(field, value)
    if number >= upper:
        raise InputError(field, value, f"a fraction in (0, {upper:g})")
    return number


def liquidation_distance(side: Side | int, leverage: float, mm_rate: float) -> float:
    """Return the log move ``b`` (> 0) against a fresh position at ``leverage`` that reaches maintenance margin.

    Raises InputError when ``1 / leverage <= mm_rate`` (the position would open at or past liquidation).
    """
    require_positive("leverage", leverage)
    if leverage < 1:
        raise InputError("leverage", leverage, ">= 1")
    m = _fraction("mm_rate", mm_rate) if mm_rate else 0.0
    if 1 / leverage <= m:
        raise InputError("leverage", leverage, f"below 1 / mm_rate = {1 / m:g} (else it opens liquidated)")
    if int(side) > 0:
        return math.log((1 - m) / (1 - 1 / leverage)) if leverage > 1 else math.inf
    return math.log((1 + 1 / leverage) / (1 + m))


def first_passage_probability(distance: float, sigma: float, horizon: float, drift: float = 0.0) -> float:
    """Return P(the adverse log move reaches ``distance`` within ``horizon``) for Brownian log prices.

    ``drift`` is the mean log return per unit time in the adverse direction taken as negative for a
    long's fall (pass the drift of the price; the sign convention is that of a long: a positive drift
    makes a long's liquidation less likely). ``distance`` may be inf (never liquidated).
    """
    require_positive("sigma", sigma)
    require_positive("horizon", horizon)
    if math.isinf(distance):
        return 0.0
    require_positive("distance", distance)
    scale = sigma * math.sqrt(horizon)
    first = norm.cdf((-distance - drift * horizon) / scale)
    if drift == 0.0:
        return float(2 * first)
    second = math.exp(-2 * drift * distance / sigma**2) * norm.cdf((-distance + drift * horizon) / scale)
    return float(min(1.0, first + second))


def z_for(probability: float) -> float:
    """Return ``z = Phi^-1(1 - p/2)``: the barrier in standard deviations for first-passage probability p."""
    return float(norm.ppf(1 - _fraction("max_liq_prob", probability) / 2))


def max_leverage(side: Side | int, sigma: float, horizon: float, mm_rate: float, probability: float) -> float:
    """Return the highest leverage whose liquidation probability within ``horizon`` is at most ``probability``.

    Driftless closed form (risk-methods §5.2). A cap below 1 means even an unlevered position is too risky
    for the target (possible for a short, whose loss is unbounded).
    """
    require_positive("sigma", sigma)
    require_positive("horizon", horizon)
    m = _fraction("mm_rate", mm_rate) if mm_rate else 0.0
    k = z_for(probability) * sigma * math.sqrt(horizon)
    if int(side) > 0:
        return 1 / (1 - (1 - m) * math.exp(-k))
    return 1 / ((1 + m) * math.exp(k) - 1)


def portfolio_max_gross_leverage(
    portfolio_sigma: float, weighted_mm: float, horizon: float, probability: float
) -> float:
    """Return the first-order gross-leverage cap ``1 / (m_bar + z sigma_p sqrt(h))`` of a cross book (§5.3).

    ``portfolio_sigma`` is the volatility of the unit-gross book's return, ``weighted_mm`` the gross-weighted
    maintenance rate. Hedged books get large caps from this formula: cap them with scenario margin too.
    """
    require_positive("portfolio_sigma", portfolio_sigma)
    require_positive("horizon", horizon)
    require_positive("weighted_mm", weighted_mm, allow_zero=True)
    return 1 / (weighted_mm + z_for(probability) * portfolio_sigma * math.sqrt(horizon))
