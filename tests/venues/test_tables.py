"""crossmargin.venues.tables: conversion and validation of the venues' recorded answers, the user's table folder,
which table the engine reads, and the staleness warning.

The answers converted here are the recorded ones in ``tests/data/venues/`` (sources in its ``PROVENANCE.md``);
where a test needs a table that fails, it changes one field of a recorded or shipped entry and says which.
"""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from crossmargin.errors import DataError
from crossmargin.venues import binance as binance_module
from crossmargin.venues import bybit as bybit_module
from crossmargin.venues import get_rules, tables
from crossmargin.venues import hyperliquid as hyperliquid_module
from crossmargin.venues import okx as okx_module
from crossmargin.venues.tables import (
    TIER_FILES,
    ConvertedTable,
    check_refresh,
    convert_binance,
    convert_bybit,
    convert_hyperliquid,
    convert_okx,
    read_table,
    shipped_table,
    stale_warning,
    table_origin,
    table_payload,
    table_problems,
    validate_entry,
    warn_if_stale,
    write_table,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "venues"
LIVE = Path(__file__).resolve().parent.parent / "data" / "live"
AS_OF = "2026-12-01"
LOADERS = (binance_module._load, bybit_module._load, okx_module._load, hyperliquid_module._load)


def recorded(name: str) -> Any:
    """Return the recorded answer ``tests/data/venues/<name>``."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def clear_loaders() -> None:
    """Forget the cached rules, so that the next ``get_rules`` reads the tables again."""
    for load in LOADERS:
        load.cache_clear()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh ``$CROSSMARGIN_DATA_DIR``; the rules are re-read before and after, warnings off and forgotten."""
    monkeypatch.setenv("CROSSMARGIN_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(tables, "_warnings", tables._WarningState())
    clear_loaders()
    yield tmp_path
    clear_loaders()


def converted_all() -> dict[str, ConvertedTable]:
    """Return each venue's recorded answer converted, as a refresh would on the day ``AS_OF``."""
    okx_tiers = recorded("okx/position_tiers_swap.json")["data"]
    return {
        "binance": convert_binance(recorded("binance/leverage_bracket.json"), as_of=AS_OF),
        "bybit": convert_bybit(recorded("bybit/risk_limit_linear.json")["result"]["list"], as_of=AS_OF),
        "okx": convert_okx(
            recorded("okx/instruments_swap.json")["data"], {"BTC-USDT": okx_tiers, "ETH-USDT": okx_tiers}, as_of=AS_OF
        ),
        "hyperliquid": convert_hyperliquid(recorded("hyperliquid/meta.json"), as_of=AS_OF),
    }


# -- conversion of the recorded answers --------------------------------------------------------------------------


def test_binance_answer_becomes_the_shipped_layout() -> None:
    # Act
    table = convert_binance(recorded("binance/leverage_bracket.json"), as_of=AS_OF)

    # Assert
    assert len(table.symbols) == 14
    assert table.skipped == 1  # BTCUSDT_240927, a delivery contract
    assert table.dropped == ()
    btc = table.symbols["BTCUSDT"]
    assert (btc["base"], btc["quote"], btc["as_of"]) == ("BTC", "USDT", AS_OF)
    # the recorded rows: [notionalFloor, notionalCap, maintMarginRatio, cum, initialLeverage]
    assert btc["brackets"][0] == [0.0, 50000.0, 0.004, 0.0, 125]
    assert btc["brackets"][3] == [3_000_000.0, 12_000_000.0, 0.01, 11_450.0, 50]
    assert btc["brackets"][-1] == [1_200_000_000.0, 1_800_000_000.0, 0.5, 421_481_450.0, 1]
    assert table.symbols["BOMEUSDC"]["quote"] == "USDC"
    assert table.symbols["BTCSTUSDT"]["brackets"][-1][1] == 9223372036854775807.0  # the venue's "no cap"


def test_binance_docs_example_notes_the_account_multiplier_and_lacks_btc() -> None:
    # Act
    table = convert_binance(recorded("binance/leverage_bracket_docs.json"), as_of=AS_OF)

    # Assert
    assert list(table.symbols) == ["ETHUSDT"]
    assert table.notes == ("notionalCoef set (the key's account has its own brackets) for: ETHUSDT",)
    with pytest.raises(DataError, match=r"^BTCUSDT is missing from the answer$"):
        check_refresh(table)


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("cum", None, "missing field 'cum'"),
        ("cum", "x", "cum 'x' is not a number"),
        ("cum", "inf", "cum 'inf' is not finite"),
        ("notionalCap", True, "notionalCap True is not a number"),
    ],
)
def test_a_bad_binance_field_drops_that_symbol_only(field: str, value: Any, reason: str) -> None:
    # Arrange: one field of C98USDT's recorded bracket 2 removed or replaced
    answer = recorded("binance/leverage_bracket.json")
    row = next(item for item in answer if item["symbol"] == "C98USDT")["brackets"][1]
    if value is None:
        del row[field]
    else:
        row[field] = value

    # Act
    table = convert_binance(answer, as_of=AS_OF)

    # Assert
    assert table.dropped == (("C98USDT", reason),)
    assert "C98USDT" not in table.symbols
    assert len(table.symbols) == 13
    check_refresh(table)  # one dropped symbol may go


