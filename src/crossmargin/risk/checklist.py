"""The Cross Margin Risk Checklist's verdicts: one portfolio checked item by item, with advice.

Every figure comes from the library (``margin.evaluate``, ``risk.safe_leverage.recommend_leverage``,
``risk.stress.run_stress`` / ``stress_grid``, ``risk.montecarlo.liquidation_probability``); this module only
compares those figures with the thresholds below and words the result. Where an item warns or fails, the
advice says how far to go to pass: margin to add or size to cut, found by asking ``evaluate`` /
``run_stress`` again of the changed book (bisection), never by a margin formula of its own.

The verdict is on the book as given: each position in its file's mode, and advice that fits that mode
(an isolated position: add to its isolated margin or move it to cross; a cross position: add to the
wallet, reduce or close it). The recasts ``all_cross`` and ``all_isolated`` follow as what-ifs, labelled
so, outside the verdict and without advice.

Money in the quote currency (settle asset), moves, ratios, shares and probabilities as fractions,
leverages as multiples, the horizon in hours. The HTML and PDF writers are in ``report.checklist``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from crossmargin.console import format_money as _money
from crossmargin.console import format_price
from crossmargin.errors import InputError
from crossmargin.margin.account import evaluate
from crossmargin.margin.pools import risk_view
from crossmargin.model import Account, AccountRisk, MarginMode, Position, PositionRisk
from crossmargin.portfolio import Portfolio, compare_modes
from crossmargin.risk.montecarlo import MCResult, liquidation_probability
from crossmargin.risk.safe_leverage import recommend_leverage
from crossmargin.risk.stress import (
    MODE_LABELS,
    StressGrid,
    StressReport,
    grid_moves,
    historical_scenarios,
    hypothetical_scenarios,
    run_stress,
    stress_grid,
)
from crossmargin.risk.thresholds import (
    CONCENTRATION_FAIL,
    CONCENTRATION_WARN,
    DISTANCE_FAIL,
    DISTANCE_WARN,
    GRID_EXTENT,
    GRID_STEP,
    LEVERAGE_WARN_SHARE,
    LIQ_PROB_TARGET,
    MARGIN_RATIO_FAIL,
    MARGIN_RATIO_WARN,
    STOP_SHARE,
    STRESS_LOSS_FAIL,
    STRESS_LOSS_WARN,
)

__all__ = [
    "STATUSES",
    "WHAT_IF",
    "Checklist",
    "Item",
    "LiquidationRow",
    "Status",
    "build_checklist",
    "missing_price",
    "percent",
]

Status = Literal["pass", "warn", "fail"]

# --- thresholds ------------------------------------------------------------------------------------------

#: Bisection steps when searching the margin to add or the size to keep.
_BISECTIONS = 40
#: The recasts shown as what-ifs beside the book as given.
WHAT_IF = {"cross": MODE_LABELS["cross"], "isolated": MODE_LABELS["isolated"]}

_RANK: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail")


# --- the checklist ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One check: ``figure`` is the figure shown (text), ``advice`` what to do.

    ``advice`` is '' when the item passes, and always for a what-if item: advice is for the book as given.
    """

    title: str
    figure: str
    status: Status
    detail: str
    advice: str = ""


@dataclass(frozen=True, slots=True)
class LiquidationRow:
    """One position's mark and its liquidation prices (quote currency; None: no liquidation price).

    ``mode``: the position's own margin mode in the file ('cross' or 'isolated'); ``as_given``: its
    liquidation price in the book as given; ``cross`` / ``isolated``: what if every position were cross /
    isolated (``isolated`` is also None when the wallet cannot fund that recast). ``*_note``: why the
    library gives no price where it says (``PositionRisk.liquidation_note``, e.g. 'beyond the last bracket').
    """

    label: str
    mark: float
    mode: str
    as_given: float | None
    cross: float | None
    isolated: float | None
    as_given_note: str | None = None
    cross_note: str | None = None
    isolated_note: str | None = None


