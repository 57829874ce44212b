"""The ``crossmargin`` command line. Thin: parse, call, render; every figure comes from ``margin/``."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich import box
from rich.table import Table
from rich.text import Text

from crossmargin.console import fail as _fail
from crossmargin.console import format_money as _money
from crossmargin.console import format_price as _price
from crossmargin.console import jsonable as _jsonable
from crossmargin.console import print_whole as _print_whole
from crossmargin.console import risk_json
from crossmargin.data.cli import data_app
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.kernels.batch_cli import register as register_batch
from crossmargin.live.alerts import DEFAULT_RULES, AlertBook, load_rules
from crossmargin.live.base import AccountReader
from crossmargin.live.ccxt_reader import CcxtReader
from crossmargin.live.monitor import Monitor
from crossmargin.live.paper import paper_from_episode
from crossmargin.live.view import run_monitor
from crossmargin.margin.account import evaluate, pool_margin_ratio
from crossmargin.model import AccountRisk, PositionRisk
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from crossmargin.report.checklist_cli import register as register_checklist
from crossmargin.report.plot import backtest_figure, save_figure
from crossmargin.risk.forecast_cli import register as register_forecast
from crossmargin.risk.leverage import max_leverage
from crossmargin.risk.montecarlo_cli import parse_probability
from crossmargin.risk.montecarlo_cli import register as register_montecarlo
from crossmargin.risk.portfolio_margin import margin_comparison
from crossmargin.risk.stress_cli import portfolio_margin_table
from crossmargin.risk.stress_cli import register as register_stress
from crossmargin.sim.backtest import kernel_scan, resolve_strategy, run_backtest, sample_market
from crossmargin.sim.engine import AutoLeverage, RunConfig
from crossmargin.sim.result import BacktestResult
from crossmargin.store import Store
from crossmargin.sweep_cli import register as register_sweep
from crossmargin.sweep_cli import run_sweep
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules
from crossmargin.venues.tables import enable_staleness_warnings
from crossmargin.venues_cli import register as register_venues
from crossmargin.web.serve_cli import register as register_serve

__all__ = ["app", "main", "risk_json"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="See what cross and isolated margin do to a perpetual-futures account.",
)


app.add_typer(data_app, name="data")
register_forecast(app)
register_montecarlo(app)
register_stress(app)
register_checklist(app)
register_serve(app)
register_sweep(app)
register_batch(app)
register_venues(app)


@app.callback()
def _root() -> None:
    """crossmargin: exact venue margin, liquidation prices, cross vs isolated side by side."""


def _percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "--" if value is None else "inf"
    return f"{value * 100:.2f}%"


def _liquidation_cell(position: PositionRisk, notes: dict[str, int]) -> str:
    """Return a liquidation-price cell: the price, else '--' with a footnote number where a note says why."""
    note = position.liquidation_note
    if position.liquidation_price is not None or not note:
        return _price(position.liquidation_price)
    number = notes.setdefault(f"{position.symbol} {position.side}: {note}", len(notes) + 1)
    return f"-- [{number}]"


def _footnotes(table: Table, notes: dict[str, int]) -> Table:
    """Set the table's caption to the numbered notes of its '--' liquidation prices (none: no caption)."""
    if notes:
        table.caption = Text("  ".join(f"[{number}] {text}" for text, number in notes.items()))
        table.caption_justify = "left"
    return table


def _positions_table(risk: AccountRisk, rules: VenueRules, title: str) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in (
        "symbol",
        "side",
        "mode",
        "size",
        "entry",
        "mark",
        "lev",
        "notional",
        "uPnL",
        "IM",
        "MM",
        "MMR",
        "iso margin",
        "pool ratio",
        "liq price",
        "bankr price",
        "to liq",
    ):
        table.add_column(column, justify="left" if column in ("symbol", "side", "mode") else "right", no_wrap=True)
    notes: dict[str, int] = {}
    for p in risk.positions:
        table.add_row(
            p.symbol,
            p.side,
            p.margin_mode,
            f"{p.size:g}",
            _price(p.entry_price),
            _price(p.mark_price),
            f"{p.leverage:g}x",
            _money(p.notional),
            _money(p.unrealized_pnl),
            _money(p.initial_margin),
            _money(p.maintenance_margin),
            f"{p.mm_rate * 100:g}%",
            _money(p.isolated_margin),
            _percent(pool_margin_ratio(risk, p)),
            _liquidation_cell(p, notes),
            _price(p.bankruptcy_price),
            _percent(p.distance_to_liquidation),
        )
    return _footnotes(table, notes)


