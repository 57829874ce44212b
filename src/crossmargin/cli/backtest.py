"""``crossmargin backtest``: replay a strategy on the shipped real bars under cross and isolated margin.

Thin: parse, call ``sim.backtest.run_backtest``, render. pandas, numba, plotly, SQLAlchemy and Dask are imported
inside the command (and only for the options that need them), so that mounting it costs nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import (
    danger,
    fail,
    format_money,
    format_percent,
    format_price,
    jsonable,
    label,
    level_above,
    print_whole,
    print_wrapped,
    risk_ratio_cell,
)
from crossmargin.cli.risk import parse_probability
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.risk.thresholds import STRESS_LOSS_FAIL, STRESS_LOSS_WARN
from crossmargin.venues import get_rules

if TYPE_CHECKING:
    import pandas as pd
    from rich.table import Table
    from rich.text import Text

    from crossmargin.sim.result import BacktestResult

__all__ = ["backtest", "register"]


def _percent(value: float | None) -> str:
    """Return a ratio as a percentage; an infinite ratio prints 'bankrupt', an undefined one '--'."""
    return format_percent(value)


def _day_ms(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    import pandas as pd  # noqa: PLC0415 - see the module docstring

    try:
        return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)
    except (ValueError, TypeError):
        raise InputError(field, text, "a date such as 2026-03-01 (UTC)") from None


def backtest(
    strategy: Annotated[str, typer.Argument(help="case-study | hedge-pair | basis | scalp | sma-cross")],
    mode: Annotated[str, typer.Option("--mode", help="cross | isolated | both")] = "both",
    venue: Annotated[str, typer.Option("--venue", help="Venue rules (the sample bars are Binance's).")] = "binance",
    wallet: Annotated[float, typer.Option("--wallet", help="Starting wallet (quote currency).")] = 10_000.0,
    leverage: Annotated[float, typer.Option("--leverage", help="Leverage of every position opened.")] = 5.0,
    slippage: Annotated[float, typer.Option("--slippage", help="Market-fill slippage (fraction).")] = 0.0002,
    start: Annotated[str | None, typer.Option("--start", help="First day (UTC), e.g. 2026-03-01.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Day after the last (UTC).")] = None,
    stop_policy: Annotated[str, typer.Option("--stop-policy", help="Stops beyond liquidation: refuse|warn|off")] = (
        "refuse"
    ),
    leverage_cap: Annotated[float | None, typer.Option("--leverage-cap", help="Max gross notional / equity.")] = None,
    vol_target: Annotated[float | None, typer.Option("--vol-target", help="Annualised volatility target.")] = None,
    auto_leverage: Annotated[
        str | None,
        typer.Option("--auto-leverage", help="Also run with leverage set from the volatility forecast, e.g. 1%."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write the equity/margin figure as HTML here.")] = None,
    png: Annotated[bool, typer.Option("--png", help="Also write the figure as PNG (needs Chrome).")] = False,
    reference: Annotated[bool, typer.Option("--reference", help="Use the plain-Python loop.")] = False,
    store: Annotated[str | None, typer.Option("--store", help="Record the run in this database (URL or path).")] = None,
    sweep: Annotated[
        Path | None, typer.Option("--sweep", help="Run a parameter grid (TOML) as Dask tasks instead of one run.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="With --sweep: a Dask cluster (default: local cores).")
    ] = None,
) -> None:
    """Replay a strategy on the shipped real bars under cross and isolated margin, side by side."""
    if sweep is not None:
        from crossmargin.cli.sweep import run_sweep  # noqa: PLC0415 - Dask: this option only

        run_sweep(strategy, sweep, mode=mode, scheduler=scheduler, venue=venue, as_json=as_json)
        return
    from crossmargin.sim.backtest import kernel_scan, resolve_strategy, run_backtest, sample_market  # noqa: PLC0415
    from crossmargin.sim.config import AutoLeverage, RunConfig  # noqa: PLC0415

    try:
        factory = resolve_strategy(strategy)
        probe = factory()
        rules = get_rules(venue, field="--venue")
        config = RunConfig(
            wallet=wallet,
            leverage=leverage,
            slippage=slippage,
            stop_policy=stop_policy,  # type: ignore[arg-type]
            leverage_cap=leverage_cap,
            vol_target=vol_target,
        )
        market = sample_market(
            probe.symbols,
            interval="1m" if probe.name == "scalp" else "1h",
            spot=probe.needs_spot,
            start_ms=_day_ms(start, "--start"),
            end_ms=_day_ms(end, "--end"),
        )
        policy = None
        if auto_leverage is not None:
            probability = parse_probability(auto_leverage, "--auto-leverage")
            horizon = 60 if probe.name == "scalp" else 24  # an hour of 1m bars, a day of 1h bars
            from crossmargin.risk.leverage import max_leverage  # noqa: PLC0415

            policy = AutoLeverage(cap=max_leverage, max_liq_prob=probability, horizon_bars=horizon)
        result = run_backtest(
            factory,
            market,
            rules,
            mode=mode,
            config=config,
            scanner=None if reference else kernel_scan,
            auto_leverage=policy,
        )
    except CrossmarginError as error:
        raise fail(error) from None
    if store is not None:
        from crossmargin.store import Store  # noqa: PLC0415 - SQLAlchemy: this option only

        try:
            with Store(store) as sink:
                run_id = sink.record_backtest(result)
        except CrossmarginError as error:
            raise fail(error) from None
        print(f"stored: run {run_id} in {sink.url}", file=sys.stderr)
    notes: list[str] = []
    if plot is not None:
        from crossmargin.report.plot import backtest_figure, save_figure  # noqa: PLC0415 - plotly: this option only

        notes = save_figure(backtest_figure(result), plot, png=plot.with_suffix(".png") if png else None)
    if as_json:
        print(json.dumps(jsonable(result.to_json()), indent=2, default=str))
        return
    print_whole(_summary_table(result))
    controls = (
        f"stop-loss beyond liquidation: {stop_policy}; leverage cap: "
        f"{'off' if leverage_cap is None else f'{leverage_cap:g}x'}; volatility target: "
        f"{'off' if vol_target is None else f'{vol_target:.0%}'}"
    )
    print_wrapped(f"risk controls: {controls}")
    print_wrapped(
        "events: " + "; ".join(f"{_mode_label(name)}: {_events(run.events)}" for name, run in result.modes.items())
    )
    for name, run in result.modes.items():
        if len(run.liquidations):
            print_whole(_liquidation_table(name, run.liquidations))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if plot is not None:
        print(f"figure: {plot}")


def _mode_label(name: str) -> str:
    """Return a run's mode as words: 'cross', 'isolated', 'cross+auto' -> 'cross, auto'."""
    base, auto, _ = name.partition("+auto")
    return f"{base}, auto" if auto else label(name)


