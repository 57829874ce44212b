"""``crossmargin check``: margin, margin ratio, available balance and liquidation price of every position.

Thin: load the portfolio, call ``margin.account.evaluate``, render. Only the margin arithmetic is imported at the
top; ``--margin portfolio`` imports the scenario margin (pandas) when asked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crossmargin.cli.render import (
    distance_cell,
    fail,
    format_money,
    format_percent,
    format_price,
    jsonable,
    print_whole,
    ratio_cell,
)
from crossmargin.console import risk_json
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.margin.account import evaluate, pool_margin_ratio
from crossmargin.portfolio import MODE_LABELS, MODES, Portfolio, compare_modes, load_portfolio

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

    from crossmargin.model import AccountRisk, PositionRisk
    from crossmargin.venues.base import VenueRules

__all__ = ["WIDE_ONLY", "check", "first_liquidated", "register"]


def _percent(value: float | None) -> str:
    """Return a ratio or distance as a percentage; an infinite ratio prints 'bankrupt', an undefined one '--'."""
    return format_percent(value)


def _liquidation_cell(position: PositionRisk, notes: dict[str, int]) -> str:
    """Return a liquidation-price cell: the price, else '--' with a footnote number where a note says why."""
    note = position.liquidation_note
    if position.liquidation_price is not None or not note:
        return format_price(position.liquidation_price)
    number = notes.setdefault(f"{position.symbol} {position.side}: {note}", len(notes) + 1)
    return f"-- [{number}]"


def _footnotes(table: Table, notes: dict[str, int]) -> Table:
    """Set the table's caption to the numbered notes of its '--' liquidation prices (none: no caption)."""
    from rich.text import Text  # noqa: PLC0415 - rich: only when a table is printed

    if notes:
        table.caption = Text("  ".join(f"[{number}] {text}" for text, number in notes.items()))
        table.caption_justify = "left"
    return table


#: Columns of the positions table shown only with ``--wide`` (the rest fit a 100-column terminal, with OKX's
#: long symbols too): the file's inputs (entry, leverage) and the figures behind the ratio.
WIDE_ONLY = frozenset({"entry", "lev", "notional", "IM", "MMR", "iso margin", "bankr price"})


def _positions_table(risk: AccountRisk, rules: VenueRules, title: str, *, wide: bool = False) -> Table:
    from rich import box  # noqa: PLC0415 - rich: only when a table is printed
    from rich.table import Table  # noqa: PLC0415

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    notes: dict[str, int] = {}
    rows: list[dict[str, str | Text]] = [
        {
            "symbol": p.symbol,
            "side": p.side,
            "mode": p.margin_mode,
            "size": f"{p.size:g}",
            "entry": format_price(p.entry_price),
            "mark": format_price(p.mark_price),
            "lev": f"{p.leverage:g}x",
            "notional": format_money(p.notional),
            "uPnL": format_money(p.unrealized_pnl),
            "IM": format_money(p.initial_margin),
            "MM": format_money(p.maintenance_margin),
            "MMR": f"{p.mm_rate * 100:g}%",
            "iso margin": format_money(p.isolated_margin),
            "pool ratio": ratio_cell(pool_margin_ratio(risk, p), rules),
            "liq price": _liquidation_cell(p, notes),
            "bankr price": format_price(p.bankruptcy_price),
            "to liq": distance_cell(p.distance_to_liquidation),
        }
        for p in risk.positions
    ]
    columns = [c for c in rows[0] if wide or c not in WIDE_ONLY] if rows else []
    for column in columns:
        table.add_column(column, justify="left" if column in ("symbol", "side", "mode") else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(row[c] for c in columns))
    return _footnotes(table, notes)


def _account_table(risks: dict[str, AccountRisk], rules: VenueRules) -> Table:
    """Return the account figures, one column per book (as given, then the what-ifs with ``--compare``)."""
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

    settle = rules.settle
    labels = MODE_LABELS  # 'as given', 'what if all cross', 'what if all isolated'
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
        table.add_row(label, *(format_money(getattr(risk.account, key)) for risk in risks.values()))
    table.add_row(
        "cross margin ratio (liq. at " + (">=" if rules.ratio_kind == "risk" else "<=") + " 100%)",
        *(
            _percent(risk.account.margin_ratio)
            if any(p.isolated_margin is None for p in risk.positions)
            else "-- (no cross position)"
            for risk in risks.values()
        ),
    )
    return table