def _account_table(risks: dict[str, AccountRisk], rules: VenueRules) -> Table:
    """Return the account figures, one column per book (as given, then the what-ifs with ``--compare``)."""
    settle = rules.settle
    labels = {"as_given": "as given", "cross": "what if all cross", "isolated": "what if all isolated"}
    title = f"Account ({settle})" if len(risks) == 1 else f"Account ({settle}): " + ", ".join(labels[n] for n in risks)
    table = Table(title=title, title_justify="left")
    table.add_column("")
    for name in risks:
        table.add_column(labels[name], justify="right")
    money_rows = [
        ("wallet balance", "wallet_balance"),
        ("unrealised PnL", "unrealized_pnl"),
        ("margin balance", "margin_balance"),
        ("initial margin", "initial_margin"),
        ("maintenance margin", "maintenance_margin"),
        ("available balance", "available_balance"),
    ]
    for label, key in money_rows:
        table.add_row(label, *(_money(getattr(risk.account, key)) for risk in risks.values()))
    table.add_row(
        "cross margin ratio (liquidation at " + (">=" if rules.ratio_kind == "risk" else "<=") + " 100%)",
        *(
            _percent(risk.account.margin_ratio)
            if any(p.isolated_margin is None for p in risk.positions)
            else "-- (no cross position)"
            for risk in risks.values()
        ),
    )
    return table


def _comparison_table(as_given: AccountRisk, cross: AccountRisk, isolated: AccountRisk) -> Table:
    """Return each position's liquidation price and distance as given, then what if all cross / all isolated."""
    table = Table(
        title="Liquidation: as given, what if all cross, what if all isolated (mark moves with the other marks held)",
        title_justify="left",
    )
    for column in (
        "symbol",
        "side",
        "mode",
        "mark",
        "as given liq",
        "as given to liq",
        "cross liq",
        "cross to liq",
        "isolated liq",
        "isolated to liq",
        "liquidated first",
    ):
        left = column in ("symbol", "side", "mode", "liquidated first")
        table.add_column(column, justify="left" if left else "right")
    notes: dict[str, int] = {}
    for g, c, i in zip(as_given.positions, cross.positions, isolated.positions, strict=True):
        table.add_row(
            g.symbol,
            g.side,
            g.margin_mode,
            _price(g.mark_price),
            _liquidation_cell(g, notes),
            _percent(g.distance_to_liquidation),
            _liquidation_cell(c, notes),
            _percent(c.distance_to_liquidation),
            _liquidation_cell(i, notes),
            _percent(i.distance_to_liquidation),
            # A price left out for a reason (past the last bracket) is unknown, not absent: no order is known.
            "--"
            if c.liquidation_note or i.liquidation_note
            else first_liquidated(c.distance_to_liquidation, i.distance_to_liquidation),
        )
    table = _footnotes(table, notes)
    legend = Text(
        "mode: the file's. cross, isolated: every position recast (an isolated one keeps its margin). "
        "liquidated first: cross or isolated (--: not known)."
    )
    table.caption = legend if table.caption is None else Text.assemble(legend, "\n", table.caption)
    table.caption_justify = "left"
    return table


def first_liquidated(cross_distance: float | None, isolated_distance: float | None) -> str:
    """Return which mode reaches liquidation on the smaller adverse move: 'cross', 'isolated', 'same' or 'neither'."""
    if cross_distance is None and isolated_distance is None:
        return "neither"
    if isolated_distance is None:
        return "cross"
    if cross_distance is None:
        return "isolated"
    if math.isclose(cross_distance, isolated_distance, rel_tol=1e-9, abs_tol=1e-12):
        return "same"
    return "isolated" if isolated_distance < cross_distance else "cross"


