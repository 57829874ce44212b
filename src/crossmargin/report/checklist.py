"""The Cross Margin Risk Checklist: one portfolio checked item by item, as HTML or an A4 PDF.

Every figure shown comes from the library (``margin.evaluate``, ``risk.safe_leverage.recommend_leverage``,
``risk.stress.run_stress`` / ``stress_grid``, ``risk.montecarlo.liquidation_probability``); this module only
compares those figures with the thresholds below and words the result. Where an item warns or fails, the
advice says how far to go to pass: margin to add or size to cut, found by asking ``evaluate`` /
``run_stress`` again of the changed book (bisection), never by a margin formula of its own.

The verdict is on the book as given: each position in its file's mode, and advice that fits that mode
(an isolated position: add to its isolated margin or move it to cross; a cross position: add to the
wallet, reduce or close it). The recasts ``all_cross`` and ``all_isolated`` follow as what-ifs, labelled
so, outside the verdict and without advice.

Money in the quote currency (settle asset), moves, ratios, shares and probabilities as fractions,
leverages as multiples, the horizon in hours. The PDF is drawn with reportlab's own graphics (vector
charts); neither kaleido nor a browser is needed.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from crossmargin.console import format_money as _money
from crossmargin.console import format_price
from crossmargin.errors import InputError
from crossmargin.margin.account import evaluate
from crossmargin.model import Account, AccountRisk, MarginMode, Position, PositionRisk
from crossmargin.portfolio import Portfolio, all_cross, all_isolated
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
from crossmargin.sim.scan import risk_view

__all__ = ["Checklist", "Item", "LiquidationRow", "build_checklist", "format_price", "write_pdf"]

Status = Literal["pass", "warn", "fail"]

# --- thresholds ------------------------------------------------------------------------------------------

#: Leverage above this share of the recommended safe leverage warns: little room left before the cap.
LEVERAGE_WARN_SHARE = 0.8
#: Cross margin ratio (requirement / margin balance, 1 = liquidation) from which the checklist warns: half the
#: cushion is gone, a common venue alert level.
MARGIN_RATIO_WARN = 0.5
#: Cross margin ratio from which it fails: venues send margin calls around here; liquidation is near.
MARGIN_RATIO_FAIL = 0.8
#: Distance to liquidation (fraction of the mark) below which it warns: a bad day in crypto moves 10-20 %.
DISTANCE_WARN = 0.20
#: Distance below which it fails: an ordinary daily move can reach the liquidation price.
DISTANCE_FAIL = 0.10
#: Share of gross notional on one side of crypto beta (all long or all short) from which it warns.
CONCENTRATION_WARN = 0.75
#: Share from which it fails: the book is one directional bet, crypto assets fall together in a crash.
CONCENTRATION_FAIL = 0.90
#: Share of collateral lost in the worst stress scenario from which it warns.
STRESS_LOSS_WARN = 0.25
#: Share lost from which it fails: one plausible crash takes half the account.
STRESS_LOSS_FAIL = 0.50
#: Where a stop-loss is suggested: this share of the way from the mark to the nearer liquidation price.
STOP_SHARE = 0.5
#: Grid of the stress heat map: moves from -GRID_EXTENT to +GRID_EXTENT in steps of GRID_STEP (fractions).
GRID_EXTENT = 0.5
GRID_STEP = 0.05
#: Bisection steps when searching the margin to add or the size to keep.
_BISECTIONS = 40
#: The recasts shown as what-ifs beside the book as given.
WHAT_IF = {"cross": MODE_LABELS["cross"], "isolated": MODE_LABELS["isolated"]}
#: How the what-if section introduces itself (HTML and PDF).
WHAT_IF_TEXT = (
    "The same checks with every position recast cross, or every position isolated (a position already isolated "
    "keeps its margin; one recast from cross holds entry notional / leverage). For comparison only: they are not "
    "part of the verdict, and the advice is for the book as given."
)

COLOURS: dict[Status, str] = {"pass": "#2e7d32", "warn": "#ef8f00", "fail": "#c62828"}
MARKS: dict[Status, str] = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
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

    def to_html(self) -> str:
        """Return the checklist as one self-contained HTML page (inline CSS, charts as inline SVG)."""
        return _html(self)


def _pct(value: float, digits: int = 1) -> str:
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


def _no_price(note: str | None) -> str:
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
                f"(simulated at the safe leverage: {_pct(float(row['mc_probability']), 2)}).",
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
                f"(cut every position by {_pct(1 - safe / current)})."
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
                f"{_pct(MARGIN_RATIO_WARN, 0)}, or reduce the cross positions."
            )
        else:
            advice = "Reduce the cross positions: no deposit of a sensible size brings the ratio under the threshold."
    return Item(
        "Cross margin ratio" + _scope(book),
        _pct(view, 2),
        status,
        f"Maintenance requirement / margin balance of the cross pool (100 % = liquidation); "
        f"warn from {_pct(MARGIN_RATIO_WARN, 0)}, fail from {_pct(MARGIN_RATIO_FAIL, 0)}.",
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
        f"{format_price(moved.liquidation_price)}, {_pct(moved.distance_to_liquidation)} from the mark)"
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
    away = f"{_pct(DISTANCE_WARN, 0)} from the mark"
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
            _no_price(position_risk.liquidation_note)
            if distance is None
            else f"{_pct(distance)} (liq. {format_price(position_risk.liquidation_price)})"
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
                f"warn under {_pct(DISTANCE_WARN, 0)}, fail under {_pct(DISTANCE_FAIL, 0)}.",
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
            f"{_pct(target, 0)}: cut the {side} legs from {_money(big)} to {_money(keep)} {settle} of notional, "
            f"or add a {other} hedge of about {_money(hedge)} {settle} (e.g. in BTC)."
        )
    return Item(
        "Correlation concentration",
        f"{_pct(share)} of gross notional {side} crypto",
        status,
        f"Share of gross notional on the same side of crypto beta (long legs vs short legs); warn from "
        f"{_pct(CONCENTRATION_WARN, 0)}, fail from {_pct(CONCENTRATION_FAIL, 0)}.",
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
            f"to {_pct(keep, 0)} of its size (or add collateral) to keep the worst loss under "
            f"{_pct(STRESS_LOSS_WARN, 0)}."
        )
    return Item(
        f"Worst stress loss ({MODE_LABELS[mode]})",
        f"{_pct(share)} of collateral ('{worst.scenario}')",
        status,
        f"Collateral lost after the venue liquidates what breaches, worst of {len(rows)} historical and "
        f"hypothetical scenarios; warn from {_pct(STRESS_LOSS_WARN, 0)}, fail from "
        f"{_pct(STRESS_LOSS_FAIL, 0)}.",
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
                f"to the target {_pct(target, 2)}, or move it to cross."
                if needed is not None
                else f"Cut {odds.pool} or move it to cross: no added isolated margin brings its odds to the target."
            )
        items.append(
            Item(
                f"Liquidation probability {result.horizon_hours:g} h: {name}{_scope(book)}",
                f"{_pct(odds.probability, 2)} (95 % CI {_pct(odds.ci_low, 2)} to {_pct(odds.ci_high, 2)})",
                status,
                f"Monte Carlo ({result.model}, {result.paths:,} paths) vs the target {_pct(target, 2)}; warn when "
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
    max_liq_prob: float = 0.01,
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
    notes: list[str] = []
    given = evaluate(account, marks, rules)
    recasts: dict[str, tuple[Account, AccountRisk]] = {}
    cross = all_cross(account)
    recasts["cross"] = (cross, evaluate(cross, marks, rules))
    try:
        isolated = all_isolated(account)
        recasts["isolated"] = (isolated, evaluate(isolated, marks, rules))
    except InputError as error:
        notes.append(f"isolated not evaluated: {error}")
    differing = [book for book, (recast, _) in recasts.items() if recast != account]
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


# --- charts (reportlab graphics: vector in the PDF, SVG in the HTML) ---------------------------------------

_AS_GIVEN = colors.HexColor("#6a3d9a")
_CROSS = colors.HexColor("#1f3b73")
_ISOLATED = colors.HexColor("#d62728")


def _bar_label(
    label: str, x: float, centre: float, *, left: float, right: float, colour: Any
) -> tuple[float, str, Any]:
    """Return where a bar's label goes (x, anchor, colour): past the bar's end if it fits between ``left`` and
    ``right`` (points), else inside the bar in white if the bar is long enough, else on the other side of 0.
    """
    size = stringWidth(label, "Helvetica", 7)
    rising = x >= centre
    if (x + 3 + size <= right) if rising else (x - 3 - size >= left):
        return (x + 3, "start", colour) if rising else (x - 3, "end", colour)
    if abs(x - centre) >= size + 6:
        return (x - 3, "end", colors.white) if rising else (x + 3, "start", colors.white)
    return (centre - 3, "end", colour) if rising else (centre + 3, "start", colour)


def liquidation_drawing(checklist: Checklist, width: float = 170 * mm) -> Drawing:
    """Return the chart: per position, the move from the mark to its liquidation price as given (first), then
    what if all cross and what if all isolated. A missing price reads '--', with the library's note if any.
    """
    rows = checklist.liquidations
    row_h, top, left, right = 46.0, 40.0, 95.0, 20.0
    height = top + row_h * len(rows) + 30
    drawing = Drawing(width, height)
    plot_w = width - left - right
    centre = left + plot_w / 2

    def x_of(move: float) -> float:
        return centre + max(-1.0, min(1.0, move)) * plot_w / 2

    drawing.add(String(left, height - 14, "Move from the mark to liquidation (price labelled)", fontSize=10))
    for tick in (-1.0, -0.5, -0.2, -0.1, 0.0, 0.1, 0.2, 0.5, 1.0):
        x = x_of(tick)
        colour = colors.HexColor("#bbbbbb") if tick else colors.black
        drawing.add(Line(x, 22, x, height - top + 8, strokeColor=colour, strokeWidth=0.4))
        if abs(tick) != 0.1:  # +-10 % would crowd the labels around 0
            drawing.add(String(x, 10, f"{tick * 100:+.0f}%", fontSize=7, textAnchor="middle"))
    for k, row in enumerate(rows):
        y = height - top - row_h * (k + 1) + 14
        drawing.add(String(4, y + 10, row.label, fontSize=9))
        drawing.add(String(4, y, f"{row.mode}, mark {format_price(row.mark)}", fontSize=7, fillColor=colors.grey))
        bars = (
            (12, row.as_given, row.as_given_note, _AS_GIVEN, f"as given ({row.mode})"),
            (2, row.cross, row.cross_note, _CROSS, "what if cross"),
            (-8, row.isolated, row.isolated_note, _ISOLATED, "what if isolated"),
        )
        for offset, price, note, colour, name in bars:
            if price is None:
                drawing.add(String(centre + 4, y + offset, f"{name}: {_no_price(note)}", fontSize=7, fillColor=colour))
                continue
            move = (price - row.mark) / row.mark
            x = x_of(move)
            drawing.add(Rect(min(centre, x), y + offset - 1, abs(x - centre), 7, fillColor=colour, strokeColor=None))
            label = f"{name} {format_price(price)} ({move * 100:+.1f}%)"
            text_x, anchor, fill = _bar_label(label, x, centre, left=left, right=width - 2, colour=colour)
            drawing.add(String(text_x, y + offset, label, fontSize=7, textAnchor=anchor, fillColor=fill))
    legend = (
        (_AS_GIVEN, "as given (the file's modes)"),
        (_CROSS, "what if all cross"),
        (_ISOLATED, "what if all isolated"),
    )
    x = left
    for colour, text in legend:
        drawing.add(Rect(x, height - 30, 8, 6, fillColor=colour, strokeWidth=0))
        drawing.add(String(x + 11, height - 30, text, fontSize=8))
        x += 20 + 4.2 * len(text)
    return drawing


def _equity_colour(value: float, centre: float) -> Any:
    """Red (lost everything) to yellow (today) to green (doubled), by equity after the move."""
    if not math.isfinite(value) or centre <= 0:
        return colors.HexColor("#dddddd")
    t = max(-1.0, min(1.0, (value - centre) / centre))
    if t < 0:
        return colors.Color(0.85, 0.85 + 0.75 * t + 0.0 * t, 0.35 + 0.2 * t)
    return colors.Color(0.85 - 0.65 * t, 0.85 - 0.2 * t, 0.35 + 0.05 * t)


def heatmap_drawing(grid: StressGrid, width: float = 170 * mm) -> Drawing:
    """Return the stress heat map: equity after each move, with the liquidation boundary of the book as given
    (thick purple) and of what if all cross (black) and all isolated (red dashed).
    """
    moves = list(grid.moves)
    n = len(moves)
    left, bottom, top = 55.0, 64.0, 30.0
    cell = min((width - left - 20) / n, 12.0)
    height = bottom + cell * n + top
    drawing = Drawing(width, height)
    drawing.add(
        String(left, height - 14, f"Equity after moving {grid.x_symbol} (x) and {grid.y_symbol} (y)", fontSize=10)
    )
    for j in range(n):
        for i in range(n):
            drawing.add(
                Rect(
                    left + i * cell,
                    bottom + j * cell,
                    cell,
                    cell,
                    fillColor=_equity_colour(float(grid.equity_after[j, i]), grid.equity_before),
                    strokeColor=None,
                    strokeWidth=0,
                )
            )
    # As given first and widest, so that a recast on the same boundary (an all-cross book) draws over it.
    lines = (
        (grid.as_given_ratio >= 1.0, _AS_GIVEN, None, 5.0, "as given: a position liquidated beyond"),
        (grid.cross_ratio >= 1.0, colors.black, None, 2.0, "what if all cross: the account liquidated beyond"),
        (grid.isolated_ratio >= 1.0, _ISOLATED, [3, 2], 2.0, "what if all isolated: a position liquidated beyond"),
    )
    for flags, colour, dash, stroke, _text in lines:
        _boundary(
            drawing, np.asarray(flags), left=left, bottom=bottom, cell=cell, colour=colour, dash=dash, stroke=stroke
        )
    zero = moves.index(0.0) if 0.0 in moves else n // 2
    cx, cy = left + (zero + 0.5) * cell, bottom + (zero + 0.5) * cell
    drawing.add(Line(cx - 4, cy - 4, cx + 4, cy + 4, strokeWidth=1.5))
    drawing.add(Line(cx - 4, cy + 4, cx + 4, cy - 4, strokeWidth=1.5))
    for k, move in enumerate(moves):
        if k % 2:
            continue
        drawing.add(
            String(left + (k + 0.5) * cell, bottom - 10, f"{move * 100:+.0f}%", fontSize=6, textAnchor="middle")
        )
        drawing.add(String(left - 3, bottom + (k + 0.3) * cell, f"{move * 100:+.0f}%", fontSize=6, textAnchor="end"))
    drawing.add(String(left + n * cell / 2, bottom - 22, f"{grid.x_symbol} move", fontSize=8, textAnchor="middle"))
    drawing.add(String(4, bottom + n * cell + 4, f"{grid.y_symbol} move", fontSize=8))
    for k, (_flags, colour, dash, stroke, text) in enumerate(lines):
        x, y = left + (k % 2) * 220, 15.0 - (k // 2) * 11
        style: dict[str, Any] = {"strokeColor": colour, "strokeWidth": stroke}
        if dash:
            style["strokeDashArray"] = dash
        drawing.add(Line(x, y + 3, x + 18, y + 3, **style))
        drawing.add(String(x + 22, y, text, fontSize=7))
    drawing.add(String(left + 220, 4.0, "x = today", fontSize=7))
    return drawing


def _boundary(
    drawing: Drawing,
    flags: Any,
    *,
    left: float,
    bottom: float,
    cell: float,
    colour: Any,
    dash: Any,
    stroke: float = 2.0,
) -> None:
    """Draw the cell edges between liquidated and not-liquidated cells (``flags[y, x]``), ``stroke`` points wide."""
    n_y, n_x = flags.shape
    style: dict[str, Any] = {"strokeColor": colour, "strokeWidth": stroke}
    if dash:
        style["strokeDashArray"] = dash
    for j in range(n_y):
        for i in range(n_x):
            if i + 1 < n_x and flags[j, i] != flags[j, i + 1]:
                x = left + (i + 1) * cell
                drawing.add(Line(x, bottom + j * cell, x, bottom + (j + 1) * cell, **style))
            if j + 1 < n_y and flags[j, i] != flags[j + 1, i]:
                y = bottom + (j + 1) * cell
                drawing.add(Line(left + i * cell, y, left + (i + 1) * cell, y, **style))


# --- HTML --------------------------------------------------------------------------------------------------


def _svg(drawing: Drawing) -> str:
    text: str = renderSVG.drawToString(drawing)
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def _html_rows(items: Sequence[Item]) -> str:
    e = html.escape
    return "\n".join(
        f"<tr><td>{e(item.title)}</td><td>{e(item.figure)}</td>"
        f"<td style='color:#fff;background:{COLOURS[item.status]};text-align:center'><b>{MARKS[item.status]}</b></td>"
        f"<td>{e(item.detail)}</td></tr>"
        for item in items
    )


def _html(checklist: Checklist) -> str:
    e = html.escape
    verdict = checklist.verdict
    rows = _html_rows(checklist.items)
    what_ifs = (
        f"<h2>What if: the same positions recast</h2><p>{e(WHAT_IF_TEXT)}</p>"
        "<table><tr><th>item</th><th>figure</th><th>status</th><th>what it checks</th></tr>\n"
        f"{_html_rows(checklist.what_ifs)}</table>"
        if checklist.what_ifs
        else ""
    )
    advice = "\n".join(
        f"<li><b style='color:{COLOURS[item.status]}'>{MARKS[item.status]}</b> {e(item.title)}: {e(item.advice)}</li>"
        for item in checklist.items
        if item.status != "pass" and item.advice
    )
    positions = "".join(f"<li>{e(p)}</li>" for p in checklist.positions)
    charts = _svg(liquidation_drawing(checklist))
    if checklist.grid is not None:
        charts += _svg(heatmap_drawing(checklist.grid))
    notes = "".join(f"<li>{e(n)}</li>" for n in checklist.notes)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Cross Margin Risk Checklist</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top}}
th{{background:#eee;text-align:left}}.verdict{{font-size:1.4em;color:{COLOURS[verdict]}}}</style></head><body>
<h1>Cross Margin Risk Checklist</h1>
<p>Venue {e(checklist.venue)}; wallet {_money(checklist.wallet_balance)} {e(checklist.settle)};
margin balance {_money(checklist.margin_balance)} {e(checklist.settle)};
Monte Carlo {checklist.paths:,} paths over {checklist.horizon_hours:g} h, target {_pct(checklist.max_liq_prob, 2)}.</p>
<ul>{positions}</ul>
<p class="verdict"><b>{e(checklist.verdict_text())}</b></p>
<h2>Checklist: the book as given</h2>
<table><tr><th>item</th><th>figure</th><th>status</th><th>what it checks</th></tr>
{rows}</table>
{what_ifs}
<h2>Visual guide</h2>{charts}
<h2>Advice (the book as given)</h2><ul>{advice or "<li>Nothing to do: every item passes.</li>"}</ul>
{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}
</body></html>
"""


