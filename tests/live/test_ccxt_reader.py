"""CcxtReader and load_credentials against recorded venue responses served on 127.0.0.1 (no internet).

Each venue's recorded responses (``tests/data/live/<venue>/``, sources in ``PROVENANCE.md``) are replayed
by ``replay_server.ReplayServer``; ccxt is pointed at it and fed the recorded markets, so no request ever
leaves the machine. Expected figures are read from the same JSON files the server sends.
"""

from __future__ import annotations

import json
import logging
import math
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ccxt
import pytest

from crossmargin.errors import InputError
from crossmargin.live.base import VenueUnavailableError, position_key
from crossmargin.live.ccxt_reader import CcxtReader
from crossmargin.live.credentials import Credentials, load_credentials
from crossmargin.model import MarginMode, Side
from tests.live.replay_server import Failure, ReplayServer, load_json

DATA = Path(__file__).resolve().parent.parent / "data" / "live"

#: Venue -> ccxt class, the routes to serve (method, path, file, JSON body keys to match) and the options
#: that stand in for requests no recording exists for (Binance's bracket table comes from ccxt's own
#: recorded test options; Bybit's account-type query is answered by saying the account is unified).
VENUES: dict[str, tuple[str, tuple[tuple[str, str, str, Mapping[str, str] | None], ...], Mapping[str, Any]]] = {
    "binance": (
        "binanceusdm",
        (
            ("GET", "/fapi/v3/account", "account_v3.json", None),
            ("GET", "/fapi/v3/positionRisk", "position_risk_v3.json", None),
            ("GET", "/fapi/v1/premiumIndex", "premium_index.json", None),
        ),
        {"leverageBrackets": load_json(DATA / "binance" / "leverage_brackets.json")},
    ),
    "bybit": (
        "bybit",
        (
            ("GET", "/v5/account/wallet-balance", "wallet_balance.json", None),
            ("GET", "/v5/position/list", "position_list.json", None),
            ("GET", "/v5/market/tickers", "tickers_linear.json", None),
        ),
        {"enableUnifiedMargin": False, "enableUnifiedAccount": True},
    ),
    "okx": (
        "okx",
        (
            ("GET", "/api/v5/account/balance", "balance.json", None),
            ("GET", "/api/v5/account/positions", "positions.json", None),
            ("GET", "/api/v5/public/mark-price", "mark_price.json", None),
        ),
        {},
    ),
    "hyperliquid": (
        "hyperliquid",
        (
            ("POST", "/info", "clearinghouse_state_2023.json", {"type": "clearinghouseState"}),
            ("POST", "/info", "meta_and_asset_ctxs.json", {"type": "metaAndAssetCtxs"}),
        ),
        {},
    ),
}

#: Distinctive fake credentials: any of these strings in a log line or message is a leak.
FAKE = {
    "binance": Credentials(api_key="KEYbn7Qz2Wv9Lx", api_secret="SECbn4Rt8Yp1Mk"),
    "bybit": Credentials(api_key="KEYby3Hd6Jf0Ns", api_secret="SECby5Gc2Vb8Qa"),
    "okx": Credentials(api_key="KEYok1Tz9Xc4Pe", api_secret="SECok6Uw3Ri7Lm", password="PASok2Yq8Ez5Dn"),
    "hyperliquid": Credentials(wallet="0xfeedc0ffee5eed5a1ad0000000000000000b0b42"),
}


@dataclass
class Clock:
    """A settable clock (seconds since the epoch)."""

    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Sleeps:
    """Records the waits asked for instead of waiting."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as replay:
        yield replay


def recorded(venue: str, name: str) -> Any:
    """Return the recorded response ``name`` of ``venue``."""
    return load_json(DATA / venue / name)


def serve(server: ReplayServer, venue: str) -> None:
    """Answer the venue's calls with its recorded responses."""
    for method, path, name, json_match in VENUES[venue][1]:
        server.add(method, path, recorded(venue, name), json_match=json_match)


def exchange_for(server: ReplayServer, venue: str) -> Any:
    """Return a ccxt exchange of ``venue`` pointed at ``server``, its markets from the recorded markets."""
    exchange = getattr(ccxt, VENUES[venue][0])({"enableRateLimit": False})
    server.point(exchange)
    exchange.set_markets(list(recorded(venue, "markets.json").values()))
    exchange.options.update(VENUES[venue][2])
    return exchange


