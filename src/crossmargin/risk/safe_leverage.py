"""Safe leverage: the highest leverage whose probability of liquidation within a horizon stays under a target.

For each position (risk-methods §5.2, with the corrections §5.2.1-5.2.5):

1. Forecast volatility ``sigma`` (fraction per sqrt hour) from the symbol's hourly mark returns
   (``risk.montecarlo.return_history``: the package sample, else the user's local data store): EWMA
   (lambda 0.94, flat over the horizon) or GARCH(1,1)-t (``arch``; the mean forecast variance over the
   horizon). Horizons are in hours throughout, so ``sigma sqrt(h)`` needs no annualising.
2. Closed form ``risk.leverage.max_leverage`` for a fresh isolated position holding the position's current
   margin M (quote): its notional ``M x L`` decides the bracket, so the maintenance rate is the effective
   ``m = requirement(M L) / (M L)`` (mm_rate less the bracket's maintenance amount), and L must not exceed
   the bracket's max leverage at that notional. Both fall as L grows, so the cap is the largest L with
   ``L <= min(max_leverage(m(M L)), bracket_max(M L))``, found by bisection.
3. Monte Carlo correction (fat tails, volatility clustering, funding): filtered historical simulation
   (``FHSModel``, same filter as the sigma) of that fresh isolated position at leverage L, path by path
   with ``steps_per_hour`` monitoring, and bisection on L (common random numbers: one set of paths, so the
   estimate is monotone in L) for the largest L on the venue's leverage grid with ``p_hat(L) <= target``.
   The effective z is the barrier that leverage implies, ``b(L) / (sigma sqrt h)``: above the Gaussian
   ``z = Phi^-1(1 - p/2)`` when the simulated tails are fatter.
4. Recommendation: the smaller of the two, floored to the venue's leverage step; the size that keeps the
   margin M at that leverage (``M L / mark``, floored to the size step) and its simulated probability.

For the account as one cross pool (§5.3): the first-order gross-leverage cap
``risk.leverage.portfolio_max_gross_leverage`` from the EWMA (or GARCH x EWMA-correlation) covariance of the
unit-gross book, and its Monte Carlo check: the cross book with the same weights and margin balance,
scaled to gross leverage G, simulated, with bisection on G.

A leverage whose simulated paths carry the position past the last tier of the venue's table before its pool
is liquidated (``risk.montecarlo.check_within_table``) is not allowed: the engine never values a position
beyond the table, so the bisections stop below it. Each row's ``returns`` says where its returns come from.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from crossmargin.data.store import DataStore
from crossmargin.errors import BeyondTableError, InputError
from crossmargin.kernels.layout import FloatArray
from crossmargin.kernels.montecarlo import first_breach
from crossmargin.margin.account import evaluate, position_initial_margin
from crossmargin.model import Account, Instrument, MarginMode, Marks, Position, Side
from crossmargin.numeric import quantise, require_positive
from crossmargin.portfolio import Portfolio, all_cross
from crossmargin.risk.leverage import liquidation_distance, max_leverage, portfolio_max_gross_leverage, z_for
from crossmargin.risk.montecarlo import (
    EWMA_LAMBDA,
    MAX_HORIZON_HOURS,
    MAX_PATHS,
    MAX_STEPS_PER_HOUR,
    NOT_LIQUIDATED,
    SAMPLE_FUNDING_HOURS,
    FHSModel,
    check_within_table,
    ewma_variance,
    fit_garch,
    funding_rates,
    horizon_steps,
    pack_for_paths,
    path_batches,
    return_history,
    sample_returns,
    wilson_interval,
)
from crossmargin.venues.base import VenueRules

__all__ = [
    "COLUMNS",
    "HOURS_PER_YEAR",
    "closed_form_cap",
    "forecast_covariance",
    "fresh_isolated",
    "recommend_leverage",
]

#: Hours in a (365-day) year, to show hourly volatilities annualised.
HOURS_PER_YEAR = 24 * 365
#: Columns of ``recommend_leverage``'s frame, in order.
COLUMNS: tuple[str, ...] = (
    "scope",
    "symbol",
    "side",
    "margin_mode",
    "sigma_hourly",
    "sigma_annual",
    "mm_rate",
    "margin",
    "current_leverage",
    "venue_max_leverage",
    "closed_form_leverage",
    "z",
    "mc_leverage",
    "effective_z",
    "recommended_leverage",
    "recommended_size",
    "recommended_notional",
    "mc_probability",
    "mc_ci_low",
    "mc_ci_high",
    "note",
    "returns",
)
#: Largest simulated array kept in memory between bisection steps (bytes); beyond it paths are re-drawn.
_CACHE_BYTES = 512 * 2**20
_BISECTIONS = 60
#: Resolution of leverage where the venue has no leverage step (any real leverage) and of gross leverage.
_FINE_STEP = 0.01


def forecast_covariance(
    samples: tuple[str, ...],
    *,
    horizon_hours: float,
    source: Literal["ewma", "garch"] = "ewma",
    returns: FloatArray | None = None,
) -> FloatArray:
    """Return the forecast covariance of hourly log returns of ``samples``, fraction^2 per hour.

    ``returns`` ``(hours, samples)`` are the hourly log returns (default: the package sample's of ``samples``,
    sample names). EWMA (lambda 0.94) covariance after the last hour; with ``source='garch'`` the variances
    are the GARCH(1,1)-t mean forecasts over the horizon and the correlation stays EWMA's.
    """
    if returns is None:
        returns = sample_returns(samples)
    demeaned = returns - returns.mean(axis=0)
    covariance = np.cov(demeaned, rowvar=False).reshape(len(samples), len(samples))
    for row in demeaned:
        covariance = EWMA_LAMBDA * covariance + (1 - EWMA_LAMBDA) * np.outer(row, row)
    if source == "ewma":
        _, variance = ewma_variance(demeaned)
        return _with_variances(covariance, variance)
    if source == "garch":
        hours = max(1, math.ceil(horizon_hours))
        variance = np.array([fit_garch(demeaned[:, j]).horizon_variance(hours) for j in range(len(samples))])
        return _with_variances(covariance, variance)
    raise InputError("sigma_source", source, "'ewma' or 'garch'")


def _with_variances(covariance: FloatArray, variance: FloatArray) -> FloatArray:
    scale = np.sqrt(variance / np.diag(covariance))
    return np.asarray(covariance * np.outer(scale, scale), dtype=np.float64)


def fresh_isolated(
    rules: VenueRules, symbol: str, side: Side, *, margin: float, leverage: float, mark: float
) -> Position:
    """Return a position opened now at ``mark`` (quote), isolated with ``margin`` (quote), at ``leverage``."""
    return Position(
        symbol=symbol,
        side=side,
        size=margin * leverage / mark,
        entry_price=mark,
        leverage=leverage,
        mode=MarginMode.ISOLATED,
        isolated_margin=margin,
    )


def _effective_rate(rules: VenueRules, instrument: Instrument, position: Position, price: float) -> float:
    """Return requirement / notional of ``position`` at ``price`` (fraction): mm_rate less the deduction's share."""
    schedule = rules.requirement_schedule(instrument, position, position.size)
    value = position.size * price
    bracket = next((b for b in schedule if value < b.cap), schedule[-1])
    return max(0.0, (value * bracket.mm_rate - bracket.maint_amount) / value)


