"""The ``crossmargin`` command line. Thin: parse, call, render; every figure comes from ``margin/``."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from crossmargin.errors import CrossmarginError
from crossmargin.margin.account import evaluate, pool_margin_ratio
from crossmargin.model import AccountRisk
from crossmargin.portfolio import Portfolio, all_cross, all_isolated, load_portfolio
from crossmargin.venues.base import VenueRules

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="See what cross and isolated margin do to a perpetual-futures account.",
)


@app.callback()
def _root() -> None:
    """crossmargin: exact venue margin, liquidation prices, cross vs isolated side by side."""


def _fail(error: Exception, context: str = "") -> typer.Exit:
    prefix = f"{context}: " if context else ""
    print(f"error: {prefix}{error}", file=sys.stderr)
    return typer.Exit(code=2)


def _jsonable(value: Any) -> Any:
    """Return ``value`` with non-finite floats as None, so that the output is strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    return value


def risk_json(risk: AccountRisk) -> dict[str, Any]:
    """Return the public ``--json`` object of one evaluated account."""
    result: dict[str, Any] = _jsonable(dataclasses.asdict(risk))
    del result["pool_ratios"]
    return result


def _money(value: float | None) -> str:
    return "--" if value is None else f"{value:,.2f}"


def _price(value: float | None) -> str:
    if value is None:
        return "--"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    if abs(value) >= 1:
        return f"{value:,.4f}"
    return f"{value:.6g}"


def _percent(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "--" if value is None else "inf"
    return f"{value * 100:.2f}%"


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
            _price(p.liquidation_price),
            _price(p.bankruptcy_price),
            _percent(p.distance_to_liquidation),
        )
    return table


def _account_table(risks: dict[str, AccountRisk]) -> Table:
    table = Table(
        title="Account (USDT)" if len(risks) == 1 else "Account (USDT): cross vs isolated", title_justify="left"
    )
    table.add_column("")
    for name in risks:
        table.add_column(name, justify="right")
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
        "cross margin ratio",
        *(
            _percent(risk.account.margin_ratio)
            if any(p.isolated_margin is None for p in risk.positions)
            else "-- (no cross position)"
            for risk in risks.values()
        ),
    )
    return table


def _comparison_table(cross: AccountRisk, isolated: AccountRisk) -> Table:
    table = Table(title="Liquidation: cross vs isolated (mark moves with the other marks held)", title_justify="left")
    for column in (
        "symbol",
        "side",
        "mark",
        "cross liq",
        "cross to liq",
        "isolated liq",
        "isolated to liq",
        "liquidated first",
    ):
        table.add_column(column, justify="left" if column in ("symbol", "side", "liquidated first") else "right")
    for c, i in zip(cross.positions, isolated.positions, strict=True):
        table.add_row(
            c.symbol,
            c.side,
            _price(c.mark_price),
            _price(c.liquidation_price),
            _percent(c.distance_to_liquidation),
            _price(i.liquidation_price),
            _percent(i.distance_to_liquidation),
            first_liquidated(c.distance_to_liquidation, i.distance_to_liquidation),
        )
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
        bool, typer.Option("--compare", help="Evaluate the positions all-cross and all-isolated, side by side.")
    ] = False,
    venue: Annotated[str | None, typer.Option("--venue", help="Venue rules to apply (overrides the file).")] = None,
) -> None:
    """Margin, margin ratio, available balance and liquidation price of every position."""
    try:
        loaded: Portfolio = load_portfolio(portfolio, venue=venue)
        if compare:
            risks = {
                "cross": evaluate(all_cross(loaded.account), loaded.marks, loaded.rules),
                "isolated": evaluate(all_isolated(loaded.account), loaded.marks, loaded.rules),
            }
        else:
            risks = {"as given": evaluate(loaded.account, loaded.marks, loaded.rules)}
    except CrossmarginError as error:
        raise _fail(error, str(portfolio)) from None
    if as_json:
        payload = {name: risk_json(risk) for name, risk in risks.items()} if compare else risk_json(risks["as given"])
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    tables = [
        _positions_table(risk, loaded.rules, f"Positions ({risk.venue} · {name if compare else portfolio.name})")
        for name, risk in risks.items()
    ]
    tables.append(_account_table(risks))
    if compare:
        tables.append(_comparison_table(risks["cross"], risks["isolated"]))
    for table in tables:
        _print_whole(table)


def _print_whole(table: Table) -> None:
    """Print ``table`` at its natural width even where the terminal is narrower: a figure is never cut."""
    console = Console()
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    if needed > console.width:
        console = Console(width=needed)
    console.print(table)


def main() -> None:
    """Run the CLI (the ``crossmargin`` console script)."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
