"""Variance forecasts: a known GARCH simulation, a synthetic HAR process, no look-ahead, real BTC losses."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crossmargin.errors import InputError, UnknownSymbolError
from crossmargin.risk.forecast import (
    HISTORY_SYMBOLS,
    BoostingModel,
    EwmaModel,
    GarchModel,
    HarModel,
    annualised_sigma,
    compare_forecasts,
    default_models,
    diebold_mariano,
    forecast_sigma,
    har_features,
    load_daily,
    qlike,
    sigma_per_hour,
    squared_error,
    walk_forward,
)

# The known process: GARCH(1,1) with unit-variance Student-t(6) innovations, daily fractions.
OMEGA, ALPHA, BETA, NU = 8e-6, 0.08, 0.90, 6.0  # unconditional variance 8e-6 / 0.02 = 4e-4 (2 % a day)


def _garch_days(seed: int = 3, days: int = 3000) -> pd.DataFrame:
    """Simulate the known GARCH-t; ``rv`` is the squared return (the proxy), ``true`` the conditional variance."""
    rng = np.random.default_rng(seed)
    shocks = rng.standard_t(NU, days) * math.sqrt((NU - 2) / NU)
    variance = np.empty(days)
    returns = np.empty(days)
    variance[0] = OMEGA / (1 - ALPHA - BETA)
    for day in range(days):
        returns[day] = math.sqrt(variance[day]) * shocks[day]
        if day + 1 < days:
            variance[day + 1] = OMEGA + ALPHA * returns[day] ** 2 + BETA * variance[day]
    index = pd.date_range("2010-01-01", periods=days, freq="D", tz="UTC")
    return pd.DataFrame({"ret": returns, "rv": returns**2, "true": variance}, index=index)


def test_garch_fit_recovers_the_simulated_parameters() -> None:
    # Arrange
    days = _garch_days()
    model = GarchModel()

    # Act
    model.fit(days)

    # Assert: within about three standard errors of a 3,000-day fit
    assert model.params is not None
    assert model.params.alpha == pytest.approx(ALPHA, abs=0.03)
    assert model.params.beta == pytest.approx(BETA, abs=0.04)
    assert model.params.alpha + model.params.beta == pytest.approx(ALPHA + BETA, abs=0.02)
    assert model.params.nu == pytest.approx(NU, abs=1.5)
    assert model.params.omega == pytest.approx(OMEGA, rel=0.5)


def test_garch_beats_ewma_in_qlike_on_the_garch_simulation() -> None:
    # Arrange
    days = _garch_days()

    # Act: 2,000 out-of-sample days, GARCH refitted every 50
    path = walk_forward(days, [EwmaModel(), GarchModel(refit_every=50)], start=days.index[1000])

    # Assert: against the true variance and against the squared-return proxy
    true = days.loc[path.index, "true"]
    assert qlike(true, path["GARCH-t"]).mean() < 0.5 * qlike(true, path["EWMA"]).mean()
    assert qlike(path["rv"], path["GARCH-t"]).mean() < qlike(path["rv"], path["EWMA"]).mean()
    assert (abs(path["GARCH-t dof"] - NU) < 1.5).all()
    assert (path["EWMA dof"] == math.inf).all()


def _har_days(days: int = 20_000, seed: int = 5) -> tuple[pd.DataFrame, tuple[float, float, float, float]]:
    """Simulate rv_{t+1} = (b0 + bd rv_t + bw rv_t^(7) + bm rv_t^(30)) * eta, eta lognormal with mean 1."""
    coef = (2e-5, 0.40, 0.30, 0.15)
    rng = np.random.default_rng(seed)
    eta = rng.lognormal(-(0.3**2) / 2, 0.3, days)
    rv = np.full(days, coef[0] / (1 - sum(coef[1:])))
    for day in range(30, days):
        mean = (
            coef[0] + coef[1] * rv[day - 1] + coef[2] * rv[day - 7 : day].mean() + coef[3] * rv[day - 30 : day].mean()
        )
        rv[day] = mean * eta[day]
    return pd.DataFrame({"rv": rv, "ret": np.sqrt(rv)}), coef


def test_har_ols_recovers_the_coefficients_of_a_har_process() -> None:
    # Arrange
    days, (b0, bd, bw, bm) = _har_days()
    model = HarModel()

    # Act
    model.fit(days)

    # Assert
    assert model.coef is not None
    assert model.coef[0] == pytest.approx(b0, rel=0.2)
    assert model.coef[1:] == pytest.approx([bd, bw, bm], abs=0.05)


def test_har_features_are_trailing_means() -> None:
    rv = np.arange(1.0, 11.0)

    features = har_features(rv, (1, 7))

    assert features[6, 1] == pytest.approx(4.0)  # mean of 1..7
    assert features[9, 1] == pytest.approx(7.0)  # mean of 4..10
    assert np.isnan(features[5, 1])
    assert features[:, 0] == pytest.approx(rv)


def test_forecasts_do_not_look_ahead() -> None:
    # Arrange: real BTC days to 2024-03-31; a copy whose days from 2024-02-15 on are wild
    daily = load_daily("BTCUSDT").loc[:"2024-03-31"]
    cut = pd.Timestamp("2024-02-15", tz="UTC")
    changed = daily.copy()
    later = changed.index >= cut
    changed.loc[later, "ret"] *= 3.0
    changed.loc[later, "rv"] *= 9.0

    # Act
    original = walk_forward(daily, default_models(), start="2024-01-01")
    altered = walk_forward(changed, default_models(), start="2024-01-01")

    # Assert: the forecast of day t uses days before t only, so days up to the cut are untouched
    names = ["EWMA", "GARCH-t", "HAR-RV", "GBM"]
    before = original.index <= cut
    pd.testing.assert_frame_equal(original.loc[before, names], altered.loc[before, names])
    day_after = cut + pd.Timedelta(days=1)
    assert (original.loc[day_after, names] != altered.loc[day_after, names]).all()


class _Spy:
    """A model that records how many days it was shown."""

    name = "spy"
    refit_every = 1
    dof = math.inf

    def __init__(self) -> None:
        self.seen: list[int] = []

    def fit(self, history: pd.DataFrame) -> None:
        self.seen.append(len(history))

    def forecast(self, history: pd.DataFrame) -> float:
        return float(history["rv"].iloc[-1])


def test_walk_forward_shows_a_model_only_the_days_before_the_forecast_day() -> None:
    daily = load_daily("ETHUSDT")
    spy = _Spy()

    path = walk_forward(daily, [spy], start="2025-01-01", end="2025-01-10")

    first = int(daily.index.searchsorted(pd.Timestamp("2025-01-01", tz="UTC")))
    assert spy.seen == list(range(first, first + 10))
    # The spy forecasts yesterday's rv: the path must hold exactly that
    assert path["spy"].to_numpy() == pytest.approx(daily["rv"].iloc[first - 1 : first + 9].to_numpy())


def test_compare_forecasts_on_real_btc_gives_finite_losses_for_all_four_models() -> None:
    # Act
    table = compare_forecasts("BTCUSDT", start_test="2025-06-01")

    # Assert
    assert list(table.index) == ["EWMA", "GARCH-t", "HAR-RV", "GBM"]
    assert np.isfinite(table[["qlike", "mse", "qlike_ratio", "mse_ratio"]].to_numpy()).all()
    assert (table[["qlike", "mse"]] > 0).all().all()
    assert table.loc["EWMA", "qlike_ratio"] == 1.0
    assert table["best"].sum() == 1
    assert table.loc[table["best"], "qlike"].iloc[0] == table["qlike"].min()
    assert ((table["dm_qlike_p"].drop("EWMA") >= 0) & (table["dm_qlike_p"].drop("EWMA") <= 1)).all()
    assert table.attrs["start"] == "2025-06-01"
    assert table.attrs["days"] == len(load_daily("BTCUSDT").loc["2025-06-01":])


def test_compare_forecasts_is_deterministic() -> None:
    first = compare_forecasts("SOLUSDT", start_test="2026-01-01")
    second = compare_forecasts("SOLUSDT", start_test="2026-01-01")

    pd.testing.assert_frame_equal(first, second)


def test_compare_forecasts_default_start_waits_for_a_year_of_history() -> None:
    table = compare_forecasts("SOLUSDT", end_test="2025-01-31")

    # SOL's history starts 2024-01-03 (first return): 365 days later is 2025-01-02
    assert table.attrs["start"] == "2025-01-02"


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(UnknownSymbolError, match=r"did you mean BTCUSDT"):
        compare_forecasts("BTCUSD")
    with pytest.raises(InputError, match=r"start_test: .*fewer than 365"):
        compare_forecasts("BTCUSDT", start_test="2020-01-01")
    with pytest.raises(InputError, match=r"start_test: 'not a day'"):
        compare_forecasts("BTCUSDT", start_test="not a day")
    with pytest.raises(InputError, match=r"end_test"):
        compare_forecasts("BTCUSDT", start_test="2025-01-01", end_test="2024-01-01")


def test_losses_and_diebold_mariano_by_hand() -> None:
    # QLIKE(rv = 2, h = 1) = 2 - ln 2 - 1 = 0.3069; a perfect forecast scores 0
    assert qlike([2.0, 1.0], [1.0, 1.0]) == pytest.approx([1 - math.log(2), 0.0])
    assert squared_error([3.0], [1.0]) == pytest.approx([4.0])
    # Without lags DM = mean(d) / sqrt(var(d) / n): d = (1, 2, 3, 4) -> 2.5 / sqrt(1.25 / 4) = 4.4721
    statistic, p_value = diebold_mariano([2.0, 3.0, 4.0, 5.0], [1.0, 1.0, 1.0, 1.0], lags=0)
    assert statistic == pytest.approx(2.5 / math.sqrt(1.25 / 4))
    assert p_value == pytest.approx(math.erfc(statistic / math.sqrt(2)))


def test_forecast_sigma_ewma_by_hand() -> None:
    returns = [0.01, -0.02, 0.03]
    # Seed: mean square of the first 30 returns = (1 + 4 + 9)e-4 / 3; then h <- 0.94 h + 0.06 r^2 per return
    variance = (1e-4 + 4e-4 + 9e-4) / 3
    for r in returns:
        variance = 0.94 * variance + 0.06 * r**2

    assert forecast_sigma(returns, "ewma") == pytest.approx(math.sqrt(variance))


@pytest.mark.parametrize("method", ["garch", "har", "gbm"])
def test_forecast_sigma_other_methods_on_real_returns(method: str) -> None:
    daily = load_daily("BTCUSDT").loc["2023-01-01":"2024-12-31"]

    sigma = forecast_sigma(daily["ret"], method, realized_variance=daily["rv"])

    # BTC's daily volatility was 1 % to 6 % a day over these years
    assert 0.01 < sigma < 0.06


def test_forecast_sigma_refuses_bad_input() -> None:
    with pytest.raises(InputError, match=r"method: 'arima'"):
        forecast_sigma([0.01] * 200, "arima")
    with pytest.raises(InputError, match=r"returns: .*GARCH needs at least 100"):
        forecast_sigma([0.01, -0.01] * 10, "garch")
    with pytest.raises(InputError, match=r"returns: .*all finite"):
        forecast_sigma([0.01, math.nan], "ewma")


def test_unit_helpers() -> None:
    # 2 % a day over 365 days: 0.02 * sqrt(365) = 0.3821; 2.4 % a day is 0.024 / sqrt(24) = 0.4899 % an hour
    assert annualised_sigma(0.02) == pytest.approx(0.02 * math.sqrt(365))
    assert annualised_sigma(0.001, periods_per_year=8760) == pytest.approx(0.001 * math.sqrt(8760))
    assert sigma_per_hour(0.024) == pytest.approx(0.004899, abs=1e-6)


def test_shipped_history_is_whole_days_with_positive_realised_variance() -> None:
    for symbol in HISTORY_SYMBOLS:
        daily = load_daily(symbol)

        assert (daily["n_hours"] == 24).all()
        assert (daily["rv"] > 0).all()
        assert (daily.index.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
        assert ((daily["low"] <= daily[["open", "close"]].min(axis=1)) & (daily["high"] >= daily["close"])).all()
        # ret is the log close-to-close return
        assert daily["ret"].iloc[1] == pytest.approx(math.log(daily["close"].iloc[1] / daily["close"].iloc[0]))


def test_boosting_model_is_seeded() -> None:
    history = load_daily("ETHUSDT").loc[:"2024-12-31"]

    first, second = BoostingModel(seed=1), BoostingModel(seed=1)
    first.fit(history)
    second.fit(history)

    assert first.forecast(history) == second.forecast(history)
