"""The backtest event loop: one strategy, one venue's rules, one margin mode, real bars.

Per bar, in this order (``docs/backtest.md`` has the reasons):

1. market orders sent at the previous close fill at this bar's open (``orders`` module);
2. funding settles if a settlement time falls in this bar: ``-s x q x mark open x rate`` into the cross
   wallet, or into the position's isolated wallet;
3. resting orders whose price the bar reaches fill (stops first);
4. margin is checked at the intrabar worst case (``sim.scan``); a pool that breaches goes through the
   venue's liquidation procedure (``margin.liquidate``) at those worst-case marks;
5. the close is recorded (margin balance + spot holdings, margin ratio, gross notional);
6. the strategy, if due, sees the close and sends orders.

Bars where nothing but 4 and 5 can happen (no pending market order, no funding, no strategy call) are
scanned in one call (``kernels.scan`` compiled, or ``sim.scan.scan_reference``), which stops at the first
bar with a trigger or a breach. Every formula comes from ``crossmargin.margin``: the engine opens, adds
to, reduces and closes positions through ``margin.operations`` (so the venue's refusals apply) and
liquidates through ``margin.liquidate``. Deterministic: the same inputs give the same result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from crossmargin.errors import CrossmarginError, InputError
from crossmargin.margin.account import evaluate
from crossmargin.margin.funding import funding_payment
from crossmargin.margin.liquidate import liquidate
from crossmargin.margin.operations import add_isolated_margin, increase_position, open_position, reduce_position
from crossmargin.model import Account, MarginMode, Marks, Side
from crossmargin.numeric import require_positive
from crossmargin.sim.market import FloatArray, MarketData
from crossmargin.sim.orders import Order, fill_price, trigger_direction
from crossmargin.sim.result import ModeResult, Summary
from crossmargin.sim.scan import ScanResult, Trigger, pool_keys, risk_view, scan_reference, worst_marks
from crossmargin.sim.strategy import BarContext, Strategy
from crossmargin.venues.base import VenueRules

__all__ = ["AutoLeverage", "RunConfig", "Scanner", "run_mode"]

Mode = Literal["cross", "isolated"]
StopPolicy = Literal["off", "warn", "refuse"]


class Scanner(Protocol):
    """What scans quiet bars: ``sim.scan.scan_reference`` or its compiled twin ``kernels.scan``."""

    def __call__(
        self,
        account: Account,
        rules: VenueRules,
        market: MarketData,
        triggers: Sequence[Trigger],
        *,
        start: int,
        stop: int,
    ) -> ScanResult:
        """Return what bars ``[start, stop)`` hold (``sim.scan.ScanResult``)."""
        ...


MS_PER_YEAR = 365.25 * 24 * 3600 * 1000


@dataclass(frozen=True, kw_only=True)
class AutoLeverage:
    """The auto-leverage policy: each position's effective leverage follows the volatility forecast.

    At every strategy call and every ``every`` bars, for each position: sigma = EWMA (``ewma_lambda``) of
    its symbol's log returns per bar up to the close; cap = ``cap(side, sigma, horizon_bars, mm_rate,
    max_liq_prob)``, the risk lab's ``risk.leverage.max_leverage`` (passed in: sim does not import risk),
    that sigma over ``horizon_bars``, the bracket's maintenance rate and ``max_liq_prob`` (a fraction),
    capped at the venue's bracket maximum. Effective leverage is notional / the margin behind the position
    (isolated: its isolated margin + uPnL; cross: the cross equity shared in proportion to notional). Above
    ``cap x (1 + band)``: an isolated position first takes margin from the free wallet, then (like a cross
    one) is cut with a reduce-only market order at the next open.
    """

    cap: Callable[[Side, float, float, float, float], float]
    max_liq_prob: float = 0.01
    horizon_bars: int = 24
    ewma_lambda: float = 0.94
    band: float = 0.1
    every: int = 1
    warmup: int = 48

    def __post_init__(self) -> None:
        if not (0 < self.max_liq_prob < 1):
            raise InputError("max_liq_prob", self.max_liq_prob, "a fraction in (0, 1)")
        if self.horizon_bars < 1 or self.every < 1 or self.warmup < 2:
            raise InputError("horizon_bars", self.horizon_bars, "horizon and every >= 1 bar, warmup >= 2 bars")
        if not (0 < self.ewma_lambda < 1) or self.band < 0:
            raise InputError("ewma_lambda", self.ewma_lambda, "lambda in (0, 1) and band >= 0")


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Settings of a run. Money in quote; ``slippage`` and ``vol_target`` are fractions.

    ``stop_policy``: what to do with a stop-loss beyond the position's liquidation price ('refuse' it,
    'warn' and keep it, or 'off'); ``leverage_cap``: the highest gross notional / equity an order may
    reach (None: no cap); ``vol_target``: annualised volatility an opening order is scaled down to, by
    ``min(1, vol_target / realised volatility over vol_lookback bars)`` (None: off).
    """

    wallet: float = 10_000.0
    leverage: float = 5.0
    slippage: float = 0.0002
    stop_policy: StopPolicy = "refuse"
    leverage_cap: float | None = None
    vol_target: float | None = None
    vol_lookback: int = 168
    auto_leverage: AutoLeverage | None = None

    def __post_init__(self) -> None:
        require_positive("wallet", self.wallet)
        require_positive("leverage", self.leverage)
        if not (0 <= self.slippage < 0.1):
            raise InputError("slippage", self.slippage, "a fraction in [0, 0.1)")
        if self.stop_policy not in ("off", "warn", "refuse"):
            raise InputError("stop_policy", self.stop_policy, "off | warn | refuse")
        if self.leverage_cap is not None:
            require_positive("leverage_cap", self.leverage_cap)
        if self.vol_target is not None:
            require_positive("vol_target", self.vol_target)
        if self.vol_lookback < 2:
            raise InputError("vol_lookback", self.vol_lookback, ">= 2 bars")