@app.command()
def check(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio TOML file.", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare", help="Show the book as given, then what if every position were cross, and were isolated."
        ),
    ] = False,
    venue: Annotated[str | None, typer.Option("--venue", help="Venue rules to apply (overrides the file).")] = None,
    margin: Annotated[
        str, typer.Option("--margin", help="venue (default) | portfolio: also the scenario-based requirement.")
    ] = "venue",
) -> None:
    """Margin, margin ratio, available balance and liquidation price of every position.

    With --compare: the book as given (each position in its own mode), then what if all cross / all isolated.
    """
    try:
        loaded: Portfolio = load_portfolio(portfolio, venue=venue)
        risks = {"as_given": evaluate(loaded.account, loaded.marks, loaded.rules)}
        if compare:
            risks["cross"] = evaluate(all_cross(loaded.account), loaded.marks, loaded.rules)
            risks["isolated"] = evaluate(all_isolated(loaded.account), loaded.marks, loaded.rules)
        if margin not in ("venue", "portfolio"):
            raise InputError("--margin", margin, "venue | portfolio")
        scenario_table = portfolio_margin_table(loaded) if margin == "portfolio" else None
    except CrossmarginError as error:
        raise _fail(error, str(portfolio)) from None
    if as_json:
        payload = {name: risk_json(risk) for name, risk in risks.items()} if compare else risk_json(risks["as_given"])
        if margin == "portfolio":  # the contract's object, with the scenario margin beside it
            payload = {
                "check": payload,
                "portfolio_margin": _jsonable(margin_comparison(loaded).reset_index().to_dict("records")),
            }
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    titles = {
        "as_given": f"{portfolio.name}, as given" if compare else portfolio.name,
        "cross": "what if all cross",
        "isolated": "what if all isolated",
    }
    tables = [
        _positions_table(risk, loaded.rules, f"Positions ({risk.venue} · {titles[name]})")
        for name, risk in risks.items()
    ]
    tables.append(_account_table(risks, loaded.rules))
    if compare:
        tables.append(_comparison_table(risks["as_given"], risks["cross"], risks["isolated"]))
    if scenario_table is not None:
        tables.append(scenario_table)
    for table in tables:
        _print_whole(table)


def _day_ms(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    try:
        return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)
    except (ValueError, TypeError):
        raise InputError(field, text, "a date such as 2026-03-01 (UTC)") from None