def test_bybit_answer_takes_the_deduction_and_drops_a_symbol_without_one() -> None:
    # Arrange
    rows = recorded("bybit/risk_limit_linear.json")["result"]["list"]
    orphan = [{**row, "symbol": "XUSDT"} for row in copy.deepcopy(rows)]
    orphan[1]["mmDeduction"] = ""  # tier 2 of a copy of the recorded ladder, its deduction removed

    # Act
    table = convert_bybit(rows + orphan, as_of=AS_OF)

    # Assert
    assert table.symbols["BTCUSDT"]["brackets"] == [
        [0.0, 300000.0, 0.0033, 0.0, 150],
        [300000.0, 2000000.0, 0.005, 510.0, 100],
    ]
    assert table.dropped == (("XUSDT", "tier 2 has no mmDeduction"),)


def test_bybit_docs_example_is_inverse_and_holds_no_usdt_perpetual() -> None:
    # Act
    table = convert_bybit(recorded("bybit/risk_limit_docs_inverse.json")["result"]["list"], as_of=AS_OF)

    # Assert
    assert (table.symbols, table.skipped) == ({}, 1)
    with pytest.raises(DataError, match=r"^the answer held no valid bybit perpetual$"):
        check_refresh(table)


def test_okx_answer_keeps_linear_usdt_swaps_with_their_contract_value() -> None:
    # Act
    table = converted_all()["okx"]

    # Assert
    assert table.skipped == 1  # BTC-USD-SWAP is inverse
    btc = table.symbols["BTC-USDT-SWAP"]
    assert (btc["base"], btc["contract_value"], btc["tiers"]) == ("BTC", 0.01, [[0, 1000, 0.004, 0.01, 100]])
    assert table.symbols["ETH-USDT-SWAP"]["tiers"] == [[0, 5000, 0.004, 0.01, 100]]  # rows of BTC-USDT are ignored


def test_okx_refusal_gap_and_empty_answer_drop_the_swap() -> None:
    # Arrange
    instruments = recorded("okx/instruments_swap.json")["data"]
    refused = recorded("okx/position_tiers_unknown_family.json")["msg"]
    btc_tier = recorded("okx/position_tiers_swap.json")["data"][0]
    gap = [btc_tier, {**btc_tier, "tier": "2", "minSz": "1002", "maxSz": "2000"}]  # tier 2 should start at 1001
    suspended = [{**inst, "state": "suspend"} for inst in instruments[1:2]]

    # Act
    table = convert_okx(instruments[:1] + suspended, {"BTC-USDT": gap}, as_of=AS_OF)
    no_rows = convert_okx(instruments[:2], {"BTC-USDT": refused}, as_of=AS_OF)

    # Assert
    assert table.dropped == (("BTC-USDT-SWAP", "tier 2 starts at 1002 contracts, after 1000: a gap or overlap"),)
    assert table.skipped == 1
    assert no_rows.dropped == (
        ("BTC-USDT-SWAP", "position-tiers refused: Parameter instFamily error"),
        ("ETH-USDT-SWAP", "no position tiers returned for ETH-USDT"),
    )