@dataclass(frozen=True, slots=True)
class Checklist:
    """The checked portfolio: summary figures, the items, and what the visual guide draws.

    ``items`` judge the book as given (each position in its file's mode) and make the verdict; ``what_ifs``
    are the same checks of the recasts that differ from it (every position cross, every position isolated),
    shown for comparison and never part of the verdict.
    """

    venue: str
    settle: str
    wallet_balance: float
    margin_balance: float
    positions: tuple[str, ...]
    items: tuple[Item, ...]
    liquidations: tuple[LiquidationRow, ...]
    grid: StressGrid | None
    paths: int
    horizon_hours: float
    max_liq_prob: float
    notes: tuple[str, ...] = ()
    what_ifs: tuple[Item, ...] = ()

    @property
    def verdict(self) -> Status:
        """Return the worst status of the as-given items ('pass' when there are none)."""
        return max((item.status for item in self.items), key=lambda s: _RANK[s], default="pass")

    def counts(self) -> dict[Status, int]:
        """Return how many as-given items have each status."""
        return {s: sum(1 for item in self.items if item.status == s) for s in STATUSES}

    def verdict_text(self) -> str:
        """Return the overall verdict (on the book as given) in one sentence."""
        c = self.counts()
        tally = f"{c['pass']} pass, {c['warn']} warn, {c['fail']} fail"
        if self.verdict == "fail":
            return f"FAIL: act on the failed items before the market does ({tally}; the book as given)."
        if self.verdict == "warn":
            return f"WARN: nothing fails, but some items need attention ({tally}; the book as given)."
        return f"PASS: every item within its threshold ({tally}; the book as given)."


def percent(value: float, digits: int = 1) -> str:
    """Return a fraction as the checklist writes a share: ``digits`` decimals and a spaced sign (0.125 -> '12.5 %')."""
    return f"{value * 100:.{digits}f} %"


def _above(value: float, warn: float, fail: float) -> Status:
    """Status of a figure that is worse when higher."""
    return "fail" if value >= fail else "warn" if value >= warn else "pass"


def _label(account: Account, index: int) -> str:
    p = account.positions[index]
    return f"{p.symbol} {p.side.label}"


def _scope(book: str | None) -> str:
    """Return the title suffix of a what-if book ('' for the book as given)."""
    return "" if book is None else f" ({WHAT_IF[book]})"


def _largest_true(ok: Callable[[float], bool], low: float, high: float) -> float:
    """Return (about) the largest x in [low, high] with ``ok(x)``, ``ok`` true at low and monotone."""
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if ok(middle):
            low = middle
        else:
            high = middle
    return low


def _smallest_true(ok: Callable[[float], bool], low: float, high: float) -> float | None:
    """Return (about) the smallest x in [low, high] with ``ok(x)``; None when not even ``ok(high)``."""
    if not ok(high):
        return None
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        if ok(middle):
            high = middle
        else:
            low = middle
    return high


def _scaled(account: Account, share: float) -> Account:
    """Return ``account`` with every size (and isolated margin) times ``share``."""
    return replace(
        account,
        positions=tuple(
            replace(
                p,
                size=p.size * share,
                isolated_margin=None if p.isolated_margin is None else p.isolated_margin * share,
            )
            for p in account.positions
        ),
    )


def missing_price(note: str | None) -> str:
    """Return how a missing liquidation price reads: '--' and why."""
    return f"-- ({note or 'no liquidation price'})"


# --- items -----------------------------------------------------------------------------------------------