@app.command()
def backtest(
    strategy: Annotated[str, typer.Argument(help="case-study | hedge-pair | basis | scalp")],
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
        run_sweep(strategy, sweep, mode=mode, scheduler=scheduler, venue=venue, as_json=as_json)
        return
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
        raise _fail(error) from None
    if store is not None:
        try:
            with Store(store) as sink:
                run_id = sink.record_backtest(result)
        except CrossmarginError as error:
            raise _fail(error) from None
        print(f"stored: run {run_id} in {sink.url}", file=sys.stderr)
    notes: list[str] = []
    if plot is not None:
        notes = save_figure(backtest_figure(result), plot, png=plot.with_suffix(".png") if png else None)
    if as_json:
        print(json.dumps(_jsonable(result.to_json()), indent=2, default=str))
        return
    _print_whole(_summary_table(result))
    controls = (
        f"stop-loss beyond liquidation: {stop_policy}; leverage cap: "
        f"{'off' if leverage_cap is None else f'{leverage_cap:g}x'}; volatility target: "
        f"{'off' if vol_target is None else f'{vol_target:.0%}'}"
    )
    acted = {name: run.events["kind"].value_counts().to_dict() for name, run in result.modes.items()}
    print(f"risk controls: {controls}; events: {acted}")
    for name, run in result.modes.items():
        if len(run.liquidations):
            _print_whole(_liquidation_table(name, run.liquidations))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if plot is not None:
        print(f"figure: {plot}")


def _summary_table(result: BacktestResult) -> Table:
    span = f"{result.start:%Y-%m-%d %H:%M} .. {result.end:%Y-%m-%d %H:%M} UTC"
    table = Table(title=f"{result.strategy} on {result.venue}, {span}", title_justify="left")
    table.add_column("")
    for name in result.modes:
        table.add_column(name, justify="right")
    rows: list[tuple[str, str, Callable[[Any], str]]] = [
        ("final equity", "final_equity", _money),
        ("return on collateral", "return_on_collateral", _percent),
        ("max drawdown", "max_drawdown", _percent),
        ("liquidations", "liquidations", str),
        ("fees", "fees", _money),
        ("funding paid", "funding_paid", _money),
        ("funding received", "funding_received", _money),
        ("peak margin ratio", "peak_margin_ratio", _percent),
        ("time above 80 % margin ratio", "time_above_80pct", _percent),
        ("capital efficiency (avg notional / collateral)", "capital_efficiency", lambda v: f"{v:.2f}x"),
        ("refused orders", "rejected_orders", str),
    ]
    for label, key, render in rows:
        table.add_row(label, *(render(getattr(run.summary, key)) for run in result.modes.values()))
    return table


def _liquidation_table(mode: str, frame: pd.DataFrame) -> Table:
    table = Table(title=f"Liquidations ({mode})", title_justify="left")
    for column in ("time", "pool", "symbol", "side", "size", "price", "kind", "loss"):
        table.add_column(column, justify="right" if column in ("size", "price", "loss") else "left")
    for row in frame.to_dict(orient="records"):
        table.add_row(
            f"{row['time']:%Y-%m-%d %H:%M}",
            row["pool"],
            row["symbol"],
            row["side"],
            f"{row['size']:g}",
            _price(row["price"]),
            row["kind"],
            _money(row["loss"]),
        )
    return table


def _seconds(text: str, field: str) -> float:
    units = {"ms": 0.001, "s": 1.0, "m": 60.0}
    for suffix in ("ms", "s", "m"):
        if text.endswith(suffix):
            try:
                value = float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
            if value > 0:
                return value
            break
    raise InputError(field, text, "a duration such as 5s, 500ms or 1m")


@app.command()
def monitor(
    venue: Annotated[str, typer.Option("--venue", help="binance | bybit | okx | hyperliquid")] = "binance",
    paper: Annotated[bool, typer.Option("--paper", help="Replay a crash on the local paper venue (offline).")] = False,
    portfolio: Annotated[Path, typer.Option("--portfolio", help="Paper: the positions to replay.")] = Path(
        "examples/paper_crash.toml"
    ),
    episode: Annotated[str, typer.Option("--episode", help="Paper: the crash episode to replay.")] = "2025-10-10",
    interval: Annotated[str, typer.Option("--interval", help="Time between reads, e.g. 5s (paper: 0s ok).")] = "5s",
    ticks: Annotated[int | None, typer.Option("--ticks", help="Stop after this many reads.")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="Alert rules (TOML).")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Record to this database URL.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="One line per tick instead of the live view.")] = False,
) -> None:
    """Watch an account's margin ratio and liquidation prices, recomputed here, with alerts."""
    try:
        pause = 0.0 if paper and interval in ("0", "0s") else _seconds(interval, "--interval")
        alert_rules, webhook = load_rules(rules) if rules is not None else (DEFAULT_RULES, None)
        if ticks is not None and ticks < 1:
            raise InputError("--ticks", ticks, ">= 1")
        if paper:
            loaded = load_portfolio(portfolio, venue=venue)
            reader: AccountReader = paper_from_episode(loaded, episode)
            count = ticks or (reader.market.bars - 1)  # type: ignore[attr-defined]
        else:
            reader = CcxtReader(get_rules(venue, field="--venue").name)
            count = ticks or 10**9
        sink = Store(store) if store is not None else None
    except CrossmarginError as error:
        raise _fail(error) from None
    watcher = Monitor(reader, book=AlertBook(alert_rules), webhook=webhook, store=sink)
    try:
        run_monitor(watcher, count, pause=pause, plain=plain)
    except CrossmarginError as error:
        raise _fail(error) from None
    finally:
        reader.close()
        if sink is not None:
            sink.close()


def main() -> None:
    """Run the CLI (the ``crossmargin`` console script)."""
    enable_staleness_warnings()
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
