"""The monitor on the paper venue: a real crash replayed, alerts once per crossing, webhook, stale data."""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pandas as pd
import pytest

from crossmargin.errors import InputError
from crossmargin.live.alerts import DEFAULT_RULES, Alert, AlertBook, Rule, Subject, deliver_webhook, load_rules
from crossmargin.live.base import VenueSnapshot
from crossmargin.live.monitor import Monitor
from crossmargin.live.paper import paper_from_episode
from crossmargin.margin import evaluate
from crossmargin.model import MarginMode, Side
from crossmargin.portfolio import load_portfolio

ROOT = Path(__file__).resolve().parents[2]
CRASH_BOOK = ROOT / "examples" / "paper_crash.toml"


def _at(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


def test_paper_crash_replay_raises_the_alerts_a_crash_should() -> None:
    venue = paper_from_episode(load_portfolio(CRASH_BOOK), "2025-10-10")
    watcher = Monitor(venue)
    ticks = watcher.run(venue.market.bars - 1)
    # The venue liquidated the whole cross account inside the 21:15 bar of 2025-10-10 ...
    assert venue.liquidations == [(int(venue.market.times.searchsorted(_at("2025-10-10 21:15"))), "cross")]
    gone = [a for a in watcher.history if a.rule == "position_gone"]
    assert {a.key for a in gone} == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert {a.time_ms for a in gone} == {_at("2025-10-10 21:15")}
    # ... and one bar earlier BTC and ETH were already within 15 % of their liquidation prices (SOL 17 %).
    warned = [a for a in watcher.history if a.rule == "distance_below"]
    assert {a.key for a in warned} == {"BTCUSDT", "ETHUSDT"}
    assert all(a.value is not None and a.value < 0.15 for a in warned)
    assert max(a.time_ms for a in warned) < _at("2025-10-10 21:15")
    # Our figures are the engine's: each tick's rows equal a direct evaluate of the snapshot.
    tick = next(t for t in ticks if t.snapshot.time_ms == _at("2025-10-10 21:10"))
    direct = evaluate(tick.snapshot.account, tick.snapshot.marks, venue.rules)
    assert [r.liquidation_price for r in tick.rows] == [p.liquidation_price for p in direct.positions]
    assert all(r.difference == 0.0 for r in tick.rows)  # the paper venue reports what the engine computes


def test_alerts_fire_once_per_crossing_not_per_tick() -> None:
    book = AlertBook((Rule("margin_ratio_above", 0.8),))
    fired = [
        book.check("binance", t, [Subject(key="", margin_ratio=r)]) for t, r in enumerate([0.5, 0.9, 0.95, 0.7, 0.85])
    ]
    assert [len(a) for a in fired] == [0, 1, 0, 0, 1]
    no_stop = AlertBook((Rule("no_stop_loss"),))
    subjects = [Subject(key="BTCUSDT", has_stop=False), Subject(key="ETHUSDT", has_stop=None)]
    assert [a.key for a in no_stop.check("binance", 0, subjects)] == ["BTCUSDT"]
    assert no_stop.check("binance", 1, subjects) == []


def test_a_position_that_disappears_and_appears() -> None:
    venue = paper_from_episode(load_portfolio(CRASH_BOOK), "2025-10-10")
    watcher = Monitor(venue, book=AlertBook(()))
    assert [r.key for r in watcher.tick().rows] == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
    held = venue.account.position("SOLUSDT")
    assert held is not None
    venue.submit("SOLUSDT", Side.SHORT, held.size, leverage=10, mode=MarginMode.CROSS)
    tick = watcher.tick()
    assert [r.key for r in tick.rows] == ["BTCUSDT", "ETHUSDT"]
    assert [(a.rule, a.key) for a in tick.alerts] == [("position_gone", "SOLUSDT")]
    venue.submit("SOLUSDT", Side.LONG, 10.0, leverage=5, mode=MarginMode.ISOLATED)
    tick = watcher.tick()
    assert [(r.key, r.size) for r in tick.rows][-1] == ("SOLUSDT", 10.0)
    assert tick.alerts == ()


class _StaleReader:
    """A reader whose venue went quiet: the last good snapshot, older at every read."""

    def __init__(self, snapshot: VenueSnapshot) -> None:
        self._snapshot = snapshot
        self.age = 0.0

    @property
    def venue(self) -> str:
        return self._snapshot.venue

    def snapshot(self) -> VenueSnapshot:
        self.age += 20.0
        return replace(self._snapshot, stale_seconds=self.age, errors=("HTTP 503 from the venue",))

    def close(self) -> None:
        pass


def test_stale_data_is_shown_and_alerted() -> None:
    venue = paper_from_episode(load_portfolio(CRASH_BOOK), "2025-10-10")
    watcher = Monitor(_StaleReader(venue.snapshot()), book=AlertBook(DEFAULT_RULES))
    first, second, third = watcher.run(3)
    assert first.snapshot.stale_seconds == 20.0
    assert [a.rule for a in second.alerts] == ["stale_data_above"]  # 40 s > 30 s, once
    assert third.alerts == ()
    assert third.snapshot.errors == ("HTTP 503 from the venue",)


def test_webhook_receives_each_alert() -> None:
    received: list[dict[str, object]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        alert = Alert(
            time_ms=1, venue="binance", rule="margin_ratio_above", key="", value=0.9, threshold=0.8, message="m"
        )
        assert deliver_webhook(url, alert)
        assert received == [
            {
                "time_ms": 1,
                "venue": "binance",
                "rule": "margin_ratio_above",
                "key": "",
                "value": 0.9,
                "threshold": 0.8,
                "message": "m",
            }
        ]
    finally:
        server.shutdown()
        server.server_close()
    assert not deliver_webhook(url, alert, timeout_s=0.5)  # the server is gone: logged, not raised


def test_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text('[[rules]]\nkind = "distance_below"\nthreshold = 0.1\n[webhook]\nurl = "http://127.0.0.1:9/x"\n')
    rules, webhook = load_rules(path)
    assert rules == (Rule("distance_below", 0.1),)
    assert webhook == "http://127.0.0.1:9/x"
    for text, fragment in (
        ('[[rules]]\nkind = "margin_ratio"\n', "did you mean margin_ratio_above"),
        ('[[rules]]\nkind = "distance_below"\nthreshold = 1.5\n', "fraction in (0, 1)"),
        ('[[rules]]\nkind = "leverage_above"\n', "threshold"),
        ('[webhook]\nurl = "ftp://x"\n', "webhook.url"),
        ("colour = 1\n", "unknown key"),
    ):
        path.write_text(text)
        with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
            load_rules(path)