def reader_for(
    server: ReplayServer,
    venue: str,
    *,
    clock: Clock | None = None,
    sleeps: Sleeps | None = None,
    credentials: Credentials | None = None,
    retries: int = 2,
    timeout_s: float = 2.0,
) -> CcxtReader:
    """Return a reader of ``venue`` against ``server`` with a fixed clock and recorded sleeps."""
    return CcxtReader(
        venue,
        credentials=credentials or FAKE[venue],
        exchange=exchange_for(server, venue),
        timeout_s=timeout_s,
        retries=retries,
        backoff_s=0.5,
        clock=clock or Clock(),
        sleep=sleeps or Sleeps(),
    )


# -- each venue's replay ---------------------------------------------------------------------------------


def test_binance_replay_maps_positions_wallet_marks_and_reported_figures(server: ReplayServer) -> None:
    # Arrange
    serve(server, "binance")
    risk = recorded("binance", "position_risk_v3.json")[0]
    account = recorded("binance", "account_v3.json")
    reader = reader_for(server, "binance", clock=Clock(1_722_161_167.0))

    # Act
    snap = reader.snapshot()

    # Assert
    assert snap.venue == "binance"
    assert snap.time_ms == 1_722_161_167_000
    assert (snap.stale_seconds, snap.errors) == (0.0, ())
    assert snap.account.wallet_balance == float(account["totalWalletBalance"])  # 25.7261006
    (position,) = snap.account.positions
    assert (position.symbol, position.side, position.mode) == ("BTCUSDT", Side.LONG, MarginMode.CROSS)
    assert position.size == float(risk["positionAmt"])  # 0.009 contracts x 1 BTC
    assert position.entry_price == float(risk["entryPrice"])
    # v3 positionRisk sends no leverage: notional / initial margin = 607.52416678 / 7.59405208 = 80
    assert position.leverage == 80.0
    assert (position.isolated_margin, position.position_side) == (None, "both")
    # the position's own mark wins over the premium-index mark of another moment (11793.63104562)
    assert dict(snap.marks.prices) == {"BTCUSDT": float(risk["markPrice"])}
    figures = snap.reported[position_key("BTCUSDT")]
    assert figures.liquidation_price == float(risk["liquidationPrice"])
    assert figures.maintenance_margin == float(risk["maintMargin"])  # the venue's, not ccxt's estimate
    assert figures.unrealized_pnl == float(risk["unRealizedProfit"])
    assert figures.leverage is None  # not reported by v3
    # cross pool ratio = totalMaintMargin / totalMarginBalance = 2.43034303 / 26.26840422
    pool_ratio = float(account["totalMaintMargin"]) / float(account["totalMarginBalance"])
    assert figures.margin_ratio == pytest.approx(pool_ratio, rel=1e-15)
    assert snap.account_reported.margin_ratio == pytest.approx(pool_ratio, rel=1e-15)
    assert snap.account_reported.maintenance_margin == float(account["totalMaintMargin"])
    assert snap.account_reported.unrealized_pnl == float(account["totalUnrealizedProfit"])
    assert [server.count(path=p) for p in ("/fapi/v3/account", "/fapi/v3/positionRisk", "/fapi/v1/premiumIndex")] == [
        1,
        1,
        1,
    ]


def test_bybit_replay_maps_the_unified_account(server: ReplayServer) -> None:
    # Arrange
    serve(server, "bybit")
    row = recorded("bybit", "position_list.json")["result"]["list"][0]
    account = recorded("bybit", "wallet_balance.json")["result"]["list"][0]
    ticker = recorded("bybit", "tickers_linear.json")["result"]["list"][0]

    # Act
    snap = reader_for(server, "bybit").snapshot()

    # Assert
    assert snap.account.wallet_balance == float(account["totalWalletBalance"])  # UTA: 90060.46626531
    (position,) = snap.account.positions
    assert (position.symbol, position.side, position.mode) == ("LTCUSDT", Side.LONG, MarginMode.CROSS)
    assert position.size == float(row["size"])  # 1.2 contracts x 1 LTC
    assert (position.entry_price, position.leverage) == (float(row["avgPrice"]), float(row["leverage"]))
    assert dict(snap.marks.prices) == {"LTCUSDT": float(row["markPrice"]), "BTCUSDT": float(ticker["markPrice"])}
    figures = snap.reported["LTCUSDT"]
    assert figures.liquidation_price is None  # liqPrice ""
    assert figures.maintenance_margin == float(row["positionMM"])
    assert figures.unrealized_pnl == float(row["unrealisedPnl"])
    assert figures.leverage == float(row["leverage"])
    assert figures.margin_ratio == float(account["accountMMRate"])  # the account is the cross pool
    assert snap.account_reported.maintenance_margin == float(account["totalMaintenanceMargin"])
    assert snap.account_reported.unrealized_pnl == float(account["totalPerpUPL"])


