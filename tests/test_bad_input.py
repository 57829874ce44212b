"""Bad input to ``crossmargin check``: one line on stderr naming the field and what is allowed, exit code 2.

Each case writes a portfolio file that differs from a valid one in exactly one place, so that the error
can only come from that place.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossmargin.cli import app

RUNNER = CliRunner()

VALID = """\
venue = "binance"
wallet_balance = 10000
[[positions]]
symbol = "BTCUSDT"
side = "long"
size = 0.5
entry_price = 60000
leverage = 10
margin_mode = "cross"
[marks]
BTCUSDT = 61000
"""


def _run(tmp_path: Path, text: str, *extra: str) -> tuple[int, str, str]:
    path = tmp_path / "portfolio.toml"
    path.write_text(text, encoding="utf-8")
    result = RUNNER.invoke(app, ["check", str(path), *extra])
    return result.exit_code, result.stdout, result.stderr


def _assert_one_line_error(code: int, stdout: str, stderr: str, *expected: str) -> None:
    assert code == 2, (code, stdout, stderr)
    assert stdout == ""
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])


def test_valid_file_passes(tmp_path: Path) -> None:
    code, stdout, stderr = _run(tmp_path, VALID, "--json")
    assert code == 0, stderr
    assert '"BTCUSDT"' in stdout


def test_missing_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["check", str(tmp_path / "absent.toml")])
    _assert_one_line_error(result.exit_code, result.stdout, result.stderr, "file:", "no such file", "absent.toml")


def test_directory_instead_of_file(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["check", str(tmp_path)])
    _assert_one_line_error(result.exit_code, result.stdout, result.stderr, "file:", "readable UTF-8 TOML file")


def test_invalid_toml(tmp_path: Path) -> None:
    _assert_one_line_error(*_run(tmp_path, VALID + "leverage = = 3\n"), "file:", "invalid TOML", "valid TOML")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    result = RUNNER.invoke(app, ["check", str(path)])
    _assert_one_line_error(result.exit_code, result.stdout, result.stderr, "file:", "UTF-8")


def _swap(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


CASES = {
    "unknown venue in file": (_swap('venue = "binance"', 'venue = "kraken"'), ("venue:", "kraken", "binance")),
    "venue not a string": (_swap('venue = "binance"', "venue = 3"), ("venue:", "not a string")),
    "unknown symbol": (
        _swap('symbol = "BTCUSDT"', 'symbol = "BTCUSDX"'),
        ("positions[0].symbol:", "did you mean BTCUSDT"),
    ),
    "symbol not a string": (_swap('symbol = "BTCUSDT"', "symbol = 1"), ("positions[0].symbol:", "not a string")),
    "side not long/short": (_swap('side = "long"', 'side = "buy"'), ("positions[0].side:", "'buy'", "long", "short")),
    "zero size": (_swap("size = 0.5", "size = 0"), ("positions[0].size:", "> 0")),
    "negative size": (_swap("size = 0.5", "size = -0.5"), ("positions[0].size:", "> 0")),
    "size as a string": (_swap("size = 0.5", 'size = "0.5"'), ("positions[0].size:", "number")),
    "size as a bool": (_swap("size = 0.5", "size = true"), ("positions[0].size:", "number")),
    "NaN entry price": (_swap("entry_price = 60000", "entry_price = nan"), ("positions[0].entry_price:", "finite")),
    "infinite entry price": (
        _swap("entry_price = 60000", "entry_price = inf"),
        ("positions[0].entry_price:", "finite"),
    ),
    "negative entry price": (
        _swap("entry_price = 60000", "entry_price = -60000"),
        ("positions[0].entry_price:", "> 0"),
    ),
    "negative mark": (_swap("BTCUSDT = 61000", "BTCUSDT = -61000"), ("marks.BTCUSDT:", "> 0")),
    "NaN mark": (_swap("BTCUSDT = 61000", "BTCUSDT = nan"), ("marks.BTCUSDT:", "finite")),
    "leverage below 1": (_swap("leverage = 10", "leverage = 0.5"), ("positions[0].leverage:", "1")),
    "zero leverage": (_swap("leverage = 10", "leverage = 0"), ("positions[0].leverage:", "> 0")),
    "leverage above the first bracket's cap": (
        _swap("leverage = 10", "leverage = 200"),
        ("positions[0].leverage:", "200", "1..150 for BTCUSDT"),
    ),
    "leverage above the cap of a larger bracket": (
        # 20 BTC at 60,000 USDT is 1.2M notional: Binance's bracket 800k..3M caps leverage at 75x.
        _swap("size = 0.5", "size = 20").replace("leverage = 10", "leverage = 100"),
        ("positions[0].leverage:", "1..75 for BTCUSDT at notional 1,200,000.00"),
    ),
    "fractional leverage": (_swap("leverage = 10", "leverage = 10.5"), ("positions[0].leverage:", "integer")),
    "unknown margin mode": (
        _swap('margin_mode = "cross"', 'margin_mode = "portfolio"'),
        ("positions[0].margin_mode:", "cross", "isolated"),
    ),
    "missing mark": (_swap("BTCUSDT = 61000", ""), ("marks.BTCUSDT:", "missing")),
    "mark for an unknown symbol": (VALID + "BTCUSDX = 1\n", ("marks.BTCUSDX:", "did you mean BTCUSDT")),
    "marks not a table": (
        VALID.split("[marks]", maxsplit=1)[0].replace('venue = "binance"', 'venue = "binance"\nmarks = 3'),
        ("marks:", "table"),
    ),
    "isolated_margin on a cross position": (
        _swap('margin_mode = "cross"', 'margin_mode = "cross"\nisolated_margin = 500'),
        ("positions[0].isolated_margin:", "isolated"),
    ),
    "negative isolated_margin": (
        _swap('margin_mode = "cross"', 'margin_mode = "isolated"\nisolated_margin = -5'),
        ("positions[0].isolated_margin:", "> 0"),
    ),
    "isolated margins above the wallet": (
        _swap('margin_mode = "cross"', 'margin_mode = "isolated"\nisolated_margin = 20000'),
        ("wallet_balance:", "20,000.00"),
    ),
    "duplicate symbol": (
        VALID.replace(
            "[marks]",
            '[[positions]]\nsymbol = "BTCUSDT"\nside = "short"\nsize = 1\nentry_price = 60000\nleverage = 5\n[marks]',
        ),
        ("positions[1].symbol:", "BTCUSDT", "one-way"),
    ),
    "unknown position key": (_swap("size = 0.5", "sise = 0.5"), ("positions[0].sise:", "did you mean size")),
    "missing position key": (_swap("size = 0.5\n", ""), ("positions[0].size:", "missing")),
    "unknown top-level key": (
        VALID.replace("wallet_balance", "walet_balance"),
        ("walet_balance:", "did you mean wallet_balance"),
    ),
    "missing wallet balance": (_swap("wallet_balance = 10000\n", ""), ("wallet_balance:", "missing")),
    "negative wallet balance": (_swap("wallet_balance = 10000", "wallet_balance = -1"), ("wallet_balance:", ">= 0")),
    "positions not an array": (
        "wallet_balance = 10000\npositions = 3\n[marks]\nBTCUSDT = 1\n",
        ("positions:", "array of tables"),
    ),
    "position not a table": (
        "wallet_balance = 10000\npositions = [3]\n",
        ("positions[0]:", "table"),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_portfolio(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    _assert_one_line_error(*_run(tmp_path, text), *expected)


@pytest.mark.parametrize("flags", [[], ["--json"], ["--compare"], ["--compare", "--json"]])
def test_errors_are_the_same_under_every_flag(tmp_path: Path, flags: list[str]) -> None:
    _assert_one_line_error(*_run(tmp_path, _swap("size = 0.5", "size = -1"), *flags), "positions[0].size:")


def test_unknown_venue_option(tmp_path: Path) -> None:
    _assert_one_line_error(*_run(tmp_path, VALID, "--venue", "bitmex"), "venue:", "bitmex", "binance")


def test_unknown_venue_option_names_near_match(tmp_path: Path) -> None:
    _assert_one_line_error(*_run(tmp_path, VALID, "--venue", "binanse"), "venue:", "did you mean binance")


def test_isolated_compare_that_the_wallet_cannot_fund(tmp_path: Path) -> None:
    # 0.5 BTC at 60,000 and 1x needs 30,000 USDT isolated; a 10,000 USDT wallet holds it only in cross.
    text = _swap("leverage = 10", "leverage = 1")
    code, _, stderr = _run(tmp_path, text)
    assert code == 0, stderr
    _assert_one_line_error(*_run(tmp_path, text, "--compare"), "wallet_balance:")


def test_nan_never_reaches_output(tmp_path: Path) -> None:
    code, stdout, _ = _run(tmp_path, _swap("BTCUSDT = 61000", "BTCUSDT = nan"), "--json")
    assert code == 2
    assert "NaN" not in stdout


PER_VENUE = {
    # venue: (valid symbol, entry price, the venue's leverage cap for a small position, a symbol it does not list)
    "bybit": ("BTCUSDT", 60_000, 100, "SOLUSDT"),
    "okx": ("BTC-USDT-SWAP", 60_000, 100, "BTCUSDT"),
    "hyperliquid": ("BTC", 60_000, 40, "BTCUSDT"),
}


def _venue_file(venue: str, **overrides: object) -> str:
    symbol, entry, _, _ = PER_VENUE[venue]
    values: dict[str, object] = {"symbol": symbol, "leverage": 10, "size": 0.5, "extra": ""} | overrides
    return f"""venue = "{venue}"