def _bracket_cap(instrument: Instrument, position: Position) -> float:
    return instrument.bracket_for(instrument.tier_value(position.size, position.entry_price)).max_leverage


def _largest(allowed: Callable[[float], bool], low: float, high: float, *, tolerance: float = 1e-9) -> float:
    """Return the largest L in [low, high] with ``allowed(L)``, to ``tolerance`` (relative; below when unsure).

    ``allowed`` must hold on an interval that starts at ``low``.
    """
    if allowed(high):
        return high
    for _ in range(_BISECTIONS):
        if high - low <= tolerance * high:
            break
        middle = (low + high) / 2
        if allowed(middle):
            low = middle
        else:
            high = middle
    return low


def closed_form_cap(
    rules: VenueRules,
    symbol: str,
    side: Side,
    *,
    sigma: float,
    horizon_hours: float,
    probability: float,
    margin: float,
    mark: float,
) -> tuple[float, float, float]:
    """Return (closed-form leverage cap, its effective mm_rate, the venue's leverage cap) for a fresh position.

    A fresh isolated position of ``symbol`` holding ``margin`` (quote) at ``mark`` (quote): the largest L with
    ``L <= max_leverage(side, sigma, h, m(M L), p)`` and ``L <= bracket max leverage at M L``, m the effective
    maintenance rate at notional ``M L``. ``sigma`` per sqrt hour, ``horizon_hours`` in hours. A cap below 1
    (only when even 1x breaks the target) is returned as computed at 1x.
    """
    instrument = rules.instrument(symbol)

    def position(leverage: float) -> Position:
        return fresh_isolated(rules, symbol, side, margin=margin, leverage=leverage, mark=mark)

    def venue_allows(leverage: float) -> bool:
        try:
            return leverage <= _bracket_cap(instrument, position(leverage))
        except InputError:  # beyond the venue's last tier
            return False

    def closed(leverage: float) -> float:
        rate = _effective_rate(rules, instrument, position(leverage), mark)
        return max_leverage(side, sigma, horizon_hours, rate, probability)

    venue_cap = _largest(venue_allows, 1.0, float(instrument.max_leverage))
    at_one = closed(1.0)
    if at_one < 1.0:
        return at_one, _effective_rate(rules, instrument, position(1.0), mark), venue_cap
    cap = _largest(lambda leverage: leverage <= closed(leverage), 1.0, venue_cap)
    return cap, _effective_rate(rules, instrument, position(cap), mark), venue_cap