def _comparison_table(as_given: AccountRisk, cross: AccountRisk, isolated: AccountRisk, *, wide: bool = False) -> Table:
    """Return each position's liquidation price and distance as given, then what if all cross / all isolated.

    The mark column only with ``wide``: the rest fits a 100-column terminal.
    """
    from rich import box  # noqa: PLC0415 - rich: only when a table is printed
    from rich.table import Table  # noqa: PLC0415
    from rich.text import Text  # noqa: PLC0415

    table = Table(
        title="Liquidation: as given, what if all cross, what if all isolated (mark moves with the other marks held)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    notes: dict[str, int] = {}
    headers = ["symbol", "side", "mode", "mark", "given liq", "to liq", "cross liq", "to liq", "isol. liq", "to liq"]
    headers.append("first liq.")
    rows: list[list[str | Text]] = [
        [
            g.symbol,
            g.side,
            g.margin_mode,
            format_price(g.mark_price),
            _liquidation_cell(g, notes),
            distance_cell(g.distance_to_liquidation),
            _liquidation_cell(c, notes),
            distance_cell(c.distance_to_liquidation),
            _liquidation_cell(i, notes),
            distance_cell(i.distance_to_liquidation),
            # A price left out for a reason (past the last bracket) is unknown, not absent: no order is known.
            "--"
            if c.liquidation_note or i.liquidation_note
            else first_liquidated(c.distance_to_liquidation, i.distance_to_liquidation),
        ]
        for g, c, i in zip(as_given.positions, cross.positions, isolated.positions, strict=True)
    ]
    shown = [k for k, header in enumerate(headers) if wide or header != "mark"]
    for k in shown:
        left = headers[k] in ("symbol", "side", "mode", "first liq.")
        table.add_column(headers[k], justify="left" if left else "right", no_wrap=True)
    for row in rows:
        table.add_row(*(row[k] for k in shown))
    table = _footnotes(table, notes)
    legend = Text(
        "mode: the file's. cross, isolated: every position recast (an isolated one keeps its margin). "
        "first liq.: the mode liquidated first (--: not known)."
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
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="Every column (entry, leverage, notional, IM, MMR, isolated margin, bankruptcy, mark)."
        ),
    ] = False,
) -> None:
    """Margin, margin ratio, available balance and liquidation price of every position.

    With --compare: the book as given (each position in its own mode), then what if all cross / all isolated.
    """
    try:
        loaded: Portfolio = load_portfolio(portfolio, venue=venue)
        books = compare_modes(loaded.account, MODES if compare else ("as_given",), strict=True).books
        risks = {mode: evaluate(book, loaded.marks, loaded.rules) for mode, book in books.items()}
        if margin not in ("venue", "portfolio"):
            raise InputError("--margin", margin, "venue | portfolio")
        scenario_table = None
        if margin == "portfolio":
            from crossmargin.cli.risk import portfolio_margin_table  # noqa: PLC0415 - pandas: this option only

            scenario_table = portfolio_margin_table(loaded, wide=wide)
    except CrossmarginError as error:
        raise fail(error, str(portfolio)) from None
    if as_json:
        payload = {name: risk_json(risk) for name, risk in risks.items()} if compare else risk_json(risks["as_given"])
        if margin == "portfolio":  # the contract's object, with the scenario margin beside it
            from crossmargin.risk.portfolio_margin import margin_comparison  # noqa: PLC0415 - see above

            payload = {
                "check": payload,
                "portfolio_margin": jsonable(margin_comparison(loaded).reset_index().to_dict("records")),
            }
        print(json.dumps(payload, indent=2, allow_nan=False))
        return
    titles = {
        "as_given": f"{portfolio.name}, as given" if compare else portfolio.name,
        "cross": "what if all cross",
        "isolated": "what if all isolated",
    }
    tables = [
        _positions_table(risk, loaded.rules, f"Positions ({risk.venue} · {titles[name]})", wide=wide)
        for name, risk in risks.items()
    ]
    tables.append(_account_table(risks, loaded.rules))
    if compare:
        tables.append(_comparison_table(risks["as_given"], risks["cross"], risks["isolated"], wide=wide))
    if scenario_table is not None:
        tables.append(scenario_table)
    for table in tables:
        print_whole(table)


def register(app: typer.Typer) -> None:
    """Add the ``check`` command to ``app``."""
    app.command("check")(check)
