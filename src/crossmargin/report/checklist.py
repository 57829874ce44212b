"""The Cross Margin Risk Checklist: one portfolio checked item by item, as HTML or an A4 PDF.

Every figure shown comes from the library (``margin.evaluate``, ``risk.safe_leverage.recommend_leverage``,
``risk.stress.run_stress`` / ``stress_grid``, ``risk.montecarlo.liquidation_probability``); this module only
compares those figures with the thresholds below and words the result. Where an item warns or fails, the
advice says how far to go to pass: margin to add or size to cut, found by asking ``evaluate`` /
``run_stress`` again of the changed book (bisection), never by a margin formula of its own.

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
from reportlab.platypus import (
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from crossmargin.console import format_price
from crossmargin.errors import InputError
from crossmargin.margin.account import evaluate
from crossmargin.model import Account, AccountRisk
from crossmargin.portfolio import Portfolio, all_cross, all_isolated
from crossmargin.risk.montecarlo import MCResult, liquidation_probability
from crossmargin.risk.safe_leverage import recommend_leverage
from crossmargin.risk.stress import (
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

COLOURS: dict[Status, str] = {"pass": "#2e7d32", "warn": "#ef8f00", "fail": "#c62828"}
MARKS: dict[Status, str] = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
_RANK: dict[Status, int] = {"pass": 0, "warn": 1, "fail": 2}
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail")


# --- the checklist ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One check: ``figure`` is the figure shown (text), ``advice`` what to do ('' when it passes)."""

    title: str
    figure: str
    status: Status
    detail: str
    advice: str = ""


@dataclass(frozen=True, slots=True)
class LiquidationRow:
    """One position's mark and its liquidation prices (quote currency; None: no liquidation price)."""

    label: str
    mark: float
    cross: float | None
    isolated: float | None


@dataclass(frozen=True, slots=True)
class Checklist:
    """The checked portfolio: summary figures, the items, and what the visual guide draws."""

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

    @property
    def verdict(self) -> Status:
        """Return the worst status of all items ('pass' when there are none)."""
        return max((item.status for item in self.items), key=lambda s: _RANK[s], default="pass")

    def counts(self) -> dict[Status, int]:
        """Return how many items have each status."""
        return {s: sum(1 for item in self.items if item.status == s) for s in STATUSES}

    def verdict_text(self) -> str:
        """Return the overall verdict in one sentence."""
        c = self.counts()
        tally = f"{c['pass']} pass, {c['warn']} warn, {c['fail']} fail"
        if self.verdict == "fail":
            return f"FAIL: act on the failed items before the market does ({tally})."
        if self.verdict == "warn":
            return f"WARN: nothing fails, but some items need attention ({tally})."
        return f"PASS: every item within its threshold ({tally})."

    def to_html(self) -> str:
        """Return the checklist as one self-contained HTML page (inline CSS, charts as inline SVG)."""
        return _html(self)


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _pct(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f} %"


def _worst(*statuses: Status) -> Status:
    return max(statuses, key=lambda s: _RANK[s])


def _above(value: float, warn: float, fail: float) -> Status:
    """Status of a figure that is worse when higher."""
    return "fail" if value >= fail else "warn" if value >= warn else "pass"


def _label(account: Account, index: int) -> str:
    p = account.positions[index]
    return f"{p.symbol} {p.side.label}"


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


# --- items -----------------------------------------------------------------------------------------------


def _leverage_items(portfolio: Portfolio, frame: Any, labels: Sequence[str]) -> list[Item]:
    items = []
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
        if status != "pass":
            advice = (
                f"Bring gross notional down to {_money(float(row['recommended_notional']))} "
                f"(cut every position by {_pct(1 - safe / current)})."
            )
        items.append(
            Item(
                "Leverage: cross account (gross)",
                f"{current:.2f}x vs safe {safe:.2f}x",
                status,
                "Gross notional / cross margin balance against the account-level safe leverage.",
                advice,
            )
        )
    return items


