"""``crossmargin venues`` (with ``venues refresh``) and ``crossmargin brackets``: the venues' rules and tier tables.

Thin: parse, call :mod:`crossmargin.venues` and :mod:`crossmargin.live.venue_tables`, render. Mount with
``register(app)``. ``venues`` lists each venue's rules at a glance and where its tier table was read (shipped, or
refreshed into ``<data dir>/venues/``) with its ``as_of``; ``venues refresh`` fetches the current tables (ccxt is
imported only then); ``brackets`` prints one symbol's tiers. Errors print one line ``error: ...`` on stderr and
exit with code 2.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import add_columns, compact_table, fail, print_whole, print_wrapped
from crossmargin.errors import CrossmarginError, InputError, suggest
from crossmargin.venues import VENUES, get_rules
from crossmargin.venues.base import VenueRules
from crossmargin.venues.tables import TIER_FILES, table_origin

if TYPE_CHECKING:
    from rich.text import Text

__all__ = ["WIDE_ONLY", "bracket_rows", "brackets", "refresh", "register", "venue_summary", "venues"]

#: Columns of the ``venues`` table shown only with ``--wide`` (the rest fit a 100-column terminal).
WIDE_ONLY = frozenset({"hedge mode", "maker", "taker", "tiers from"})

_Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of a table.")]


def venues(
    ctx: typer.Context,
    as_json: _Json = False,
    symbols: Annotated[bool, typer.Option("--symbols", help="List every symbol of each venue.")] = False,
    wide: Annotated[bool, typer.Option("--wide", help="Every column (hedge mode, fees, where the tiers are).")] = False,
) -> None:
    """List the venues, their rules at a glance, their symbols and where each tier table was read."""
    if ctx.invoked_subcommand is not None:
        return
    rules_by_venue = {name: get_rules(name) for name in sorted(VENUES)}
    summaries = {name: venue_summary(rules) for name, rules in rules_by_venue.items()}
    if as_json:
        print(json.dumps(summaries, indent=2))
        return
    rows: list[dict[str, str | Text]] = []
    for name, rules in rules_by_venue.items():
        summary = summaries[name]
        tiers = summary["tier_table"]
        rows.append(
            {
                "venue": name,
                "settle": rules.settle,
                "symbols": str(len(summary["symbols"])),
                "liquidated when": "MM / balance >= 100%"
                if rules.ratio_kind == "risk"
                else "balance / (MM + fee) <= 100%",
                "liquidation": rules.liquidation.style.replace("_", " "),
                "hedge mode": "yes" if rules.hedge_mode else "no",
                "maker": f"{rules.fee_rate('maker') * 100:g}%",
                "taker": f"{rules.fee_rate('taker') * 100:g}%",
                "funding": "--"
                if summary["funding_interval_hours"] is None
                else f"every {summary['funding_interval_hours']:g} h",
                "tiers as of": tiers["as_of"] if tiers["origin"] == "shipped" else f"{tiers['as_of']} refreshed",
                "tiers from": "shipped" if tiers["origin"] == "shipped" else f"refreshed: {tiers['path']}",
            }
        )
    caption = (
        "liquidated when: the venue's margin ratio and the level it liquidates at; liquidation: how much of a "
        "breaching position the venue takes."
    )
    table = compact_table("Venues", caption + ("" if wide else " --wide: hedge mode, fees, where the tiers are."))
    left = ("venue", "settle", "liquidated when", "liquidation", "hedge mode", "funding", "tiers as of", "tiers from")
    print_whole(add_columns(table, rows, wide_only=WIDE_ONLY, wide=wide, left=left))
    for name, summary in summaries.items():
        listed = summary["symbols"] if symbols else summary["symbols"][:12]
        more = "" if symbols or len(summary["symbols"]) <= 12 else f" ... (+{len(summary['symbols']) - 12}, --symbols)"
        print_wrapped(f"{name}: {', '.join(listed)}{more}")


def venue_summary(rules: VenueRules) -> dict[str, Any]:
    """Return the ``crossmargin venues --json`` entry of one venue.

    ``tier_table`` says which copy of the venue's tier file is in use: ``origin`` 'shipped' (in the package) or
    'refreshed' (written by ``crossmargin venues refresh``), its ``path``, ``as_of`` and ``source``.
    """
    origin = table_origin(TIER_FILES[rules.name])
    return {
        "settle": rules.settle,
        "ratio_kind": rules.ratio_kind,
        "liquidation_style": rules.liquidation.style,
        "hedge_mode": rules.hedge_mode,
        "maker_rate": rules.fee_rate("maker"),
        "taker_rate": rules.fee_rate("taker"),
        "funding_interval_hours": getattr(rules, "funding_interval_hours", None),
        "sources": {key: {"source": s.source, "as_of": s.as_of} for key, s in rules.sources.items()},
        "tier_table": {
            "origin": origin.origin,
            "path": str(origin.path),
            "as_of": origin.as_of,
            "source": origin.source,
        },
        "symbols": list(rules.symbols()),
    }


def refresh(
    venue: Annotated[
        list[str] | None,
        typer.Option("--venue", help="binance | bybit | okx | hyperliquid; repeat for several (default: all four)."),
    ] = None,
    as_json: _Json = False,
) -> None:
    """Fetch each venue's current tier table, validate it and write it to the user's table folder.

    A venue whose refresh fails (network, venue error, a table that does not validate, BTC missing) keeps its old
    table: one line on stderr says why, and the command exits with code 2 after the other venues.
    """
    from crossmargin.live.venue_tables import refresh_venue  # noqa: PLC0415 - see the module docstring

    try:
        names = list(dict.fromkeys(_venue_name(name) for name in venue)) if venue else list(TIER_FILES)
    except CrossmarginError as error:
        raise fail(error) from None
    failed = False
    written: dict[str, Any] = {}
    for name in names:
        try:
            report = refresh_venue(name)
        except CrossmarginError as error:
            fail(error, f"{name} refresh failed, its table is unchanged")
            failed = True
            continue
        written[name] = {
            "path": str(report.path),
            "as_of": report.as_of,
            "symbols": list(report.written),
            "dropped": [{"symbol": symbol, "reason": reason} for symbol, reason in report.dropped],
            "out_of_scope": report.skipped,
        }
        if not as_json:
            print(
                f"{name}: wrote {len(report.written)} symbols to {report.path} (as of {report.as_of}); "
                f"{len(report.dropped)} dropped; {report.skipped} listings out of scope"
            )
            for symbol, reason in report.dropped:
                print(f"{name}: dropped {symbol}: {reason}")
    if as_json:
        print(json.dumps(written, indent=2))
    if failed:
        raise typer.Exit(code=2)


def _venue_name(name: str) -> str:
    key = name.lower()
    if key not in TIER_FILES:
        hint = suggest(name, TIER_FILES)
        detail = f"unknown venue {name!r}" + (f" (did you mean {hint}?)" if hint else "")
        raise InputError("--venue", name, " | ".join(TIER_FILES), detail=detail)
    return key


def bracket_rows(rules: VenueRules, symbol: str) -> list[dict[str, Any]]:
    """Return the ``crossmargin brackets --json`` rows of ``symbol``: one per tier, in the venue's units."""
    instrument = rules.instrument(symbol)
    rows = []
    for tier, bracket in enumerate(instrument.brackets, start=1):
        row: dict[str, Any] = {
            "tier": tier,
            "floor": bracket.floor,
            "cap": bracket.cap if math.isfinite(bracket.cap) else None,
            "max_leverage": bracket.max_leverage,
            "mm_rate": bracket.mm_rate,
            "maint_amount": bracket.maint_amount,
        }
        if instrument.tier_basis == "size":
            row["floor_contracts"] = bracket.floor / instrument.contract_size
            row["cap_contracts"] = bracket.cap / instrument.contract_size if math.isfinite(bracket.cap) else None
        rows.append(row)
    return rows


