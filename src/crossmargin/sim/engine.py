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

This module is the sequence only; the steps are ``sim.fills`` (1, 3), ``sim.funding`` (2),
``sim.liquidation`` (4), ``sim.ledger`` (5, and the result), ``sim.controls`` (the risk controls of
``sim.config.RunConfig``) over one ``sim.state.RunState``.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossmargin.errors import InputError
from crossmargin.kernels.layout import MarketData, Trigger
from crossmargin.margin.account import evaluate
from crossmargin.margin.pools import pool_keys, risk_view
from crossmargin.model import Account
from crossmargin.sim.config import Mode, RunConfig, Scanner
from crossmargin.sim.controls import auto_leverage, stop_allowed, vol_scaled
from crossmargin.sim.fills import execute, fill_pending, fire_resting, spot_fill
from crossmargin.sim.funding import funding_due, settle_funding
from crossmargin.sim.ledger import Ledger
from crossmargin.sim.liquidation import check_margin
from crossmargin.sim.orders import trigger_direction
from crossmargin.sim.result import ModeResult
from crossmargin.sim.scan import scan_reference
from crossmargin.sim.state import RunState
from crossmargin.sim.strategy import BarContext, Strategy
from crossmargin.venues.base import VenueRules

__all__ = ["run_mode"]


@dataclass(eq=False)
class _Run:
    """One run as a sequence: quiet bars scanned in one call, every other bar stepped through 1-6."""

    state: RunState
    scanner: Scanner

    def quiet_until(self, bar: int) -> int:
        """Return the first bar from ``bar`` on where anything but the margin check and the close can happen."""
        run, config = self.state, self.state.config
        end = bar
        while (
            end < run.market.bars
            and not (run.pending and end == bar)
            and not run.strategy.due(end)
            and not funding_due(run, end)
            and not (config.auto_leverage is not None and end % config.auto_leverage.every == 0)
        ):
            end += 1
        return end

    def scan(self, bar: int, stop: int) -> int:
        """Scan the quiet bars ``[bar, stop)`` and record them up to the first event; return that event's bar."""
        run, ledger = self.state, self.state.ledger
        triggers = [Trigger(o.symbol, o.price, trigger_direction(o)) for o in run.resting]  # type: ignore[arg-type]
        found = self.scanner(run.account, run.rules, run.market, triggers, start=bar, stop=stop)
        span = slice(bar, found.event)
        ledger.equity[span] = found.equity
        ledger.ratio[span] = found.ratio
        ledger.gross[span] = run.gross_at(span)
        ledger.spot[span] = run.spot_series(span)
        return found.event

    def step(self, bar: int) -> None:
        """Run the steps 1-6 of the module docstring at ``bar``."""
        run = self.state
        book = run.account.positions
        fill_pending(run, bar)
        if funding_due(run, bar):
            settle_funding(run, bar)
        fire_resting(run, bar)
        check_margin(run, bar)
        self.record_close(bar)
        if run.strategy.due(bar):
            self.call_strategy(bar)
        policy = run.config.auto_leverage
        if policy is not None and (run.strategy.due(bar) or bar % policy.every == 0):
            auto_leverage(run, bar)
        if run.account.positions != book:
            run.ledger.snapshot(run.time(bar), run.account.positions)

    def record_close(self, bar: int) -> None:
        """Record the close of ``bar``: margin balance, the highest pool ratio, gross notional, spot value."""
        run, ledger = self.state, self.state.ledger
        if run.account.positions:
            risk = evaluate(run.account, run.marks_at(bar, run.market.mark_close), run.rules)
            pools = pool_keys(run.account)
            ledger.equity[bar] = risk.account.margin_balance
            ledger.ratio[bar] = max(risk_view(run.rules, risk.pool_ratios[pools.index(p)]) for p in set(pools))
        else:
            ledger.equity[bar] = run.account.wallet_balance
            ledger.ratio[bar] = 0.0
        ledger.gross[bar] = run.gross_at(slice(bar, bar + 1))[0]
        ledger.spot[bar] = run.spot_value(bar)

    def call_strategy(self, bar: int) -> None:
        """Show the strategy the close of ``bar``; queue its market orders, rest the others it may rest."""
        run = self.state
        context = BarContext(
            bar=bar,
            market=run.market,
            account=run.account,
            spot=dict(run.spot),
            equity=float(run.ledger.equity[bar] + run.spot_value(bar)),
            leverage=run.config.leverage,
            resting=tuple(run.resting),
        )
        orders = list(run.strategy.on_bar(context))
        if context.cancels:
            run.resting = [o for o in run.resting if o.symbol not in context.cancels]
        for sent in orders:
            order = vol_scaled(run, bar, sent, context)
            if order.type == "market":
                if order.market == "spot":
                    execute(run, bar, order, spot_fill(run, bar, order), "spot")
                else:
                    run.pending.append(order)
            elif stop_allowed(run, bar, order):
                run.resting.append(order)


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
    state = RunState(
        strategy=strategy,
        market=market,
        rules=rules,
        mode=mode,
        config=config,
        account=Account(venue=rules.name, wallet_balance=config.wallet, cross_deficit_allowed=True),
        ledger=Ledger(market.bars),
    )
    run = _Run(state=state, scanner=scanner or scan_reference)
    bars = market.bars
    bar = 0
    while bar < bars:
        quiet_end = run.quiet_until(bar)
        if quiet_end > bar:
            bar = run.scan(bar, quiet_end)
            if bar >= bars:
                break
        run.step(bar)
        bar += 1
    return state.ledger.result(mode, market, config.wallet)
