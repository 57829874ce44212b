"""``crossmargin venues refresh`` against the venues' recorded answers, replayed on 127.0.0.1 (no internet).

ccxt is pointed at ``tests/live/replay_server.py``, which answers with the recorded responses of
``tests/data/venues/`` (sources in its ``PROVENANCE.md``). A good refresh writes a validated table that the
engine then reads and ``crossmargin venues`` reports; a failed fetch, a cut answer, a table that fails validation
or a refused key leave the old table as it was and exit with code 2 after one line on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ccxt
import pytest
from typer.testing import CliRunner

from crossmargin.cli import app
from crossmargin.live import venue_tables
from crossmargin.live.credentials import Credentials
from crossmargin.venues import get_rules, tables
from crossmargin.venues.tables import BTC_SYMBOL, TIER_FILES, table_origin, table_problems
from tests.live.replay_server import Failure, ReplayServer
from tests.venues.test_tables import clear_loaders, recorded

CLASSES = {"binance": "binanceusdm", "bybit": "bybit", "okx": "okx", "hyperliquid": "hyperliquid"}
TODAY = datetime.now(UTC).date().isoformat()
#: Distinctive fake key: it must never appear in any output.
KEY, SECRET = "KEYrf5Tq8Wn2Zp", "SECrf9Lm3Xc7Vb"


def serve(server: ReplayServer, venue: str) -> None:
    """Answer the venue's tier endpoints with its recorded responses."""
    if venue == "binance":
        server.add("GET", "/fapi/v1/leverageBracket", recorded("binance/leverage_bracket.json"))
    elif venue == "bybit":
        server.add("GET", "/v5/market/risk-limit", recorded("bybit/risk_limit_linear.json"))
    elif venue == "okx":
        server.add("GET", "/api/v5/public/instruments", recorded("okx/instruments_swap.json"))
        # one recorded answer holds tier 1 of both families; each request names its family
        server.add("GET", "/api/v5/public/position-tiers", recorded("okx/position_tiers_swap.json"))
    else:
        server.add("POST", "/info", recorded("hyperliquid/meta.json"), json_match={"type": "meta"})


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ReplayServer) -> Iterator[Path]:
    """Tables go to a fresh data folder; ccxt reads from the replay server; a fake Binance key is in the environment."""
    monkeypatch.setenv("CROSSMARGIN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CROSSMARGIN_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("CROSSMARGIN_BINANCE_API_SECRET", SECRET)
    monkeypatch.setattr(tables, "_warnings", tables._WarningState())

    def make_exchange(venue: str, credentials: Credentials | None) -> Any:
        config: dict[str, Any] = {"enableRateLimit": False, "timeout": 2000}
        if credentials is not None:
            config |= {"apiKey": credentials.api_key, "secret": credentials.api_secret}
        exchange = getattr(ccxt, CLASSES[venue])(config)
        server.point(exchange)
        return exchange

    monkeypatch.setattr(venue_tables, "make_exchange", make_exchange)
    clear_loaders()
    yield tmp_path / "venues"
    clear_loaders()


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def assert_one_line_failure(result: Any, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    assert KEY not in result.output + result.stderr
    assert SECRET not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in result.stderr


# -- good refreshes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("venue", sorted(TIER_FILES))
def test_a_good_refresh_writes_a_table_the_engine_then_uses(env: Path, server: ReplayServer, venue: str) -> None:
    # Arrange
    serve(server, venue)
    path = env / TIER_FILES[venue]

    # Act
    result = run("venues", "refresh", "--venue", venue)
    clear_loaders()
    rules = get_rules(venue)
    listing = json.loads(run("venues", "--json").stdout)[venue]

    # Assert
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{venue}: wrote ")
    assert f"to {path} (as of {TODAY})" in result.stdout
    payload = json.loads(path.read_text(encoding="utf-8"))
    assert table_problems(venue, payload) == []
    assert payload["as_of"] == TODAY
    assert payload["source"] == tables.SOURCES[venue]
    assert all(entry["as_of"] == TODAY and entry["source"] for entry in payload["symbols"].values())
    assert set(rules.symbols()) == set(payload["symbols"])  # the engine reads the refreshed table
    assert listing["tier_table"] == {
        "origin": "refreshed",
        "path": str(path),
        "as_of": TODAY,
        "source": payload["source"],
    }
    assert sorted(listing["symbols"]) == sorted(payload["symbols"])


def test_refreshed_tiers_reach_the_engine(env: Path, server: ReplayServer) -> None:
    # Arrange: the recorded 2026-09-25 BTCUSDT tiers start at 0.33 % up to 300,000 USDT, the shipped table at 0.5 %
    serve(server, "bybit")
    assert get_rules("bybit").instrument("BTCUSDT").brackets[0].mm_rate == 0.005

    # Act
    result = run("venues", "refresh", "--venue", "bybit")
    clear_loaders()
    brackets = get_rules("bybit").instrument("BTCUSDT").brackets
    shown = json.loads(run("brackets", "BTCUSDT", "--venue", "bybit", "--json").stdout)["brackets"]

    # Assert
    assert result.exit_code == 0, result.output
    assert [(b.floor, b.cap, b.mm_rate, b.maint_amount, b.max_leverage) for b in brackets] == [
        (0.0, 300_000.0, 0.0033, 0.0, 150),
        (300_000.0, 2_000_000.0, 0.005, 510.0, 100),
    ]
    assert [row["cap"] for row in shown] == [300_000.0, 2_000_000.0]


def test_refresh_without_venue_refreshes_all_four_and_the_listing_says_so(env: Path, server: ReplayServer) -> None:
    # Arrange
    for venue in TIER_FILES:
        serve(server, venue)

    # Act
    result = run("venues", "refresh")
    human = run("venues")
    wide = run("venues", "--wide")

    # Assert
    assert result.exit_code == 0, result.output
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == list(TIER_FILES)
    assert sorted(p.name for p in env.iterdir()) == sorted(TIER_FILES.values())
    assert human.exit_code == 0, human.output
    assert human.stdout.count(f"{TODAY} refreshed") == 4  # the default table says which tables are refreshed
    for filename in TIER_FILES.values():
        assert f"refreshed: {env / filename}" in wide.stdout  # --wide says where each was read
        assert table_origin(filename).origin == "refreshed"
    assert human.stdout.count(TODAY) == 4
    assert server.count("GET", "/fapi/v1/leverageBracket") == 1
    assert server.count("GET", "/api/v5/public/position-tiers") == 2  # one request per linear USDT family


def test_refresh_json_reports_what_was_written_and_dropped(env: Path, server: ReplayServer) -> None:
    # Arrange: one recorded Binance bracket changed so that the recursion fails (C98USDT bracket 3: cum 650 -> 640)
    answer = recorded("binance/leverage_bracket.json")
    next(item for item in answer if item["symbol"] == "C98USDT")["brackets"][2]["cum"] = "640.0"
    server.add("GET", "/fapi/v1/leverageBracket", answer)

    # Act
    human = run("venues", "refresh", "--venue", "binance")
    machine = run("venues", "refresh", "--venue", "BINANCE", "--venue", "binance", "--json")

    # Assert
    assert human.exit_code == 0, human.output
    assert "binance: wrote 13 symbols" in human.stdout
    assert "binance: dropped C98USDT: C98USDT bracket 3: maintenance amount 640.0 != 650" in human.stdout
    report = json.loads(machine.stdout)["binance"]
    assert report["dropped"][0]["symbol"] == "C98USDT"
    assert (len(report["symbols"]), report["out_of_scope"], report["as_of"]) == (13, 1, TODAY)
    stored = json.loads((env / "binance_usdm.json").read_text(encoding="utf-8"))
    assert "C98USDT" not in stored["symbols"]
    assert stored["notes"][-1].startswith("Dropped, failing validation: C98USDT (")


def test_bybit_pages_are_followed_by_cursor(env: Path, server: ReplayServer) -> None:
    # Arrange: the recorded page given a cursor to a second page, which is Bybit's docs example (inverse, left out)
    first = recorded("bybit/risk_limit_linear.json")
    first["result"]["nextPageCursor"] = "page-2"
    server.add("GET", "/v5/market/risk-limit", first)
    server.add(
        "GET", "/v5/market/risk-limit", recorded("bybit/risk_limit_docs_inverse.json"), query={"cursor": "page-2"}
    )

    # Act
    result = run("venues", "refresh", "--venue", "bybit")

    # Assert
    assert result.exit_code == 0, result.output
    assert "bybit: wrote 1 symbols" in result.stdout
    assert "1 listings out of scope" in result.stdout
    cursors = [r.query.get("cursor") for r in server.requests if r.path == "/v5/market/risk-limit"]
    assert cursors == [None, "page-2"]


# -- refreshes that must not replace the table -------------------------------------------------------------


@pytest.fixture
def refreshed(env: Path, server: ReplayServer) -> dict[str, bytes]:
    """Every venue refreshed once from its recorded answer: the good tables a failed refresh must keep."""
    for venue in TIER_FILES:
        serve(server, venue)
    assert run("venues", "refresh").exit_code == 0
    return {venue: (env / filename).read_bytes() for venue, filename in TIER_FILES.items()}


def assert_unchanged(env: Path, refreshed: dict[str, bytes]) -> None:
    for venue, content in refreshed.items():
        assert (env / TIER_FILES[venue]).read_bytes() == content
        assert table_origin(TIER_FILES[venue]).origin == "refreshed"
    assert sorted(p.name for p in env.iterdir()) == sorted(TIER_FILES.values())  # no temporary left


@pytest.mark.parametrize("venue", sorted(TIER_FILES))
def test_a_failed_fetch_leaves_the_old_table(
    env: Path, server: ReplayServer, refreshed: dict[str, bytes], venue: str
) -> None:
    # Arrange
    server.fail(Failure("status", 503), times=None)

    # Act
    result = run("venues", "refresh", "--venue", venue)

    # Assert
    assert_one_line_failure(result, f"error: {venue} refresh failed, its table is unchanged: ", "ExchangeNotAvailable")
    assert_unchanged(env, refreshed)


def test_an_answer_cut_mid_stream_leaves_the_old_table(
    env: Path, server: ReplayServer, refreshed: dict[str, bytes]
) -> None:
    # Arrange: the instruments arrive, the position tiers are cut off half way through the body
    server.fail(Failure("reset"), path="/api/v5/public/position-tiers", times=None)

    # Act
    result = run("venues", "refresh", "--venue", "okx")

    # Assert
    assert_one_line_failure(result, "okx refresh failed, its table is unchanged: ")
    assert_unchanged(env, refreshed)


def test_a_table_failing_validation_leaves_the_old_table(
    env: Path, server: ReplayServer, refreshed: dict[str, bytes]
) -> None:
    # Arrange: the recorded Bybit answer with tier 2's deduction changed from 510 to 500
    answer = recorded("bybit/risk_limit_linear.json")
    answer["result"]["list"][1]["mmDeduction"] = "500"
    server.add("GET", "/v5/market/risk-limit", answer)

    # Act
    result = run("venues", "refresh", "--venue", "bybit")

    # Assert
    assert_one_line_failure(
        result, "bybit refresh failed, its table is unchanged: BTCUSDT was dropped (BTCUSDT bracket 2: maintenance "
    )
    assert_unchanged(env, refreshed)


def test_too_many_symbols_failing_leaves_the_old_table(
    env: Path, server: ReplayServer, refreshed: dict[str, bytes]
) -> None:
    # Arrange: two of the 14 recorded Binance perpetuals changed so that they fail (more than one may not)
    answer = recorded("binance/leverage_bracket.json")
    for item in answer:
        if item["symbol"] in ("BNTUSDT", "BONDUSDT"):
            item["brackets"][1]["maintMarginRatio"] = "0.001"  # below bracket 1's rate
    server.add("GET", "/fapi/v1/leverageBracket", answer)

    # Act
    result = run("venues", "refresh", "--venue", "binance")

    # Assert
    assert_one_line_failure(result, "2 of 14 symbols failed validation (at most 1 may): BNTUSDT (tier 2: ")
    assert_unchanged(env, refreshed)


def test_btc_missing_leaves_the_old_table(env: Path, server: ReplayServer, refreshed: dict[str, bytes]) -> None:
    # Arrange: Binance's documented example answer lists ETHUSDT only; OKX refuses the BTC family (its recorded
    # answer to an unknown family)
    server.add("GET", "/fapi/v1/leverageBracket", recorded("binance/leverage_bracket_docs.json"))
    server.add(
        "GET",
        "/api/v5/public/position-tiers",
        recorded("okx/position_tiers_unknown_family.json"),
        query={"instFamily": "BTC-USDT"},
    )

    # Act
    binance = run("venues", "refresh", "--venue", "binance")
    okx = run("venues", "refresh", "--venue", "okx")

    # Assert
    assert_one_line_failure(
        binance, "binance refresh failed, its table is unchanged: BTCUSDT is missing from the answer"
    )
    assert_one_line_failure(okx, "BTC-USDT-SWAP was dropped (position-tiers refused: BadRequest: ", "51000")
    assert_unchanged(env, refreshed)


def test_an_answer_of_another_shape_leaves_the_old_table(
    env: Path, server: ReplayServer, refreshed: dict[str, bytes]
) -> None:
    # Arrange: an empty object where Hyperliquid's meta should be
    server.add("POST", "/info", {}, json_match={"type": "meta"})

    # Act
    result = run("venues", "refresh", "--venue", "hyperliquid")

    # Assert
    assert_one_line_failure(result, "the venue's answer has an unexpected shape (KeyError: 'universe')")
    assert_unchanged(env, refreshed)


def test_a_refused_key_names_the_variable_and_leaves_the_old_table(
    env: Path, server: ReplayServer, refreshed: dict[str, bytes]
) -> None:
    # Arrange: Binance's documented answer to a bad key
    body = json.dumps({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    server.fail(Failure("status", 401, body=body), path="/fapi/v1/leverageBracket", times=None)

    # Act
    result = run("venues", "refresh", "--venue", "binance")

    # Assert
    assert_one_line_failure(result, "CROSSMARGIN_BINANCE_API_KEY: the venue refused the key (AuthenticationError: ")
    assert_unchanged(env, refreshed)


def test_without_a_binance_key_the_other_venues_still_refresh(
    env: Path, server: ReplayServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange
    for venue in TIER_FILES:
        serve(server, venue)
    monkeypatch.delenv("CROSSMARGIN_BINANCE_API_KEY")
    monkeypatch.delenv("CROSSMARGIN_BINANCE_API_SECRET")
    monkeypatch.setattr(
        "crossmargin.live.credentials._from_keyring",
        lambda venue: dict.fromkeys(("api_key", "api_secret", "password", "wallet")),
    )

    # Act
    result = run("venues", "refresh")

    # Assert
    assert_one_line_failure(
        result,
        "error: binance refresh failed, its table is unchanged: CROSSMARGIN_BINANCE_API_KEY: Binance's leverage "
        "brackets (GET /fapi/v1/leverageBracket) need a read-only API key",
    )
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["bybit", "okx", "hyperliquid"]
    assert sorted(p.name for p in env.iterdir()) == sorted(TIER_FILES[v] for v in ("bybit", "okx", "hyperliquid"))
    assert server.count(path="/fapi/v1/leverageBracket") == 0


def test_an_unknown_venue_is_refused_before_any_request(env: Path, server: ReplayServer) -> None:
    # Act
    result = run("venues", "refresh", "--venue", "bybt")

    # Assert
    assert_one_line_failure(result, "error: --venue: unknown venue 'bybt' (did you mean bybit?)")
    assert server.requests == []


def test_a_repeated_cursor_is_an_error(env: Path, server: ReplayServer) -> None:
    # Arrange: the recorded page pointing at itself
    page = recorded("bybit/risk_limit_linear.json")
    page["result"]["nextPageCursor"] = "again"
    server.add("GET", "/v5/market/risk-limit", page)

    # Act
    result = run("venues", "refresh", "--venue", "bybit")

    # Assert
    assert_one_line_failure(result, "GET /v5/market/risk-limit returned the cursor 'again' twice")
    assert not env.exists()


def test_refresh_venue_writes_where_it_is_told(tmp_path: Path, server: ReplayServer) -> None:
    # Arrange
    serve(server, "hyperliquid")
    exchange = ccxt.hyperliquid({"enableRateLimit": False})
    server.point(exchange)

    # Act
    report = venue_tables.refresh_venue("hyperliquid", exchange=exchange, directory=tmp_path)

    # Assert
    assert report.path == tmp_path / "hyperliquid_perps.json"
    assert report.written == ("ATOM", "BTC", "DYDX", "ETH", "SOL")
    assert (report.dropped, report.skipped, report.as_of) == ((), 1, TODAY)
    assert BTC_SYMBOL["hyperliquid"] in json.loads(report.path.read_text(encoding="utf-8"))["symbols"]
