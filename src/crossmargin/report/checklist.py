"""The Cross Margin Risk Checklist as HTML or an A4 PDF: the writers of ``risk.checklist``'s verdicts.

The items, their thresholds and the advice are in ``risk.checklist``; this module draws them. The PDF is
drawn with reportlab's own graphics (vector charts), and the HTML page holds the same charts as inline
SVG; neither kaleido nor a browser is needed. Money in the quote currency (settle asset), moves as
fractions of the mark, drawing sizes in points.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
from crossmargin.risk import checklist as verdicts
from crossmargin.risk.checklist import (
    STATUSES,
    Item,
    Status,
    missing_price,
    percent,
)
from crossmargin.risk.stress import StressGrid

__all__ = [
    "COLOURS",
    "MARKS",
    "WHAT_IF_TEXT",
    "heatmap_drawing",
    "html_page",
    "liquidation_drawing",
    "write_pdf",
]

#: The colour of each status in the HTML, the PDF and the terminal.
COLOURS: dict[Status, str] = {"pass": "#2e7d32", "warn": "#ef8f00", "fail": "#c62828"}
#: The word each status is marked with.
MARKS: dict[Status, str] = {"pass": "PASS", "warn": "WARN", "fail": "FAIL"}
#: How the what-if section introduces itself (HTML and PDF).
WHAT_IF_TEXT = (
    "The same checks with every position recast cross, or every position isolated (a position already isolated "
    "keeps its margin; one recast from cross holds entry notional / leverage). For comparison only: they are not "
    "part of the verdict, and the advice is for the book as given."
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


def liquidation_drawing(checklist: verdicts.Checklist, width: float = 170 * mm) -> Drawing:
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
                drawing.add(
                    String(centre + 4, y + offset, f"{name}: {missing_price(note)}", fontSize=7, fillColor=colour)
                )
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


def html_page(checklist: verdicts.Checklist) -> str:
    """Return ``checklist`` as one self-contained HTML page (inline CSS, charts as inline SVG)."""
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
    target = percent(checklist.max_liq_prob, 2)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Cross Margin Risk Checklist</title>
<style>body{{font-family:Helvetica,Arial,sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top}}
th{{background:#eee;text-align:left}}.verdict{{font-size:1.4em;color:{COLOURS[verdict]}}}</style></head><body>
<h1>Cross Margin Risk Checklist</h1>
<p>Venue {e(checklist.venue)}; wallet {_money(checklist.wallet_balance)} {e(checklist.settle)};
margin balance {_money(checklist.margin_balance)} {e(checklist.settle)};
Monte Carlo {checklist.paths:,} paths over {checklist.horizon_hours:g} h, target {target}.</p>
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


def _title_page(
    checklist: verdicts.Checklist, styles: Any, *, body: ParagraphStyle, small: ParagraphStyle
) -> list[Any]:
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
            f"{checklist.paths:,} paths, {checklist.horizon_hours:g} h, target {percent(checklist.max_liq_prob, 2)}",
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


def write_pdf(checklist: verdicts.Checklist, path: Path) -> None:
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