def test_okx_replay_maps_a_hedge_leg_and_converts_the_health_ratio(server: ReplayServer) -> None:
    # Arrange
    serve(server, "okx")
    row = recorded("okx", "positions.json")["data"][0]
    account = recorded("okx", "balance.json")["data"][0]
    market = recorded("okx", "markets.json")["LTC/USDT:USDT"]

    # Act
    snap = reader_for(server, "okx").snapshot()

    # Assert
    assert snap.account.wallet_balance == float(account["details"][0]["cashBal"])  # USDT cashBal
    (position,) = snap.account.positions
    assert (position.symbol, position.side, position.position_side) == ("LTC-USDT-SWAP", Side.LONG, "long")
    assert position.size == float(row["pos"]) * market["contractSize"]  # contracts x ctVal of the markets file
    assert (position.entry_price, position.leverage) == (float(row["avgPx"]), float(row["lever"]))
    assert dict(snap.marks.prices) == {"LTC-USDT-SWAP": float(row["markPx"]), "BTC-USDT-SWAP": 200.0}
    figures = snap.reported[position_key("LTC-USDT-SWAP", "long")]
    assert figures.maintenance_margin == float(row["mmr"])
    assert figures.unrealized_pnl == float(row["upl"])
    assert figures.margin_ratio == pytest.approx(1 / float(row["mgnRatio"]))  # health 141687115 -> risk 7.06e-9
    assert snap.account_reported.margin_ratio == pytest.approx(1 / float(account["mgnRatio"]))
    assert snap.account_reported.maintenance_margin == float(account["mmr"])
    (request,) = [r for r in server.requests if r.path == "/api/v5/account/positions"]
    assert request.query == {"instType": "SWAP"}


def test_hyperliquid_replay_maps_a_cross_account_of_twelve_positions(server: ReplayServer) -> None:
    # Arrange
    serve(server, "hyperliquid")
    state = recorded("hyperliquid", "clearinghouse_state_2023.json")
    rows = {p["position"]["coin"]: p["position"] for p in state["assetPositions"]}

    # Act
    snap = reader_for(server, "hyperliquid").snapshot()

    # Assert
    # wallet = accountValue - sum of uPnL = 1182.312496 - 0.688018
    pnl = math.fsum(float(p["unrealizedPnl"]) for p in rows.values())
    assert snap.account.wallet_balance == pytest.approx(float(state["marginSummary"]["accountValue"]) - pnl, rel=1e-15)
    assert {p.symbol for p in snap.account.positions} == set(rows)
    for position in snap.account.positions:
        row = rows[position.symbol]
        size = abs(float(row["szi"]))
        assert position.side is (Side.LONG if float(row["szi"]) > 0 else Side.SHORT)
        assert (position.size, position.entry_price) == (size, float(row["entryPx"]))
        assert (position.leverage, position.mode) == (20.0, MarginMode.CROSS)
        # the position's mark is positionValue / size
        assert snap.marks.price(position.symbol) == pytest.approx(float(row["positionValue"]) / size, rel=1e-12)
        liquidation = row["liquidationPx"]
        assert snap.reported[position.symbol].liquidation_price == (None if liquidation is None else float(liquidation))
        assert snap.reported[position.symbol].unrealized_pnl == float(row["unrealizedPnl"])
    assert snap.marks.price("HPOS") == 8.4542  # a coin without a position keeps the metaAndAssetCtxs mark
    assert snap.account_reported.maintenance_margin is None  # the 2023 response had no crossMaintenanceMarginUsed
    assert server.count("POST", "/info") == 2  # one clearinghouseState serves balance and positions