def _ratio_item(portfolio: Portfolio, cross: Account, risk: AccountRisk) -> Item:
    rules = portfolio.rules
    view = risk_view(rules, risk.account.margin_ratio)
    status = _above(view, MARGIN_RATIO_WARN, MARGIN_RATIO_FAIL)
    advice = ""
    if status != "pass":

        def ok(deposit: float) -> bool:
            changed = replace(cross, wallet_balance=cross.wallet_balance + deposit)
            ratio = evaluate(changed, portfolio.marks, rules).account.margin_ratio
            return risk_view(rules, ratio) < MARGIN_RATIO_WARN

        needed = _smallest_true(ok, 0.0, max(risk.account.margin_balance, 1.0) * 100)
        if needed is not None:
            advice = (
                f"Add {_money(needed)} {rules.settle} to the wallet to bring the ratio under "
                f"{_pct(MARGIN_RATIO_WARN, 0)}."
            )
        else:
            advice = "Reduce positions: no deposit of a sensible size brings the ratio under the threshold."
    return Item(
        "Cross margin ratio",
        _pct(view, 2),
        status,
        f"Maintenance requirement / margin balance of the cross pool (100 % = liquidation); "
        f"warn from {_pct(MARGIN_RATIO_WARN, 0)}, fail from {_pct(MARGIN_RATIO_FAIL, 0)}.",
        advice,
    )


def _distance_status(distance: float | None) -> Status:
    if distance is None:
        return "pass"
    if distance < DISTANCE_FAIL:
        return "fail"
    return "warn" if distance < DISTANCE_WARN else "pass"


def _distance_items(portfolio: Portfolio, books: dict[str, tuple[Account, AccountRisk]]) -> list[Item]:
    rules, marks = portfolio.rules, portfolio.marks
    items = []
    for mode, (account, risk) in books.items():
        for index, position_risk in enumerate(risk.positions):
            label = _label(account, index)
            distance = position_risk.distance_to_liquidation
            status = _distance_status(distance)
            figure = (
                "no liquidation price"
                if distance is None
                else f"{_pct(distance)} (liq. {format_price(position_risk.liquidation_price)})"
            )
            advice = ""
            if status != "pass":

                def ok(deposit: float, account: Account = account, index: int = index, mode: str = mode) -> bool:
                    positions = list(account.positions)
                    if mode == "isolated":
                        held = positions[index].isolated_margin or 0.0
                        positions[index] = replace(positions[index], isolated_margin=held + deposit)
                    changed = replace(
                        account, wallet_balance=account.wallet_balance + deposit, positions=tuple(positions)
                    )
                    after = evaluate(changed, marks, rules).positions[index].distance_to_liquidation
                    return after is None or after >= DISTANCE_WARN

                needed = _smallest_true(ok, 0.0, position_risk.notional * 2)
                where = "its isolated margin" if mode == "isolated" else "the cross wallet"
                advice = (
                    f"Add {_money(needed)} {rules.settle} to {where} to move the {mode} liquidation price of {label} "
                    f"{_pct(DISTANCE_WARN, 0)} away from the mark."
                    if needed is not None
                    else f"Cut {label}: no added margin moves its liquidation price {_pct(DISTANCE_WARN, 0)} away."
                )
            items.append(
                Item(
                    f"Distance to liquidation: {label} ({mode})",
                    figure,
                    status,
                    f"Adverse move from the mark to the {mode} liquidation price; warn under "
                    f"{_pct(DISTANCE_WARN, 0)}, fail under {_pct(DISTANCE_FAIL, 0)}.",
                    advice,
                )
            )
    return items