def test_okx_contiguous_tiers_are_recorded_min_equals_previous_max() -> None:
    # Arrange: the recorded tier 1 and a tier 2 starting at maxSz + 1, as OKX numbers them
    btc_tier = recorded("okx/position_tiers_swap.json")["data"][0]
    rows = [{**btc_tier, "tier": "2", "minSz": "1001", "maxSz": "2000", "mmr": "0.005", "maxLever": "75"}, btc_tier]

    # Act
    table = convert_okx(recorded("okx/instruments_swap.json")["data"][:1], {"BTC-USDT": rows}, as_of=AS_OF)

    # Assert
    assert table.symbols["BTC-USDT-SWAP"]["tiers"] == [[0, 1000, 0.004, 0.01, 100], [1000, 2000, 0.005, 0.01, 75]]
    assert table.symbols["BTC-USDT-SWAP"]["explicit_tiers"] == 2


def test_hyperliquid_answer_resolves_margin_tables_and_leaves_delisted_out() -> None:
    # Act
    table = converted_all()["hyperliquid"]

    # Assert
    assert table.skipped == 1  # MATIC, delisted
    assert {symbol: entry["margin_tiers"] for symbol, entry in table.symbols.items()} == {
        "ATOM": [[0, 5]],  # table 5: one tier at 5x
        "BTC": [[0, 40], [150000000, 20]],
        "DYDX": [[0, 5]],
        "ETH": [[0, 25], [100000000, 15]],
        "SOL": [[0, 20], [70000000, 10]],
    }


def test_hyperliquid_unknown_table_disagreeing_leverage_and_no_table_id() -> None:
    # Arrange: the recorded meta with SOL pointed at a table it does not hold and ETH claiming 50x; the docs'
    # metaAndAssetCtxs example (tests/data/live) predates margin tables
    meta = recorded("hyperliquid/meta.json")
    meta["universe"][5]["marginTableId"] = 57
    meta["universe"][1]["maxLeverage"] = 50
    docs_meta = json.loads((LIVE / "hyperliquid" / "meta_and_asset_ctxs.json").read_text(encoding="utf-8"))[0]

    # Act
    table = convert_hyperliquid(meta, as_of=AS_OF)
    docs = convert_hyperliquid(docs_meta, as_of=AS_OF)

    # Assert
    assert table.dropped == (
        ("ETH", "margin table 55 does not start at the asset's max leverage 50"),
        ("SOL", "margin table 57 is not in the answer"),
    )
    assert {symbol: entry["margin_tiers"] for symbol, entry in docs.symbols.items()} == {
        "BTC": [[0, 50]],
        "ETH": [[0, 50]],
        "HPOS": [[0, 3]],
    }


# -- validation ----------------------------------------------------------------------------------------------


