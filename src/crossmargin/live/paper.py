"""A paper venue: replays real bars as a live venue would serve them, and accepts orders.

``PaperVenue`` implements ``AccountReader``: each ``snapshot()`` moves the clock on by ``bars_per_tick``
bars of the market (real shipped data), marks the account at that bar's mark close, liquidates a pool
that breaches at the bar's intrabar worst case with the venue's own procedure (``margin.liquidate``), and
reports its figures as the venue (computed by the same engine, so the monitor's difference column reads
0 on a paper venue). ``submit`` opens, adds to or reduces a position at the current mark through
``margin.operations``, so the venue's refusals apply. Nothing touches the network.
"""

from __future__ import annotations

from dataclasses import replace
from importlib import resources
from pathlib import Path

import pandas as pd

from crossmargin.data.load import load_bars
from crossmargin.errors import DataError, InputError
from crossmargin.kernels.layout import MarketData
from crossmargin.live.base import ReportedFigures, VenueSnapshot, position_key
from crossmargin.margin.account import evaluate
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.operations import increase_position, open_position, reduce_position
from crossmargin.margin.pools import pool_keys, risk_view
from crossmargin.model import Account, MarginMode, Marks, Side
from crossmargin.portfolio import Portfolio
from crossmargin.risk.stress import base_of, episodes
from crossmargin.sim.market import market_from_frames
from crossmargin.sim.scan import worst_marks
from crossmargin.venues.base import VenueRules

__all__ = [
    "FIVE_MINUTE",
    "PaperVenue",
    "paper_from_episode",
]


class PaperVenue:
    """A local venue over ``market`` for ``account`` under ``rules`` (see the module docstring)."""

    def __init__(self, market: MarketData, account: Account, rules: VenueRules, *, bars_per_tick: int = 1) -> None:
        if bars_per_tick < 1:
            raise DataError(f"paper venue: bars_per_tick must be >= 1, got {bars_per_tick}")
        self.market = market
        self.rules = rules
        self.account = replace(account, cross_deficit_allowed=True)
        self.bar = 0
        self.bars_per_tick = bars_per_tick
        self.liquidations: list[tuple[int, str]] = []

    @property
    def venue(self) -> str:
        """Return the venue whose rules the paper venue applies."""
        return self.rules.name

    @property
    def finished(self) -> bool:
        """Return True when the replay has reached the last bar."""
        return self.bar >= self.market.bars - 1

    def marks(self, bar: int | None = None) -> Marks:
        """Return the mark closes of every symbol of the market at ``bar`` (default: now)."""
        at = self.bar if bar is None else bar
        return Marks({s: float(self.market.mark_close[at, j]) for j, s in enumerate(self.market.symbols)})

    def submit(self, symbol: str, side: Side, size: float, *, leverage: float, mode: MarginMode) -> None:
        """Fill a market order now at the mark (base units; quote prices); the venue's refusals raise."""
        marks = self.marks()
        price = marks.price(symbol)
        held = self.account.position(symbol)
        if held is not None and held.side is not side:
            result = reduce_position(self.account, self.rules, symbol=symbol, size=min(size, held.size), price=price)
        elif held is not None:
            result = increase_position(self.account, marks, self.rules, symbol=symbol, size=size, price=price)
        else:
            result = open_position(
                self.account,
                marks,
                self.rules,
                symbol=symbol,
                side=side,
                size=size,
                price=price,
                leverage=leverage,
                mode=mode,
            )
        self.account = replace(result.account, cross_deficit_allowed=True)

    def _advance(self) -> None:
        for _ in range(self.bars_per_tick):
            if self.finished:
                return
            self.bar += 1
            pools = pool_keys(self.account)
            for pool in sorted(set(pools)):
                pools = pool_keys(self.account)
                if pool not in pools:
                    continue
                marks = worst_marks(self.account, self.market, self.bar, pools, pool)
                risk = evaluate(self.account, marks, self.rules)
                if risk_view(self.rules, risk.pool_ratios[pools.index(pool)]) >= 1.0:
                    outcome = liquidate(self.account, marks, self.rules)
                    self.liquidations += [(self.bar, event.pool) for event in outcome.events]
                    self.account = replace(outcome.account, cross_deficit_allowed=True)

    def snapshot(self) -> VenueSnapshot:
        """Move on ``bars_per_tick`` bars and return the account at the new bar's mark close."""
        self._advance()
        marks = self.marks()
        held = Marks({p.symbol: marks.price(p.symbol) for p in self.account.positions})
        risk = evaluate(self.account, held, self.rules)
        pools = pool_keys(self.account)
        reported = {
            position_key(p.symbol, p.position_side): ReportedFigures(
                liquidation_price=r.liquidation_price,
                margin_ratio=risk_view(self.rules, risk.pool_ratios[i]),
                maintenance_margin=r.maintenance_margin,
                unrealized_pnl=r.unrealized_pnl,
                leverage=p.leverage,
            )
            for i, (p, r) in enumerate(zip(self.account.positions, risk.positions, strict=True))
        }
        cross = [i for i, key in enumerate(pools) if key == "cross"]
        account_ratio = risk_view(self.rules, risk.account.margin_ratio) if cross else 0.0
        return VenueSnapshot(
            venue=self.venue,
            time_ms=int(self.market.times[self.bar]),
            account=self.account,
            marks=held,
            reported=reported,
            account_reported=ReportedFigures(
                margin_ratio=account_ratio, maintenance_margin=risk.account.maintenance_margin
            ),
        )

    def close(self) -> None:
        """Nothing to release."""