class _Paths:
    """The simulated paths of one estimate, kept in memory when small enough, else re-drawn on each pass."""

    def __init__(self, model: FHSModel, steps: int, paths: int, seed: int | None, steps_per_hour: int) -> None:
        self.args = (model, steps, paths, seed)
        self.steps_per_hour = steps_per_hour
        size = paths * steps * len(model.symbols) * 8
        self.kept = list(self._draw()) if size <= _CACHE_BYTES else None

    def _draw(self) -> Iterator[FloatArray]:
        return path_batches(*self.args, steps_per_hour=self.steps_per_hour)

    def batches(self) -> Iterator[FloatArray]:
        return iter(self.kept) if self.kept is not None else self._draw()


@dataclass(frozen=True, slots=True)
class _Setting:
    rules: VenueRules
    samples: dict[str, str]
    paths: _Paths | None
    funding_rates: dict[str, float]
    funding_every: int
    total: int
    horizon_hours: float


def _liquidated(setting: _Setting, account: Account, marks: Marks) -> int:
    """Return on how many paths ``account``'s pools (one here) are liquidated within the horizon.

    Raises BeyondTableError when a path takes a position past its venue's last tier before its pool is
    liquidated (``check_within_table``).
    """
    if setting.paths is None:
        raise InputError("monte_carlo", False, "True for a simulated probability")
    symbols = tuple(dict.fromkeys(p.symbol for p in account.positions))
    model_symbols = setting.paths.args[0].symbols
    columns = [model_symbols.index(setting.samples[s]) for s in symbols]
    book = pack_for_paths(account, setting.rules, symbols, marks)
    rates = np.array([setting.funding_rates.get(p.symbol, 0.0) for p in account.positions])
    start = np.array([marks.price(s) for s in symbols])
    count = 0
    peaks = np.zeros(book.positions)
    for batch in setting.paths.batches():
        peak = np.empty((len(batch), book.positions))
        first = first_breach(
            book,
            batch[:, :, columns],
            start,
            funding_rate=rates,
            funding_every=setting.funding_every,
            peak_marks=peak,
        )
        count += int(np.any(first != NOT_LIQUIDATED, axis=1).sum())
        np.maximum(peaks, peak.max(axis=0), out=peaks)
    leverage = max(p.leverage for p in account.positions)
    context = f"{leverage:g}x, within {setting.horizon_hours:g} h"
    check_within_table(setting.rules, account, peaks, context=context)
    return count


