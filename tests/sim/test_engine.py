"""The backtest loop on real bars: fills, funding, liquidation under cross and isolated, risk controls."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import MarketData
from crossmargin.margin import evaluate
from crossmargin.model import Account, MarginMode, Marks, Position, Side
from crossmargin.sim.config import RunConfig
from crossmargin.sim.engine import run_mode
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.orders import Order
from crossmargin.sim.strategies import Basis, CaseStudy, HedgePair
from crossmargin.sim.strategy import BarContext, FunctionStrategy
from crossmargin.venues import get_rules
from tests.sim.conftest import DATA, HOUR, crash, march

BINANCE = get_rules("binance")


def _once(symbol: str, orders: Sequence[Order], *, at: int = 0) -> FunctionStrategy:
    """A strategy that sends ``orders`` at the close of bar ``at`` and nothing else."""
    return FunctionStrategy("once", [symbol], lambda ctx: list(orders), every=None, warmup=at)


def test_case_study_isolated_eth_is_liquidated_while_cross_survives(march_market: MarketData) -> None:
    config = RunConfig(leverage=5)
    cross = run_mode(CaseStudy(), march_market, BINANCE, "cross", config)
    isolated = run_mode(CaseStudy(), march_market, BINANCE, "isolated", config)
    assert cross.summary.liquidations == 0
    assert isolated.summary.liquidations == 1
    (row,) = isolated.liquidations.to_dict(orient="records")
    assert (row["symbol"], row["pool"]) == ("ETHUSDT", "isolated:ETHUSDT")
    # Cross-check with the margin core: the isolated short's liquidation price, from its entry fill, was
    # reached by ETH's mark high in that bar and in no earlier bar.
    entry = isolated.trades[(isolated.trades.symbol == "ETHUSDT") & (isolated.trades.kind == "open")].iloc[0]
    position = Position(
        symbol="ETHUSDT",
        side=Side.SHORT,
        size=entry["size"],
        entry_price=entry["price"],
        leverage=5,
        mode=MarginMode.ISOLATED,
        isolated_margin=entry["size"] * entry["price"] / 5,
    )
    alone = Account(venue="binance", wallet_balance=position.isolated_margin or 0.0, positions=(position,))
    liq = evaluate(alone, Marks({"ETHUSDT": entry["price"]}), BINANCE).positions[0].liquidation_price
    assert liq is not None
    column = march_market.column("ETHUSDT")
    bar = int(np.searchsorted(march_market.times, row["time"].value // 1_000_000))
    assert march_market.mark_high[bar, column] >= liq
    opened = int(np.searchsorted(march_market.times, entry["time"].value // 1_000_000))
    assert np.all(march_market.mark_high[opened:bar, column] < liq)
    # The cross account held ETH all month, carried by BTC and SOL.
    assert set(cross.trades.symbol) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert cross.summary.peak_margin_ratio < 0.8 < isolated.summary.peak_margin_ratio


def test_a_crash_liquidates_the_cross_account_whole() -> None:
    market = crash()
    # About 37,000 USDT of each, 110,000 in all on a 20,000 USDT cross wallet (5.5x).
    sizes = (("BTCUSDT", 0.3), ("ETHUSDT", 9.0), ("SOLUSDT", 165.0))
    longs = [Order(symbol=s, side=Side.LONG, size=q) for s, q in sizes]
    strategy = FunctionStrategy("all-long", ["BTCUSDT", "ETHUSDT", "SOLUSDT"], lambda ctx: longs, every=None)
    run = run_mode(strategy, market, BINANCE, "cross", RunConfig(wallet=20_000, leverage=20))
    assert run.summary.liquidations == 1
    assert set(run.liquidations.pool) == {"cross"}
    assert set(run.liquidations.symbol) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    when = run.liquidations.time.iloc[0]
    assert pd.Timestamp("2025-10-10 20:00", tz="UTC") <= when <= pd.Timestamp("2025-10-11", tz="UTC")
    assert run.summary.final_equity < 0.05 * 20_000  # the whole cross wallet is gone
    assert run.positions.iloc[-1]["symbol"] == ""  # no position after


def test_market_order_fills_at_the_next_open_with_slippage(march_market: MarketData) -> None:
    order = Order(symbol="BTCUSDT", side=Side.LONG, size=0.1)
    run = run_mode(_once("BTCUSDT", [order], at=5), march_market, BINANCE, "cross", RunConfig(slippage=0.001))
    (fill,) = run.trades.to_dict(orient="records")
    column = march_market.column("BTCUSDT")
    assert fill["time"] == pd.Timestamp(int(march_market.times[6]), unit="ms", tz="UTC")
    assert fill["price"] == pytest.approx(march_market.open[6, column] * 1.001)
    assert fill["fee"] == pytest.approx(0.1 * fill["price"] * BINANCE.fee_rate("taker"))


def _first_bar(condition: np.ndarray, after: int) -> int:
    """Return the first bar >= ``after`` where ``condition`` holds, or the number of bars when none does."""
    hits = np.flatnonzero(condition[after:])
    return after + int(hits[0]) if len(hits) else len(condition)


def test_limit_stop_and_take_profit_fill_where_the_bar_reaches_them(march_market: MarketData) -> None:
    column = march_market.column("BTCUSDT")
    close = float(march_market.close[10, column])
    limit = close * 0.98
    entry = Order(symbol="BTCUSDT", side=Side.LONG, size=0.1, type="limit", price=limit)
    run = run_mode(_once("BTCUSDT", [entry], at=10), march_market, BINANCE, "cross", RunConfig())
    fill = run.trades.iloc[0]
    bar = _first_bar(march_market.low[:, column] <= limit, 11)
    assert fill["time"] == pd.Timestamp(int(march_market.times[bar]), unit="ms", tz="UTC")
    assert fill["price"] == pytest.approx(min(march_market.open[bar, column], limit))
    assert fill["fee"] == pytest.approx(0.1 * fill["price"] * BINANCE.fee_rate("maker"))

    stop = close * 0.97
    target = close * 1.03
    orders = [
        Order(symbol="BTCUSDT", side=Side.LONG, size=0.1),
        Order(symbol="BTCUSDT", side=Side.SHORT, size=0.1, type="stop", price=stop, reduce_only=True),
        Order(symbol="BTCUSDT", side=Side.SHORT, size=0.1, type="take_profit", price=target, reduce_only=True),
    ]
    run = run_mode(_once("BTCUSDT", orders, at=10), march_market, BINANCE, "cross", RunConfig(slippage=0.0005))
    exit_fill = run.trades.iloc[1]
    down = _first_bar(march_market.low[:, column] <= stop, 11)
    up = _first_bar(march_market.high[:, column] >= target, 11)
    bar = min(down, up)
    assert exit_fill["time"] == pd.Timestamp(int(march_market.times[bar]), unit="ms", tz="UTC")
    if down <= up:  # the stop wins a tie: the bar's path is unknown
        assert exit_fill["kind"] == "stop"
        assert exit_fill["price"] == pytest.approx(min(march_market.open[bar, column], stop) * (1 - 0.0005))
    else:
        assert exit_fill["kind"] == "take_profit"
        assert exit_fill["price"] == pytest.approx(max(march_market.open[bar, column], target) * (1 - 0.0005))
    assert len(run.trades) == 2  # the other exit was cancelled with the position


def test_funding_is_paid_by_longs_and_received_by_shorts_on_mark(march_market: MarketData) -> None:
    orders = [Order(symbol="BTCUSDT", side=Side.LONG, size=0.1), Order(symbol="ETHUSDT", side=Side.SHORT, size=2.0)]
    strategy = FunctionStrategy("pair", ["BTCUSDT", "ETHUSDT"], lambda ctx: orders, every=None)
    run = run_mode(strategy, march_market, BINANCE, "cross", RunConfig())
    assert len(run.funding) > 80  # three settlements a day for a month
    for row in run.funding.to_dict(orient="records"):
        bar = int(np.searchsorted(march_market.times, row["time"].value // 1_000_000))
        mark = march_market.mark_open[bar, march_market.column(row["symbol"])]
        sign, size = (1, 0.1) if row["symbol"] == "BTCUSDT" else (-1, 2.0)
        assert row["payment"] == pytest.approx(-sign * size * mark * row["rate"], rel=1e-12)
    btc = run.funding[run.funding.symbol == "BTCUSDT"]
    assert ((btc.rate > 0) == (btc.payment < 0)).all()  # a long pays a positive rate


def test_isolated_funding_moves_the_isolated_wallet(march_market: MarketData) -> None:
    order = Order(symbol="BTCUSDT", side=Side.LONG, size=0.1)
    run = run_mode(_once("BTCUSDT", [order]), march_market, BINANCE, "isolated", RunConfig())
    total = run.funding.payment.sum()
    assert total != 0
    assert run.summary.funding_paid - run.summary.funding_received == pytest.approx(-total)


def test_runs_are_deterministic(march_market: MarketData) -> None:
    first = run_mode(HedgePair(neutral="beta", lookback=48), march_market, BINANCE, "cross", RunConfig())
    second = run_mode(HedgePair(neutral="beta", lookback=48), march_market, BINANCE, "cross", RunConfig())
    pd.testing.assert_frame_equal(first.equity, second.equity)
    pd.testing.assert_frame_equal(first.trades, second.trades)
    assert first.summary == second.summary


def test_stop_beyond_the_liquidation_price_is_refused_or_warned(march_market: MarketData) -> None:
    def orders(ctx: BarContext) -> list[Order]:
        price = ctx.close("BTCUSDT")[-1]
        return [
            Order(symbol="BTCUSDT", side=Side.LONG, size=1.0, leverage=20),
            Order(symbol="BTCUSDT", side=Side.SHORT, size=1.0, type="stop", price=price * 0.9, reduce_only=True),
        ]

    strategy = FunctionStrategy("far-stop", ["BTCUSDT"], orders, every=None)
    refused = run_mode(strategy, march_market, BINANCE, "isolated", RunConfig(wallet=20_000, stop_policy="refuse"))
    assert "stop_refused" in set(refused.events.kind)
    assert refused.summary.rejected_orders == 1
    warned = run_mode(strategy, march_market, BINANCE, "isolated", RunConfig(wallet=20_000, stop_policy="warn"))
    assert "stop_warning" in set(warned.events.kind)


def test_leverage_cap_and_volatility_target_shrink_orders(march_market: MarketData) -> None:
    plain = run_mode(CaseStudy(exposure=4.0), march_market, BINANCE, "cross", RunConfig())
    capped = run_mode(CaseStudy(exposure=4.0), march_market, BINANCE, "cross", RunConfig(leverage_cap=2.0))
    assert "leverage_cap" in set(capped.events.kind)
    opened = capped.trades[capped.trades.kind == "open"]
    assert (opened["size"] * opened["price"]).sum() <= 2.0 * 10_000 * 1.001  # cap x equity at the fills
    assert capped.summary.capital_efficiency < plain.summary.capital_efficiency
    hedge = HedgePair(rebalance=48)
    hedge.warmup = 200
    targeted = run_mode(hedge, march_market, BINANCE, "cross", RunConfig(vol_target=0.2, vol_lookback=168))
    assert "vol_target" in set(targeted.events.kind)


def test_basis_trade_holds_spot_against_a_short_perp() -> None:
    market = march(("BTCUSDT",), spot=True)
    run = run_mode(Basis(), market, BINANCE, "cross", RunConfig())
    spot_buy = run.trades[run.trades.kind == "spot"].iloc[0]
    short = run.trades[run.trades.kind == "open"].iloc[0]
    assert short["side"] == "short"
    assert short["size"] == pytest.approx(spot_buy["size"], rel=1e-9)
    assert run.summary.liquidations == 0
    assert run.summary.funding_received > 0


def test_bad_data_and_bad_settings_are_named() -> None:
    frame = pd.read_parquet(DATA / "BTCUSDT-trades-1h-2026-03.parquet")
    with pytest.raises(DataError, match="bars missing after 2026-03-02T03:00:00"):
        market_from_frames({"BTCUSDT": frame.drop(index=[28])}, interval_ms=HOUR)
    with pytest.raises(DataError, match="no symbols"):
        market_from_frames({}, interval_ms=HOUR)
    broken = frame.copy()
    broken.loc[3, "high"] = broken.loc[3, "low"] * 0.5
    with pytest.raises(DataError, match="high < low"):
        market_from_frames({"BTCUSDT": broken}, interval_ms=HOUR)
    nan = frame.copy()
    nan.loc[4, "close"] = float("nan")
    with pytest.raises(DataError, match="non-finite or non-positive"):
        market_from_frames({"BTCUSDT": nan}, interval_ms=HOUR)
    with pytest.raises(DataError, match="share no bar"):
        market_from_frames({"BTCUSDT": frame}, interval_ms=HOUR, start_ms=0, end_ms=1)
    market = market_from_frames({"BTCUSDT": frame}, interval_ms=HOUR)
    with pytest.raises(DataError, match="no bars for 'ETHUSDT'"):
        run_mode(CaseStudy(), market, BINANCE, "cross")
    with pytest.raises(InputError, match="spot prices for basis"):
        run_mode(Basis(), market, BINANCE, "cross")
    with pytest.raises(InputError, match="mode"):
        run_mode(_once("BTCUSDT", []), market, BINANCE, "portfolio")  # type: ignore[arg-type]
    for bad in ({"wallet": -1.0}, {"slippage": 0.5}, {"stop_policy": "maybe"}, {"leverage_cap": 0.0}):
        with pytest.raises(InputError):
            RunConfig(**bad)
    with pytest.raises(InputError, match="size"):
        Order(symbol="BTCUSDT", side=Side.LONG, size=-1.0)
    with pytest.raises(InputError, match="price"):
        Order(symbol="BTCUSDT", side=Side.LONG, size=1.0, type="limit")


def test_orders_may_build_a_mixed_account(march_market: MarketData) -> None:
    orders = [
        Order(symbol="BTCUSDT", side=Side.LONG, size=0.05),
        Order(symbol="ETHUSDT", side=Side.SHORT, size=2.0, margin_mode=MarginMode.ISOLATED),
    ]
    strategy = FunctionStrategy("mixed", ["BTCUSDT", "ETHUSDT"], lambda ctx: orders, every=None)
    run = run_mode(strategy, march_market, BINANCE, "cross", RunConfig())
    first = run.positions[run.positions.time == run.positions.time.min()]
    assert dict(zip(first.symbol, first.margin_mode, strict=True)) == {"BTCUSDT": "cross", "ETHUSDT": "isolated"}
