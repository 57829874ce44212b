"""``crossmargin data``: import market-data files, download from venues through ccxt, list what is stored.

Thin: parse, call ``load``/``validate``/``store``/``download``, render. Errors print one line ``error: ...``
on stderr and exit with code 2. pandas, pyarrow and ccxt are imported inside the commands, so that
mounting this app does not slow the start of every other ``crossmargin`` command.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from crossmargin.cli.render import fail, print_whole
from crossmargin.errors import CrossmarginError, InputError

if TYPE_CHECKING:
    pass

__all__ = [
    "data_app",
    "download",
    "import_file",
    "list_data",
    "register",
]

data_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Market data: import files (Parquet, CSV, Binance dumps, ccxt JSON), download through ccxt, list the store.",
)

_DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Store folder (default: $CROSSMARGIN_DATA_DIR or the user data folder)."),
]
_Json = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
_MAX_MESSAGE = 300


def _store(data_dir: Path | None) -> Any:
    from crossmargin.data.store import DataStore, default_data_dir  # noqa: PLC0415 - see the module docstring

    return DataStore(data_dir if data_dir is not None else default_data_dir())


def _day_ms(option: str, text: str) -> int:
    """Return the start of UTC day ``text`` (YYYY-MM-DD) in ms since the epoch."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(option, text, "a UTC date YYYY-MM-DD") from None
    return int(day.timestamp()) * 1000


@data_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="Bar or funding file: .parquet, .csv, .zip, .json.", show_default=False)],
    venue: Annotated[str, typer.Option("--venue", help="Venue the data is from (binance, bybit, okx, hyperliquid).")],
    symbol: Annotated[str, typer.Option("--symbol", help="Symbol, e.g. BTCUSDT.")],
    kind: Annotated[str, typer.Option("--kind", help="trades | mark | funding | spot.")] = "trades",
    interval: Annotated[
        str | None, typer.Option("--interval", help="Bar interval: 1m 5m 15m 1h 4h 8h 1d (not for funding).")
    ] = None,
    data_dir: _DataDir = None,
    repair: Annotated[
        str, typer.Option("--repair", help="Comma-separated repairs to allow: sort, drop_duplicates, fill_gaps.")
    ] = "",
    as_json: _Json = False,
) -> None:
    """Load a file, validate it (repairing only what --repair allows) and merge it into the store."""
    from crossmargin.data.download import known_venue  # noqa: PLC0415 - see the module docstring
    from crossmargin.data.load import load_bars, load_funding  # noqa: PLC0415
    from crossmargin.data.store import FUNDING_INTERVAL  # noqa: PLC0415
    from crossmargin.data.validate import INTERVALS, interval_ms, validate_bars, validate_funding  # noqa: PLC0415

    repairs = [name.strip() for name in repair.split(",") if name.strip()]
    log: list[str] = []
    try:
        venue = known_venue(venue)
        store = _store(data_dir)
        if kind == "funding":
            if interval not in (None, FUNDING_INTERVAL):
                raise InputError("--interval", interval, "none for funding (settlements are events)")
            label = FUNDING_INTERVAL
            store.path(venue, symbol, kind, label)
            loaded = load_funding(file)
            frame = validate_funding(loaded, name=str(file))
        else:
            if interval is None:
                raise InputError("--interval", None, ", ".join(INTERVALS), detail="--interval is required for bars")
            label = interval
            store.path(venue, symbol, kind, label)
            loaded = load_bars(file, symbol=symbol)
            frame, log = validate_bars(loaded, interval_ms=interval_ms(interval), name=str(file), repair=repairs)
        added = store.write(frame, venue, symbol, kind, label)
        target = store.path(venue, symbol, kind, label)
    except (CrossmarginError, OSError) as error:
        raise fail(error) from None
    result = {"path": str(target), "rows_read": len(loaded), "rows_added": added, "repairs": log}
    if as_json:
        print(json.dumps(result))
        return
    print(f"read {len(loaded)} rows; stored {added} new rows ({symbol} {kind} {label} on {venue}) in {target}")
    for line in log:
        print(f"repair {line}")


