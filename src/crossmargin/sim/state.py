"""The mutable state of one backtest run: the account, spot holdings, orders in flight, and the ledger.

Every step of the event loop (``sim.fills``, ``sim.funding``, ``sim.liquidation``, ``sim.controls``)
reads and changes one ``RunState``. Money in the quote currency, sizes in base units, bars as row indices
of the run's ``MarketData``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from crossmargin.kernels.layout import FloatArray, IntArray, MarketData
from crossmargin.margin.account import account_totals
from crossmargin.model import Account, Marks
from crossmargin.sim.config import Mode, RunConfig, rules_for_run
from crossmargin.sim.ledger import Ledger
from crossmargin.sim.market import funding_bars
from crossmargin.sim.orders import Order
from crossmargin.sim.scan import highest_ratio
from crossmargin.sim.strategy import Strategy
from crossmargin.venues.base import VenueRules

__all__ = ["RunState"]


@dataclass(eq=False)
class RunState:
    """One run's state: ``pending`` market orders fill at the next open, ``resting`` ones when reached.

    ``funding_bars``: per symbol, the bar holding each funding settlement (``sim.market.funding_bars``),
    mapped once per run; empty when ``config.funding`` is off.
    """

    strategy: Strategy
    market: MarketData
    rules: VenueRules
    mode: Mode
    config: RunConfig
    account: Account
    ledger: Ledger
    spot: dict[str, float] = field(default_factory=dict)
    pending: list[Order] = field(default_factory=list)
    resting: list[Order] = field(default_factory=list)
    funding_bars: dict[str, IntArray] = field(init=False)
    _stamps: dict[int, pd.Timestamp] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.funding_bars = funding_bars(self.market) if self.config.funding else {}

    @classmethod
    def start(
        cls, strategy: Strategy, market: MarketData, rules: VenueRules, mode: Mode, config: RunConfig
    ) -> RunState:
        """Return a run's first state: ``config.wallet`` (quote) and no position, the venue's rules with the fee
        rates ``config`` sets (``sim.config.rules_for_run``), an empty ledger of ``market.bars`` bars."""
        return cls(
            strategy=strategy,
            market=market,
            rules=rules_for_run(rules, config),
            mode=mode,
            config=config,
            account=Account(venue=rules.name, wallet_balance=config.wallet, cross_deficit_allowed=True),
            ledger=Ledger(market.bars),
        )

    def time(self, bar: int) -> pd.Timestamp:
        """Return the open time of ``bar`` (UTC); made once per bar (a Timestamp costs ~10 us)."""
        stamp = self._stamps.get(bar)
        if stamp is None:
            stamp = self._stamps[bar] = pd.Timestamp(int(self.market.times[bar]), unit="ms", tz="UTC")
        return stamp

    def note(self, bar: int, kind: str, text: str) -> None:
        """Record an event of ``kind`` at ``bar``."""
        self.ledger.note(self.time(bar), kind, text)

    def marks_at(self, bar: int, prices: FloatArray) -> Marks:
        """Return the marks of the held and traded symbols at ``bar`` from ``prices`` (a bars x symbols array)."""
        symbols = {p.symbol for p in self.account.positions} | set(self.strategy.symbols)
        return Marks({s: float(prices[bar, self.market.column(s)]) for s in symbols})

    def set_account(self, account: Account) -> None:
        """Take ``account`` as the run's account (a cross deficit is allowed: the venue's loss is recorded)."""
        self.account = replace(account, cross_deficit_allowed=True)

    def spot_value(self, bar: int) -> float:
        """Return the value of the spot holdings at the spot close of ``bar`` (quote)."""
        if not self.spot or self.market.spot_close is None:
            return 0.0
        return sum(q * float(self.market.spot_close[bar, self.market.column(s)]) for s, q in self.spot.items())

    def record_close(self, bar: int) -> None:
        """Record the close of ``bar``: margin balance, the highest pool ratio, gross notional, spot value.

        The lean pass ``margin.account.account_totals`` at the mark close (no price is solved).
        """
        ledger, positions = self.ledger, self.account.positions
        if positions:
            close = self.market.mark_close
            marks = Marks({p.symbol: float(close[bar, self.market.column(p.symbol)]) for p in positions})
            figures = account_totals(self.account, marks, self.rules)
            ledger.equity[bar] = figures.account.margin_balance
            ledger.ratio[bar] = highest_ratio(self.rules, figures)
        else:
            ledger.equity[bar] = self.account.wallet_balance
            ledger.ratio[bar] = 0.0
        ledger.gross[bar] = self.gross_close(bar)
        ledger.spot[bar] = self.spot_value(bar)

    def gross_close(self, bar: int) -> float:
        """Return the gross notional at the mark close of ``bar`` (quote): ``gross_at`` of one bar."""
        total = 0.0
        for p in self.account.positions:
            total += p.size * float(self.market.mark_close[bar, self.market.column(p.symbol)])
        return total

    def gross_at(self, bars: slice) -> FloatArray:
        """Return the gross notional at the mark close of each bar of ``bars`` (quote), the book held."""
        total = np.zeros(bars.stop - bars.start)
        for p in self.account.positions:
            total += p.size * self.market.mark_close[bars, self.market.column(p.symbol)]
        return total

    def spot_series(self, bars: slice) -> FloatArray:
        """Return the value of the spot holdings at the spot close of each bar of ``bars`` (quote)."""
        total = np.zeros(bars.stop - bars.start)
        if self.market.spot_close is not None:
            for s, q in self.spot.items():
                total += q * self.market.spot_close[bars, self.market.column(s)]
        return total