def _binance_btc() -> dict[str, Any]:
    return copy.deepcopy(dict(converted_all()["binance"].symbols["BTCUSDT"]))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda e: e.pop("base"), "no base"),
        (lambda e: e.update(brackets=[]), "no brackets"),
        (lambda e: e["brackets"][2].pop(), "tier 3 is not a row of 5 finite numbers"),
        (lambda e: e["brackets"][2].__setitem__(2, float("nan")), "tier 3 is not a row of 5 finite numbers"),
        (lambda e: e["brackets"][2].__setitem__(4, True), "tier 3 is not a row of 5 finite numbers"),
        (lambda e: e["brackets"][0].__setitem__(0, 10.0), "tier 1 starts at 10, not at 0: a gap or overlap"),
        (lambda e: e["brackets"][1].__setitem__(0, 60000.0), "tier 2 starts at 60000, not at 50000"),
        (lambda e: e["brackets"][0].__setitem__(1, 0.0), "tier 1: cap 0 is not above its floor 0"),
        (lambda e: e["brackets"][0].__setitem__(2, 0.0), "tier 1: maintenance rate 0 is not in (0, 1)"),
        (lambda e: e["brackets"][-1].__setitem__(4, 0.5), "tier 12: max leverage 0.5 is below 1"),
        (lambda e: e["brackets"][1].__setitem__(2, 0.003), "tier 2: maintenance rate 0.003 falls below tier 1's"),
        (lambda e: e["brackets"][1].__setitem__(4, 200), "tier 2: max leverage 200 rises above tier 1's"),
        (lambda e: e["brackets"][2].__setitem__(3, 951.0), "BTCUSDT bracket 3: maintenance amount 951.0 != 949.99"),
    ],
)
def test_validation_names_what_is_wrong(change: Any, reason: str) -> None:
    # Arrange: the recorded BTCUSDT brackets with one change
    entry = _binance_btc()
    change(entry)

    # Act / Assert
    with pytest.raises(ValueError, match=r"^" + reason.replace("(", r"\(").replace(")", r"\)")):
        validate_entry("binance", "BTCUSDT", entry)


def test_validation_of_okx_and_hyperliquid_rows() -> None:
    # Arrange
    okx = dict(converted_all()["okx"].symbols["BTC-USDT-SWAP"])
    hyperliquid = dict(converted_all()["hyperliquid"].symbols["BTC"])

    # Act / Assert
    validate_entry("okx", "BTC-USDT-SWAP", okx)
    validate_entry("hyperliquid", "BTC", hyperliquid)
    with pytest.raises(ValueError, match=r"^entry is not an object$"):
        validate_entry("okx", "BTC-USDT-SWAP", [])
    with pytest.raises(ValueError, match=r"^contract_value is not a positive number$"):
        validate_entry("okx", "BTC-USDT-SWAP", {**okx, "contract_value": 0})
    with pytest.raises(ValueError, match=r"^tier 2: max leverage 0.5 is below 1$"):
        validate_entry("hyperliquid", "BTC", {**hyperliquid, "margin_tiers": [[0, 40], [150000000, 0.5]]})
    with pytest.raises(ValueError, match=r"^tier 1: cap 0 is not above its floor 0$"):
        validate_entry("hyperliquid", "BTC", {**hyperliquid, "margin_tiers": [[0, 40], [0, 20]]})