def _leverage_items(frame: Any, labels: Sequence[str], *, all_cross_book: bool) -> tuple[list[Item], list[Item]]:
    """Return the leverage items of the book as given, and the account row as a what-if unless the book is all cross.

    Each position's row is judged on the margin it holds as given (its isolated margin, or its initial
    margin in cross); the account row treats the whole book as one cross pool.
    """
    items: list[Item] = []
    what_ifs: list[Item] = []
    rows = frame.to_dict("records")
    for label, row in zip(labels, rows, strict=False):
        current, safe = float(row["current_leverage"]), float(row["recommended_leverage"])
        status: Status = "fail" if current > safe else "warn" if current > LEVERAGE_WARN_SHARE * safe else "pass"
        advice = ""
        if status != "pass":
            advice = (
                f"Cut {label} to at most {safe:g}x on its current margin ({_money(float(row['margin']))}): a size of "
                f"{float(row['recommended_size']):g} (notional {_money(float(row['recommended_notional']))})."
            )
        items.append(
            Item(
                f"Leverage: {label}",
                f"{current:g}x vs safe {safe:g}x",
                status,
                f"Safe leverage keeps the simulated liquidation probability under the target "
                f"(simulated at the safe leverage: {percent(float(row['mc_probability']), 2)}).",
                advice,
            )
        )
    account_rows = [r for r in rows if r["scope"] == "cross account"]
    if account_rows:
        row = account_rows[0]
        current, safe = float(row["current_leverage"]), float(row["recommended_leverage"])
        status = "fail" if current > safe else "warn" if current > LEVERAGE_WARN_SHARE * safe else "pass"
        advice = ""
        if status != "pass" and all_cross_book:
            advice = (
                f"Bring gross notional down to {_money(float(row['recommended_notional']))} "
                f"(cut every position by {percent(1 - safe / current)})."
            )
        item = Item(
            "Leverage: cross account (gross)" + _scope(None if all_cross_book else "cross"),
            f"{current:.2f}x vs safe {safe:.2f}x",
            status,
            "Gross notional / cross margin balance against the account-level safe leverage.",
            advice,
        )
        (items if all_cross_book else what_ifs).append(item)
    return items, what_ifs


def _ratio_item(portfolio: Portfolio, account: Account, risk: AccountRisk, *, book: str | None) -> Item:
    """Return the cross pool's margin-ratio item of ``account`` (``book`` None: as given, with advice)."""
    rules = portfolio.rules
    view = risk_view(rules, risk.account.margin_ratio)
    status = _above(view, MARGIN_RATIO_WARN, MARGIN_RATIO_FAIL)
    advice = ""
    if status != "pass" and book is None:

        def ok(deposit: float) -> bool:
            changed = replace(account, wallet_balance=account.wallet_balance + deposit)
            ratio = evaluate(changed, portfolio.marks, rules).account.margin_ratio
            return risk_view(rules, ratio) < MARGIN_RATIO_WARN

        needed = _smallest_true(ok, 0.0, max(risk.account.margin_balance, 1.0) * 100)
        if needed is not None:
            advice = (
                f"Add {_money(needed)} {rules.settle} to the wallet (the cross pool) to bring the ratio under "
                f"{percent(MARGIN_RATIO_WARN, 0)}, or reduce the cross positions."
            )
        else:
            advice = "Reduce the cross positions: no deposit of a sensible size brings the ratio under the threshold."
    return Item(
        "Cross margin ratio" + _scope(book),
        percent(view, 2),
        status,
        f"Maintenance requirement / margin balance of the cross pool (100 % = liquidation); "
        f"warn from {percent(MARGIN_RATIO_WARN, 0)}, fail from {percent(MARGIN_RATIO_FAIL, 0)}.",
        advice,
    )


def _distance_status(distance: float | None, note: str | None) -> Status:
    if distance is None:
        return "warn" if note else "pass"  # a price the library cannot give is unknown, not safe
    if distance < DISTANCE_FAIL:
        return "fail"
    return "warn" if distance < DISTANCE_WARN else "pass"


def _moved_to_cross(portfolio: Portfolio, account: Account, index: int, distance: float) -> str:
    """Return ', or move it to cross (...)' where that puts the isolated position ``index`` farther from liquidation."""
    positions = list(account.positions)
    positions[index] = replace(positions[index], mode=MarginMode.CROSS, isolated_margin=None)
    try:
        after = evaluate(replace(account, positions=tuple(positions)), portfolio.marks, portfolio.rules)
    except InputError:
        return ""
    moved = after.positions[index]
    if moved.distance_to_liquidation is None:
        return "" if moved.liquidation_note else ", or move it to cross, where the cross pool carries it to any price"
    if moved.distance_to_liquidation <= distance:
        return ""
    return (
        f", or move it to cross (with the cross pool behind it: liquidation price "
        f"{format_price(moved.liquidation_price)}, {percent(moved.distance_to_liquidation)} from the mark)"
    )


