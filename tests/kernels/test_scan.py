"""The compiled scan against its reference ``crossmargin.sim.scan.scan_reference``, on real bars.

Market data: Binance USDⓈ-M BTC/ETH/SOL perpetual 1h last-trade and mark-price klines, 2024-07-20 00:00 to
2024-08-10 23:00 UTC (528 bars, the 2024-08-05 crash inside), sliced unchanged into ``tests/data/kernels``
(see its PROVENANCE.md). OKX cases use the same Binance bars under OKX's symbol names as stand-in prices.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import (
    EXTREME_CLOSE,
    EXTREME_HIGH,
    EXTREME_LOW,
    BookArrays,
    MarketData,
    ScanResult,
    Trigger,
    pack_book,
)
from crossmargin.kernels.scan import exact_sum, pool_breached, pool_risk, scan
from crossmargin.margin.account import position_states
from crossmargin.margin.pools import risk_view
from crossmargin.margin.position import margin_ratio
from crossmargin.model import Account, Bracket, MarginMode, Marks, Position, Side
from crossmargin.sim.scan import scan_reference
from crossmargin.venues import get_rules
from crossmargin.venues.base import VenueRules
from tests.conftest import TESTS

DATA = TESTS / "data" / "kernels"
SOURCE = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
#: Market columns per venue: the Binance bars under the venue's symbol names.
COLUMNS = {
    "binance": SOURCE,
    "bybit": SOURCE,
    "okx": ("BTC-USDT-SWAP", "ETH-USDT-SWAP", "SOL-USDT-SWAP"),
}
#: Symbols an account may hold per venue (Bybit's shipped table lists BTC and ETH only).
HELD = {"binance": SOURCE, "bybit": SOURCE[:2], "okx": COLUMNS["okx"]}
CRASH_BAR = pd.Timestamp("2024-08-05 00:00", tz="UTC")
REL = 1e-12


@cache
def _market(venue: str = "binance") -> MarketData:
    """Return the real slice as MarketData with the column names of ``venue``."""
    trades = {s: pd.read_parquet(DATA / f"{s}-1h.parquet") for s in SOURCE}
    marks = {s: pd.read_parquet(DATA / f"{s}-mark-1h.parquet") for s in SOURCE}
    times = trades["BTCUSDT"]["timestamp"].to_numpy()
    for frame in (*trades.values(), *marks.values()):
        assert np.array_equal(frame["timestamp"].to_numpy(), times)  # one bar grid for all six files

    def field(frames: dict[str, pd.DataFrame], name: str) -> np.ndarray:
        return np.column_stack([frames[s][name].to_numpy(dtype=np.float64) for s in SOURCE])

    return MarketData(
        times=times,
        symbols=COLUMNS[venue],
        open=field(trades, "open"),
        high=field(trades, "high"),
        low=field(trades, "low"),
        close=field(trades, "close"),
        mark_open=field(marks, "open"),
        mark_high=field(marks, "high"),
        mark_low=field(marks, "low"),
        mark_close=field(marks, "close"),
        interval_ms=3_600_000,
    )


def _both(
    account: Account,
    rules: VenueRules,
    market: MarketData,
    triggers: tuple[Trigger, ...] = (),
    *,
    start: int = 0,
    stop: int | None = None,
) -> tuple[ScanResult, ScanResult]:
    end = market.bars if stop is None else stop
    kernel = scan(pack_book(account, rules, market, triggers=triggers), market, start=start, stop=end)
    reference = scan_reference(account, rules, market, triggers, start=start, stop=end)
    return kernel, reference


def _assert_same(kernel: ScanResult, reference: ScanResult) -> None:
    assert kernel.event == reference.event
    np.testing.assert_allclose(kernel.equity, reference.equity, rtol=REL, atol=0.0)
    np.testing.assert_allclose(kernel.ratio, reference.ratio, rtol=REL, atol=0.0)


def _case_study(gross: float, modes: tuple[MarginMode, MarginMode, MarginMode], wallet: float = 10_000.0) -> Account:
    """Long BTC, short ETH, long SOL, gross/3 notional each at the first bar's mark close, leverage 5.

    Isolated positions get a fifth of their notional as isolated margin, on top of ``wallet``.
    """
    market = _market()
    positions = []
    for column, (side, mode) in enumerate(zip((Side.LONG, Side.SHORT, Side.LONG), modes, strict=True)):
        entry = float(market.mark_close[0, column])
        isolated = gross / 3 / 5 if mode is MarginMode.ISOLATED else None
        positions.append(
            Position(
                symbol=SOURCE[column],
                side=side,
                size=gross / 3 / entry,
                entry_price=entry,
                leverage=5,
                mode=mode,
                isolated_margin=isolated,
            )
        )
    isolated_total = sum(p.isolated_margin or 0.0 for p in positions)
    return Account(venue="binance", wallet_balance=wallet + isolated_total, positions=tuple(positions))


CROSS = (MarginMode.CROSS,) * 3
ISOLATED = (MarginMode.ISOLATED,) * 3
MIXED = (MarginMode.CROSS, MarginMode.ISOLATED, MarginMode.CROSS)


# (a) the case study through the crash ------------------------------------------------------------------


def test_cross_case_study_at_5x_survives_the_crash_in_both() -> None:
    # Arrange: 10,000 USDT wallet, 50,000 gross (5x): BTC long, ETH short, SOL long, 16,667 each.
    rules, market = get_rules("binance"), _market()
    # Act
    kernel, reference = _both(_case_study(50_000.0, CROSS), rules, market)
    # Assert: the ETH short's gain carries the longs through 2024-08-05.
    assert reference.event == market.bars
    _assert_same(kernel, reference)


def test_cross_case_study_at_15x_breaches_on_the_same_crash_bar() -> None:
    rules, market = get_rules("binance"), _market()
    kernel, reference = _both(_case_study(150_000.0, CROSS), rules, market)
    _assert_same(kernel, reference)
    when = pd.Timestamp(int(market.times[kernel.event]), unit="ms", tz="UTC")
    assert CRASH_BAR <= when < CRASH_BAR + pd.Timedelta(days=1)  # the crash, not before


# (b) isolated and mixed accounts -----------------------------------------------------------------------


@pytest.mark.parametrize("modes", [ISOLATED, MIXED], ids=["isolated", "mixed"])
@pytest.mark.parametrize("gross", [50_000.0, 150_000.0])
def test_isolated_and_mixed_accounts_match(modes: tuple[MarginMode, MarginMode, MarginMode], gross: float) -> None:
    rules, market = get_rules("binance"), _market()
    kernel, reference = _both(_case_study(gross, modes), rules, market)
    _assert_same(kernel, reference)
    assert reference.event < market.bars  # each case ends in a liquidation before 2024-08-11


@pytest.mark.parametrize("short_size", [0.5, 0.3], ids=["flat", "net-long"])
def test_hedged_legs_use_the_pool_net_exposure(short_size: float) -> None:
    # Arrange: BTC long 0.5 and short 0.5 (flat: valued at the close) or 0.3 (net long: at the low) in
    # cross, and an isolated ETH short of 4 with 2,000 of isolated margin.
    rules, market = get_rules("binance"), _market()
    btc, eth = float(market.mark_close[0, 0]), float(market.mark_close[0, 1])
    positions = (
        Position(symbol="BTCUSDT", side=Side.LONG, size=0.5, entry_price=btc, leverage=10, position_side="long"),
        Position(
            symbol="BTCUSDT",
            side=Side.SHORT,
            size=short_size,
            entry_price=btc * 1.01,
            leverage=10,
            position_side="short",
        ),
        Position(
            symbol="ETHUSDT",
            side=Side.SHORT,
            size=4.0,
            entry_price=eth,
            leverage=10,
            mode=MarginMode.ISOLATED,
            isolated_margin=2_000.0,
        ),
    )
    account = Account(venue="binance", wallet_balance=4_000.0, positions=positions)
    # Act
    book = pack_book(account, rules, market)
    kernel, reference = _both(account, rules, market)
    # Assert
    flat = short_size == 0.5
    assert list(book.extreme) == [EXTREME_CLOSE if flat else EXTREME_LOW] * 2 + [EXTREME_HIGH]
    _assert_same(kernel, reference)


# (c) triggers ------------------------------------------------------------------------------------------


def _first(mask: np.ndarray) -> int:
    return int(np.argmax(mask)) if mask.any() else len(mask)


@pytest.mark.parametrize("which", ["stop", "take_profit", "both"])
def test_triggers_fire_on_the_first_bar_the_last_trade_range_reaches(which: str) -> None:
    # Arrange: the 5x case study; a stop on the BTC long at 92 % of entry (sell stop: fires at low <= price)
    # and a take-profit on the ETH short at 80 % of entry (buy limit: fires at low <= price), and a
    # take-profit on the SOL long at 110 % (sell limit: fires at high >= price).
    rules, market = get_rules("binance"), _market()
    account = _case_study(50_000.0, CROSS)
    btc_stop = 0.92 * account.positions[0].entry_price
    sol_take = 1.10 * account.positions[2].entry_price
    stop = Trigger("BTCUSDT", btc_stop, -1)
    take = Trigger("SOLUSDT", sol_take, +1)
    triggers = {"stop": (stop,), "take_profit": (take,), "both": (take, stop)}[which]
    expected_stop = _first(market.low[:, 0] <= btc_stop)
    expected_take = _first(market.high[:, 2] >= sol_take)
    expected = {"stop": expected_stop, "take_profit": expected_take, "both": min(expected_stop, expected_take)}
    # Act
    kernel, reference = _both(account, rules, market, triggers)
    # Assert
    assert 0 < expected[which] < market.bars
    assert kernel.event == reference.event == expected[which]
    assert len(kernel.equity) == expected[which]
    _assert_same(kernel, reference)


def test_a_trigger_touched_on_the_first_bar_returns_it_with_empty_series() -> None:
    rules, market = get_rules("binance"), _market()
    touched = Trigger("ETHUSDT", float(market.high[100, 1]), +1)  # the bar's own high: >= holds
    kernel, reference = _both(_case_study(50_000.0, CROSS), rules, market, (touched,), start=100, stop=200)
    assert kernel.event == reference.event == 100
    assert len(kernel.equity) == len(kernel.ratio) == 0


def test_no_positions_records_the_wallet_until_a_trigger() -> None:
    rules, market = get_rules("binance"), _market()
    account = Account(venue="binance", wallet_balance=1_234.5)
    entry = Trigger("BTCUSDT", 60_000.0, -1)
    kernel, reference = _both(account, rules, market, (entry,))
    _assert_same(kernel, reference)
    assert kernel.event == _first(market.low[:, 0] <= 60_000.0)
    assert np.all(kernel.equity == 1_234.5)
    assert np.all(kernel.ratio == 0.0)


# (d) property: random books on real bars ---------------------------------------------------------------


@st.composite
def _scans(draw: st.DrawFn, venue: str) -> tuple[Account, tuple[Trigger, ...], int, int]:
    """Draw an account valid for ``venue``'s shipped tables, entered near the real marks, and a span."""
    rules, market = get_rules(venue), _market(venue)
    # Half the spans start in the days before the 2024-08-05 crash (bars 330..390), where books breach.
    start = draw(st.integers(0, market.bars - 1) | st.integers(330, 390))
    stop = min(market.bars, start + draw(st.integers(1, 72)))
    symbols = draw(st.lists(st.sampled_from(HELD[venue]), min_size=1, max_size=3, unique=True))
    positions = []
    for symbol in symbols:
        mark = float(market.mark_close[start, market.column(symbol)])
        instrument = rules.instrument(symbol)
        last_cap = instrument.brackets[-1].cap
        # Keep a hedged symbol's pool inside the table: each leg below 45 % of its last cap.
        table_limit = 0.45 * (last_cap * 0.98 * mark if instrument.tier_basis == "size" else last_cap)
        hedged = rules.hedge_mode and draw(st.booleans())
        sides = (Side.LONG, Side.SHORT) if hedged else (draw(st.sampled_from(Side)),)
        first_size = None
        for side in sides:
            entry = mark * draw(st.floats(0.98, 1.02))
            size = draw(st.floats(50.0, min(5e6, table_limit))) / entry
            if first_size is not None and draw(st.booleans()):
                size = first_size  # a flat hedge: the pool's net exposure in the symbol is zero
            first_size = size
            cap = instrument.bracket_for(instrument.tier_value(size, entry)).max_leverage
            leverage = draw(st.integers(1, max(1, int(cap))))
            mode = draw(st.sampled_from(MarginMode))
            isolated = size * entry / leverage * draw(st.floats(0.5, 3.0)) if mode is MarginMode.ISOLATED else None
            positions.append(
                Position(
                    symbol=symbol,
                    side=side,
                    size=size,
                    entry_price=entry,
                    leverage=leverage,
                    mode=mode,
                    isolated_margin=isolated,
                    position_side=side.label if hedged else "both",
                )
            )
    isolated_total = sum(p.isolated_margin or 0.0 for p in positions)
    gross = sum(p.entry_notional for p in positions)
    wallet = isolated_total + gross * draw(st.floats(0.02, 1.0))
    # Triggers rest on the far side of the start bar's close: +1 above it, -1 below it, by up to 15 %.
    triggers = tuple(
        Trigger(symbol, float(market.close[start, market.column(symbol)]) * (1 + direction * away), direction)
        for symbol, direction, away in draw(
            st.lists(
                st.tuples(st.sampled_from(HELD[venue]), st.sampled_from([-1, 1]), st.floats(0.0, 0.15)), max_size=2
            )
        )
    )
    account = Account(venue=venue, wallet_balance=wallet, positions=tuple(positions))
    return account, triggers, start, stop