def _grid_largest(allowed: Callable[[float], bool], high: float, step: float) -> float | None:
    """Return the largest multiple of ``step`` in [1, high] with ``allowed`` (true on an interval), or None."""
    levels = np.arange(1.0, high + step * 1e-9, step) if high >= 1 else np.zeros(0)
    if len(levels) == 0 or not allowed(float(levels[0])):
        return None
    low, top = 0, len(levels) - 1
    if allowed(float(levels[top])):
        return float(levels[top])
    while top - low > 1:
        middle = (low + top) // 2
        if allowed(float(levels[middle])):
            low = middle
        else:
            top = middle
    return float(levels[low])


def _position_row(
    setting: _Setting,
    position: Position,
    mark: float,
    margin: float,
    sigma: float,
    *,
    horizon_hours: float,
    probability: float,
    monte_carlo: bool,
) -> dict[str, Any]:
    rules = setting.rules
    instrument = rules.instrument(position.symbol)
    symbol, side = position.symbol, position.side
    cf, _, venue_cap = closed_form_cap(
        rules, symbol, side, sigma=sigma, horizon_hours=horizon_hours, probability=probability, margin=margin, mark=mark
    )
    step = getattr(rules, "leverage_step", None) or _FINE_STEP
    current_rate = _effective_rate(rules, instrument, position, mark)
    row: dict[str, Any] = {
        "scope": "position",
        "symbol": symbol,
        "side": side.label,
        "margin_mode": position.mode.value,
        "sigma_hourly": sigma,
        "sigma_annual": sigma * math.sqrt(HOURS_PER_YEAR),
        "mm_rate": current_rate,
        "margin": margin,
        "current_leverage": float(position.leverage),
        "venue_max_leverage": venue_cap,
        "closed_form_leverage": cf,
        "z": z_for(probability),
        "note": "",
    }

    def account_at(leverage: float) -> tuple[Account, Marks]:
        fresh = fresh_isolated(rules, symbol, side, margin=margin, leverage=leverage, mark=mark)
        return Account(venue=rules.name, wallet_balance=margin, positions=(fresh,)), Marks({symbol: mark})

    beyond: list[BeyondTableError] = []

    def safe(leverage: float) -> bool:
        try:
            return _liquidated(setting, *account_at(leverage)) <= probability * setting.total
        except BeyondTableError as error:  # paths past the venue's last tier: not a leverage to recommend
            beyond.append(error)
            return False

    mc = _grid_largest(safe, venue_cap, step) if monte_carlo else None
    limit = cf if mc is None else min(cf, mc)
    if monte_carlo and mc is None:
        limit = 1.0
        row["note"] = (
            f"even 1x is refused: {beyond[-1].reason}"
            if beyond
            else "even 1x is liquidated on more paths than the target allows"
        )
    elif cf < 1:
        row["note"] = "even 1x exceeds the target in the closed form"
    elif mc is not None and mc >= quantise(venue_cap, step, "down"):
        row["note"] = "the simulation allows the venue's cap: effective z is a lower bound"
    recommended = max(1.0, quantise(limit, step, "down"))
    size = margin * recommended / mark
    if instrument.step:
        size = quantise(size, instrument.step, "down")
    effective_z = math.nan
    if mc is not None:
        rate = _effective_rate(rules, instrument, account_at(mc)[0].positions[0], mark)
        effective_z = liquidation_distance(side, mc, rate) / (sigma * math.sqrt(horizon_hours))
    row |= {
        "mc_leverage": math.nan if mc is None else mc,
        "effective_z": effective_z,
        "recommended_leverage": recommended,
        "recommended_size": size,
        "recommended_notional": size * mark,
    }
    row |= _odds(setting, *account_at(recommended)) if monte_carlo else _no_odds()
    return row