def brackets(
    symbol: Annotated[str, typer.Argument(help="Symbol as the venue spells it (BTCUSDT, BTC-USDT-SWAP, BTC).")],
    venue: Annotated[str, typer.Option("--venue", help="Venue whose table to print.")] = "binance",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows instead of a table.")] = False,
) -> None:
    """Print the leverage brackets (risk-limit / position / margin tiers) of one symbol."""
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

    try:
        rules = get_rules(venue, field="--venue")
        rows = bracket_rows(rules, symbol)
        instrument = rules.instrument(symbol)
    except CrossmarginError as error:
        raise fail(error) from None
    if as_json:
        print(
            json.dumps({"venue": rules.name, "symbol": symbol, "tier_basis": instrument.tier_basis, "brackets": rows})
        )
        return
    unit = f"{instrument.quote} notional" if instrument.tier_basis == "notional" else f"size in {instrument.base}"
    table = Table(title=f"{symbol} on {rules.name}: brackets by {unit}", title_justify="left")
    for column in ("tier", "from", "to", "max lev", "MMR", "maint amount"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            str(row["tier"]),
            f"{row['floor']:,.10g}",
            "--" if row["cap"] is None else f"{row['cap']:,.10g}",
            f"{row['max_leverage']:g}x",
            f"{row['mm_rate'] * 100:.4g}%",
            f"{row['maint_amount']:,.10g}",
        )
    print_whole(table)


def register(app: typer.Typer) -> None:
    """Add the ``venues`` group (listing, and ``refresh``) and the ``brackets`` command to ``app``."""
    group = typer.Typer(help="The venues, their rules at a glance and their tier tables.")
    group.callback(invoke_without_command=True)(venues)
    group.command("refresh")(refresh)
    app.add_typer(group, name="venues")
    app.command("brackets")(brackets)