@pytest.mark.parametrize("venue", ["binance", "bybit", "okx"])
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_kernel_equals_reference_on_random_books(venue: str, data: st.DataObject) -> None:
    account, triggers, start, stop = data.draw(_scans(venue))
    kernel, reference = _both(account, get_rules(venue), _market(venue), triggers, start=start, stop=stop)
    _assert_same(kernel, reference)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-1e12, 1e12), max_size=8), st.floats(-1.0, 1.0))
def test_exact_sum_is_fsum(values: list[float], tiny: float) -> None:
    # Add cancelling pairs and a tiny term, where a plain loop would lose the last bits.
    terms = np.array([*values, *(-v for v in values[:2]), tiny * 1e-9, 1e16, -1e16], dtype=np.float64)
    partials = np.empty(len(terms) + 1)
    assert exact_sum(terms, len(terms), partials) == math.fsum(terms)
    for count in range(4):
        assert exact_sum(terms, count, partials) == math.fsum(terms[:count])


# (e) breach and ratio semantics, risk and health venues ------------------------------------------------

EDGES = [-2.5, -0.0, 0.0, 1e-300, 0.5, math.nextafter(1.0, 0.0), 1.0, math.nextafter(1.0, 2.0), 3.0, 1e300]


@pytest.mark.parametrize("venue", ["binance", "okx"])
def test_breach_and_ratio_match_the_reference_view_of_either_ratio_kind(venue: str) -> None:
    # The kernel's predicate (R > 0 and E <= R) against risk_view(venue ratio) >= 1, on every pair of edges.
    rules = get_rules(venue)
    for equity in EDGES:
        for requirement in EDGES:
            shown = risk_view(rules, margin_ratio(rules.ratio_kind, requirement, equity))
            assert pool_breached(equity, requirement) == (shown >= 1.0), (equity, requirement)
            assert math.isclose(pool_risk(equity, requirement), shown, rel_tol=REL), (equity, requirement)
            if rules.ratio_kind == "risk":
                assert pool_risk(equity, requirement) == shown