@pytest.mark.parametrize("venue", sorted(TIER_FILES))
def test_every_shipped_table_passes_the_refresh_validation(venue: str) -> None:
    # Act / Assert: the checks a refreshed file must pass hold for what is shipped
    assert table_problems(venue, shipped_table(TIER_FILES[venue])) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: [], "not a bybit table"),
        (lambda t: {**t, "venue": "okx"}, "not a bybit table"),
        (lambda t: {**t, "columns": ["floor"]}, "columns differ from the shipped table"),
        (lambda t: {**t, "as_of": "soon"}, "no source or no readable as_of"),
        (lambda t: {**t, "source": 1}, "no source or no readable as_of"),
        (lambda t: {**t, "symbols": {}}, "no symbols"),
    ],
)
def test_a_table_file_of_the_wrong_shape_is_refused(change: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^{reason}$"):
        table_problems("bybit", change(shipped_table("bybit_linear.json")))


# -- refusing a refresh --------------------------------------------------------------------------------------


def _converted(venue: str, kept: list[str], dropped: list[tuple[str, str]]) -> ConvertedTable:
    return ConvertedTable(venue, {key: {} for key in kept}, tuple(dropped), 0)


def test_check_refresh_refuses_an_empty_table_a_dropped_btc_and_too_many_drops() -> None:
    many = [(f"X{i}USDT", "bad") for i in range(7)]
    with pytest.raises(DataError, match=r"^the answer held no valid okx perpetual: A \(bad\)$"):
        check_refresh(_converted("okx", [], [("A", "bad")]))
    with pytest.raises(DataError, match=r"^BTC was dropped \(tier 2 is odd\)$"):
        check_refresh(_converted("hyperliquid", ["ETH"], [("BTC", "tier 2 is odd")]))
    with pytest.raises(DataError, match=r"^7 of 27 symbols failed validation \(at most 1 may\): X0USDT .* and 2 more$"):
        check_refresh(_converted("binance", ["BTCUSDT", *[f"K{i}USDT" for i in range(19)]], many))
    check_refresh(_converted("binance", ["BTCUSDT", *[f"K{i}USDT" for i in range(39)]], many[:2]))  # 2 of 42: allowed


def test_table_payload_keeps_the_shipped_header_and_notes_what_was_left_out() -> None:
    # Arrange
    answer = recorded("binance/leverage_bracket.json")
    answer[0]["brackets"][1]["cum"] = "49.0"  # 1000BONKUSDC's bracket 2: the recursion gives 50

    # Act
    payload = table_payload(convert_binance(answer, as_of=AS_OF), as_of=AS_OF)

    # Assert
    shipped = shipped_table("binance_usdm.json")
    for key in ("venue", "market", "columns", "units"):
        assert payload[key] == shipped[key]
    assert payload["source"] == tables.SOURCES["binance"]
    assert payload["as_of"] == AS_OF
    assert payload["notes"][0].startswith("Refreshed from the venue on 2026-12-01 (UTC): 13 symbols; 1 listings")
    assert payload["notes"][-1].startswith("Dropped, failing validation: 1000BONKUSDC (1000BONKUSDC bracket 2")
    assert "1000BONKUSDC" not in payload["symbols"]


# -- the user's table folder ----------------------------------------------------------------------------------


def write_refreshed(venue: str, as_of: str = AS_OF) -> Path:
    """Write the venue's recorded answer, converted, as its refreshed table (``as_of`` as given)."""
    return write_table(venue, table_payload(converted_all()[venue], as_of=as_of))


@pytest.mark.parametrize("override", [None, "  ~/cm-data  "])
def test_the_table_folder_is_the_market_data_folder(monkeypatch: pytest.MonkeyPatch, override: str | None) -> None:
    # Arrange
    from crossmargin.data.store import default_data_dir  # noqa: PLC0415 - pandas; only this test needs it

    if override is None:
        monkeypatch.delenv("CROSSMARGIN_DATA_DIR", raising=False)
    else:
        monkeypatch.setenv("CROSSMARGIN_DATA_DIR", override)

    # Act / Assert
    assert tables.user_tables_dir() == default_data_dir() / "venues"


def test_write_table_is_atomic_and_replaces_the_old_file(data_dir: Path) -> None:
    # Act
    first = write_refreshed("bybit")
    second = write_refreshed("bybit", as_of="2026-12-02")

    # Assert
    assert first == second == data_dir / "venues" / "bybit_linear.json"
    assert json.loads(second.read_text(encoding="utf-8"))["as_of"] == "2026-12-02"
    assert sorted(p.name for p in second.parent.iterdir()) == ["bybit_linear.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange
    path = write_refreshed("okx")
    before = path.read_bytes()

    def refuse(src: str, dst: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)

    # Act / Assert
    with pytest.raises(DataError, match=r"^cannot write .*okx_swap.json: \[Errno 28\] No space left on device$"):
        write_refreshed("okx", as_of="2026-12-02")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["okx_swap.json"]


def test_a_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    # Arrange: a file where the table folder should be
    blocked = tmp_path / "venues"
    blocked.write_text("", encoding="utf-8")

    # Act / Assert
    with pytest.raises(DataError, match=r"^cannot write .*venues/bybit_linear.json: \[Errno 17\] File exists"):
        write_table("bybit", {}, blocked)


def test_a_payload_that_is_not_json_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"^cannot write .*: Out of range float values are not JSON compliant"):
        write_table("bybit", {"x": float("nan")}, tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("venue", sorted(TIER_FILES))
def test_the_engine_reads_a_valid_refreshed_table(data_dir: Path, venue: str) -> None:
    # Arrange
    path = write_refreshed(venue)

    # Act
    rules = get_rules(venue)
    origin = table_origin(TIER_FILES[venue])

    # Assert
    assert origin == tables.TableOrigin(path, "refreshed", AS_OF, tables.SOURCES[venue])
    assert set(rules.symbols()) == set(converted_all()[venue].symbols)
    assert rules.instrument(tables.BTC_SYMBOL[venue]).as_of == AS_OF


@pytest.mark.parametrize(
    "spoil",
    [
        lambda p: p.write_text("{not json", encoding="utf-8"),
        lambda p: p.write_bytes(b"\xff\xfe"),
        lambda p: p.write_text(json.dumps({"venue": "bybit"}), encoding="utf-8"),
        lambda p: p.write_text(
            json.dumps(
                {
                    **(t := json.loads(p.read_text())),
                    "symbols": {"BTCUSDT": {**t["symbols"]["BTCUSDT"], "brackets": []}},
                }
            ),
            encoding="utf-8",
        ),
    ],
)
def test_an_unusable_refreshed_table_falls_back_to_the_shipped_one(data_dir: Path, spoil: Any) -> None:
    # Arrange
    spoil(write_refreshed("bybit"))

    # Act
    origin = table_origin("bybit_linear.json")

    # Assert
    assert origin.origin == "shipped"
    assert origin.path.name == "bybit_linear.json"
    assert origin.path.is_file()
    assert origin.as_of == shipped_table("bybit_linear.json")["as_of"]
    assert read_table("bybit_linear.json") == shipped_table("bybit_linear.json")
    assert len(get_rules("bybit").instrument("BTCUSDT").brackets) == 20  # the shipped table


def test_a_refreshed_table_is_validated_once_per_version_of_the_file(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: count the validations
    validations: list[str] = []
    validate = tables.table_problems

    def counted(venue: str, payload: Any) -> list[tuple[str, str]]:
        validations.append(venue)
        return validate(venue, payload)

    monkeypatch.setattr(tables, "table_problems", counted)
    path = write_refreshed("bybit")

    # Act: what one command does (the rules, then the staleness line), twice
    for _ in range(2):
        clear_loaders()
        get_rules("bybit")
        table_origin("bybit_linear.json")

    # Assert: one validation; a rewritten file (a new inode) is validated again
    assert validations == ["bybit"]
    write_refreshed("bybit", as_of="2026-11-30")
    assert table_origin("bybit_linear.json") == tables.TableOrigin(
        path, "refreshed", "2026-11-30", tables.SOURCES["bybit"]
    )
    assert validations == ["bybit", "bybit"]


def test_parameter_files_are_always_the_shipped_ones(data_dir: Path) -> None:
    # Arrange: a file of that name in the user's folder is not a table and is never read
    folder = data_dir / "venues"
    folder.mkdir()
    (folder / "bybit_linear_params.json").write_text("{}", encoding="utf-8")

    # Act / Assert
    assert read_table("bybit_linear_params.json") == shipped_table("bybit_linear_params.json")
    assert table_origin("bybit_linear_params.json").origin == "shipped"


# -- staleness -------------------------------------------------------------------------------------------------


def test_stale_and_fresh_tables(data_dir: Path) -> None:
    # Arrange: the shipped Binance table is 'as of 2026-09' (counted from 2026-09-30), Bybit's 2026-11-25
    stale = (
        "warning: binance leverage brackets are as of 2026-09 (more than 30 days old); "
        "refresh with: crossmargin venues refresh --venue binance"
    )

    # Act / Assert
    assert stale_warning("binance", today=date(2026, 10, 30)) is None  # 30 days after the month's last day
    assert stale_warning("binance", today=date(2026, 10, 31)) == stale
    assert stale_warning("bybit", today=date(2026, 12, 25)) is None
    assert stale_warning("bybit", today=date(2026, 12, 26)) == (
        "warning: bybit risk-limit tiers are as of 2026-11-25 (more than 30 days old); "
        "refresh with: crossmargin venues refresh --venue bybit"
    )
    write_refreshed("binance", as_of="2026-12-01")
    assert stale_warning("binance", today=date(2026, 12, 20)) is None  # the refreshed table is the one in use


@pytest.mark.parametrize("as_of", ["", "soon", "2026-13", "2026-02-30"])
def test_an_unreadable_as_of_counts_as_stale(monkeypatch: pytest.MonkeyPatch, as_of: str) -> None:
    # Arrange
    origin = tables.TableOrigin(Path("x.json"), "shipped", as_of, "")
    monkeypatch.setattr(tables, "table_origin", lambda filename: origin)

    # Act
    line = stale_warning("okx", today=date(2026, 12, 1))

    # Assert
    assert line == (
        f"warning: okx position tiers are as of {as_of or 'an unknown date'} (unreadable) (more than 30 days old); "
        "refresh with: crossmargin venues refresh --venue okx"
    )


def test_the_warning_is_off_by_default_and_then_printed_once(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrange
    stream = io.StringIO()
    today = date(2026, 12, 1)

    # Act
    warn_if_stale("binance", today=today, stream=stream)  # off: library use stays silent
    tables.enable_staleness_warnings()
    warn_if_stale("binance", today=today, stream=stream)
    warn_if_stale("binance", today=today, stream=stream)  # once per process
    warn_if_stale("bybit", today=today, stream=stream)  # fresh: nothing
    tables.enable_staleness_warnings(False)

    # Assert
    assert stream.getvalue().splitlines() == [stale_warning("binance", today=today)]
    assert capsys.readouterr().err == ""


def test_get_rules_warns_on_stderr_when_the_cli_turned_warnings_on(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Arrange: a refreshed Binance table dated 400 days ago, whatever today is
    old = (datetime.now(UTC).date() - timedelta(days=400)).isoformat()
    write_refreshed("binance", as_of=old)
    tables.enable_staleness_warnings()

    # Act
    get_rules("binance")
    get_rules("binance")

    # Assert
    assert capsys.readouterr().err == (
        f"warning: binance leverage brackets are as of {old} (more than 30 days old); "
        "refresh with: crossmargin venues refresh --venue binance\n"
    )


def _run_venues(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crossmargin", "venues", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "CROSSMARGIN_DATA_DIR": str(data_dir)},
    )


def test_the_cli_warns_once_per_stale_table_and_not_for_fresh_ones(data_dir: Path) -> None:
    # Arrange: every table refreshed today, then Bybit's dated 400 days ago (dates relative to the real today)
    today = datetime.now(UTC).date()
    for venue in TIER_FILES:
        write_refreshed(venue, as_of=today.isoformat())

    # Act
    fresh = _run_venues(data_dir)
    old = (today - timedelta(days=400)).isoformat()
    write_refreshed("bybit", as_of=old)
    stale = _run_venues(data_dir)

    # Assert
    assert (fresh.returncode, fresh.stderr) == (0, "")
    payload = json.loads(fresh.stdout)
    assert {venue: payload[venue]["tier_table"]["origin"] for venue in TIER_FILES} == dict.fromkeys(
        TIER_FILES, "refreshed"
    )
    assert stale.returncode == 0
    assert stale.stderr == (
        f"warning: bybit risk-limit tiers are as of {old} (more than 30 days old); "
        "refresh with: crossmargin venues refresh --venue bybit\n"
    )