def _distance_advice(portfolio: Portfolio, account: Account, index: int, risk: PositionRisk) -> str:
    """Return what to do for a position of the book as given that is too near liquidation, by its own mode."""
    rules, marks = portfolio.rules, portfolio.marks
    position, label = account.positions[index], _label(account, index)
    if risk.distance_to_liquidation is None:
        return (
            f"Reduce {label}: its liquidation price is not given ({risk.liquidation_note}), so how far the mark "
            "may move is not known."
        )
    isolated = position.mode is MarginMode.ISOLATED

    def ok(deposit: float) -> bool:
        positions = list(account.positions)
        if isolated:
            positions[index] = replace(position, isolated_margin=(position.isolated_margin or 0.0) + deposit)
        changed = replace(account, wallet_balance=account.wallet_balance + deposit, positions=tuple(positions))
        after = evaluate(changed, marks, rules).positions[index].distance_to_liquidation
        return after is None or after >= DISTANCE_WARN

    needed = _smallest_true(ok, 0.0, risk.notional * 2)
    away = f"{percent(DISTANCE_WARN, 0)} from the mark"
    if isolated:
        cross = _moved_to_cross(portfolio, account, index, risk.distance_to_liquidation)
        if needed is None:
            return f"Cut {label}{cross}: no added isolated margin moves its liquidation price {away}."
        return (
            f"Add {_money(needed)} {rules.settle} to the isolated margin of {label} to move its liquidation price "
            f"{away}{cross}."
        )
    if needed is None:
        return f"Reduce or close {label}: no deposit of a sensible size moves its liquidation price {away}."
    return (
        f"Add {_money(needed)} {rules.settle} to the wallet (the cross pool) to move the liquidation price of {label} "
        f"{away}, or reduce or close it."
    )


def _distance_items(portfolio: Portfolio, account: Account, risk: AccountRisk, *, book: str | None) -> list[Item]:
    """Return one distance item per position of ``account`` (``book`` None: as given, with advice)."""
    items = []
    for index, position_risk in enumerate(risk.positions):
        label = _label(account, index)
        distance = position_risk.distance_to_liquidation
        status = _distance_status(distance, position_risk.liquidation_note)
        figure = (
            missing_price(position_risk.liquidation_note)
            if distance is None
            else f"{percent(distance)} (liq. {format_price(position_risk.liquidation_price)})"
        )
        advised = status != "pass" and book is None
        advice = _distance_advice(portfolio, account, index, position_risk) if advised else ""
        where = account.positions[index].mode.value if book is None else WHAT_IF[book]
        items.append(
            Item(
                f"Distance to liquidation: {label} ({where})",
                figure,
                status,
                f"Adverse move from the mark to the {'' if book is None else WHAT_IF[book] + ' '}liquidation price; "
                f"warn under {percent(DISTANCE_WARN, 0)}, fail under {percent(DISTANCE_FAIL, 0)}.",
                advice,
            )
        )
    return items


def _concentration_item(account: Account, risk: AccountRisk, settle: str) -> Item:
    long = math.fsum(r.notional for p, r in zip(account.positions, risk.positions, strict=True) if int(p.side) > 0)
    short = math.fsum(r.notional for p, r in zip(account.positions, risk.positions, strict=True) if int(p.side) < 0)
    gross = long + short
    share = max(long, short) / gross if gross > 0 else 0.0
    side = "long" if long >= short else "short"
    status = _above(share, CONCENTRATION_WARN, CONCENTRATION_FAIL)
    advice = ""
    if status != "pass":
        big, small = max(long, short), min(long, short)
        target = CONCENTRATION_WARN
        keep = target * small / (1 - target)
        hedge = big * (1 - target) / target - small
        other = "short" if side == "long" else "long"
        advice = (
            f"Every crypto asset tends to fall together in a crash. To bring the {side} share under "
            f"{percent(target, 0)}: cut the {side} legs from {_money(big)} to {_money(keep)} {settle} of notional, "
            f"or add a {other} hedge of about {_money(hedge)} {settle} (e.g. in BTC)."
        )
    return Item(
        "Correlation concentration",
        f"{percent(share)} of gross notional {side} crypto",
        status,
        f"Share of gross notional on the same side of crypto beta (long legs vs short legs); warn from "
        f"{percent(CONCENTRATION_WARN, 0)}, fail from {percent(CONCENTRATION_FAIL, 0)}.",
        advice,
    )


