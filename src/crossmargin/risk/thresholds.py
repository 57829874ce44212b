"""Where a figure turns from safe to warning to failing: the thresholds the Risk Checklist scores by and the
command line colours by.

A base of the risk lab with no import: a face may read it without loading the lab. Fractions (0.1 = 10 %);
margin ratios as requirement / margin balance (1 = liquidation), whatever the venue displays.
"""

from __future__ import annotations

__all__ = [
    "CONCENTRATION_FAIL",
    "CONCENTRATION_WARN",
    "DISTANCE_FAIL",
    "DISTANCE_WARN",
    "GRID_EXTENT",
    "GRID_STEP",
    "LEVERAGE_WARN_SHARE",
    "LIQ_PROB_TARGET",
    "MARGIN_RATIO_FAIL",
    "MARGIN_RATIO_WARN",
    "STOP_SHARE",
    "STRESS_LOSS_FAIL",
    "STRESS_LOSS_WARN",
]

#: Target probability of liquidation within the horizon (fraction): the checklist's and ``leverage``'s default;
#: the command line shows a probability above it red, yellow while the upper end of its 95 % interval is.
LIQ_PROB_TARGET = 0.01
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
