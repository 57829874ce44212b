"""The stress heat map (plotly): equity after two symbols' moves, with each book's liquidation boundary.

Draws ``risk.stress.StressGrid``; every number comes from ``risk.stress.stress_grid``. Money in the quote
currency, moves and ratios as fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from crossmargin.portfolio import Portfolio
from crossmargin.risk.stress import MODE_LABELS, FloatArray, StressGrid, stress_grid

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["RATIO_CAP", "grid_figure", "grid_heatmap"]

#: Ratios above this are drawn at this value in the heat map's contour traces (inf = bankrupt pool).
RATIO_CAP = 10.0


def _capped(ratio: FloatArray) -> FloatArray:
    """Return ``ratio`` with inf (bankrupt) and anything above ``RATIO_CAP`` drawn at the cap; NaN as 0."""
    return np.minimum(np.nan_to_num(ratio, nan=0.0, posinf=RATIO_CAP), RATIO_CAP)


def grid_figure(grid: StressGrid) -> go.Figure:
    """Return the heat map of equity after each move, with the three books' liquidation boundaries.

    Colour: margin balance after the move (quote currency; the scale is centred on today's). Contour lines
    where the ratio reaches 1: thick purple, a pool of the book as given is liquidated; black, what if all
    cross: the cross account is; red dashed, what if all isolated: the first isolated position is. Hover
    gives what each book keeps after the venue's liquidation.
    """
    import plotly.graph_objects as go  # noqa: PLC0415  (plotly is heavy; only the figure needs it)

    moves = np.asarray(grid.moves)
    custom = np.dstack(
        [
            grid.as_given_equity_left,
            grid.cross_equity_left,
            grid.isolated_equity_left,
            grid.as_given_ratio,
            grid.cross_ratio,
            grid.isolated_ratio,
        ]
    )
    figure = go.Figure()
    figure.add_trace(
        go.Heatmap(
            x=moves,
            y=moves,
            z=grid.equity_after,
            zmid=grid.equity_before,
            colorscale="RdYlGn",
            colorbar={"title": {"text": f"equity after ({grid.settle})"}},
            customdata=custom,
            hovertemplate=(
                f"{grid.x_symbol} %{{x:+.1%}}<br>{grid.y_symbol} %{{y:+.1%}}<br>equity after %{{z:,.2f}}"
                "<br>as given: max ratio %{customdata[3]:.2f}, left after liquidation %{customdata[0]:,.2f}"
                "<br>what if all cross: ratio %{customdata[4]:.2f}, left after liquidation %{customdata[1]:,.2f}"
                "<br>what if all isolated: max ratio %{customdata[5]:.2f}, left after liquidation "
                "%{customdata[2]:,.2f}<extra></extra>"
            ),
            name="equity after",
        )
    )
    # As given first and widest, so that a recast on the same boundary (an all-cross book) draws over it.
    boundaries = (
        ("as given: a position liquidated", grid.as_given_ratio, "#6a3d9a", "solid", 7),
        ("what if all cross: account liquidated", grid.cross_ratio, "black", "solid", 3),
        ("what if all isolated: a position liquidated", grid.isolated_ratio, "#d62728", "dash", 3),
    )
    for name, ratio, color, dash, width in boundaries:
        figure.add_trace(
            go.Contour(
                x=moves,
                y=moves,
                z=_capped(ratio),
                autocontour=False,
                contours={"start": 1.0, "end": 1.0, "size": 1.0, "coloring": "lines", "showlabels": False},
                colorscale=[[0.0, color], [1.0, color]],
                line={"width": width, "dash": dash},
                showscale=False,
                showlegend=True,
                name=name,
                hoverinfo="skip",
            )
        )
    figure.add_trace(
        go.Scatter(x=[0.0], y=[0.0], mode="markers", marker={"symbol": "x", "size": 12, "color": "black"}, name="today")
    )
    states = []
    for mode, flags in (
        ("as_given", grid.as_given_liquidated),
        ("cross", grid.cross_liquidated),
        ("isolated", grid.isolated_liquidated),
    ):
        if not flags.any():
            states.append(f"{MODE_LABELS[mode]}: no liquidation inside the grid")
    subtitle = (
        f"{grid.venue}: {grid.x_symbol} and {grid.y_symbol} moved from today's marks, others held; colour = "
        f"margin balance after the move ({grid.settle})" + ("; " + "; ".join(states) if states else "")
    )
    figure.update_layout(
        title={
            "text": "Visual guide to collateral: the book as given, and what if all cross or all isolated"
            f"<br><sup>{subtitle}</sup>"
        },
        xaxis={"title": {"text": f"{grid.x_symbol} move"}, "tickformat": "+.0%"},
        yaxis={"title": {"text": f"{grid.y_symbol} move"}, "tickformat": "+.0%"},
        legend={"orientation": "h", "y": -0.15},
        height=720,
        width=900,
        template="plotly_white",
    )
    return figure


def grid_heatmap(portfolio: Portfolio, x_symbol: str, y_symbol: str, moves: Sequence[float]) -> go.Figure:
    """Return ``grid_figure`` of ``stress_grid(portfolio, x_symbol, y_symbol, moves)``; save it with ``save_figure``."""
    return grid_figure(stress_grid(portfolio, x_symbol, y_symbol, moves))
