"""The exception tree of crossmargin.

::

    CrossmarginError
    ├── InputError(field, value, allowed)      also a ValueError: bad input, named by field
    │   ├── PortfolioFileError                 a portfolio file that cannot be read or parsed
    │   ├── UnknownSymbolError                 a symbol the venue does not list
    │   ├── BeyondTableError                   a position past the last tier of the venue's table
    │   └── LeverageError                      leverage outside 1 .. the bracket's cap
    ├── RejectedError(reason, message)         an operation the venue would refuse
    ├── EngineError                            an internal invariant broke (a bug: report it with the input)
    └── DataError                              market data unusable as given (empty, gaps)

The CLI turns every ``CrossmarginError`` into one line on stderr and exit code 2. User input is never
checked with ``assert``.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BeyondTableError",
    "CrossmarginError",
    "DataError",
    "EngineError",
    "InputError",
    "LeverageError",
    "PortfolioFileError",
    "RejectedError",
    "UnknownSymbolError",
    "suggest",
]


class CrossmarginError(Exception):
    """Base of every error crossmargin raises on purpose."""


class InputError(CrossmarginError, ValueError):
    """A value outside what is allowed: names the field, the value received and what is allowed."""

    def __init__(self, field: str, value: object, allowed: str, *, detail: str = "") -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.detail = detail
        self.reason = f"{detail or f'{value!r} is not allowed'} (allowed: {allowed})"
        super().__init__(f"{field}: {self.reason}")

    def prefixed(self, prefix: str) -> InputError:
        """Return a copy of this error whose field is ``prefix + field`` (e.g. ``positions[2].size``)."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.field = f"{prefix}{self.field}"
        clone.args = (f"{clone.field}: {self.reason}",)
        return clone


class PortfolioFileError(InputError):
    """A portfolio file that is missing, unreadable or not valid TOML."""


class UnknownSymbolError(InputError):
    """A symbol the venue does not list; the message suggests near matches."""

    def __init__(self, field: str, symbol: str, venue: str, known: Iterable[str]) -> None:
        listed = sorted(known)
        hint = suggest(symbol, listed)
        detail = f"unknown symbol {symbol!r} on {venue}" + (f" (did you mean {hint}?)" if hint else "")
        short = len(listed) <= 12
        allowed = ", ".join(listed) if short else f"a symbol listed by {venue} (see: crossmargin venues --symbols)"
        super().__init__(field, symbol, allowed, detail=detail)


class BeyondTableError(InputError):
    """A position whose tier value (notional, or size on venues that tier by size) is at or past the cap of
    the last tier in the venue's table: the engine never extrapolates a table.

    The message gives the cap, the table's ``as_of`` and the command that refreshes the table.
    """

    def __init__(
        self, field: str, value: float, *, symbol: str, venue: str, cap: float, unit: str, what: str, as_of: str
    ) -> None:
        self.symbol = symbol
        self.venue = venue
        self.cap = cap
        self.as_of = as_of
        dated = f", table as of {as_of}" if as_of else ""
        detail = (
            f"{what} {value:,.2f} {unit} is beyond the last tier of {symbol} on {venue} "
            f"(cap {cap:,.2f} {unit}{dated}; refresh the table with: crossmargin venues refresh --venue {venue})"
        )
        super().__init__(field, value, f"{what} below {cap:,.2f} {unit} for {symbol}", detail=detail)


class LeverageError(InputError):
    """Leverage below 1, not allowed by the venue, or above the bracket's maximum for the notional."""


class RejectedError(CrossmarginError):
    """An operation the venue would refuse; ``reason`` is a stable machine-readable code."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"rejected ({reason}): {message}")


class EngineError(CrossmarginError):
    """An internal invariant of the engine broke (e.g. a liquidation that stops reducing exposure).

    Never the user's fault: the message says what broke, so that the input can be reported.
    """


class DataError(CrossmarginError):
    """Market data that cannot be used as given: empty, with gaps, or out of order."""


def suggest(name: str, known: Iterable[str]) -> str:
    """Return up to three close matches of ``name`` among ``known``, joined by ' or ', or ''."""
    pool = list(known)
    upper = {k.upper(): k for k in pool}
    from difflib import get_close_matches  # noqa: PLC0415 - only an unknown name needs suggestions

    matches = get_close_matches(name.upper(), list(upper), n=3, cutoff=0.6)
    return " or ".join(upper[m] for m in matches)