def _concentration_item(cross: Account, risk: AccountRisk, settle: str) -> Item:
    long = math.fsum(r.notional for p, r in zip(cross.positions, risk.positions, strict=True) if int(p.side) > 0)
    short = math.fsum(r.notional for p, r in zip(cross.positions, risk.positions, strict=True) if int(p.side) < 0)
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
    items = []
    for position, row in zip(portfolio.account.positions, rows, strict=True):
        prices = [p for p in (row.cross, row.isolated) if p is not None]
        sign = int(position.side)
        adverse = [p for p in prices if sign * (row.mark - p) > 0]
        if adverse:
            nearer = max(adverse) if sign > 0 else min(adverse)
            stop = row.mark + STOP_SHARE * (nearer - row.mark)
            word = "at or above" if sign > 0 else "at or below"
            advice = (
                f"Place a stop-loss on {row.label} {word} {format_price(stop)}: halfway from the mark "
                f"{format_price(row.mark)} to the nearer liquidation price {format_price(nearer)}, so the stop "
                "closes the position before the venue liquidates it."
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


def _stress_items(portfolio: Portfolio, report: StressReport) -> list[Item]:
    items = []
    for mode in report.modes:
        rows = report.results(mode)
        if not rows:
            continue
        worst = max(rows, key=lambda r: r.total_loss)
        share = worst.total_loss / worst.equity_before if worst.equity_before > 0 else math.inf
        status = _above(share, STRESS_LOSS_WARN, STRESS_LOSS_FAIL)
        advice = ""
        if status != "pass":
            scenarios = report.scenarios
            base = all_cross(portfolio.account) if mode == "cross" else all_isolated(portfolio.account)

            def ok(keep: float, base: Account = base, mode: str = mode, scenarios: Any = scenarios) -> bool:
                scaled = replace(portfolio, account=_scaled(base, keep))
                try:
                    rerun = run_stress(scaled, scenarios).results(mode)
                except InputError:
                    return False
                return max(r.total_loss / r.equity_before for r in rerun) < STRESS_LOSS_WARN

            keep = _largest_true(ok, 0.0, 1.0)
            advice = (
                f"Worst case '{worst.scenario}' costs {_money(worst.total_loss)} {report.settle}. Cut every position "
                f"to {_pct(keep, 0)} of its size (or add collateral) to keep the worst loss under "
                f"{_pct(STRESS_LOSS_WARN, 0)}."
            )
        items.append(
            Item(
                f"Worst stress loss ({mode})",
                f"{_pct(share)} of collateral ('{worst.scenario}')",
                status,
                f"Collateral lost after the venue liquidates what breaches, worst of {len(rows)} historical and "
                f"hypothetical scenarios; warn from {_pct(STRESS_LOSS_WARN, 0)}, fail from "
                f"{_pct(STRESS_LOSS_FAIL, 0)}.",
                advice,
            )
        )
    return items


def _isolated_margin_for(
    portfolio: Portfolio, isolated: Account, index: int, target: float, *, horizon_hours: float, paths: int, seed: int
) -> float | None:
    """Return the isolated margin to add to position ``index`` so that its simulated odds reach ``target``.

    Each trial is the position alone with the margin added as its whole wallet (its cross pool is then the
    isolated pool: ``liquidation_probability`` re-derives isolated margins from the entry, so the cross pool
    is the one read), simulated on the same seed (common paths, so the odds fall as the margin grows).
    """
    position = isolated.positions[index]
    held = position.isolated_margin or 0.0

    def ok(deposit: float) -> bool:
        alone = replace(position, isolated_margin=held + deposit)
        account = replace(isolated, wallet_balance=held + deposit, positions=(alone,))
        odds = liquidation_probability(
            replace(portfolio, account=account), horizon_hours=horizon_hours, paths=paths, seed=seed, progress=False
        ).odds("cross")
        return odds.probability <= target

    risk = evaluate(isolated, portfolio.marks, portfolio.rules).positions[index]
    return _smallest_true(ok, 0.0, risk.notional)


def _mc_items(
    portfolio: Portfolio,
    result: MCResult,
    frame: Any,
    isolated: Account | None,
    target: float,
    *,
    seed: int,
) -> list[Item]:
    rows = frame.to_dict("records")
    account = [r for r in rows if r["scope"] == "cross account"]
    pools = [f"{p.symbol} {p.side.label}" for p in portfolio.account.positions]
    items = []
    for odds in result.pools:
        if odds.mode not in ("cross", "isolated"):
            continue
        status: Status = "fail" if odds.probability > target else "warn" if odds.ci_high > target else "pass"
        name = "cross account" if odds.mode == "cross" else f"{odds.pool} (isolated)"
        advice = ""
        if status != "pass" and odds.mode == "cross" and account:
            row = account[0]
            advice = (
                f"Bring the cross book to {float(row['recommended_leverage']):.2f}x gross "
                f"(notional {_money(float(row['recommended_notional']))} {portfolio.rules.settle}) "
                "or add margin."
            )
        elif status != "pass" and isolated is not None and odds.pool in pools:
            index = pools.index(odds.pool)
            needed = _isolated_margin_for(
                portfolio, isolated, index, target, horizon_hours=result.horizon_hours, paths=result.paths, seed=seed
            )
            advice = (
                f"Isolated, add {_money(needed)} {portfolio.rules.settle} of margin to {odds.pool} to bring its "
                f"simulated odds to the target {_pct(target, 2)}, or keep it in cross."
                if needed is not None
                else f"Isolated, cut {odds.pool}: no added margin brings its odds to the target."
            )
        items.append(
            Item(
                f"Liquidation probability {result.horizon_hours:g} h: {name}",
                f"{_pct(odds.probability, 2)} (95 % CI {_pct(odds.ci_low, 2)} to {_pct(odds.ci_high, 2)})",
                status,
                f"Monte Carlo ({result.model}, {result.paths:,} paths) vs the target {_pct(target, 2)}; warn when "
                "the interval still reaches above the target.",
                advice,
            )
        )
    return items


def _grid_symbols(portfolio: Portfolio, risk: AccountRisk) -> tuple[str, str] | None:
    by_notional: dict[str, float] = {}
    for r in risk.positions:
        by_notional[r.symbol] = by_notional.get(r.symbol, 0.0) + r.notional
    ranked = sorted(by_notional, key=lambda s: -by_notional[s])
    return (ranked[0], ranked[1]) if len(ranked) >= 2 else None


def build_checklist(
    portfolio: Portfolio,
    *,
    paths: int = 5000,
    seed: int = 0,
    max_liq_prob: float = 0.01,
    horizon_hours: float = 24,
) -> Checklist:
    """Return the checklist of ``portfolio`` (see the module docstring for the units).

    ``paths`` Monte Carlo paths (liquidation probability and safe leverage), ``seed`` their seed,
    ``max_liq_prob`` the target probability (fraction) of liquidation within ``horizon_hours`` (hours).
    Raises InputError for a portfolio without positions, a bad path count, probability or horizon.
    """
    account, rules, marks = portfolio.account, portfolio.rules, portfolio.marks
    if not account.positions:
        raise InputError("positions", (), "at least one position")
    notes: list[str] = []
    cross = all_cross(account)
    cross_risk = evaluate(cross, marks, rules)
    books: dict[str, tuple[Account, AccountRisk]] = {"cross": (cross, cross_risk)}
    try:
        isolated = all_isolated(account)
        books["isolated"] = (isolated, evaluate(isolated, marks, rules))
    except InputError as error:
        notes.append(f"isolated not evaluated: {error}")
    labels = [_label(account, i) for i in range(len(account.positions))]
    frame = recommend_leverage(
        portfolio, max_liq_prob=max_liq_prob, horizon_hours=horizon_hours, paths=paths, seed=seed
    )
    mc = liquidation_probability(portfolio, horizon_hours=horizon_hours, paths=paths, seed=seed, progress=False)
    symbols = list(dict.fromkeys(p.symbol for p in account.positions))
    report = run_stress(portfolio, hypothetical_scenarios(symbols, settle=rules.settle) + historical_scenarios(symbols))
    notes.extend(report.notes)
    iso_risk = books["isolated"][1] if "isolated" in books else None
    rows = tuple(
        LiquidationRow(
            label=labels[i],
            mark=r.mark_price,
            cross=r.liquidation_price,
            isolated=None if iso_risk is None else iso_risk.positions[i].liquidation_price,
        )
        for i, r in enumerate(cross_risk.positions)
    )
    pair = _grid_symbols(portfolio, cross_risk)
    grid = None if pair is None else stress_grid(portfolio, pair[0], pair[1], grid_moves(GRID_EXTENT, GRID_STEP))
    items = [
        *_leverage_items(portfolio, frame, labels),
        _ratio_item(portfolio, cross, cross_risk),
        *_distance_items(portfolio, books),
        _concentration_item(cross, cross_risk, rules.settle),
        *_stop_items(portfolio, rows),
        *_stress_items(portfolio, report),
        *_mc_items(
            portfolio,
            mc,
            frame,
            books["isolated"][0] if "isolated" in books else None,
            max_liq_prob,
            seed=seed,
        ),
    ]
    return Checklist(
        venue=rules.name,
        settle=rules.settle,
        wallet_balance=account.wallet_balance,
        margin_balance=cross_risk.account.margin_balance,
        positions=tuple(
            f"{labels[i]} {p.size:g} @ {format_price(p.entry_price)}, mark {format_price(r.mark_price)}, "
            f"{p.leverage:g}x {p.mode.value}"
            for i, (p, r) in enumerate(zip(account.positions, cross_risk.positions, strict=True))
        ),
        items=tuple(items),
        liquidations=rows,
        grid=grid,
        paths=paths,
        horizon_hours=float(horizon_hours),
        max_liq_prob=max_liq_prob,
        notes=tuple(notes),
    )


# --- charts (reportlab graphics: vector in the PDF, SVG in the HTML) ---------------------------------------

_CROSS = colors.HexColor("#1f3b73")
_ISOLATED = colors.HexColor("#d62728")


def liquidation_drawing(checklist: Checklist, width: float = 170 * mm) -> Drawing:
    """Return the chart: per position, the move from the mark to its cross and isolated liquidation price."""
    rows = checklist.liquidations
    row_h, top, left, right = 34.0, 40.0, 95.0, 20.0
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
        y = height - top - row_h * (k + 1) + 10
        drawing.add(String(4, y + 8, row.label, fontSize=9))
        drawing.add(String(4, y - 2, f"mark {format_price(row.mark)}", fontSize=7, fillColor=colors.grey))
        for offset, price, colour, name in ((8, row.cross, _CROSS, "cross"), (-4, row.isolated, _ISOLATED, "isolated")):
            if price is None:
                drawing.add(String(centre + 4, y + offset, f"{name}: none", fontSize=7, fillColor=colour))
                continue
            move = (price - row.mark) / row.mark
            x = x_of(move)
            drawing.add(Rect(min(centre, x), y + offset - 1, abs(x - centre), 7, fillColor=colour, strokeColor=None))
            anchor = "start" if move >= 0 else "end"
            text_x = x + 3 if move >= 0 else x - 3
            if abs(move) > 0.8:  # label inside the bar near its end so it stays on the page
                anchor, text_x = ("end", x - 3) if move >= 0 else ("start", x + 3)
            label = f"{name} {format_price(price)} ({move * 100:+.1f}%)"
            fill = colors.white if abs(move) > 0.8 else colour
            drawing.add(String(text_x, y + offset, label, fontSize=7, textAnchor=anchor, fillColor=fill))
    drawing.add(Rect(left, height - 30, 8, 6, fillColor=_CROSS, strokeWidth=0))
    drawing.add(String(left + 11, height - 30, "cross", fontSize=8))
    drawing.add(Rect(left + 50, height - 30, 8, 6, fillColor=_ISOLATED, strokeWidth=0))
    drawing.add(String(left + 61, height - 30, "isolated (each position its own margin)", fontSize=8))
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
    """Return the stress heat map: equity after each move, with the cross and isolated liquidation boundaries."""
    moves = list(grid.moves)
    n = len(moves)
    left, bottom, top = 55.0, 55.0, 30.0
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
    for flags, colour, dash in (
        (grid.cross_ratio >= 1.0, colors.black, None),
        (grid.isolated_ratio >= 1.0, _ISOLATED, [3, 2]),
    ):
        _boundary(drawing, np.asarray(flags), left=left, bottom=bottom, cell=cell, colour=colour, dash=dash)
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
    drawing.add(String(left - 3, bottom + n * cell + 4, f"{grid.y_symbol} move", fontSize=8, textAnchor="end"))
    legend_y = 8.0
    drawing.add(Line(left, legend_y + 3, left + 18, legend_y + 3, strokeWidth=2))
    drawing.add(String(left + 22, legend_y, "cross account liquidated beyond", fontSize=7))
    drawing.add(
        Line(
            left + 150,
            legend_y + 3,
            left + 168,
            legend_y + 3,
            strokeWidth=2,
            strokeColor=_ISOLATED,
            strokeDashArray=[3, 2],
        )
    )
    drawing.add(String(left + 172, legend_y, "an isolated position liquidated beyond", fontSize=7))
    drawing.add(String(left + 320, legend_y, "x = today", fontSize=7))
    return drawing


def _boundary(drawing: Drawing, flags: Any, *, left: float, bottom: float, cell: float, colour: Any, dash: Any) -> None:
    """Draw the cell edges between liquidated and not-liquidated cells (``flags[y, x]``)."""
    n_y, n_x = flags.shape
    style: dict[str, Any] = {"strokeColor": colour, "strokeWidth": 2}
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


def _html(checklist: Checklist) -> str:
    e = html.escape
    verdict = checklist.verdict
    rows = "\n".join(
        f"<tr><td>{e(item.title)}</td><td>{e(item.figure)}</td>"
        f"<td style='color:#fff;background:{COLOURS[item.status]};text-align:center'><b>{MARKS[item.status]}</b></td>"
        f"<td>{e(item.detail)}</td></tr>"
        for item in checklist.items
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
<h2>Checklist</h2>
<table><tr><th>item</th><th>figure</th><th>status</th><th>what it checks</th></tr>
{rows}</table>
<h2>Visual guide</h2>{charts}
<h2>Advice</h2><ul>{advice or "<li>Nothing to do: every item passes.</li>"}</ul>
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
        ["Margin balance (all cross)", f"{_money(checklist.margin_balance)} {checklist.settle}"],
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
            "Every figure comes from the crossmargin library at today's marks. Cross: every position shares one "
            "margin pool; isolated: each position holds entry notional / leverage of its own. Read the table on the "
            "next page top to bottom; the advice section says what to change to pass.",
            small,
        )
    )
    return story