# --- PDF ---------------------------------------------------------------------------------------------------


def _status_cell(status: Status, style: ParagraphStyle) -> Paragraph:
    return Paragraph(f"<b>{MARKS[status]}</b>", style)


def _title_page(checklist: Checklist, styles: Any, *, body: ParagraphStyle, small: ParagraphStyle) -> list[Any]:
    """Return the flowables of the title page: portfolio summary and the overall verdict."""
    verdict_style = ParagraphStyle(
        "cm-verdict", parent=styles["Heading2"], textColor=colors.HexColor(COLOURS[checklist.verdict])
    )
    e = html.escape
    story: list[Any] = [
        Paragraph("Cross Margin Risk Checklist", styles["Title"]),
        Paragraph(f"Venue {e(checklist.venue)}, settled in {e(checklist.settle)}", styles["Heading3"]),
        Spacer(1, 4 * mm),
    ]
    summary = [
        ["Wallet balance", f"{_money(checklist.wallet_balance)} {checklist.settle}"],
        ["Margin balance", f"{_money(checklist.margin_balance)} {checklist.settle}"],
        [
            "Monte Carlo",
            f"{checklist.paths:,} paths, {checklist.horizon_hours:g} h, target {_pct(checklist.max_liq_prob, 2)}",
        ],
    ]
    table = Table(summary, colWidths=[55 * mm, 110 * mm])
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 10), ("BOTTOMPADDING", (0, 0), (-1, -1), 4)]))
    story += [table, Spacer(1, 4 * mm), Paragraph("Positions", styles["Heading3"])]
    story += [Paragraph(e(p), body) for p in checklist.positions]
    story += [Spacer(1, 8 * mm), Paragraph("Overall verdict", styles["Heading2"])]
    story.append(Paragraph(e(checklist.verdict_text()), verdict_style))
    counts = checklist.counts()
    tally = Table(
        [[f"{MARKS[s]}: {counts[s]}" for s in STATUSES]],
        colWidths=[30 * mm] * 3,
    )
    tally.setStyle(
        TableStyle(
            [
                ("TEXTCOLOR", (0, 0), (-1, -1), colors.white),
                ("FONTNAME", (0, 0), (-1, -1), "Helvetica-Bold"),
                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                *[("BACKGROUND", (k, 0), (k, 0), colors.HexColor(COLOURS[s])) for k, s in enumerate(STATUSES)],
            ]
        )
    )
    story += [tally, Spacer(1, 6 * mm)]
    story.append(
        Paragraph(
            "Every figure comes from the crossmargin library at today's marks. The verdict is on the book as given: "
            "each position in the mode the file gives it (cross: the shared margin pool; isolated: its own margin). "
            "What if all cross and what if all isolated follow as a comparison, outside the verdict. Read the table "
            "on the next page top to bottom; the advice section says what to change to pass.",
            small,
        )
    )
    return story


