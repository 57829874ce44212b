"""What a live account reader returns, and the interface every reader (ccxt, paper venue) implements.

A reader is read-only: ``snapshot()`` returns the account as the venue shows it now, in crossmargin's value
types, plus the figures the venue itself reports (so the monitor can set its own engine's figures beside
them). A reader never raises for a venue outage: it returns the last good snapshot with its age in
``stale_seconds`` and the error in ``errors``; before any good snapshot it raises ``VenueUnavailableError``.
Times are ms since the Unix epoch (UTC); money in the settlement currency; sizes in base units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from crossmargin.errors import CrossmarginError
from crossmargin.model import Account, Marks

__all__ = ["AccountReader", "ReportedFigures", "VenueSnapshot", "VenueUnavailableError", "position_key"]


class VenueUnavailableError(CrossmarginError):
    """The venue could not be read and no earlier snapshot exists to fall back on."""


def position_key(symbol: str, position_side: str = "both") -> str:
    """Return the key of a position in ``VenueSnapshot.reported``: 'SYMBOL', or 'SYMBOL:long' in hedge mode."""
    return symbol if position_side == "both" else f"{symbol}:{position_side}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportedFigures:
    """Figures as the venue reports them (None where it does not): prices and money in quote currency.

    ``margin_ratio`` is a fraction in crossmargin's risk view (requirement / margin balance, 1 =
    liquidation); readers convert a venue's own ratio (OKX's health ratio) into it.
    """

    liquidation_price: float | None = None
    margin_ratio: float | None = None
    maintenance_margin: float | None = None
    unrealized_pnl: float | None = None
    leverage: float | None = None
    stop_loss: float | None = None


@dataclass(frozen=True, kw_only=True)
class VenueSnapshot:
    """The account at ``time_ms``: crossmargin's account and marks, and the venue's own figures.

    ``reported`` maps ``position_key(...)`` to that position's venue figures; ``account_reported`` holds the
    account-level ones (key '' ). ``stale_seconds`` is the age of the data (0 when just read);
    ``errors`` the errors met since the last good read.
    """

    venue: str
    time_ms: int
    account: Account
    marks: Marks
    reported: Mapping[str, ReportedFigures] = field(default_factory=dict)
    account_reported: ReportedFigures = field(default_factory=ReportedFigures)
    stale_seconds: float = 0.0
    errors: tuple[str, ...] = ()


class AccountReader(Protocol):
    """A read-only source of account snapshots (``live.ccxt_reader.CcxtReader``, ``live.paper.PaperVenue``)."""

    @property
    def venue(self) -> str:
        """Return the venue name whose rules apply ('binance', 'bybit', 'okx', 'hyperliquid')."""
        ...

    def snapshot(self) -> VenueSnapshot:
        """Return the account now (or the last good snapshot, marked stale, when the venue fails)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