wallet_balance = 10000
[[positions]]
symbol = "{values["symbol"]}"
side = "long"
size = {values["size"]}
entry_price = {entry}
leverage = {values["leverage"]}
{values["extra"]}
[marks]
{values["symbol"]} = {entry}
"""


@pytest.mark.parametrize("venue", sorted(PER_VENUE))
def test_each_venue_accepts_its_own_symbol(tmp_path: Path, venue: str) -> None:
    code, _, stderr = _run(tmp_path, _venue_file(venue), "--json")
    assert code == 0, stderr


@pytest.mark.parametrize("venue", sorted(PER_VENUE))
def test_symbol_not_listed_on_that_venue(tmp_path: Path, venue: str) -> None:
    foreign = PER_VENUE[venue][3]
    code, stdout, stderr = _run(tmp_path, _venue_file(venue, symbol=foreign))
    _assert_one_line_error(code, stdout, stderr, "positions[0].symbol:", f"unknown symbol {foreign!r} on {venue}")
    assert "did you mean" in stderr or "allowed: BTCUSDT, ETHUSDT" in stderr  # a near match, or the short list


@pytest.mark.parametrize("venue", sorted(PER_VENUE))
def test_leverage_above_that_venues_cap(tmp_path: Path, venue: str) -> None:
    cap = PER_VENUE[venue][2]
    _assert_one_line_error(
        *_run(tmp_path, _venue_file(venue, leverage=cap + 1)), "positions[0].leverage:", f"1..{cap} for"
    )


def test_venue_option_switches_the_symbol_table(tmp_path: Path) -> None:
    # The Binance case study names BTCUSDT; on OKX that symbol is BTC-USDT-SWAP.
    _assert_one_line_error(*_run(tmp_path, VALID, "--venue", "okx"), "positions[0].symbol:", "BTC-USDT-SWAP")


def test_bybit_leverage_step(tmp_path: Path) -> None:
    _assert_one_line_error(
        *_run(tmp_path, _venue_file("bybit", leverage=10.005)), "positions[0].leverage:", "multiple of 0.01"
    )


def test_hedge_leg_on_a_venue_without_hedge_mode(tmp_path: Path) -> None:
    text = _venue_file("hyperliquid", extra='position_side = "long"')
    _assert_one_line_error(*_run(tmp_path, text), "positions[0].position_side:", "no hedge mode")


def test_position_side_against_side(tmp_path: Path) -> None:
    text = _venue_file("okx", extra='position_side = "short"')
    _assert_one_line_error(*_run(tmp_path, text), "positions[0].position_side:", "does not match side")


def test_okx_size_beyond_the_shipped_tiers(tmp_path: Path) -> None:
    # BTC-USDT-SWAP: only tier 1 (1,000 contracts = 10 BTC) is shipped; the engine never extrapolates.
    _assert_one_line_error(*_run(tmp_path, _venue_file("okx", size=12, leverage=5)), "positions[0]", "BTC-USDT-SWAP")