def _items_table(items: Sequence[Item], *, small: ParagraphStyle, white: ParagraphStyle) -> Table:
    """Return the PDF table of ``items``: title, figure, coloured status, what it checks."""
    e = html.escape
    data: list[list[Any]] = [[Paragraph(f"<b>{h}</b>", small) for h in ("Item", "Figure", "Status", "Detail")]]
    style_cmds: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for row, item in enumerate(items, start=1):
        data.append(
            [
                Paragraph(e(item.title), small),
                Paragraph(e(item.figure), small),
                _status_cell(item.status, white),
                Paragraph(e(item.detail), small),
            ]
        )
        style_cmds.append(("BACKGROUND", (2, row), (2, row), colors.HexColor(COLOURS[item.status])))
    table = Table(data, colWidths=[48 * mm, 42 * mm, 15 * mm, 75 * mm], repeatRows=1)
    table.setStyle(TableStyle(style_cmds))
    return table


def write_pdf(checklist: Checklist, path: Path) -> None:
    """Write the checklist as an A4 PDF to ``path``: title page, table, what-ifs, visual guide, advice.

    Raises OSError when ``path`` cannot be written.
    """
    styles = getSampleStyleSheet()
    body = ParagraphStyle("cm-body", parent=styles["BodyText"], fontSize=9, leading=11.5)
    small = ParagraphStyle("cm-small", parent=body, fontSize=8, leading=10)
    white = ParagraphStyle("cm-mark", parent=body, textColor=colors.white, alignment=1)
    e = html.escape
    story = _title_page(checklist, styles, body=body, small=small)
    story += [PageBreak(), Paragraph("Checklist: the book as given", styles["Heading1"])]
    checks = _items_table(checklist.items, small=small, white=white)
    if checklist.what_ifs:
        story += [checks, Spacer(1, 6 * mm), Paragraph("What if: the same positions recast", styles["Heading2"])]
        story.append(Paragraph(e(WHAT_IF_TEXT), body))
        checks = _items_table(checklist.what_ifs, small=small, white=white)
    story += [checks, PageBreak(), Paragraph("Visual guide", styles["Heading1"])]
    story.append(
        Paragraph(
            "Liquidation price of each position as given (in its own mode), then what if all cross and what if all "
            "isolated, as the move from today's mark. A longer bar is a larger cushion; '--' means no price is "
            "given: the price can move that way without limit, or the note in brackets says why.",
            body,
        )
    )
    story.append(liquidation_drawing(checklist))
    if checklist.grid is not None:
        story.append(Spacer(1, 4 * mm))
        story.append(
            Paragraph(
                "Stress heat map: colour is the margin balance after both moves (yellow = today, red = lost, green = "
                "gained); beyond the thick purple line a position of the book as given is liquidated; beyond the black "
                "line the all-cross account would be, beyond the red dashed line a position of the all-isolated "
                "book would be. Other marks held.",
                body,
            )
        )
        story.append(heatmap_drawing(checklist.grid))
    story += [PageBreak(), Paragraph("Advice (the book as given)", styles["Heading1"])]
    advised = [item for item in checklist.items if item.status != "pass" and item.advice]
    if not advised:
        story.append(Paragraph("Nothing to do: every item passes.", body))
    for item in advised:
        colour = COLOURS[item.status]
        story.append(
            Paragraph(f"<font color='{colour}'><b>{MARKS[item.status]}</b></font> <b>{e(item.title)}</b>", body)
        )
        story.append(Paragraph(e(item.advice), body))
        story.append(Spacer(1, 2 * mm))
    if checklist.notes:
        story.append(Paragraph("Notes", styles["Heading2"]))
        story += [Paragraph(e(n), small) for n in checklist.notes]
    document = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title="Cross Margin Risk Checklist",
        author="crossmargin",
    )

    def footer(canvas: Any, doc: Any) -> None:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(15 * mm, 8 * mm, f"crossmargin: Cross Margin Risk Checklist ({checklist.venue})")
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"page {doc.page}")

    document.build(story, onFirstPage=footer, onLaterPages=footer)
