"""The faces' shared formats: money and prices as tables print them."""

from __future__ import annotations

import math

import pytest

from crossmargin.console import format_money, format_price


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (1234.567, "1,234.57"),
        (-2.5, "-2.50"),
        (-0.0, "0.00"),  # a short's zero PnL at entry (-q x 0)
        (-1e-13, "0.00"),  # roundoff of zero never prints as -0.00
        (None, "--"),
        (math.inf, "--"),
        (math.nan, "--"),
    ],
)
def test_format_money(value: float | None, shown: str) -> None:
    assert format_money(value) == shown


def test_format_price_digits() -> None:
    assert [format_price(v) for v in (78_610.7, 86.87721, 0.0123456789, None)] == [
        "78,610.70",
        "86.8772",
        "0.0123457",
        "--",
    ]


def test_format_percent_never_prints_inf_or_nan() -> None:
    from crossmargin.console import format_percent  # noqa: PLC0415 - this test alone

    assert [format_percent(v) for v in (0.0123, None, math.nan, math.inf)] == ["1.23%", "--", "--", "bankrupt"]
    assert format_percent(0.5, 1, infinite="--") == "50.0%"
