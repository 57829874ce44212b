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

Only some bars need these steps in Python: a bar with a market order to fill, a funding settlement of a
held symbol (found from the settlement bars mapped once per run), an auto-leverage check, and the first
bar where a resting order's trigger is touched or a pool breaches. Every other bar is scanned with the
book held, many at once (``kernels.scan`` compiled, or ``sim.scan.scan_reference``); the strategy's due
bars among them (``Strategy.due_bars``) are called with the scan's close figures, and the scan goes on as
long as a call sends nothing. Every formula comes from ``crossmargin.margin``: the engine opens, adds
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
from crossmargin.sim.config import Mode, RunConfig, Scanner
from crossmargin.sim.controls import auto_leverage, stop_allowed, vol_scaled
from crossmargin.sim.fills import execute, fill_pending, fire_resting, spot_fill
from crossmargin.sim.funding import next_funding, settle_funding
from crossmargin.sim.liquidation import check_margin
from crossmargin.sim.orders import trigger_direction
from crossmargin.sim.result import ModeResult
from crossmargin.sim.scan import scan_reference
from crossmargin.sim.state import RunState
from crossmargin.sim.strategy import BarContext, Strategy
from crossmargin.venues.base import VenueRules

__all__ = ["FIRST_SPAN", "LAST_SPAN", "run_mode"]

#: Bars scanned by the first call after a strategy call that sent orders, doubled at each further call up to
#: ``LAST_SPAN``: a strategy that trades often wastes little scanning ahead, one that holds gets long calls.
FIRST_SPAN = 64
LAST_SPAN = 1 << 16


@dataclass(eq=False)
class _Run:
    """One run as a sequence: quiet bars scanned in one call, every other bar stepped through 1-6."""

    state: RunState
    scanner: Scanner
    span: int = FIRST_SPAN

    def next_step(self, bar: int) -> int:
        """Return the first bar from ``bar`` on that must be stepped whatever the scan finds (or the last bar + 1).

        Those are: a bar with market orders to fill, a funding settlement of a held symbol, and with
        auto-leverage its check bars and the strategy's due bars (the policy runs after each call).
        """
        run = self.state
        if run.pending:
            return bar
        end = next_funding(run, bar)
        policy = run.config.auto_leverage
        if policy is not None:
            end = min(end, bar + (-bar) % policy.every)
            span = FIRST_SPAN
            while bar < end:  # the first due bar before ``end``, looked for in growing spans
                due = run.strategy.due_bars(bar, min(end, bar + span))
                if due:
                    return min(end, due[0])
                bar += span
                span = min(2 * span, LAST_SPAN)
        return end

    def advance(self, bar: int) -> tuple[int, bool]:
        """Scan from ``bar`` with the book held, calling the strategy at its due bars; return where to go on.

        Returns ``(b, True)`` when bar ``b`` must be stepped (an order, funding, a trigger or a breach; or
        the last bar + 1), ``(b, False)`` when a strategy call at ``b - 1`` changed the orders, so that the
        scan must start again at ``b`` with them.
        """
        run = self.state
        stop = self.next_step(bar)
        soft = run.config.auto_leverage is None
        while bar < stop:
            end = min(stop, bar + self.span)
            found = self.scan(bar, end)
            self.span = min(2 * self.span, LAST_SPAN)
            if soft:
                for due in run.strategy.due_bars(bar, found):
                    if self.call_strategy(due):
                        self.span = FIRST_SPAN
                        return due + 1, False
            if found < end:
                return found, True
            bar = end
        return stop, True

    def scan(self, bar: int, stop: int) -> int:
        """Scan the quiet bars ``[bar, stop)`` and record them up to the first event; return that event's bar."""
        run, ledger = self.state, self.state.ledger
        triggers = [Trigger(o.symbol, o.price, trigger_direction(o)) for o in run.resting]  # type: ignore[arg-type]
        found = self.scanner(run.account, run.rules, run.market, triggers, start=bar, stop=stop)
        if found.event == bar + 1 == stop:  # one bar: no slices
            ledger.equity[bar] = found.equity[0]
            ledger.ratio[bar] = found.ratio[0]
            ledger.gross[bar] = run.gross_close(bar)
            ledger.spot[bar] = run.spot_value(bar)
        elif found.event > bar:
            span = slice(bar, found.event)
            ledger.equity[span] = found.equity
            ledger.ratio[span] = found.ratio
            ledger.gross[span] = run.gross_at(span)
            ledger.spot[span] = run.spot_series(span)
        return found.event

    def step(self, bar: int) -> None:
        """Run the steps 1-6 of the module docstring at ``bar``.

        Steps 4 and 5 are one scan of the bar (the resting orders left were not reached in it): only a bar
        where a pool breaches goes through ``check_margin`` and the close pass in Python.
        """
        run = self.state
        book = run.account.positions
        fill_pending(run, bar)
        if next_funding(run, bar) == bar:
            settle_funding(run, bar)
        fire_resting(run, bar)
        if self.scan(bar, bar + 1) == bar:
            check_margin(run, bar)
            run.record_close(bar)
        due = bar in run.strategy.due_bars(bar, bar + 1)
        if due:
            self.call_strategy(bar)
        policy = run.config.auto_leverage
        if policy is not None and (due or bar % policy.every == 0):
            auto_leverage(run, bar)
        if run.account.positions != book:
            run.ledger.snapshot(run.time(bar), run.account.positions)

    def call_strategy(self, bar: int) -> bool:
        """Show the strategy the close of ``bar``; queue its market orders, rest the others it may rest.

        Returns whether the call sent an order or cancelled one (else the run is as it was).
        """
        run = self.state
        context = BarContext(
            bar=bar,
            market=run.market,
            account=run.account,
            spot=dict(run.spot) if run.spot else {},
            equity=float(run.ledger.equity[bar] + run.spot_value(bar)),
            leverage=run.config.leverage,
            resting=tuple(run.resting) if run.resting else (),
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
        return bool(orders or context.cancels)


def run_mode(
    strategy: Strategy,
    market: MarketData,
    rules: VenueRules,
    mode: Mode,
    config: RunConfig | None = None,
    *,
    scanner: Scanner | None = None,
) -> ModeResult:
    """Run ``strategy`` on ``market`` under ``rules`` in margin ``mode``; return its ledgers and summary.

    ``config`` sets the fees (``RunConfig.taker_fee`` / ``maker_fee``) and whether funding settles;
    ``scanner`` scans the quiet bars (default the plain-Python ``sim.scan.scan_reference``; pass
    ``sim.backtest.KernelScanner()`` for the compiled one).
    """
    config = config or RunConfig()
    if mode not in ("cross", "isolated"):
        raise InputError("mode", mode, "cross | isolated")
    for symbol in strategy.symbols:
        market.column(symbol)
        rules.instrument(symbol)
    if strategy.needs_spot and market.spot_close is None:
        raise InputError("market", "no spot prices", f"spot prices for {strategy.name}")
    state = RunState.start(strategy, market, rules, mode, config)
    run = _Run(state=state, scanner=scanner or scan_reference)
    bars = market.bars
    bar = 0
    while bar < bars:
        bar, stepped = run.advance(bar)
        if stepped and bar < bars:
            run.step(bar)
            bar += 1
    return state.ledger.result(mode, market, config.wallet)