@pytest.mark.parametrize("venue", ["binance", "okx"])
@pytest.mark.parametrize("extra_ulps", [0, 1])
def test_equity_equal_to_requirement_breaches_in_both_and_one_ulp_more_does_not(venue: str, extra_ulps: int) -> None:
    # Arrange: an isolated BTC long entered 0.1 % above the lowest mark of bars 300..420, with the isolated
    # margin that makes E == R to the bit at that low (found by stepping ulps), plus ``extra_ulps``. The
    # small loss keeps the margin in the binade of R, where one ulp of margin moves E by one ulp of R.
    rules, market = get_rules(venue), _market(venue)
    symbol = market.symbols[0]
    start, stop = 300, 420
    low_bar = start + int(np.argmin(market.mark_low[start:stop, 0]))
    low = float(market.mark_low[low_bar, 0])
    probe = Position(symbol=symbol, side=Side.LONG, size=1.5, entry_price=low * 1.001, leverage=20)
    state = position_states(Account(venue=venue, wallet_balance=0.0, positions=(probe,)), Marks({symbol: low}), rules)
    upnl, requirement = state[0].upnl, state[0].requirement
    margin = requirement - upnl
    for _ in range(64):
        if margin + upnl == requirement:
            break
        margin = math.nextafter(margin, math.inf if margin + upnl < requirement else -math.inf)
    assert margin + upnl == requirement  # the boundary is reachable to the bit
    for _ in range(extra_ulps):
        margin = math.nextafter(margin, math.inf)
    position = Position(
        symbol=symbol,
        side=Side.LONG,
        size=1.5,
        entry_price=low * 1.001,
        leverage=20,
        mode=MarginMode.ISOLATED,
        isolated_margin=margin,
    )
    account = Account(venue=venue, wallet_balance=margin, positions=(position,))
    # Act
    kernel, reference = _both(account, rules, market, start=start, stop=stop)
    # Assert: at E == R both liquidate at the low bar; one ulp above, neither does in the span.
    assert kernel.event == reference.event == (low_bar if extra_ulps == 0 else stop)
    _assert_same(kernel, reference)


