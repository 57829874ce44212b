"""The forecast commands: ``forecast`` (volatility forecasts compared out of sample) and ``validate``
(their calibration on held-out history).

Thin: parse, call :mod:`crossmargin.risk.forecast` and :mod:`crossmargin.risk.validate`, render. pandas, arch
and scikit-learn are imported inside the commands.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import compact_table, fail, print_whole, progress_callback
from crossmargin.errors import CrossmarginError, InputError

if TYPE_CHECKING:
    from crossmargin.risk.validate import CalibrationReport

__all__ = ["forecast", "forecast_json", "register", "validate"]

_Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")]


_OPTION_NAMES = {
    "symbol": "--symbol",
    "start_test": "--start-test",
    "end_test": "--end-test",
    "leverage": "--leverage",
    "level": "--level",
    "mm_rate": "--mm-rate",
    "refit_every": "--refit-every",
}

_LOSS_KEYS = ("qlike", "mse", "qlike_ratio", "mse_ratio", "dm_qlike", "dm_qlike_p")
_Symbol = Annotated[str, typer.Option("--symbol", help="BTCUSDT, ETHUSDT or SOLUSDT (shipped daily history).")]
_End = Annotated[str | None, typer.Option("--end-test", help="Last test day (UTC); default: the last shipped day.")]


def _forecast_fail(error: CrossmarginError) -> typer.Exit:
    """Return the exit of a failed forecast or validation, its one line naming the option (``--symbol``)."""
    if isinstance(error, InputError):
        return fail(f"{_OPTION_NAMES.get(error.field, error.field)}: {error.reason}")
    return fail(error)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def forecast_json(table: Any) -> dict[str, Any]:
    """Return the ``forecast --json`` object of a :func:`compare_forecasts` table (NaN as null)."""
    models = [
        {"model": str(name), **{key: _finite(float(row[key])) for key in _LOSS_KEYS}, "best": bool(row["best"])}
        for name, row in table.iterrows()
    ]
    best = next(model["model"] for model in models if model["best"])
    return {**table.attrs, "benchmark": "EWMA", "best": best, "models": models}


def forecast(
    symbol: _Symbol = "BTCUSDT",
    start_test: Annotated[
        str | None,
        typer.Option(
            "--start-test",
            help="First out-of-sample day (UTC). Default 2024-01-01, or the first day with a year of history.",
        ),
    ] = None,
    end_test: _End = None,
    refit_every: Annotated[int, typer.Option("--refit-every", help="Days between GARCH and GBM refits.")] = 20,
    as_json: _Json = False,
) -> None:
    """Compare EWMA, GARCH-t, HAR-RV and gradient boosting as one-day-ahead variance forecasts, out of sample."""
    from crossmargin.risk.forecast import compare_forecasts  # noqa: PLC0415 - see the module docstring

    try:
        with progress_callback(f"forecasting {symbol}") as progress:
            table = compare_forecasts(
                symbol, start_test=start_test, end_test=end_test, refit_every=refit_every, progress=progress
            )
    except CrossmarginError as error:
        raise _forecast_fail(error) from None
    payload = forecast_json(table)
    if as_json:
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    title = (
        f"{payload['symbol']}: daily variance forecasts out of sample, {payload['start']} to {payload['end']} "
        f"({payload['days']} days)"
    )
    view = compact_table(
        title,
        "QLIKE = rv/h - ln(rv/h) - 1; MSE = (rv - h)^2 in (fraction^2 per day)^2; rv = sum of squared 1h log "
        "returns of the day. DM: Diebold-Mariano statistic of the QLIKE losses against EWMA's (Newey-West), < 0: "
        "lower than EWMA; DM p: its two-sided p-value.",
    )
    for column in ("model", "QLIKE", "MSE", "QLIKE / EWMA", "MSE / EWMA", "DM", "DM p", ""):
        view.add_column(column, justify="left" if column in ("model", "") else "right", no_wrap=True)
    for row in payload["models"]:
        view.add_row(
            row["model"],
            f"{row['qlike']:.4f}",
            f"{row['mse']:.3e}",
            f"{row['qlike_ratio']:.3f}",
            f"{row['mse_ratio']:.3f}",
            "--" if row["dm_qlike"] is None else f"{row['dm_qlike']:+.2f}",
            "--" if row["dm_qlike_p"] is None else f"{row['dm_qlike_p']:.3g}",
            "best (lowest QLIKE)" if row["best"] else "",
        )
    print_whole(view)


def validate(
    symbol: _Symbol = "BTCUSDT",
    leverage: Annotated[
        float, typer.Option("--leverage", help="Leverage of the daily isolated long (x, >= 1).")
    ] = 10.0,
    level: Annotated[float, typer.Option("--level", help="VaR confidence level, a fraction in (0.5, 1).")] = 0.99,
    mm_rate: Annotated[float, typer.Option("--mm-rate", help="Maintenance margin rate (fraction).")] = 0.005,
    start_test: Annotated[
        str | None,
        typer.Option("--start-test", help="First held-out day (UTC). Default: the first day with a year of history."),
    ] = None,
    end_test: _End = None,
    as_json: _Json = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="Print the report as Markdown tables.")] = False,
) -> None:
    """Backtest the 1-day VaR (Kupiec, Christoffersen) and the liquidation probability of a long, out of sample."""
    from crossmargin.risk.validate import calibration_report  # noqa: PLC0415 - see the module docstring

    try:
        with progress_callback(f"calibrating {symbol}") as progress:
            report = calibration_report(
                symbol,
                leverage=leverage,
                mm_rate=mm_rate,
                level=level,
                start_test=start_test,
                end_test=end_test,
                progress=progress,
            )
    except CrossmarginError as error:
        raise _forecast_fail(error) from None
    if as_json:
        print(json.dumps(report.to_json(), indent=2, allow_nan=False))
        return
    if markdown:
        print(report.markdown(), end="")
        return
    _print_report(report)


def _print_report(report: CalibrationReport) -> None:
    head = f"{report.symbol}, held-out days {report.start} to {report.end} ({report.days} days)"
    var_table = compact_table(
        f"{head}: 1-day VaR {report.level * 100:g}% of a long",
        "LR: likelihood-ratio statistic, p: its p-value. Kupiec: the number of exceedances; independence "
        "(Christoffersen): whether they cluster; conditional coverage: both at once.",
    )
    for column in ("sigma", "exceedances", "expected", "rate", "Kupiec LR", "p", "indep. LR", "p", "cond. LR", "p"):
        var_table.add_column(column, justify="left" if column == "sigma" else "right", no_wrap=True)
    for m in report.methods:
        var_table.add_row(
            m.method,
            str(m.var_exceedances),
            f"{m.var_expected:.1f}",
            f"{m.var_rate:.2%}",
            f"{m.kupiec.statistic:.2f}",
            f"{m.kupiec.p_value:.3g}",
            f"{m.independence.statistic:.2f}",
            f"{m.independence.p_value:.3g}",
            f"{m.conditional.statistic:.2f}",
            f"{m.conditional.p_value:.3g}",
        )
    print_whole(var_table)
    liq_title = (
        f"Liquidation within the day: long {report.leverage:g}x, MMR {report.mm_rate:.2%} "
        f"(a {report.liquidation_move:.2%} fall from the open)"
    )
    liq_table = compact_table(liq_title)
    for column in ("sigma", "predicted (sum p)", "hits (low)", "hits (mark low)", "count p", "Brier"):
        liq_table.add_column(column, justify="left" if column == "sigma" else "right", no_wrap=True)
    for m in report.methods:
        liq_table.add_row(
            m.method,
            f"{m.liq_expected:.2f}",
            str(m.liq_hits),
            f"{m.liq_hits_mark} / {m.mark_days}",
            f"{m.liq_count_p:.3g}",
            f"{m.brier:.5f}",
        )
    print_whole(liq_table)
    bins = compact_table("Reliability: days binned by predicted liquidation probability")
    for column in ("sigma", "predicted p", "days", "mean predicted", "expected", "hits", "rate"):
        bins.add_column(column, justify="left" if column in ("sigma", "predicted p") else "right", no_wrap=True)
    for m in report.methods:
        for b in m.bins:
            bins.add_row(
                m.method,
                f"{b.low:.1%} .. {b.high:.1%}",
                str(b.days),
                f"{b.mean_predicted:.3%}",
                f"{b.expected:.2f}",
                str(b.hits),
                f"{b.rate:.2%}",
            )
    print_whole(bins)


def register(app: typer.Typer) -> None:
    """Add ``forecast`` and ``validate`` to ``app``."""
    app.command("forecast")(forecast)
    app.command("validate")(validate)