def test_hyperliquid_replay_maps_an_isolated_position(server: ReplayServer) -> None:
    # Arrange
    serve(server, "hyperliquid")
    state = recorded("hyperliquid", "clearinghouse_state_docs.json")
    server.add("POST", "/info", state, json_match={"type": "clearinghouseState"})
    row = state["assetPositions"][0]["position"]

    # Act
    snap = reader_for(server, "hyperliquid").snapshot()

    # Assert
    (position,) = snap.account.positions
    assert (position.symbol, position.mode, position.leverage) == ("ETH", MarginMode.ISOLATED, 20.0)
    # isolated margin excludes uPnL: marginUsed - unrealizedPnl = 4.967826 + 0.0134 = 4.981226
    assert position.isolated_margin == pytest.approx(float(row["marginUsed"]) - float(row["unrealizedPnl"]))
    # wallet = accountValue - uPnL = 13109.482328 + 0.0134
    assert snap.account.wallet_balance == pytest.approx(13109.495728, rel=1e-15)
    assert snap.reported["ETH"].liquidation_price == float(row["liquidationPx"])
    assert snap.reported["ETH"].margin_ratio is None  # no maintenance margin per isolated position
    # cross pool: crossMaintenanceMarginUsed / crossMarginSummary.accountValue = 0.0 / 13104.514502
    assert snap.account_reported.margin_ratio == 0.0


# -- outages, retries and changes between snapshots -------------------------------------------------------


def test_outage_after_a_good_snapshot_returns_it_stale_with_the_error(server: ReplayServer) -> None:
    # Arrange
    serve(server, "binance")
    clock, sleeps = Clock(1_000.0), Sleeps()
    reader = reader_for(server, "binance", clock=clock, sleeps=sleeps, retries=2)
    good = reader.snapshot()
    server.fail(Failure("status", 503), times=None)
    clock.now = 1_030.0

    # Act
    stale = reader.snapshot()
    clock.now = 1_060.0
    staler = reader.snapshot()

    # Assert
    assert (stale.account, stale.marks, stale.reported, stale.time_ms) == (
        good.account,
        good.marks,
        good.reported,
        good.time_ms,
    )
    assert stale.stale_seconds == 30.0
    assert len(stale.errors) == 1
    assert "ExchangeNotAvailable" in stale.errors[0]
    assert "503" in stale.errors[0]
    assert staler.stale_seconds == 60.0
    assert len(staler.errors) == 2
    assert sleeps.calls == [0.5, 1.0, 0.5, 1.0]  # two retries per failed snapshot: 0.5 x 2**n


def test_outage_before_any_snapshot_raises_venue_unavailable(server: ReplayServer) -> None:
    # Arrange
    serve(server, "binance")
    server.fail(Failure("status", 503), times=None)
    sleeps = Sleeps()
    reader = reader_for(server, "binance", sleeps=sleeps, retries=1)

    # Act / Assert
    with pytest.raises(VenueUnavailableError, match=r"^binance cannot be read .*ExchangeNotAvailable") as caught:
        reader.snapshot()
    assert "\n" not in str(caught.value)
    assert server.count(path="/fapi/v3/account") == 2
    assert sleeps.calls == [0.5]


def test_a_position_that_appears_then_disappears(server: ReplayServer) -> None:
    # Arrange
    serve(server, "bybit")
    reader = reader_for(server, "bybit")
    first = reader.snapshot()
    server.add("GET", "/v5/position/list", recorded("bybit", "position_list_closed.json"))

    # Act
    second = reader.snapshot()

    # Assert
    assert [p.symbol for p in first.account.positions] == ["LTCUSDT"]
    assert "LTCUSDT" in first.reported
    assert second.account.positions == ()  # the recorded row has size "0"
    assert second.reported == {}
    assert "LTCUSDT" not in second.marks.prices
    assert (second.stale_seconds, second.errors) == (0.0, ())


def test_rate_limit_is_retried_after_backoff(server: ReplayServer) -> None:
    # Arrange
    serve(server, "binance")
    server.fail(Failure("status", 429), method="GET", path="/fapi/v3/account", times=1)
    sleeps = Sleeps()

    # Act
    snap = reader_for(server, "binance", sleeps=sleeps).snapshot()

    # Assert
    assert snap.errors == ()
    assert server.count(path="/fapi/v3/account") == 2
    assert server.count(path="/fapi/v3/positionRisk") == 1
    assert sleeps.calls == [0.5]


def test_timeout_is_retried(server: ReplayServer) -> None:
    # Arrange
    serve(server, "binance")
    server.fail(Failure("timeout", delay_s=1.0), path="/fapi/v3/positionRisk", times=1)
    sleeps = Sleeps()

    # Act
    snap = reader_for(server, "binance", sleeps=sleeps, timeout_s=0.2).snapshot()

    # Assert
    assert len(snap.account.positions) == 1
    assert server.count(path="/fapi/v3/positionRisk") == 2
    assert sleeps.calls == [0.5]