def _stop_items(portfolio: Portfolio, rows: Sequence[LiquidationRow]) -> list[Item]:
    """Return one stop-loss item per position, placed against its liquidation price as given."""
    items = []
    for position, row in zip(portfolio.account.positions, rows, strict=True):
        sign = int(position.side)
        price = row.as_given
        if price is not None and sign * (row.mark - price) > 0:
            stop = row.mark + STOP_SHARE * (price - row.mark)
            word = "at or above" if sign > 0 else "at or below"
            advice = (
                f"Place a stop-loss on {row.label} {word} {format_price(stop)}: halfway from the mark "
                f"{format_price(row.mark)} to its liquidation price {format_price(price)} ({row.mode}), so the "
                "stop closes the position before the venue liquidates it."
            )
        elif row.as_given_note:
            advice = (
                f"Place a stop-loss on {row.label} at the largest loss you accept; its liquidation price is not "
                f"known ({row.as_given_note})."
            )
        else:
            advice = f"Place a stop-loss on {row.label} at the largest loss you accept; it has no liquidation price."
        items.append(
            Item(
                f"Stop-loss before liquidation: {row.label}",
                "no stop-loss recorded",
                "warn",
                "The portfolio file records no stop-loss orders, so nothing closes the position before liquidation.",
                advice,
            )
        )
    return items


def _stress_item(portfolio: Portfolio, report: StressReport, mode: str) -> Item | None:
    """Return the worst-stress-loss item of one ``report`` mode ('as_given' gets advice), None without rows."""
    rows = report.results(mode)
    if not rows:
        return None
    worst = max(rows, key=lambda r: r.total_loss)
    share = worst.total_loss / worst.equity_before if worst.equity_before > 0 else math.inf
    status = _above(share, STRESS_LOSS_WARN, STRESS_LOSS_FAIL)
    advice = ""
    if status != "pass" and mode == "as_given":
        scenarios = report.scenarios

        def ok(keep: float) -> bool:
            scaled = replace(portfolio, account=_scaled(portfolio.account, keep))
            try:
                rerun = run_stress(scaled, scenarios, modes=("as_given",)).results("as_given")
            except InputError:
                return False
            return max(r.total_loss / r.equity_before for r in rerun) < STRESS_LOSS_WARN

        keep = _largest_true(ok, 0.0, 1.0)
        advice = (
            f"Worst case '{worst.scenario}' costs {_money(worst.total_loss)} {report.settle}. Cut every position "
            f"to {percent(keep, 0)} of its size (or add collateral) to keep the worst loss under "
            f"{percent(STRESS_LOSS_WARN, 0)}."
        )
    return Item(
        f"Worst stress loss ({MODE_LABELS[mode]})",
        f"{percent(share)} of collateral ('{worst.scenario}')",
        status,
        f"Collateral lost after the venue liquidates what breaches, worst of {len(rows)} historical and "
        f"hypothetical scenarios; warn from {percent(STRESS_LOSS_WARN, 0)}, fail from "
        f"{percent(STRESS_LOSS_FAIL, 0)}.",
        advice,
    )


def _isolated_margin_for(
    portfolio: Portfolio, account: Account, index: int, target: float, *, horizon_hours: float, paths: int, seed: int
) -> float | None:
    """Return the isolated margin to add to the isolated position ``index`` so that its simulated odds reach ``target``.

    Each trial is the position alone with its margin plus the deposit as its whole wallet, read as the cross
    pool of that lone position (which holds exactly that margin, as its isolated wallet would), simulated
    on the same seed (common paths, so the odds fall as the margin grows).
    """
    position = account.positions[index]
    held = position.isolated_margin or 0.0

    def ok(deposit: float) -> bool:
        alone = replace(position, isolated_margin=held + deposit)
        lone = replace(account, wallet_balance=held + deposit, positions=(alone,))
        odds = liquidation_probability(
            replace(portfolio, account=lone), horizon_hours=horizon_hours, paths=paths, seed=seed, progress=False
        ).odds("cross")
        return odds.probability <= target

    risk = evaluate(account, portfolio.marks, portfolio.rules).positions[index]
    return _smallest_true(ok, 0.0, risk.notional)


