"""No number past a venue's table: positions beyond the last tier are refused, roots beyond it are null.

One rule for every venue (``Instrument.bracket_for``): a tier value (notional at the mark, or size on
OKX) at or past the cap of the last shipped tier raises ``BeyondTableError`` with that cap, the table's
``as_of`` and the command that refreshes it. A liquidation price that would carry the notional past the
last bracket is reported as null with ``liquidation_note``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin import get_rules
from crossmargin.cli import app
from crossmargin.errors import BeyondTableError
from crossmargin.margin import evaluate
from crossmargin.margin.liquidation import BEYOND_LAST_BRACKET, NO_REQUIREMENT, Leg, solve_pool_root
from crossmargin.model import Account, Marks, Position, Side
from crossmargin.venues.base import VenueRules

RUNNER = CliRunner()


def _book(venue: str, symbol: str, size: float, entry: float, mark: float, *, wallet: float = 1e9) -> str:
    return (
        f'venue = "{venue}"\nwallet_balance = {wallet}\n[[positions]]\nsymbol = "{symbol}"\nside = "long"\n'
        f"size = {size}\nentry_price = {entry}\nleverage = 1\n[marks]\n{symbol} = {mark}\n"
    )


def _check(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "book.toml"
    path.write_text(text, encoding="utf-8")
    result = RUNNER.invoke(app, ["check", str(path), *extra])
    return result.exit_code, result.stdout, result.stderr


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(("venue", "symbol"), [("binance", "BTCUSDT"), ("bybit", "BTCUSDT"), ("okx", "BTC-USDT-SWAP")])
def test_every_venue_refuses_a_tier_value_past_its_last_tier(venue: str, symbol: str) -> None:
    instrument = get_rules(venue).instrument(symbol)
    last = instrument.brackets[-1]
    assert instrument.bracket_for(last.cap * (1 - 1e-9)) == last
    with pytest.raises(BeyondTableError) as caught:
        instrument.bracket_for(last.cap, field="positions[3].size")
    error = caught.value
    assert (error.field, error.cap, error.symbol, error.venue) == ("positions[3].size", last.cap, symbol, venue)
    assert error.as_of == instrument.as_of != ""
    assert f"crossmargin venues refresh --venue {venue}" in str(error)


def test_an_open_ended_table_has_no_cap() -> None:
    instrument = get_rules("hyperliquid").instrument("BTC")
    assert instrument.last_cap == math.inf
    assert instrument.bracket_for(1e15) == instrument.brackets[-1]


def test_bybit_position_past_the_shipped_eth_table_exits_2_with_the_cap(tmp_path: Path) -> None:
    instrument = get_rules("bybit").instrument("ETHUSDT")
    size = instrument.last_cap * 1.5 / 2_500
    code, stdout, stderr = _check(tmp_path, _book("bybit", "ETHUSDT", size, 2_500, 2_500), "--json")
    assert (code, stdout) == (2, "")
    line = _one_line(stderr)
    assert "positions[0].size" in line
    assert f"cap {instrument.last_cap:,.2f} USDT" in line
    assert f"as of {instrument.as_of}" in line
    assert "crossmargin venues refresh --venue bybit" in line


def test_bybit_btc_past_its_last_risk_limit_is_refused(tmp_path: Path) -> None:
    code, _, stderr = _check(tmp_path, _book("bybit", "BTCUSDT", 1_000, 100_000, 100_000))  # 100M > 80M
    assert code == 2
    assert "cap 80,000,000.00 USDT" in _one_line(stderr)


def test_a_mark_that_carries_the_notional_past_the_table_is_refused(tmp_path: Path) -> None:
    # 0.9 of Binance BTCUSDT's last cap at entry (allowed), twice that at the mark (past it).
    cap = get_rules("binance").instrument("BTCUSDT").last_cap
    size = 0.9 * cap / 100_000
    code, _, stderr = _check(tmp_path, _book("binance", "BTCUSDT", size, 100_000, 200_000))
    assert code == 2
    line = _one_line(stderr)
    assert "positions[0].size" in line
    assert f"cap {cap:,.2f} USDT" in line


def test_okx_size_past_the_last_tier_is_refused_by_the_same_rule(tmp_path: Path) -> None:
    instrument = get_rules("okx").instrument("BTC-USDT-SWAP")
    size = instrument.last_cap * 2  # BTC base units; OKX tiers by size
    code, _, stderr = _check(tmp_path, _book("okx", "BTC-USDT-SWAP", size, 80_000, 80_000))
    assert code == 2
    assert f"cap {instrument.last_cap:,.2f} BTC" in _one_line(stderr)


HEDGED_PAIR = """\
venue = "binance"
wallet_balance = 25000
[[positions]]
symbol = "BTCUSDT"
side = "long"
size = 0.4
entry_price = 78610.70
leverage = 10
position_side = "long"
[[positions]]
symbol = "BTCUSDT"
side = "short"
size = 0.15
entry_price = 78610.70
leverage = 10
position_side = "short"
[marks]
BTCUSDT = 78610.70
"""


def test_nearly_hedged_pair_has_no_absurd_liquidation_price(tmp_path: Path) -> None:
    # Its formula has one root, near 33.7 billion USDT, where the notional is far past every bracket.
    code, stdout, stderr = _check(tmp_path, HEDGED_PAIR, "--json")
    assert code == 0, stderr
    positions = json.loads(stdout)["positions"]
    for position in positions:
        assert position["liquidation_price"] is None
        assert position["distance_to_liquidation"] is None
        assert position["liquidation_note"] == BEYOND_LAST_BRACKET
    code, stdout, _ = _check(tmp_path, HEDGED_PAIR)
    assert code == 0
    assert "33,718" not in stdout


def test_root_past_the_last_bracket_is_null_with_a_note(binance: VenueRules) -> None:
    brackets = binance.instrument("BTCUSDT").brackets
    # a short whose wallet carries it to 3x the last cap's price: its root is past the table
    cap_price = brackets[-1].cap / 1.0
    root = solve_pool_root([Leg(Side.SHORT, 1.0, 1_000.0, brackets)], 3 * cap_price, 1_000.0)
    assert (root.price, root.note) == (None, BEYOND_LAST_BRACKET)
    # the same pool with an open-ended schedule has a price, and no note
    open_ended = solve_pool_root([Leg(Side.SHORT, 1.0, 1_000.0, NO_REQUIREMENT)], 3 * cap_price, 1_000.0)
    assert open_ended.price == pytest.approx(1_000.0 + 3 * cap_price)
    assert open_ended.note is None
    # no root at all: no price, and no note either
    assert solve_pool_root([Leg(Side.LONG, 1.0, 1_000.0, brackets)], 10_000.0, 1_000.0).note is None


def test_a_pool_already_past_liquidation_reports_its_price_with_a_negative_distance(binance: VenueRules) -> None:
    # docs/margin.md: the price is kept and the distance is negative (the mark is on the wrong side).
    long = Position(symbol="BTCUSDT", side=Side.LONG, size=1.0, entry_price=60_000.0, leverage=10)
    account = Account(venue="binance", wallet_balance=5_000.0, positions=(long,))
    risk = evaluate(account, Marks({"BTCUSDT": 50_000.0}), binance)
    (position,) = risk.positions
    assert position.liquidation_price is not None
    assert position.liquidation_price > 50_000.0
    assert position.distance_to_liquidation is not None
    assert position.distance_to_liquidation < 0
    assert position.liquidation_note is None
    assert risk.account.margin_ratio >= 1  # the pool is in breach
