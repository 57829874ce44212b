"""The monitor: read the account, recompute every figure with crossmargin's engine, compare, alert, store.

Each ``tick`` reads a snapshot, evaluates it with ``margin.evaluate`` under the venue's rules, sets the
venue-reported figures beside crossmargin's with their difference, runs the alert rules and delivers new
alerts (terminal view, the 'crossmargin.alerts' log, a webhook when configured), and records the snapshot
and alerts in the store when one is given. A stale snapshot is shown with its age; a venue error between
two good snapshots keeps the last figures on screen with the error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from crossmargin.live.alerts import Alert, AlertBook, Subject, deliver_webhook
from crossmargin.live.base import AccountReader, VenueSnapshot, position_key
from crossmargin.margin.account import evaluate
from crossmargin.margin.pools import risk_view
from crossmargin.model import AccountRisk
from crossmargin.venues import get_rules

__all__ = [
    "LOG",
    "AlertSink",
    "Monitor",
    "PositionRow",
    "Tick",
]

LOG = logging.getLogger("crossmargin.alerts")


class AlertSink(Protocol):
    """Where snapshots and alerts are kept (``store.Store``)."""

    def record_snapshot(self, snapshot: VenueSnapshot, risk: AccountRisk) -> Any:
        """Keep one snapshot with the engine's figures."""
        ...

    def record_alert(
        self,
        *,
        time_ms: int,
        venue: str,
        rule: str,
        severity: str,
        message: str,
        key: str = "",
        value: float | None = None,
        threshold: float | None = None,
    ) -> Any:
        """Keep one alert."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRow:
    """One position: crossmargin's liquidation price and distance beside the venue's (quote; fractions)."""

    key: str
    side: str
    size: float
    mark: float
    liquidation_price: float | None
    distance: float | None
    reported_liquidation_price: float | None
    difference: float | None
    leverage: float


@dataclass(frozen=True, kw_only=True)
class Tick:
    """What one tick found: the snapshot, the engine's figures, rows per position and the new alerts."""

    snapshot: VenueSnapshot
    risk: AccountRisk
    margin_ratio: float
    reported_margin_ratio: float | None
    rows: tuple[PositionRow, ...]
    alerts: tuple[Alert, ...]


@dataclass
class Monitor:
    """Reads ``reader`` on every ``tick`` (see the module docstring)."""

    reader: AccountReader
    book: AlertBook = field(default_factory=AlertBook)
    webhook: str | None = None
    store: AlertSink | None = None
    on_alert: Callable[[Alert], None] | None = None
    history: list[Alert] = field(default_factory=list)
    held: set[str] = field(default_factory=set)

    def tick(self) -> Tick:
        """Read, recompute, compare and alert once."""
        snapshot = self.reader.snapshot()
        rules = get_rules(snapshot.venue)
        risk = evaluate(snapshot.account, snapshot.marks, rules)
        has_cross = any(p.isolated_margin is None for p in snapshot.account.positions)
        ratio = risk_view(rules, risk.account.margin_ratio) if has_cross else 0.0
        rows = []
        subjects = [Subject(key="", margin_ratio=ratio, stale_seconds=snapshot.stale_seconds)]
        for position, figures in zip(snapshot.account.positions, risk.positions, strict=True):
            key = position_key(position.symbol, position.position_side)
            reported = snapshot.reported.get(key)
            venue_liq = None if reported is None else reported.liquidation_price
            ours = figures.liquidation_price
            rows.append(
                PositionRow(
                    key=key,
                    side=figures.side,
                    size=figures.size,
                    mark=figures.mark_price,
                    liquidation_price=ours,
                    distance=figures.distance_to_liquidation,
                    reported_liquidation_price=venue_liq,
                    difference=None if ours is None or venue_liq is None else ours - venue_liq,
                    leverage=figures.leverage,
                )
            )
            subjects.append(
                Subject(
                    key=key,
                    distance=figures.distance_to_liquidation,
                    leverage=figures.leverage,
                    has_stop=None if reported is None else reported.stop_loss is not None,
                )
            )
        alerts = self.book.check(snapshot.venue, snapshot.time_ms, subjects)
        keys = {row.key for row in rows}
        for gone in sorted(self.held - keys):  # a position the venue no longer shows: closed or liquidated
            alerts.append(
                Alert(
                    time_ms=snapshot.time_ms,
                    venue=snapshot.venue,
                    rule="position_gone",
                    key=gone,
                    value=None,
                    threshold=None,
                    message=f"{gone}: position gone (closed, or liquidated by the venue)",
                )
            )
        self.held = keys
        for alert in alerts:
            self.deliver(alert)
        if self.store is not None:
            self.store.record_snapshot(snapshot, risk)
        return Tick(
            snapshot=snapshot,
            risk=risk,
            margin_ratio=ratio,
            reported_margin_ratio=snapshot.account_reported.margin_ratio,
            rows=tuple(rows),
            alerts=tuple(alerts),
        )

    def deliver(self, alert: Alert) -> None:
        """Send ``alert`` to the log, the terminal callback, the webhook and the store."""
        LOG.warning("%s %s", alert.rule, alert.message)
        self.history.append(alert)
        if self.on_alert is not None:
            self.on_alert(alert)
        if self.webhook is not None:
            deliver_webhook(self.webhook, alert)
        if self.store is not None:
            self.store.record_alert(
                time_ms=alert.time_ms,
                venue=alert.venue,
                rule=alert.rule,
                key=alert.key,
                severity="warning",
                message=alert.message,
                value=alert.value,
                threshold=alert.threshold,
            )

    def run(
        self, ticks: int, *, wait: Callable[[], None] | None = None, show: Callable[[Tick], None] | None = None
    ) -> Sequence[Tick]:
        """Tick ``ticks`` times, calling ``show`` after each and ``wait`` between them; return the ticks."""
        done = []
        for index in range(ticks):
            tick = self.tick()
            done.append(tick)
            if show is not None:
                show(tick)
            if wait is not None and index + 1 < ticks:
                wait()
        return done