def _odds(setting: _Setting, account: Account, marks: Marks) -> dict[str, float]:
    """Return the simulated odds of ``account`` (fractions); NaN where its paths leave the venue's table."""
    try:
        count = _liquidated(setting, account, marks)
    except BeyondTableError:
        return _no_odds()
    low, high = wilson_interval(count, setting.total)
    return {"mc_probability": count / setting.total, "mc_ci_low": low, "mc_ci_high": high}


def _no_odds() -> dict[str, float]:
    return {"mc_probability": math.nan, "mc_ci_low": math.nan, "mc_ci_high": math.nan}


def _account_row(
    setting: _Setting,
    portfolio: Portfolio,
    covariance: FloatArray,
    order: tuple[str, ...],
    *,
    horizon_hours: float,
    probability: float,
    monte_carlo: bool,
) -> dict[str, Any] | None:
    """Return the cross account's row, or None when its margin balance is not positive."""
    rules = setting.rules
    cross = all_cross(portfolio.account)
    risk = evaluate(cross, portfolio.marks, rules)
    equity = risk.account.margin_balance
    if equity <= 0:
        return None
    signed = np.array([int(p.side) * r.notional for p, r in zip(cross.positions, risk.positions, strict=True)])
    gross = float(np.abs(signed).sum())
    weights = signed / gross
    columns = [order.index(setting.samples[p.symbol]) for p in cross.positions]
    sigma_p = float(math.sqrt(weights @ covariance[np.ix_(columns, columns)] @ weights))
    m_bar = math.fsum(r.maintenance_margin for r in risk.positions) / gross
    cap = max(float(rules.instrument(p.symbol).max_leverage) for p in cross.positions)
    cf = min(portfolio_max_gross_leverage(sigma_p, m_bar, horizon_hours, probability), cap)
    marks = Marks({p.symbol: portfolio.marks.price(p.symbol) for p in cross.positions})

    def book(leverage: float) -> Account:
        scale = leverage * equity / gross
        positions = tuple(
            Position(
                symbol=p.symbol,
                side=p.side,
                size=p.size * scale,
                entry_price=marks.price(p.symbol),
                leverage=max(1.0, leverage),
                position_side=p.position_side,
            )
            for p in cross.positions
        )
        return Account(venue=rules.name, wallet_balance=equity, positions=positions)

    def safe(leverage: float) -> bool:
        try:
            return _liquidated(setting, book(leverage), marks) <= probability * setting.total
        except InputError:  # a size beyond the venue's last tier
            return False

    mc = _largest(safe, _FINE_STEP, cap, tolerance=1e-3) if monte_carlo else None
    chosen = cf if mc is None else min(cf, mc)
    recommended = quantise(chosen, _FINE_STEP, "down")
    row: dict[str, Any] = {
        "scope": "cross account",
        "symbol": "account",
        "side": "",
        "margin_mode": "cross",
        "sigma_hourly": sigma_p,
        "sigma_annual": sigma_p * math.sqrt(HOURS_PER_YEAR),
        "mm_rate": m_bar,
        "margin": equity,
        "current_leverage": gross / equity,
        "venue_max_leverage": cap,
        "closed_form_leverage": cf,
        "z": z_for(probability),
        "mc_leverage": math.nan if mc is None else mc,
        "effective_z": math.nan if mc is None else (1 / mc - m_bar) / (sigma_p * math.sqrt(horizon_hours)),
        "recommended_leverage": recommended,
        "recommended_size": math.nan,
        "recommended_notional": recommended * equity,
        "note": "",
    }
    row |= _odds(setting, book(recommended), marks) if monte_carlo and recommended > 0 else _no_odds()
    return row