def _mc_items(
    portfolio: Portfolio,
    result: MCResult,
    frame: Any,
    target: float,
    *,
    mode: str,
    book: str | None,
    seed: int,
) -> list[Item]:
    """Return the odds items of the pools ``result`` simulated in ``mode`` ('as given', 'cross', 'isolated').

    ``book`` None: those pools are the book as given, and failing ones get advice by the pool's own mode;
    else the what-if's name, for the title.
    """
    account = portfolio.account
    all_cross_book = all(p.mode is MarginMode.CROSS for p in account.positions)
    labels = [_label(account, i) for i in range(len(account.positions))]
    account_rows = [r for r in frame.to_dict("records") if r["scope"] == "cross account"]
    settle = portfolio.rules.settle
    items = []
    for odds in result.pools:
        if odds.mode != mode:
            continue
        status: Status = "fail" if odds.probability > target else "warn" if odds.ci_high > target else "pass"
        if odds.pool == "cross":
            name = "cross account" if book is not None or all_cross_book else "cross pool"
        else:
            name = odds.pool if book is not None else f"{odds.pool} (isolated)"
        advice = ""
        if status != "pass" and book is None and odds.pool == "cross":
            if all_cross_book and account_rows:
                row = account_rows[0]
                advice = (
                    f"Bring the cross book to {float(row['recommended_leverage']):.2f}x gross "
                    f"(notional {_money(float(row['recommended_notional']))} {settle}) or add to the wallet."
                )
            else:
                names = ", ".join(labels[i] for i, p in enumerate(account.positions) if p.mode is MarginMode.CROSS)
                advice = f"Reduce the cross positions ({names}) or add to the wallet (the cross pool)."
        elif status != "pass" and book is None and odds.pool in labels:
            index = labels.index(odds.pool)
            needed = _isolated_margin_for(
                portfolio, account, index, target, horizon_hours=result.horizon_hours, paths=result.paths, seed=seed
            )
            advice = (
                f"Add {_money(needed)} {settle} to the isolated margin of {odds.pool} to bring its simulated odds "
                f"to the target {percent(target, 2)}, or move it to cross."
                if needed is not None
                else f"Cut {odds.pool} or move it to cross: no added isolated margin brings its odds to the target."
            )
        items.append(
            Item(
                f"Liquidation probability {result.horizon_hours:g} h: {name}{_scope(book)}",
                f"{percent(odds.probability, 2)} (95 % CI {percent(odds.ci_low, 2)} to {percent(odds.ci_high, 2)})",
                status,
                f"Monte Carlo ({result.model}, {result.paths:,} paths) vs the target {percent(target, 2)}; warn when "
                "the interval still reaches above the target.",
                advice,
            )
        )
    return items


def _grid_symbols(risk: AccountRisk) -> tuple[str, str] | None:
    by_notional: dict[str, float] = {}
    for r in risk.positions:
        by_notional[r.symbol] = by_notional.get(r.symbol, 0.0) + r.notional
    ranked = sorted(by_notional, key=lambda s: -by_notional[s])
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else None


def _summary(label: str, position: Position, risk: PositionRisk) -> str:
    held = "" if position.isolated_margin is None else f" (margin {_money(position.isolated_margin)})"
    return (
        f"{label} {position.size:g} @ {format_price(position.entry_price)}, mark {format_price(risk.mark_price)}, "
        f"{position.leverage:g}x {position.mode.value}{held}"
    )