@dataclass(eq=False)
class _Run:
    """Mutable state of one run (the ledgers become the ``ModeResult`` DataFrames)."""

    strategy: Strategy
    market: MarketData
    rules: VenueRules
    mode: Mode
    config: RunConfig
    scanner: Scanner
    account: Account
    spot: dict[str, float] = field(default_factory=dict)
    pending: list[Order] = field(default_factory=list)
    resting: list[Order] = field(default_factory=list)
    equity: FloatArray = field(default_factory=lambda: np.zeros(0))
    ratio: FloatArray = field(default_factory=lambda: np.zeros(0))
    gross: FloatArray = field(default_factory=lambda: np.zeros(0))
    trades: list[dict[str, Any]] = field(default_factory=list)
    liquidations: list[dict[str, Any]] = field(default_factory=list)
    positions: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    fees: float = 0.0
    breach: FloatArray = field(default_factory=lambda: np.zeros(0))

    # ---- helpers ---------------------------------------------------------------------------------
    def time(self, bar: int) -> pd.Timestamp:
        return pd.Timestamp(int(self.market.times[bar]), unit="ms", tz="UTC")

    def note(self, bar: int, kind: str, text: str) -> None:
        self.events.append({"time": self.time(bar), "kind": kind, "text": text})

    def marks_at(self, bar: int, prices: FloatArray) -> Marks:
        symbols = {p.symbol for p in self.account.positions} | set(self.strategy.symbols)
        return Marks({s: float(prices[bar, self.market.column(s)]) for s in symbols})

    def snapshot(self, bar: int) -> None:
        for p in self.account.positions:
            self.positions.append(
                {
                    "time": self.time(bar),
                    "symbol": p.symbol,
                    "side": p.side.label,
                    "size": p.size,
                    "entry_price": p.entry_price,
                    "margin_mode": p.mode.value,
                }
            )
        if not self.account.positions:
            self.positions.append(
                {"time": self.time(bar), "symbol": "", "side": "", "size": 0.0, "entry_price": 0.0, "margin_mode": ""}
            )

    def set_account(self, account: Account) -> None:
        self.account = replace(account, cross_deficit_allowed=True)

    # ---- fills -----------------------------------------------------------------------------------
    def execute(self, bar: int, order: Order, price: float, kind: str) -> None:
        """Fill ``order`` at ``price`` through ``margin.operations``; record a refusal as an event."""
        liquidity: Literal["maker", "taker"] = "maker" if order.type == "limit" else "taker"
        if order.market == "spot":
            self.fill_spot(bar, order, price)
            return
        marks = self.marks_at(bar, self.market.mark_open)
        position = self.account.position(order.symbol)
        size = order.size
        try:
            if position is not None and position.side is not order.side:
                closing = min(size, position.size)
                result = reduce_position(
                    self.account, self.rules, symbol=order.symbol, size=closing, price=price, liquidity=liquidity
                )
                label = kind if kind != "market" else ("reduce" if closing < position.size else "close")
                self.record_fill(bar, order, result.event, label)
                self.set_account(result.account)
                size -= closing
                position = None
                if size <= 1e-12 or order.reduce_only:
                    return
            elif order.reduce_only:
                if position is None:
                    self.note(bar, "cancelled", f"reduce-only {order.tag or order.type} in {order.symbol}: no position")
                return
            size = self.capped_size(bar, order, size, price)
            if size <= 0:
                return
            if position is None:
                mode = order.margin_mode or (MarginMode.CROSS if self.mode == "cross" else MarginMode.ISOLATED)
                result = open_position(
                    self.account,
                    marks,
                    self.rules,
                    symbol=order.symbol,
                    side=order.side,
                    size=size,
                    price=price,
                    leverage=order.leverage or self.config.leverage,
                    mode=mode,
                    liquidity=liquidity,
                )
                self.record_fill(bar, order, result.event, kind if kind != "market" else "open")
            else:
                result = increase_position(
                    self.account, marks, self.rules, symbol=order.symbol, size=size, price=price, liquidity=liquidity
                )
                self.record_fill(bar, order, result.event, kind if kind != "market" else "increase")
            self.set_account(result.account)
        except CrossmarginError as error:
            self.note(bar, "refused", f"{order.side.label} {size:g} {order.symbol} ({order.type}): {error}")

    def capped_size(self, bar: int, order: Order, size: float, price: float) -> float:
        """Return ``size`` after the leverage cap (gross notional / equity)."""
        cap = self.config.leverage_cap
        if cap is None:
            return size
        risk = evaluate(self.account, self.marks_at(bar, self.market.mark_open), self.rules)
        equity = risk.account.margin_balance
        gross = sum(p.notional for p in risk.positions)
        room = max(0.0, cap * equity - gross) / price
        if room < size:
            self.note(bar, "leverage_cap", f"{order.symbol}: order cut from {size:g} to {room:g} (cap {cap:g}x)")
            return room
        return size

    def fill_spot(self, bar: int, order: Order, price: float) -> None:
        held = self.spot.get(order.symbol, 0.0)
        size = order.size if order.side is Side.LONG else -min(order.size, held)
        fee = abs(size) * price * self.rules.fee_rate("taker")
        cost = size * price + fee
        if cost > self.account.cross_wallet_balance + 1e-9 and size > 0:
            self.note(bar, "refused", f"spot buy {size:g} {order.symbol}: cost {cost:,.2f} above the free wallet")
            return
        self.spot[order.symbol] = held + size
        self.fees += fee
        self.set_account(replace(self.account, wallet_balance=self.account.wallet_balance - cost))
        self.trades.append(
            {
                "time": self.time(bar),
                "symbol": order.symbol,
                "side": order.side.label,
                "size": abs(size),
                "price": price,
                "fee": fee,
                "realized_pnl": 0.0,
                "kind": "spot",
            }
        )

    def record_fill(self, bar: int, order: Order, event: Any, kind: str) -> None:
        self.fees += float(event.fee)
        self.trades.append(
            {
                "time": self.time(bar),
                "symbol": order.symbol,
                "side": order.side.label,
                "size": event.size,
                "price": event.price,
                "fee": event.fee,
                "realized_pnl": event.realized_pnl,
                "kind": kind,
            }
        )

    # ---- per-bar steps ---------------------------------------------------------------------------
    def funding_due(self, bar: int) -> bool:
        start = int(self.market.times[bar])
        end = start + self.market.interval_ms
        for symbol in {p.symbol for p in self.account.positions}:
            times = self.market.funding_times.get(symbol)
            if times is None:
                continue
            index = int(np.searchsorted(times, start, side="left"))
            if index < len(times) and times[index] < end:
                return True
        return False

    def settle_funding(self, bar: int) -> None:
        start = int(self.market.times[bar])
        end = start + self.market.interval_ms
        for position in self.account.positions:
            times = self.market.funding_times.get(position.symbol)
            if times is None:
                continue
            index = int(np.searchsorted(times, start, side="left"))
            while index < len(times) and times[index] < end:
                rate = float(self.market.funding_rates[position.symbol][index])
                mark = float(self.market.mark_open[bar, self.market.column(position.symbol)])
                payment = funding_payment(position.side, position.size, mark, rate)
                current = self.account.position(position.symbol)
                assert current is not None
                if current.isolated_margin is not None:
                    new = replace(current, isolated_margin=max(current.isolated_margin + payment, 1e-9))
                    payment = new.isolated_margin - current.isolated_margin  # type: ignore[operator]
                    positions = tuple(new if p is current else p for p in self.account.positions)
                    self.set_account(
                        replace(self.account, wallet_balance=self.account.wallet_balance + payment, positions=positions)
                    )
                else:
                    self.set_account(replace(self.account, wallet_balance=self.account.wallet_balance + payment))
                self.funding.append(
                    {"time": self.time(bar), "symbol": position.symbol, "rate": rate, "payment": payment}
                )
                index += 1

    def fire_resting(self, bar: int) -> None:
        order_rank = {"stop": 0, "take_profit": 1, "limit": 2}
        for order in sorted(self.resting, key=lambda o: order_rank[o.type]):
            if order not in self.resting:
                continue
            column = self.market.column(order.symbol)
            direction = trigger_direction(order)
            reached = (
                self.market.high[bar, column] >= order.price
                if direction > 0
                else self.market.low[bar, column] <= order.price
            )
            if not reached:
                continue
            self.resting.remove(order)
            price = fill_price(order, float(self.market.open[bar, column]), self.config.slippage)
            self.execute(bar, order, price, order.type)
            if self.account.position(order.symbol) is None:  # the position is gone: drop its exits
                self.resting = [o for o in self.resting if not (o.symbol == order.symbol and o.reduce_only)]

    def check_margin(self, bar: int) -> None:
        pools = pool_keys(self.account)
        for pool in sorted(set(pools)):
            pools = pool_keys(self.account)
            if pool not in pools:
                continue
            marks = worst_marks(self.account, self.market, bar, pools, pool)
            risk = evaluate(self.account, marks, self.rules)
            if risk_view(self.rules, risk.pool_ratios[pools.index(pool)]) < 1.0:
                continue
            wallets = {"cross": self.account.cross_wallet_balance}
            wallets |= {
                f"isolated:{p.symbol}" + ("" if p.position_side == "both" else f":{p.position_side}"): p.isolated_margin
                for p in self.account.positions
                if p.isolated_margin is not None
            }
            self.breach[bar] = max(self.breach[bar], risk_view(self.rules, risk.pool_ratios[pools.index(pool)]))
            outcome = liquidate(self.account, marks, self.rules)
            for event in outcome.events:
                wallet = wallets.get(event.pool, event.margin_before)
                for fill in event.fills:
                    self.fees += fill.fee
                    self.liquidations.append(
                        {
                            "time": self.time(bar),
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
                    self.trades.append(
                        {
                            "time": self.time(bar),
                            "symbol": fill.symbol,
                            "side": "short" if fill.side == "long" else "long",
                            "size": fill.size,
                            "price": fill.price,
                            "fee": fill.fee,
                            "realized_pnl": fill.realized_pnl,
                            "kind": "liquidation",
                        }
                    )
            held = {p.symbol for p in outcome.account.positions}
            self.resting = [o for o in self.resting if o.symbol in held or not o.reduce_only]
            self.set_account(outcome.account)

    def record_close(self, bar: int) -> None:
        if self.account.positions:
            risk = evaluate(self.account, self.marks_at(bar, self.market.mark_close), self.rules)
            pools = pool_keys(self.account)
            self.equity[bar] = risk.account.margin_balance
            self.ratio[bar] = max(risk_view(self.rules, risk.pool_ratios[pools.index(p)]) for p in set(pools))
        else:
            self.equity[bar] = self.account.wallet_balance
            self.ratio[bar] = 0.0

    def call_strategy(self, bar: int) -> None:
        context = BarContext(
            bar=bar,
            market=self.market,
            account=self.account,
            spot=dict(self.spot),
            equity=float(self.equity[bar] + self.spot_value(bar)),
            leverage=self.config.leverage,
            resting=tuple(self.resting),
        )
        orders = list(self.strategy.on_bar(context))
        if context.cancels:
            self.resting = [o for o in self.resting if o.symbol not in context.cancels]
        for sent in orders:
            order = self.vol_scaled(bar, sent, context)
            if order.type == "market":
                if order.market == "spot":
                    self.execute(bar, order, self.spot_fill(bar, order), "spot")
                else:
                    self.pending.append(order)
            elif self.stop_allowed(bar, order):
                self.resting.append(order)

    def sigma(self, symbol: str, bar: int, decay: float) -> float:
        """Return the EWMA volatility of ``symbol``'s log returns per bar up to ``bar`` (fraction)."""
        closes = self.market.close[: bar + 1, self.market.column(symbol)]
        returns = np.diff(np.log(closes[-min(len(closes), 2000) :]))
        if len(returns) < 2:
            return math.nan
        weights = decay ** np.arange(len(returns) - 1, -1, -1)
        return float(math.sqrt(np.sum(weights * returns**2) / np.sum(weights)))

    def auto_leverage(self, bar: int) -> None:
        """Apply ``RunConfig.auto_leverage`` at the close of ``bar`` (see ``AutoLeverage``)."""
        policy = self.config.auto_leverage
        if policy is None or bar < policy.warmup or not self.account.positions:
            return
        marks = self.marks_at(bar, self.market.mark_close)
        risk = evaluate(self.account, marks, self.rules)
        cross = [p for p in risk.positions if p.isolated_margin is None]
        cross_equity = self.account.cross_wallet_balance + sum(p.unrealized_pnl for p in cross)
        cross_gross = sum(p.notional for p in cross)
        for position, state in zip(self.account.positions, risk.positions, strict=True):
            sigma = self.sigma(position.symbol, bar, policy.ewma_lambda)
            if not math.isfinite(sigma) or sigma <= 0 or state.notional <= 0:
                continue
            instrument = self.rules.instrument(position.symbol)
            venue_cap = instrument.bracket_for(instrument.tier_value(position.size, state.mark_price)).max_leverage
            cap = min(
                venue_cap,
                policy.cap(position.side, sigma, policy.horizon_bars, state.mm_rate, policy.max_liq_prob),
            )
            if state.isolated_margin is not None:
                margin = state.isolated_margin + state.unrealized_pnl
            else:
                margin = cross_equity * state.notional / cross_gross if cross_gross else 0.0
            if margin > 0 and state.notional / margin <= cap * (1 + policy.band):
                continue
            target_margin = state.notional / max(cap, 1e-9)
            if state.isolated_margin is not None and margin < target_margin:
                free = min(risk.account.available_balance, self.account.cross_wallet_balance)
                amount = min(target_margin - margin, free)
                if amount > 1e-9:
                    moved = add_isolated_margin(self.account, marks, self.rules, symbol=position.symbol, amount=amount)
                    self.set_account(moved.account)
                    margin += amount
                    self.note(bar, "auto_leverage", f"{position.symbol}: added {amount:,.2f} margin (cap {cap:.2f}x)")
                if margin >= target_margin * (1 - 1e-9):
                    continue
            keep = max(0.0, min(position.size, cap * max(margin, 0.0) / state.mark_price))
            if position.size - keep <= 1e-12:
                continue
            self.pending.append(
                Order(
                    symbol=position.symbol,
                    side=Side.SHORT if position.side is Side.LONG else Side.LONG,
                    size=position.size - keep,
                    reduce_only=True,
                    tag="auto-leverage",
                )
            )
            self.note(bar, "auto_leverage", f"{position.symbol}: cut to {keep:g} (cap {cap:.2f}x, sigma {sigma:.4f})")

    def spot_fill(self, bar: int, order: Order) -> float:
        if self.market.spot_close is None:
            raise InputError("market", "spot", "a run with spot prices (the strategy needs them)")
        price = float(self.market.spot_close[bar, self.market.column(order.symbol)])
        return price * (1 + int(order.side) * self.config.slippage)

    def vol_scaled(self, bar: int, order: Order, context: BarContext) -> Order:
        target = self.config.vol_target
        if target is None or order.reduce_only or order.market == "spot":
            return order
        position = self.account.position(order.symbol)
        if position is not None and position.side is not order.side:
            return order  # reducing exposure is never scaled
        bars_per_year = MS_PER_YEAR / self.market.interval_ms
        vol = context.realized_volatility(order.symbol, self.config.vol_lookback, bars_per_year)
        if not math.isfinite(vol) or vol <= target:
            return order
        factor = target / vol
        self.note(bar, "vol_target", f"{order.symbol}: volatility {vol:.1%} > {target:.1%}, order x {factor:.3f}")
        return replace(order, size=order.size * factor)

    def stop_allowed(self, bar: int, order: Order) -> bool:
        if order.type != "stop" or self.config.stop_policy == "off":
            return True
        position = self.account.position(order.symbol)
        pending = next((o for o in self.pending if o.symbol == order.symbol and o.side is not order.side), None)
        if position is None or position.side is order.side:
            if pending is None:
                return True
            side = pending.side
            entry = float(self.market.close[bar, self.market.column(order.symbol)])
            lev = pending.leverage or self.config.leverage
            liq = entry * (1 - int(side) / lev)  # the bankruptcy price bounds the liquidation price
        else:
            risk = evaluate(self.account, self.marks_at(bar, self.market.mark_close), self.rules)
            found = next(p for p in risk.positions if p.symbol == order.symbol)
            if found.liquidation_price is None:
                return True
            side, liq = position.side, found.liquidation_price
        beyond = (order.price <= liq) if side is Side.LONG else (order.price >= liq)  # type: ignore[operator]
        if not beyond:
            return True
        text = f"{order.symbol}: stop {order.price:,.4g} is beyond the liquidation price {liq:,.4g}"
        if self.config.stop_policy == "refuse":
            self.note(bar, "stop_refused", text + " (refused)")
            return False
        self.note(bar, "stop_warning", text)
        return True

    def spot_value(self, bar: int) -> float:
        if not self.spot or self.market.spot_close is None:
            return 0.0
        return sum(q * float(self.market.spot_close[bar, self.market.column(s)]) for s, q in self.spot.items())

    def gross_at(self, bars: slice) -> FloatArray:
        total = np.zeros(bars.stop - bars.start)
        for p in self.account.positions:
            total += p.size * self.market.mark_close[bars, self.market.column(p.symbol)]
        return total

    def spot_series(self, bars: slice) -> FloatArray:
        total = np.zeros(bars.stop - bars.start)
        if self.market.spot_close is not None:
            for s, q in self.spot.items():
                total += q * self.market.spot_close[bars, self.market.column(s)]
        return total


def run_mode(
    strategy: Strategy,
    market: MarketData,
    rules: VenueRules,
    mode: Mode,
    config: RunConfig | None = None,
    *,
    scanner: Scanner | None = None,
) -> ModeResult:
    """Run ``strategy`` on ``market`` under ``rules`` in margin ``mode``; return its ledgers and summary."""
    config = config or RunConfig()
    if mode not in ("cross", "isolated"):
        raise InputError("mode", mode, "cross | isolated")
    for symbol in strategy.symbols:
        market.column(symbol)
        rules.instrument(symbol)
    if strategy.needs_spot and market.spot_close is None:
        raise InputError("market", "no spot prices", f"spot prices for {strategy.name}")
    run = _Run(
        strategy=strategy,
        market=market,
        rules=rules,
        mode=mode,
        config=config,
        scanner=scanner or scan_reference,
        account=Account(venue=rules.name, wallet_balance=config.wallet, cross_deficit_allowed=True),
    )
    bars = market.bars
    run.equity, run.ratio, run.gross, run.breach = np.zeros(bars), np.zeros(bars), np.zeros(bars), np.zeros(bars)
    spot_total = np.zeros(bars)
    bar = 0
    while bar < bars:
        quiet_end = bar
        while (
            quiet_end < bars
            and not (run.pending and quiet_end == bar)
            and not strategy.due(quiet_end)
            and not run.funding_due(quiet_end)
            and not (config.auto_leverage is not None and quiet_end % config.auto_leverage.every == 0)
        ):
            quiet_end += 1
        if quiet_end > bar:
            triggers = [Trigger(o.symbol, o.price, trigger_direction(o)) for o in run.resting]  # type: ignore[arg-type]
            found = run.scanner(run.account, rules, market, triggers, start=bar, stop=quiet_end)
            span = slice(bar, found.event)
            run.equity[span] = found.equity
            run.ratio[span] = found.ratio
            run.gross[span] = run.gross_at(span)
            spot_total[span] = run.spot_series(span)
            bar = found.event
            if bar >= bars:
                break
        book = run.account.positions
        orders, run.pending = run.pending, []
        for order in orders:
            column = market.column(order.symbol)
            run.execute(bar, order, fill_price(order, float(market.open[bar, column]), config.slippage), "market")
        if run.funding_due(bar):
            run.settle_funding(bar)
        run.fire_resting(bar)
        run.check_margin(bar)
        run.record_close(bar)
        run.gross[bar] = run.gross_at(slice(bar, bar + 1))[0]
        spot_total[bar] = run.spot_value(bar)
        if strategy.due(bar):
            run.call_strategy(bar)
        policy = config.auto_leverage
        if policy is not None and (strategy.due(bar) or bar % policy.every == 0):
            run.auto_leverage(bar)
        if run.account.positions != book:
            run.snapshot(bar)
        bar += 1
    return _result(run, mode, spot_total)


def _frame(rows: list[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns))


def _result(run: _Run, mode: Mode, spot_total: FloatArray) -> ModeResult:
    market, config = run.market, run.config
    index = pd.to_datetime(market.times, unit="ms", utc=True)
    total = run.equity + spot_total
    ratio = np.maximum(run.ratio, run.breach)  # a bar that liquidated reached its worst-case ratio
    equity = pd.DataFrame({"equity": total, "margin_ratio": ratio, "gross_notional": run.gross}, index=index)
    peak = np.maximum.accumulate(np.maximum(total, 1e-300))
    drawdown = float(np.max(1 - total / peak)) if len(total) else 0.0
    paid = -math.fsum(row["payment"] for row in run.funding if row["payment"] < 0)
    received = math.fsum(row["payment"] for row in run.funding if row["payment"] > 0)
    liquidated_pools = {(row["time"], row["pool"]) for row in run.liquidations}
    summary = Summary(
        mode=mode,
        initial_equity=config.wallet,
        final_equity=float(total[-1]),
        return_on_collateral=float(total[-1] / config.wallet - 1),
        max_drawdown=drawdown,
        liquidations=len(liquidated_pools),
        fees=float(run.fees),
        funding_paid=float(paid),
        funding_received=float(received),
        peak_margin_ratio=float(np.max(ratio)),
        time_above_80pct=float(np.mean(ratio >= 0.8)),
        capital_efficiency=float(np.mean(run.gross) / config.wallet),
        rejected_orders=sum(1 for e in run.events if e["kind"] in ("refused", "stop_refused")),
    )
    return ModeResult(
        mode=mode,
        summary=summary,
        equity=equity,
        trades=_frame(run.trades, ("time", "symbol", "side", "size", "price", "fee", "realized_pnl", "kind")),
        liquidations=_frame(
            run.liquidations,
            ("time", "pool", "symbol", "side", "size", "price", "kind", "margin_before", "returned", "loss"),
        ),
        positions=_frame(run.positions, ("time", "symbol", "side", "size", "entry_price", "margin_mode")),
        funding=_frame(run.funding, ("time", "symbol", "rate", "payment")),
        events=_frame(run.events, ("time", "kind", "text")),
    )
