"""The backtest figure: equity and margin ratio of every mode on one page (plotly), saved as HTML and PNG.

HTML embeds plotly.js (it opens offline). PNG goes through kaleido, which needs a Chrome or Chromium on
the machine; where there is none, ``save_figure`` writes the HTML and says why the PNG is missing instead
of failing the run.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crossmargin.sim.result import BacktestResult

__all__ = [
    "COLORS",
    "backtest_figure",
    "save_figure",
]

COLORS = {"cross": "#1f77b4", "isolated": "#d62728"}


def backtest_figure(result: BacktestResult) -> go.Figure:
    """Return equity (top) and margin ratio (bottom, requirement / margin balance) of every mode over time."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.06,
        subplot_titles=(f"Equity ({result.venue}, quote currency)", "Highest pool margin ratio (1 = liquidation)"),
    )
    for name, run in result.modes.items():
        color = COLORS.get(name)
        figure.add_trace(
            go.Scatter(x=run.equity.index, y=run.equity["equity"], name=f"{name}: equity", line={"color": color}),
            row=1,
            col=1,
        )
        figure.add_trace(
            go.Scatter(
                x=run.equity.index, y=run.equity["margin_ratio"], name=f"{name}: margin ratio", line={"color": color}
            ),
            row=2,
            col=1,
        )
        if len(run.liquidations):
            first = run.liquidations.drop_duplicates(subset=["time", "pool"])
            at = run.equity["equity"].reindex(first["time"])
            figure.add_trace(
                go.Scatter(
                    x=first["time"],
                    y=at.to_numpy(),
                    mode="markers",
                    marker={"symbol": "x", "size": 12, "color": color},
                    name=f"{name}: liquidation",
                    text=[f"{p} {s}" for p, s in zip(first["pool"], first["symbol"], strict=True)],
                ),
                row=1,
                col=1,
            )
    figure.add_hline(y=0.8, line_dash="dot", line_color="orange", row=2, col=1)
    figure.add_hline(y=1.0, line_dash="dash", line_color="black", row=2, col=1)
    figure.update_layout(
        title=f"{result.strategy}: {', '.join(result.modes)} on {', '.join(result.symbols)}",
        height=720,
        width=1100,
        template="plotly_white",
    )
    return figure


def save_figure(figure: go.Figure, html: Path, *, png: Path | None = None) -> list[str]:
    """Write ``figure`` to ``html`` (and ``png``); return notes on what could not be written."""
    html.parent.mkdir(parents=True, exist_ok=True)
    figure.write_html(html, include_plotlyjs=True, full_html=True)
    notes: list[str] = []
    if png is not None:
        try:
            figure.write_image(png)
        except Exception as error:  # kaleido raises several types when no browser is found
            first = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
            notes.append(f"PNG not written: kaleido needs Chrome or Chromium ({type(error).__name__}: {first})")
    return notes