def test_connection_broken_mid_stream_is_retried(server: ReplayServer) -> None:
    # Arrange
    serve(server, "okx")
    server.fail(Failure("reset"), path="/api/v5/public/mark-price", times=1)
    sleeps = Sleeps()

    # Act
    snap = reader_for(server, "okx", sleeps=sleeps).snapshot()

    # Assert
    assert snap.marks.price("BTC-USDT-SWAP") == 200.0
    assert server.count(path="/api/v5/public/mark-price") == 2
    assert sleeps.calls == [0.5]


def test_an_unusable_response_is_an_error_not_a_zero(server: ReplayServer) -> None:
    # Arrange: a balance without the wallet field
    serve(server, "binance")
    server.add("GET", "/fapi/v3/account", {})
    reader = reader_for(server, "binance")

    # Act / Assert
    with pytest.raises(VenueUnavailableError, match="unexpected response: totalWalletBalance missing"):
        reader.snapshot()


def test_rejected_key_raises_input_error_naming_the_variables(server: ReplayServer) -> None:
    # Arrange: Binance's documented answer to a bad key (code -2015), injected
    serve(server, "binance")
    body = json.dumps({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."})
    server.fail(Failure("status", 401, body=body), times=None)
    sleeps = Sleeps()
    reader = reader_for(server, "binance", sleeps=sleeps)

    # Act / Assert
    with pytest.raises(InputError, match=r"CROSSMARGIN_BINANCE_API_KEY.*CROSSMARGIN_BINANCE_API_SECRET"):
        reader.snapshot()
    assert server.count() == 1  # not retried
    assert sleeps.calls == []


def test_hyperliquid_without_an_address_names_the_variable(server: ReplayServer) -> None:
    reader = CcxtReader("hyperliquid", credentials=Credentials(), exchange=exchange_for(server, "hyperliquid"))
    with pytest.raises(InputError, match="CROSSMARGIN_HYPERLIQUID_WALLET"):
        reader.snapshot()
    assert server.count() == 0


# -- credentials ----------------------------------------------------------------------------------------


def test_credentials_never_reach_logs_reprs_or_errors(
    server: ReplayServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: distinctive values in the environment, read the way a user's would be
    env = {
        "CROSSMARGIN_OKX_API_KEY": "ENVKEYok8Wq3Zp",
        "CROSSMARGIN_OKX_API_SECRET": "ENVSECok5Tn1Xr",
        "CROSSMARGIN_OKX_PASSWORD": "ENVPASok9Ls4Cv",
        "CROSSMARGIN_HYPERLIQUID_WALLET": "0xAbCdEf0123456789aBcDeF0123456789AbCdEf01",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.DEBUG)
    okx_creds, hl_creds = load_credentials("okx"), load_credentials("hyperliquid")
    assert okx_creds is not None
    assert hl_creds is not None
    serve(server, "okx")
    serve(server, "hyperliquid")
    clock = Clock()
    okx = reader_for(server, "okx", credentials=okx_creds, clock=clock)
    hyperliquid = reader_for(server, "hyperliquid", credentials=hl_creds)
    texts: list[str] = [repr(okx_creds), str(okx_creds), repr(hl_creds), repr(okx), str(hyperliquid)]

    # Act: good reads, a retried rate limit, an outage served stale, a venue echoing the address, a rejection
    texts.append(repr(okx.snapshot()))
    texts.append(repr(hyperliquid.snapshot()))
    server.fail(Failure("status", 429), path="/api/v5/account/balance", times=1)
    texts.append(repr(okx.snapshot()))
    server.fail(Failure("status", 503), path="/api/v5/account/balance", times=None)
    clock.now += 5
    texts.append(repr(okx.snapshot()))
    server.clear_failures()
    echo = {
        "status": "err",
        "response": f"User or API Wallet {env['CROSSMARGIN_HYPERLIQUID_WALLET'].lower()} does not exist.",
    }
    server.fail(Failure("status", 422, body=json.dumps(echo)), method="POST", times=None)
    stale = hyperliquid.snapshot()
    assert stale.stale_seconds == 0.0
    assert "User or API Wallet *** does not exist" in stale.errors[-1]
    texts.extend([repr(stale), *stale.errors])
    server.fail(
        Failure("status", 401, body='{"code":"50113","msg":"Invalid Sign"}'), path="/api/v5/account/balance", times=None
    )
    with pytest.raises(InputError) as rejected:
        okx.snapshot()
    texts.extend([str(rejected.value), repr(rejected.value)])
    texts.append(caplog.text)
    texts.extend(record.getMessage() for record in caplog.records)

    # Assert
    assert any("***" in text for text in texts)  # the values were there to be masked
    assert "OKX_API_KEY" in str(rejected.value)
    joined = "\n".join(texts).lower()
    for value in env.values():
        assert value.lower() not in joined


def test_load_credentials_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSMARGIN_BYBIT_API_KEY", "k-by")
    monkeypatch.setenv("CROSSMARGIN_BYBIT_API_SECRET", "s-by")
    creds = load_credentials("Bybit")
    assert creds == Credentials(api_key="k-by", api_secret="s-by")
    assert repr(creds) == "Credentials(api_key='***', api_secret='***', password=None, wallet=None)"
    assert str(creds) == repr(creds)


def test_load_credentials_without_any_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    for suffix in ("API_KEY", "API_SECRET", "PASSWORD", "WALLET"):
        monkeypatch.delenv(f"CROSSMARGIN_OKX_{suffix}", raising=False)
    monkeypatch.setattr(
        "crossmargin.live.credentials._from_keyring",
        lambda venue: dict.fromkeys(("api_key", "api_secret", "password", "wallet")),
    )
    assert load_credentials("okx") is None


def test_load_credentials_names_a_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSMARGIN_OKX_API_KEY", "k-okx")
    monkeypatch.setenv("CROSSMARGIN_OKX_API_SECRET", "s-okx")
    monkeypatch.delenv("CROSSMARGIN_OKX_PASSWORD", raising=False)
    with pytest.raises(InputError, match=r"^CROSSMARGIN_OKX_PASSWORD: ") as caught:
        load_credentials("okx")
    assert "k-okx" not in str(caught.value)


def test_unknown_venue_suggests_a_name() -> None:
    with pytest.raises(InputError, match="did you mean bybit"):
        load_credentials("bybt")
    with pytest.raises(InputError, match="did you mean binance"):
        CcxtReader("binanse", credentials=Credentials())


@pytest.mark.parametrize(("field_name", "value"), [("timeout_s", 0), ("retries", -1), ("backoff_s", float("nan"))])
def test_bad_settings_are_refused(field_name: str, value: float) -> None:
    with pytest.raises(InputError, match=f"^{field_name}: "):
        CcxtReader("binance", credentials=Credentials(), **{field_name: value})  # type: ignore[arg-type]


def test_reader_builds_a_rate_limited_exchange_with_the_credentials() -> None:
    # Act (building does no I/O)
    okx = CcxtReader("okx", credentials=FAKE["okx"], timeout_s=7)
    hyperliquid = CcxtReader("hyperliquid", credentials=FAKE["hyperliquid"])

    # Assert
    exchange = okx.exchange
    assert (exchange.id, exchange.enableRateLimit, exchange.timeout, exchange.verbose) == ("okx", True, 7000, False)
    assert (exchange.apiKey, exchange.secret, exchange.password) == (
        "KEYok1Tz9Xc4Pe",
        "SECok6Uw3Ri7Lm",
        "PASok2Yq8Ez5Dn",
    )
    assert hyperliquid.exchange.walletAddress == FAKE["hyperliquid"].wallet
    assert not hyperliquid.exchange.privateKey  # reading needs the address only
    assert repr(okx) == "CcxtReader(venue='okx', exchange='okx')"
    assert okx.venue == "okx"
    okx.close()


# -- the replay server itself ------------------------------------------------------------------------------


def test_replay_server_matches_query_in_any_order_and_counts(server: ReplayServer) -> None:
    # Arrange
    server.add("GET", "/v5/position/list", {"which": "any"})
    server.add("GET", "/v5/position/list", {"which": "usdt"}, query={"category": "linear", "settleCoin": "USDT"})

    # Act
    def get(url: str) -> Any:
        with urllib.request.urlopen(server.base_url + url, timeout=5) as response:
            return json.loads(response.read())

    specific = get("/v5/position/list?settleCoin=USDT&timestamp=1&category=linear")
    generic = get("/v5/position/list?category=inverse")

    # Assert
    assert (specific, generic) == ({"which": "usdt"}, {"which": "any"})
    assert server.count("GET", "/v5/position/list") == 2
    assert server.requests[0].query == {"settleCoin": "USDT", "category": "linear"}  # timestamp is not kept