def recommend_leverage(
    portfolio: Portfolio,
    *,
    max_liq_prob: float = 0.01,
    horizon_hours: float = 24.0,
    sigma_source: Literal["ewma", "garch"] = "ewma",
    monte_carlo: bool = True,
    paths: int = 20_000,
    seed: int | None = 0,
    steps_per_hour: int = 4,
    funding: bool = True,
    store: DataStore | None = None,
) -> pd.DataFrame:
    """Return one row per position, then one for the account as a cross pool, with ``COLUMNS`` (see module doc).

    Units: volatilities are fractions per sqrt hour (``sigma_annual`` per sqrt year), rates and probabilities
    fractions, ``margin`` and notionals quote currency, sizes base units, leverages multiples. ``margin`` is
    what the position holds now (isolated margin, or initial margin at the mark for a cross position);
    for the account row it is the cross margin balance and the leverages are gross (all notional / margin
    balance). MC columns are NaN without ``monte_carlo``. ``returns`` says where the row's returns come from
    (``return_history`` over the package sample and the local ``store``; '' for the account row). Raises
    InputError for a probability outside (0, 1), a bad horizon, source or path count, DataError for a symbol
    without usable history.
    """
    probability = float(max_liq_prob)
    z_for(probability)
    horizon = require_positive("horizon_hours", horizon_hours)
    if horizon > MAX_HORIZON_HOURS:
        raise InputError("horizon_hours", horizon_hours, f"at most {MAX_HORIZON_HOURS:g} h (90 days)")
    if sigma_source not in ("ewma", "garch"):
        raise InputError("sigma_source", sigma_source, "'ewma' or 'garch'")
    if isinstance(paths, bool) or not isinstance(paths, int) or not 1 <= paths <= MAX_PATHS:
        raise InputError("paths", paths, f"an integer 1 .. {MAX_PATHS:,}")
    if isinstance(steps_per_hour, bool) or not isinstance(steps_per_hour, int):
        raise InputError("steps_per_hour", steps_per_hour, f"an integer 1 .. {MAX_STEPS_PER_HOUR}")
    if not 1 <= steps_per_hour <= MAX_STEPS_PER_HOUR:
        raise InputError("steps_per_hour", steps_per_hour, f"an integer 1 .. {MAX_STEPS_PER_HOUR}")
    account, rules = portfolio.account, portfolio.rules
    if not account.positions:
        raise InputError("positions", (), "at least one position")
    history = return_history([p.symbol for p in account.positions], rules, store=store)
    samples = dict(history.column)
    order = history.series
    covariance = forecast_covariance(order, horizon_hours=horizon, source=sigma_source, returns=history.returns)
    steps = horizon_steps(horizon, steps_per_hour)
    model = FHSModel.from_returns(history.returns, order, filter=sigma_source)
    interval = float(getattr(rules, "funding_interval_hours", SAMPLE_FUNDING_HOURS))
    rates = funding_rates(history.sources, rules, interval_hours=interval, store=store)[0] if funding else {}
    described = {source.symbol: source.describe() for source in history.sources}
    setting = _Setting(
        rules=rules,
        samples=samples,
        paths=_Paths(model, steps, paths, seed, steps_per_hour) if monte_carlo else None,
        funding_rates=rates,
        funding_every=round(interval * steps_per_hour) if funding else 0,
        total=paths,
        horizon_hours=horizon,
    )
    rows = []
    for position in account.positions:
        mark = portfolio.marks.price(position.symbol)
        if position.mode is MarginMode.ISOLATED and position.isolated_margin is not None:
            margin = position.isolated_margin
        else:
            margin = position_initial_margin(position, mark, rules)
        index = order.index(samples[position.symbol])
        sigma = math.sqrt(float(covariance[index, index]))
        row = _position_row(
            setting,
            position,
            mark,
            margin,
            sigma,
            horizon_hours=horizon,
            probability=probability,
            monte_carlo=monte_carlo,
        )
        rows.append(row | {"returns": described[position.symbol]})
    account_row = _account_row(
        setting,
        portfolio,
        covariance,
        order,
        horizon_hours=horizon,
        probability=probability,
        monte_carlo=monte_carlo,
    )
    if account_row is not None:
        rows.append(account_row | {"returns": ""})
    return pd.DataFrame(rows, columns=list(COLUMNS))