def build_checklist(
    portfolio: Portfolio,
    *,
    paths: int = 5000,
    seed: int = 0,
    max_liq_prob: float = LIQ_PROB_TARGET,
    horizon_hours: float = 24,
) -> Checklist:
    """Return the checklist of ``portfolio`` (see the module docstring for the units).

    The items (and the verdict) are on the book as given, each position in its file's mode; the what-ifs
    are the same checks of ``all_cross`` and ``all_isolated`` of it, where those differ from the book.
    ``paths`` Monte Carlo paths (liquidation probability and safe leverage), ``seed`` their seed,
    ``max_liq_prob`` the target probability (fraction) of liquidation within ``horizon_hours`` (hours).
    Raises InputError for a portfolio without positions, a bad path count, probability or horizon.
    """
    account, rules, marks = portfolio.account, portfolio.rules, portfolio.marks
    if not account.positions:
        raise InputError("positions", (), "at least one position")
    compared = compare_modes(account)
    notes: list[str] = list(compared.notes)
    given = evaluate(account, marks, rules)
    recasts: dict[str, tuple[Account, AccountRisk]] = {
        mode: (book, evaluate(book, marks, rules)) for mode, book in compared.books.items() if mode != "as_given"
    }
    differing = [mode for mode in recasts if compared.same_as(mode) != "as_given"]
    all_cross_book = "cross" not in differing
    labels = [_label(account, i) for i in range(len(account.positions))]
    frame = recommend_leverage(
        portfolio, max_liq_prob=max_liq_prob, horizon_hours=horizon_hours, paths=paths, seed=seed
    )
    mc = liquidation_probability(portfolio, horizon_hours=horizon_hours, paths=paths, seed=seed, progress=False)
    mc_modes = {odds.mode for odds in mc.pools}
    given_mc = "as given" if "as given" in mc_modes else "cross" if all_cross_book else "isolated"
    symbols = list(dict.fromkeys(p.symbol for p in account.positions))
    report = run_stress(portfolio, hypothetical_scenarios(symbols, settle=rules.settle) + historical_scenarios(symbols))
    notes.extend(report.notes)

    def price_of(book: str, index: int) -> tuple[float | None, str | None]:
        if book not in recasts:
            return None, None
        position_risk = recasts[book][1].positions[index]
        return position_risk.liquidation_price, position_risk.liquidation_note

    rows = []
    for i, r in enumerate(given.positions):
        (cross_price, cross_note), (iso_price, iso_note) = price_of("cross", i), price_of("isolated", i)
        rows.append(
            LiquidationRow(
                label=labels[i],
                mark=r.mark_price,
                mode=account.positions[i].mode.value,
                as_given=r.liquidation_price,
                cross=cross_price,
                isolated=iso_price,
                as_given_note=r.liquidation_note,
                cross_note=cross_note,
                isolated_note=iso_note,
            )
        )
    pair = _grid_symbols(given)
    grid = None if pair is None else stress_grid(portfolio, pair[0], pair[1], grid_moves(GRID_EXTENT, GRID_STEP))
    leverage_items, leverage_what_ifs = _leverage_items(frame, labels, all_cross_book=all_cross_book)
    has_cross = any(p.mode is MarginMode.CROSS for p in account.positions)
    stress_given = _stress_item(portfolio, report, "as_given")
    items = [
        *leverage_items,
        *([_ratio_item(portfolio, account, given, book=None)] if has_cross else []),
        *_distance_items(portfolio, account, given, book=None),
        _concentration_item(account, given, rules.settle),
        *_stop_items(portfolio, rows),
        *([] if stress_given is None else [stress_given]),
        *_mc_items(portfolio, mc, frame, max_liq_prob, mode=given_mc, book=None, seed=seed),
    ]
    what_ifs = list(leverage_what_ifs)
    for book in differing:
        recast, recast_risk = recasts[book]
        if book == "cross":
            what_ifs.append(_ratio_item(portfolio, recast, recast_risk, book=book))
        what_ifs += _distance_items(portfolio, recast, recast_risk, book=book)
        stress_item = _stress_item(portfolio, report, book)
        what_ifs += [] if stress_item is None else [stress_item]
        what_ifs += _mc_items(portfolio, mc, frame, max_liq_prob, mode=book, book=book, seed=seed)
    return Checklist(
        venue=rules.name,
        settle=rules.settle,
        wallet_balance=account.wallet_balance,
        margin_balance=given.account.margin_balance,
        positions=tuple(
            _summary(labels[i], p, r) for i, (p, r) in enumerate(zip(account.positions, given.positions, strict=True))
        ),
        items=tuple(items),
        liquidations=tuple(rows),
        grid=grid,
        paths=paths,
        horizon_hours=float(horizon_hours),
        max_liq_prob=max_liq_prob,
        notes=tuple(notes),
        what_ifs=tuple(what_ifs),
    )