def write_pdf(checklist: Checklist, path: Path) -> None:
    """Write the checklist as an A4 PDF to ``path``: title page, table, visual guide, advice.

    Raises OSError when ``path`` cannot be written.
    """
    styles = getSampleStyleSheet()
    body = ParagraphStyle("cm-body", parent=styles["BodyText"], fontSize=9, leading=11.5)
    small = ParagraphStyle("cm-small", parent=body, fontSize=8, leading=10)
    white = ParagraphStyle("cm-mark", parent=body, textColor=colors.white, alignment=1)
    e = html.escape
    story = _title_page(checklist, styles, body=body, small=small)
    story += [PageBreak(), Paragraph("Checklist", styles["Heading1"])]
    data: list[list[Any]] = [[Paragraph(f"<b>{h}</b>", small) for h in ("Item", "Figure", "Status", "Detail")]]
    style_cmds: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    for row, item in enumerate(checklist.items, start=1):
        data.append(
            [
                Paragraph(e(item.title), small),
                Paragraph(e(item.figure), small),
                _status_cell(item.status, white),
                Paragraph(e(item.detail), small),
            ]
        )
        style_cmds.append(("BACKGROUND", (2, row), (2, row), colors.HexColor(COLOURS[item.status])))
    checks = Table(data, colWidths=[48 * mm, 42 * mm, 15 * mm, 75 * mm], repeatRows=1)
    checks.setStyle(TableStyle(style_cmds))
    story += [checks, PageBreak(), Paragraph("Visual guide", styles["Heading1"])]
    story.append(
        Paragraph(
            "Liquidation price of each position under cross and isolated margin, as the move from today's mark. "
            "A longer bar is a larger cushion; 'none' means the price can move that way without limit.",
            body,
        )
    )
    story.append(liquidation_drawing(checklist))
    if checklist.grid is not None:
        story.append(Spacer(1, 4 * mm))
        story.append(
            Paragraph(
                "Stress heat map: colour is the margin balance after both moves (yellow = today, red = lost, green = "
                "gained); beyond the black line the cross account is liquidated, beyond the red dashed line an "
                "isolated position is. Other marks held.",
                body,
            )
        )
        story.append(heatmap_drawing(checklist.grid))
    story += [PageBreak(), Paragraph("Advice", styles["Heading1"])]
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