def _events(events: pd.DataFrame) -> str:
    """Return how many events of each kind a run recorded, in words: '2 refused, 1 leverage cap' (none: 'none')."""
    counts = events["kind"].value_counts()
    return ", ".join(f"{int(count)} {label(str(kind))}" for kind, count in counts.items()) or "none"


def _drawdown_cell(value: float) -> Text:
    """Return a drawdown (fraction of the peak) coloured by the checklist's stress-loss levels."""
    return danger(_percent(value), level_above(value, STRESS_LOSS_WARN, STRESS_LOSS_FAIL))


def _count_cell(value: int) -> Text:
    """Return a count of liquidations: red from one."""
    return danger(str(value), 2 if value > 0 else 0)


def _summary_table(result: BacktestResult) -> Table:
    """Return the summary of every run, one column a mode: red or yellow where a figure breaches the checklist's
    levels (liquidations, drawdown as a share of the peak, peak margin ratio as requirement / margin balance)."""
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

    span = f"{result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC"
    auto = any("+auto" in name for name in result.modes)
    table = Table(
        title=f"{result.strategy} on {result.venue}, {span}",
        title_justify="left",
        caption="capital efficiency = average notional / collateral"
        + ("; auto: the same run with leverage set by --auto-leverage" if auto else ""),
        caption_justify="left",
    )
    table.add_column("")
    for name in result.modes:
        table.add_column(_mode_label(name), justify="right")
    rows: list[tuple[str, str, Callable[[Any], str | Text]]] = [
        ("final equity", "final_equity", format_money),
        ("return on collateral", "return_on_collateral", _percent),
        ("max drawdown", "max_drawdown", _drawdown_cell),
        ("liquidations", "liquidations", _count_cell),
        ("fees", "fees", format_money),
        ("funding paid", "funding_paid", format_money),
        ("funding received", "funding_received", format_money),
        ("peak margin ratio", "peak_margin_ratio", risk_ratio_cell),
        ("time above 80 % margin ratio", "time_above_80pct", lambda v: danger(_percent(v), 1 if v > 0 else 0)),
        ("capital efficiency", "capital_efficiency", lambda v: f"{v:.2f}x"),
        ("refused orders", "rejected_orders", str),
    ]
    for heading, key, render in rows:
        table.add_row(heading, *(render(getattr(run.summary, key)) for run in result.modes.values()))
    return table


def _pool_label(pool: str) -> str:
    """Return a run's pool key as words: 'cross'; 'isolated:ETHUSDT' (or with ':long') -> 'isolated'."""
    return pool.partition(":")[0]


def _liquidation_table(mode: str, frame: pd.DataFrame) -> Table:
    """Return the liquidations of one run: when, which pool and position, at what price, and the loss (red)."""
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

    table = Table(title=f"Liquidations ({_mode_label(mode)})", title_justify="left")
    for column in ("time", "pool", "symbol", "side", "size", "price", "kind", "loss"):
        table.add_column(column, justify="right" if column in ("size", "price", "loss") else "left")
    for row in frame.to_dict(orient="records"):
        table.add_row(
            f"{row['time']:%Y-%m-%d %H:%M}",
            _pool_label(str(row["pool"])),
            row["symbol"],
            row["side"],
            f"{row['size']:g}",
            format_price(row["price"]),
            label(str(row["kind"])),
            danger(format_money(row["loss"]), 2 if row["loss"] > 0 else 0),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the ``backtest`` command to ``app``."""
    app.command("backtest")(backtest)