#: Episodes shipped at 5 minutes for the paper venue (``live/data``): id -> bases.
FIVE_MINUTE: dict[str, tuple[str, ...]] = {"2025-10-10": ("BTC", "ETH", "SOL")}


def _five_minute(episode_id: str, base: str) -> pd.DataFrame:
    name = f"{base}USDT-trades-5m-{episode_id}.parquet"
    path = Path(str(resources.files("crossmargin.live").joinpath("data", name)))
    return load_bars(path, symbol=f"{base}USDT")


def paper_from_episode(portfolio: Portfolio, episode_id: str, *, bars_per_tick: int = 1) -> PaperVenue:
    """Return a paper venue replaying a shipped crash episode with ``portfolio``'s positions opened at its start.

    The episode's last-trade bars stand in for the mark: 5m bars where shipped for the paper venue
    (``live/data``, the 2025-10-10 crash), else the stress library's 1h bars (``risk/data``). Each
    position of the portfolio is opened at the first bar's close with its side, leverage and margin mode
    and the notional it has in the portfolio (size x entry price, quote), on the portfolio's wallet.
    """
    symbols = sorted({p.symbol for p in portfolio.account.positions})
    if episode_id in FIVE_MINUTE and all(base_of(s) in FIVE_MINUTE[episode_id] for s in symbols):
        frames = {s: _five_minute(episode_id, base_of(s)) for s in symbols}
        market = market_from_frames(frames, interval_ms=300_000)
    else:
        found = {episode.id: episode for episode in episodes()}
        if episode_id not in found:
            raise InputError("--episode", episode_id, " | ".join(sorted({*found, *FIVE_MINUTE})))
        episode = found[episode_id]
        missing = [s for s in symbols if base_of(s) not in episode.bars]
        if missing:
            raise InputError("--episode", episode_id, f"an episode with bars for {', '.join(missing)}")
        market = market_from_frames({s: episode.frame(base_of(s)) for s in symbols}, interval_ms=3_600_000)
    empty = replace(portfolio.account, positions=())
    venue = PaperVenue(market, empty, portfolio.rules, bars_per_tick=bars_per_tick)
    start = venue.marks(0)
    for position in portfolio.account.positions:
        size = position.entry_notional / start.price(position.symbol)  # the same notional at the episode's prices
        venue.submit(position.symbol, position.side, size, leverage=position.leverage, mode=position.mode)
    return venue
