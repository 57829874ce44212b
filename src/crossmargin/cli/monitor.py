"""``crossmargin monitor``: watch an account's margin ratio and liquidation prices, recomputed here, with alerts.

Thin: parse, build a reader (ccxt, or the offline paper venue), call ``live.view.run_monitor``. ccxt, pandas and
SQLAlchemy are imported inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crossmargin.cli.render import fail
from crossmargin.errors import CrossmarginError, InputError
from crossmargin.examples import PAPER_CRASH, example_path
from crossmargin.portfolio import load_portfolio
from crossmargin.venues import get_rules

if TYPE_CHECKING:
    from crossmargin.live.base import AccountReader

__all__ = ["monitor", "register"]


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


def monitor(
    venue: Annotated[str, typer.Option("--venue", help="binance | bybit | okx | hyperliquid")] = "binance",
    paper: Annotated[bool, typer.Option("--paper", help="Replay a crash on the local paper venue (offline).")] = False,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio",
            help="Paper: the positions to replay.",
            show_default="the packaged examples/paper_crash.toml",
        ),
    ] = None,
    episode: Annotated[str, typer.Option("--episode", help="Paper: the crash episode to replay.")] = "2025-10-10",
    interval: Annotated[str, typer.Option("--interval", help="Time between reads, e.g. 5s (paper: 0s ok).")] = "5s",
    ticks: Annotated[int | None, typer.Option("--ticks", help="Stop after this many reads.")] = None,
    rules: Annotated[Path | None, typer.Option("--rules", help="Alert rules (TOML).")] = None,
    store: Annotated[str | None, typer.Option("--store", help="Record to this database URL.")] = None,
    plain: Annotated[bool, typer.Option("--plain", help="One line per tick instead of the live view.")] = False,
) -> None:
    """Watch an account's margin ratio and liquidation prices, recomputed here, with alerts."""
    from crossmargin.live.alerts import DEFAULT_RULES, AlertBook, load_rules  # noqa: PLC0415
    from crossmargin.live.ccxt_reader import CcxtReader  # noqa: PLC0415
    from crossmargin.live.monitor import Monitor  # noqa: PLC0415
    from crossmargin.live.paper import paper_from_episode  # noqa: PLC0415
    from crossmargin.live.view import run_monitor  # noqa: PLC0415
    from crossmargin.store import Store  # noqa: PLC0415

    try:
        pause = 0.0 if paper and interval in ("0", "0s") else _seconds(interval, "--interval")
        alert_rules, webhook = load_rules(rules) if rules is not None else (DEFAULT_RULES, None)
        if ticks is not None and ticks < 1:
            raise InputError("--ticks", ticks, ">= 1")
        if paper:
            book = portfolio if portfolio is not None else example_path(PAPER_CRASH)
            loaded = load_portfolio(book, venue=venue)
            reader: AccountReader = paper_from_episode(loaded, episode)
            count = ticks or (reader.market.bars - 1)  # type: ignore[attr-defined]
        else:
            reader = CcxtReader(get_rules(venue, field="--venue").name)
            count = ticks or 10**9
        sink = Store(store) if store is not None else None
    except CrossmarginError as error:
        raise fail(error) from None
    watcher = Monitor(reader, book=AlertBook(alert_rules), webhook=webhook, store=sink)
    try:
        run_monitor(watcher, count, pause=pause, plain=plain)
    except CrossmarginError as error:
        raise fail(error) from None
    finally:
        reader.close()
        if sink is not None:
            sink.close()


def register(app: typer.Typer) -> None:
    """Add the ``monitor`` command to ``app``."""
    app.command("monitor")(monitor)
