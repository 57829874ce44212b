"""What a backtest run records: per-bar series, trades, liquidations, positions, funding and events.

The ledgers become the ``ModeResult`` DataFrames (``Ledger.result``). Money in the quote currency, sizes in
base units, ratios as the venue's margin ratio (1 = liquidation), times as UTC timestamps. Rows come one at
a time (dicts, from the Python steps) or, from a compiled run, as blocks of columns (``Ledger.extend``),
kept in the order they were recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from crossmargin.kernels.layout import FloatArray, MarketData
from crossmargin.margin.liquidate import LiquidationEvent
from crossmargin.model import Position
from crossmargin.sim.orders import Order
from crossmargin.sim.result import ModeResult, Summary

__all__ = [
    "EVENT_COLUMNS",
    "FUNDING_COLUMNS",
    "LIQUIDATION_COLUMNS",
    "POSITION_COLUMNS",
    "TRADE_COLUMNS",
    "Ledger",
    "Table",
]

TRADE_COLUMNS = ("time", "symbol", "side", "size", "price", "fee", "realized_pnl", "kind")
LIQUIDATION_COLUMNS = ("time", "pool", "symbol", "side", "size", "price", "kind", "margin_before", "returned", "loss")
POSITION_COLUMNS = ("time", "symbol", "side", "size", "entry_price", "margin_mode")
FUNDING_COLUMNS = ("time", "symbol", "rate", "payment")
EVENT_COLUMNS = ("time", "kind", "text")
#: The tables a block of columns may extend.
Table = Literal["trades", "positions", "funding"]
_COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": TRADE_COLUMNS,
    "positions": POSITION_COLUMNS,
    "funding": FUNDING_COLUMNS,
}


@dataclass(eq=False)
class Ledger:
    """The records of one run over ``bars`` bars.

    ``equity``: margin balance at each close (quote, spot holdings apart); ``ratio``: the highest pool's
    margin ratio at the close; ``gross``: gross notional at the mark close (quote); ``breach``: the
    worst-case ratio of a bar that liquidated (0 elsewhere); ``fees``: every fee paid (quote). ``blocks``:
    per table, the blocks of columns added by ``extend``, each with the number of rows recorded before it.
    """

    bars: int
    equity: FloatArray = field(init=False)
    ratio: FloatArray = field(init=False)
    gross: FloatArray = field(init=False)
    breach: FloatArray = field(init=False)
    spot: FloatArray = field(init=False)
    trades: list[dict[str, Any]] = field(default_factory=list)
    liquidations: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    fees: float = 0.0
    blocks: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.equity, self.ratio, self.gross = np.zeros(self.bars), np.zeros(self.bars), np.zeros(self.bars)
        self.breach, self.spot = np.zeros(self.bars), np.zeros(self.bars)

    def extend(self, table: Table, columns: Mapping[str, Any]) -> None:
        """Append rows of ``table`` given as equal-length columns, after the rows recorded so far.

        ``columns`` has the table's column names; ``time`` is the bar open time in ms since the Unix epoch
        (int64), strings are object arrays, numbers float64. An empty block is ignored.
        """
        if len(columns["time"]):
            self.blocks.setdefault(table, []).append((len(getattr(self, table)), dict(columns)))

    def note(self, time: pd.Timestamp, kind: str, text: str) -> None:
        """Record an event (a refusal, a cut, a warning) of ``kind`` at ``time``."""
        self.events.append({"time": time, "kind": kind, "text": text})

    def trade(
        self,
        time: pd.Timestamp,
        *,
        symbol: str,
        side: str,
        size: float,
        price: float,
        fee: float,
        pnl: float,
        kind: str,
    ) -> None:
        """Record a fill: ``size`` (base) at ``price`` (quote), ``fee`` and realised ``pnl`` (quote)."""
        self.trades.append(
            {
                "time": time,
                "symbol": symbol,
                "side": side,
                "size": size,
                "price": price,
                "fee": fee,
                "realized_pnl": pnl,
                "kind": kind,
            }
        )

    def fill(self, time: pd.Timestamp, order: Order, event: Any, kind: str) -> None:
        """Record the fill ``event`` of ``margin.operations`` for ``order``, and its fee."""
        self.fees += float(event.fee)
        self.trade(
            time,
            symbol=order.symbol,
            side=order.side.label,
            size=event.size,
            price=event.price,
            fee=event.fee,
            pnl=event.realized_pnl,
            kind=kind,
        )

    def liquidation(self, time: pd.Timestamp, event: LiquidationEvent, wallet: float) -> None:
        """Record every fill of one pool's liquidation ``event``; ``wallet``: the pool's wallet before (quote)."""
        for fill in event.fills:
            self.fees += fill.fee
            self.liquidations.append(
                {
                    "time": time,
                    "pool": event.pool,
                    "symbol": fill.symbol,
                    "side": fill.side,
                    "size": fill.size,
                    "price": fill.price,
                    "kind": fill.kind,
                    "margin_before": event.margin_before,
                    "returned": event.returned,
                    "loss": wallet - event.returned,
                }
            )
            side = "short" if fill.side == "long" else "long"
            self.trade(
                time,
                symbol=fill.symbol,
                side=side,
                size=fill.size,
                price=fill.price,
                fee=fill.fee,
                pnl=fill.realized_pnl,
                kind="liquidation",
            )

    def snapshot(self, time: pd.Timestamp, positions: Sequence[Position]) -> None:
        """Record the book at ``time`` (one empty row when it holds nothing)."""
        for p in positions:
            self.positions.append(
                {
                    "time": time,
                    "symbol": p.symbol,
                    "side": p.side.label,
                    "size": p.size,
                    "entry_price": p.entry_price,
                    "margin_mode": p.mode.value,
                }
            )
        if not positions:
            self.positions.append(
                {"time": time, "symbol": "", "side": "", "size": 0.0, "entry_price": 0.0, "margin_mode": ""}
            )

    def result(self, mode: str, market: MarketData, wallet: float) -> ModeResult:
        """Return the ledgers as a ``ModeResult`` of ``mode``, with its summary against the starting ``wallet``."""
        index = pd.to_datetime(market.times, unit="ms", utc=True)
        total = self.equity + self.spot
        ratio = np.maximum(self.ratio, self.breach)  # a bar that liquidated reached its worst-case ratio
        equity = pd.DataFrame({"equity": total, "margin_ratio": ratio, "gross_notional": self.gross}, index=index)
        peak = np.maximum.accumulate(np.maximum(total, 1e-300))
        drawdown = float(np.max(1 - total / peak)) if len(total) else 0.0
        payments = np.concatenate(
            [np.array([row["payment"] for row in self.funding], dtype=np.float64)]
            + [np.asarray(block["payment"], dtype=np.float64) for _, block in self.blocks.get("funding", [])]
        )
        paid = -math.fsum(payments[payments < 0])
        received = math.fsum(payments[payments > 0])
        liquidated_pools = {(row["time"], row["pool"]) for row in self.liquidations}
        summary = Summary(
            mode=mode,
            initial_equity=wallet,
            final_equity=float(total[-1]),
            return_on_collateral=float(total[-1] / wallet - 1),
            max_drawdown=drawdown,
            liquidations=len(liquidated_pools),
            fees=float(self.fees),
            funding_paid=float(paid),
            funding_received=float(received),
            peak_margin_ratio=float(np.max(ratio)),
            time_above_80pct=float(np.mean(ratio >= 0.8)),
            capital_efficiency=float(np.mean(self.gross) / wallet),
            rejected_orders=sum(1 for e in self.events if e["kind"] in ("refused", "stop_refused")),
        )
        return ModeResult(
            mode=mode,
            summary=summary,
            equity=equity,
            trades=self.table("trades"),
            liquidations=_frame(self.liquidations, LIQUIDATION_COLUMNS),
            positions=self.table("positions"),
            funding=self.table("funding"),
            events=_frame(self.events, EVENT_COLUMNS),
        )

    def table(self, name: Table) -> pd.DataFrame:
        """Return the rows of table ``name`` as a DataFrame, rows and blocks in the order they came."""
        rows: list[dict[str, Any]] = getattr(self, name)
        columns = _COLUMNS[name]
        blocks = self.blocks.get(name, [])
        if not blocks:
            return _frame(rows, columns)
        parts: dict[str, list[Any]] = {column: [] for column in columns}
        done = 0
        for before, block in [*blocks, (len(rows), None)]:
            chunk = rows[done:before]
            done = before
            if chunk:  # dict rows: their times as ms, the unit of the blocks
                for column in columns:
                    values = [row[column] for row in chunk]
                    if column == "time":
                        parts[column].append(np.array([t.value // 1_000_000 for t in values], dtype=np.int64))
                    else:
                        parts[column].append(np.array(values, dtype=object if isinstance(values[0], str) else None))
            if block is not None:
                for column in columns:
                    parts[column].append(np.asarray(block[column]))
        data = {column: np.concatenate(parts[column]) for column in columns}
        data["time"] = pd.to_datetime(data["time"], unit="ms", utc=True)
        return pd.DataFrame(data, columns=list(columns))


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))
