"""The venue registry: one entry per venue, agreeing with its rules, its shipped table and its readers."""

from __future__ import annotations

from importlib import resources

import pytest

from crossmargin.data.download import EXCHANGES
from crossmargin.errors import InputError
from crossmargin.live.credentials import REQUIRED
from crossmargin.venues import VENUES, get_rules
from crossmargin.venues.registry import VENUE_INFO, venue_info
from crossmargin.venues.tables import BTC_SYMBOL, TIER_FILES


@pytest.mark.parametrize("name", sorted(VENUE_INFO))
def test_every_registered_venue_agrees_with_its_rules_and_table(name: str) -> None:
    info = venue_info(name.upper())
    rules = get_rules(name)
    assert (info.name, info.settle) == (rules.name, rules.settle)
    assert info.btc_symbol in rules.symbols()
    assert resources.files("crossmargin.venues").joinpath("data", info.tier_file).is_file()
    # the readers take their ids from here
    assert (EXCHANGES[name], REQUIRED[name], TIER_FILES[name], BTC_SYMBOL[name]) == (
        info.ccxt_id,
        info.credential_keys,
        info.tier_file,
        info.btc_symbol,
    )


def test_the_rules_registry_lists_the_same_venues() -> None:
    assert list(VENUES) == list(VENUE_INFO)


def test_an_unknown_venue_names_the_field_and_the_near_match() -> None:
    with pytest.raises(InputError, match=r"exchange: unknown venue 'bybitt' \(did you mean bybit\?\)"):
        venue_info("bybitt", field="exchange")
    with pytest.raises(InputError, match=r"allowed: binance \| bybit \| hyperliquid \| okx"):
        venue_info(3)


def test_instruments_are_built_on_first_use() -> None:
    from crossmargin.venues.base import LazyInstruments  # noqa: PLC0415 - this test alone

    rules = get_rules("binance")
    instruments = rules.instruments  # type: ignore[attr-defined]
    assert isinstance(instruments, LazyInstruments)
    assert len(instruments) == len(rules.symbols()) > 900
    assert instruments["BTCUSDT"] is instruments["BTCUSDT"]  # built once, then kept
    assert list(instruments)[:1] == [next(iter(instruments))]
    with pytest.raises(InputError, match="unknown symbol"):
        rules.instrument("NOPEUSDT")