def test_no_requirement_never_breaches_and_shows_ratio_zero_even_when_bankrupt() -> None:
    # Arrange: a zero-rate bracket for BTCUSDT; an isolated 5x long whose margin the crash wipes out.
    rules = get_rules("binance").with_brackets(
        {"BTCUSDT": (Bracket(floor=0.0, cap=math.inf, mm_rate=0.0, maint_amount=0.0, max_leverage=125),)}
    )
    market = _market()
    entry = float(market.mark_close[0, 0])
    position = Position(
        symbol="BTCUSDT",
        side=Side.LONG,
        size=1.0,
        entry_price=entry,
        leverage=5,
        mode=MarginMode.ISOLATED,
        isolated_margin=entry / 5,
    )
    account = Account(venue="binance", wallet_balance=entry / 5, positions=(position,))
    # Act
    kernel, reference = _both(account, rules, market)
    # Assert: the close equity goes below zero (BTC fell more than 20 %) yet R = 0 keeps both scanning.
    assert kernel.event == reference.event == market.bars
    assert kernel.equity.min() < 0
    assert np.all(kernel.ratio == 0.0)
    _assert_same(kernel, reference)


@pytest.mark.parametrize(
    ("wallet", "modes", "survives"),
    [(12_000.0, CROSS, True), (6_000.0, CROSS, False), (12_000.0, MIXED, False)],
    ids=["cross-survives", "cross-breaches", "mixed-breaches"],
)
def test_okx_health_ratio_account_through_the_crash(
    wallet: float, modes: tuple[MarginMode, MarginMode, MarginMode], survives: bool
) -> None:
    # Arrange: BTC long 0.5, ETH short 10, SOL long 200 at 5x on OKX, which shows margin balance /
    # requirement (health); both scans report requirement / balance.
    rules, market = get_rules("okx"), _market("okx")
    btc, eth, sol = (float(x) for x in market.mark_close[0])
    positions = (
        Position(symbol="BTC-USDT-SWAP", side=Side.LONG, size=0.5, entry_price=btc, leverage=5, mode=modes[0]),
        Position(
            symbol="ETH-USDT-SWAP",
            side=Side.SHORT,
            size=10.0,
            entry_price=eth,
            leverage=5,
            mode=modes[1],
            isolated_margin=10.0 * eth / 5 if modes[1] is MarginMode.ISOLATED else None,
        ),
        Position(symbol="SOL-USDT-SWAP", side=Side.LONG, size=200.0, entry_price=sol, leverage=5, mode=modes[2]),
    )
    isolated = sum(p.isolated_margin or 0.0 for p in positions)
    account = Account(venue="okx", wallet_balance=wallet + isolated, positions=positions)
    # Act
    kernel, reference = _both(account, rules, market)
    # Assert: the same bar; the ratio is R / E against the reference's 1 / (E / R), which no kernel can
    # match bit for bit (two roundings apart), so it is held to the 1e-12 of every series.
    assert (kernel.event == market.bars) is survives
    _assert_same(kernel, reference)


