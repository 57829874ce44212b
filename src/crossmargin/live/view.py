"""The monitor's terminal view: a live table on a terminal, one line per read otherwise.

Shows per read: the time of the data and its age, the account's margin ratio by crossmargin's engine and as
the venue reports it, each position's liquidation price and distance (ours, the venue's, the difference),
and the alerts raised so far. Nothing here computes: it renders ``live.monitor.Tick``.
"""

from __future__ import annotations

import sys
import time

import pandas as pd
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from crossmargin.live.alerts import Alert
from crossmargin.live.monitor import Monitor, Tick

__all__ = ["render", "run_monitor", "summary_line"]


def _when(time_ms: int) -> str:
    """Return ``time_ms`` (ms since the epoch) as ``YYYY-MM-DD HH:MM:SSZ`` (UTC)."""
    return f"{pd.Timestamp(time_ms, unit='ms', tz='UTC'):%Y-%m-%d %H:%M:%S}Z"


def _alert_line(alert: Alert) -> str:
    """Return ``ALERT <time> <rule in words>: <message>``."""
    return f"ALERT {_when(alert.time_ms)} {alert.rule.replace('_', ' ')}: {alert.message}"


def _price(value: float | None) -> str:
    return "--" if value is None else f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"


def summary_line(tick: Tick) -> str:
    """Return one line: time, age, margin ratio (ours / venue) and the position nearest its liquidation price,
    with its distance (fraction of the mark, shown in percent)."""
    snapshot = tick.snapshot
    venue_ratio = "--" if tick.reported_margin_ratio is None else f"{tick.reported_margin_ratio:.2%}"
    nearest = min((row for row in tick.rows if row.distance is not None), key=lambda r: r.distance or 0, default=None)
    near = "none near liquidation" if nearest is None else f"nearest {nearest.key} {nearest.distance:.2%}"
    stale = f" STALE {snapshot.stale_seconds:.0f}s" if snapshot.stale_seconds else ""
    errors = f" ({snapshot.errors[-1]})" if snapshot.errors else ""
    return (
        f"{_when(snapshot.time_ms)}{stale}{errors} {snapshot.venue}: margin ratio {tick.margin_ratio:.2%} "
        f"(venue {venue_ratio}), {len(tick.rows)} positions, {near}"
    )


def render(tick: Tick, alerts: list[Alert]) -> Group:
    """Return the live view of ``tick`` and the latest ``alerts``."""
    table = Table(title=summary_line(tick), title_justify="left")
    for column in ("position", "side", "size", "mark", "liq price", "to liq", "venue liq", "difference", "lev"):
        table.add_column(column, justify="left" if column in ("position", "side") else "right")
    for row in tick.rows:
        table.add_row(
            row.key,
            row.side,
            f"{row.size:g}",
            _price(row.mark),
            _price(row.liquidation_price),
            "--" if row.distance is None else f"{row.distance:.2%}",
            _price(row.reported_liquidation_price),
            "--" if row.difference is None else f"{row.difference:+.6g}",
            f"{row.leverage:g}x",
        )
    lines = [Text(_alert_line(a), style="bold red") for a in alerts[-8:]]
    return Group(table, *lines)


def run_monitor(watcher: Monitor, ticks: int, *, pause: float, plain: bool) -> None:
    """Tick ``watcher`` ``ticks`` times, ``pause`` seconds apart, rendering each read."""
    if plain or not sys.stdout.isatty():

        def show_plain(tick: Tick) -> None:
            print(summary_line(tick))
            for alert in tick.alerts:
                print(_alert_line(alert))

        watcher.run(ticks, wait=(lambda: time.sleep(pause)) if pause else None, show=show_plain)
        return
    with Live(refresh_per_second=4) as live:

        def show_live(tick: Tick) -> None:
            live.update(render(tick, watcher.history))

        watcher.run(ticks, wait=(lambda: time.sleep(pause)) if pause else None, show=show_live)