@data_app.command()
def download(
    venue: Annotated[str, typer.Option("--venue", help="binance | bybit | okx | hyperliquid.")],
    symbol: Annotated[str, typer.Option("--symbol", help="ccxt symbol (BTC/USDT:USDT) or the venue's id (BTCUSDT).")],
    since: Annotated[str, typer.Option("--since", help="First UTC day to fetch, YYYY-MM-DD.")],
    until: Annotated[
        str | None, typer.Option("--until", help="UTC day to stop before, YYYY-MM-DD (default: now).")
    ] = None,
    interval: Annotated[str, typer.Option("--interval", help="Bar interval: 1m 5m 15m 1h 4h 8h 1d.")] = "1h",
    kind: Annotated[str, typer.Option("--kind", help="trades | mark | funding | spot.")] = "trades",
    data_dir: _DataDir = None,
    page_limit: Annotated[
        int, typer.Option("--page-limit", help="Rows asked for per request (venue caps apply).")
    ] = 1000,
    as_json: _Json = False,
) -> None:
    """Download bars or funding history through ccxt into the store; a rerun resumes where the last one stopped."""
    import ccxt  # noqa: PLC0415 - see the module docstring

    from crossmargin.data import download as fetch  # noqa: PLC0415
    from crossmargin.data.store import FUNDING_INTERVAL  # noqa: PLC0415
    from crossmargin.data.validate import interval_ms  # noqa: PLC0415

    try:
        venue = fetch.known_venue(venue)
        since_ms = _day_ms("--since", since)
        until_ms = _day_ms("--until", until) if until is not None else int(datetime.now(UTC).timestamp() * 1000)
        store = _store(data_dir)
        exchange = fetch.make_exchange(venue, kind=kind)
        if kind == "funding":
            label = FUNDING_INTERVAL
            store.path(venue, symbol, kind, label)
            added = fetch.download_funding(
                exchange, symbol, since_ms=since_ms, until_ms=until_ms, store=store, venue=venue, page_limit=page_limit
            )
        else:
            interval_ms(interval)
            label = interval
            store.path(venue, symbol, kind, label)
            added = fetch.download_bars(
                exchange,
                symbol,
                timeframe=interval,
                since_ms=since_ms,
                until_ms=until_ms,
                store=store,
                venue=venue,
                kind=kind,
                page_limit=page_limit,
            )
        span = store.span(venue, symbol, kind, label)
    except (CrossmarginError, OSError) as error:
        raise fail(error) from None
    except ccxt.BaseError as error:
        text = " ".join(str(error).split())
        message = f"{venue}: {type(error).__name__}: {text[:_MAX_MESSAGE]}" + (
            "..." if len(text) > _MAX_MESSAGE else ""
        )
        raise fail(message) from None
    result: dict[str, Any] = {"path": str(store.path(venue, symbol, kind, label)), "rows_added": added}
    result |= {"first": span[0], "last": span[1], "rows": span[2]} if span else {"first": None, "last": None, "rows": 0}
    if as_json:
        print(json.dumps(result))
        return
    print(f"stored {added} new rows ({symbol} {kind} {label} on {venue}) in {result['path']}; {result['rows']} in all")


@data_app.command("list")
def list_data(data_dir: _DataDir = None, as_json: _Json = False) -> None:
    """List the stored series: venue, kind, symbol, interval, first and last time (UTC), rows."""
    from rich.table import Table  # noqa: PLC0415 - rich: only when a table is printed

    from crossmargin.data.validate import iso_utc  # noqa: PLC0415 - see the module docstring

    try:
        store = _store(data_dir)
        entries = store.list()
    except (CrossmarginError, OSError) as error:
        raise fail(error) from None
    if as_json:
        print(json.dumps({"root": str(store.root), "series": entries}))
        return
    if not entries:
        print(f"no data stored in {store.root}")
        print("add some with `crossmargin data import` or `crossmargin data download`")
        return
    table = Table(title=f"Market data in {store.root}", title_justify="left")
    for column in ("venue", "kind", "symbol", "interval", "first (UTC)", "last (UTC)", "rows"):
        table.add_column(column, justify="right" if column == "rows" else "left", no_wrap=True)
    for entry in entries:
        table.add_row(
            entry["venue"],
            entry["kind"],
            entry["symbol"],
            entry["interval"],
            iso_utc(entry["first"]),
            iso_utc(entry["last"]),
            f"{entry['rows']:,}",
        )
    print_whole(table)


def register(app: typer.Typer) -> None:
    """Add the ``data`` group (``import``, ``download``, ``list``) to ``app``."""
    app.add_typer(data_app, name="data")