def test_an_ill_conditioned_hedge_is_summed_exactly() -> None:
    # Arrange: cross hedge legs of 100 BTC each, entries 0.01 apart, around 0.001 ETH long, on a 1 USDT
    # wallet, with zero-rate brackets (nothing required, never liquidated). Each BTC leg's PnL reaches
    # ~1.6M while the margin balance stays near 1 + 100 x 0.01 = 2: summed plainly in position order, the
    # first leg's rounding (~1e-10) would survive the cancellation, far beyond the 1e-12 of the series.
    free = (Bracket(floor=0.0, cap=math.inf, mm_rate=0.0, maint_amount=0.0, max_leverage=125),)
    rules = get_rules("binance").with_brackets({"BTCUSDT": free, "ETHUSDT": free})
    market = _market()
    btc, eth = float(market.mark_close[0, 0]), float(market.mark_close[0, 1])
    positions = (
        Position(symbol="BTCUSDT", side=Side.LONG, size=100.0, entry_price=btc, leverage=125, position_side="long"),
        Position(symbol="ETHUSDT", side=Side.LONG, size=0.001, entry_price=eth, leverage=1),
        Position(
            symbol="BTCUSDT", side=Side.SHORT, size=100.0, entry_price=btc + 0.01, leverage=125, position_side="short"
        ),
    )
    account = Account(venue="binance", wallet_balance=1.0, positions=positions)
    eth_pnl = 0.001 * (market.mark_close[:, 1] - eth)
    # Act
    kernel, reference = _both(account, rules, market)
    # Assert
    assert kernel.event == reference.event == market.bars
    np.testing.assert_allclose(kernel.equity, 2.0 + eth_pnl, rtol=1e-9)  # up to the rounding of 0.01
    _assert_same(kernel, reference)


# layout and inputs -------------------------------------------------------------------------------------


def test_pack_book_pads_schedules_and_groups_pools() -> None:
    # Arrange: Binance BTCUSDT has 12 brackets and SOLUSDT 10; ETH is the one isolated position.
    rules, market = get_rules("binance"), _market()
    account = _case_study(50_000.0, MIXED)
    # Act
    book: BookArrays = pack_book(account, rules, market, triggers=(Trigger("ETHUSDT", 4_000.0, 1),))
    # Assert
    sol = rules.instrument("SOLUSDT").brackets
    assert book.caps.shape == (3, 12)
    assert list(book.caps[2, :10]) == [b.cap for b in sol]
    assert np.all(np.isinf(book.caps[2, 10:]))
    assert np.all(book.mm_rates[2, 9:] == sol[-1].mm_rate)
    assert np.all(book.maint_amounts[2, 9:] == sol[-1].maint_amount)
    assert list(book.pool) == [0, 1, 0]
    assert list(book.pool_members) == [0, 2, 1]
    assert list(book.pool_offsets) == [0, 2, 3]
    assert list(book.pool_wallet) == [account.cross_wallet_balance, account.positions[1].isolated_margin]
    assert book.wallet_balance == account.wallet_balance
    assert list(book.extreme) == [EXTREME_LOW, EXTREME_HIGH, EXTREME_LOW]
    assert (book.positions, book.pools) == (3, 2)
    assert (list(book.trigger_column), list(book.trigger_direction)) == ([1], [1])


def test_pack_book_names_a_symbol_missing_from_the_market() -> None:
    account = Account(
        venue="binance",
        wallet_balance=1_000.0,
        positions=(Position(symbol="DOGEUSDT", side=Side.LONG, size=100.0, entry_price=0.1, leverage=2),),
    )
    with pytest.raises(DataError, match="no bars for 'DOGEUSDT'"):
        pack_book(account, get_rules("binance"), _market())


def test_scan_refuses_a_book_packed_for_other_columns_and_a_span_outside_the_bars() -> None:
    book = pack_book(_case_study(50_000.0, CROSS), get_rules("binance"), _market())
    with pytest.raises(InputError, match="the columns the book was packed for"):
        scan(book, _market("okx"), start=0, stop=10)
    with pytest.raises(InputError, match=r"stop: .* \(allowed: 0 \.\. 528\)"):
        scan(book, _market(), start=0, stop=529)
    with pytest.raises(InputError, match=r"start: -1"):
        scan(book, _market(), start=-1, stop=10)


def test_an_empty_span_returns_stop_like_the_reference() -> None:
    rules, market = get_rules("binance"), _market()
    for start, stop in [(10, 10), (10, 5)]:
        kernel, reference = _both(_case_study(50_000.0, CROSS), rules, market, start=start, stop=stop)
        assert kernel.event == reference.event == stop
        assert len(kernel.equity) == len(reference.equity) == 0
