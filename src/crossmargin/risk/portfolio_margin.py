"""Scenario-based (portfolio) margin of a book of perpetuals, in the style of OKX Portfolio Margin.

risk-methods.md §1.0 template, §1.1 parameters, §1.6 design. Positions are grouped into **risk units**,
one per underlying (all perpetuals of one base currency, long and short legs netted). Each unit is
revalued under:

- **MR1 spot shock**: a 7-point price grid, ``0, ±1/3, ±2/3, ±1`` x the unit's maximum move (BTC and ETH
  ±12 %, the MR1 mid caps ±18 %, others ±25 %); ``MR1 = max(0, worst loss over the grid)``;
- **MR6 extreme move**: ±24 % (BTC, ETH), ±36 % (MR6 mid caps, SOL among them), ±50 % (others), counted at
  ``extreme_move_weight`` of its loss;
- **MR7 minimum charge**: ``raw = raw_rate x gross notional``, scaled by OKX's incremental tier
  multipliers (1, 2, 4, ... 12).

A unit requires ``max(max(MR1, MR6), MR7)``: OKX's ``max{[max(spot shock, extreme move) + basis + vega +
...], adjusted minimum charge}`` with no vega (perpetuals are linear) and no basis charge. OKX sums the
units. Cross-underlying offsets (a long BTC hedged by a short ETH) exist only through the
``cross_unit_offset`` parameter (§1.6 option (c), not OKX's): the book's requirement is
``MM = units - w x (units - correlated)`` where ``correlated`` moves every underlying at once by the same
fraction of its own range, and ``w`` is the correlated weight (0 reproduces OKX). ``IM = 1.3 x MM``.

Loss under a move ``s`` is the change of unrealised PnL, ``u(M) - u(M x (1 + s))`` with
``crossmargin.margin.unrealized_pnl``. Every parameter is data in ``risk/data/pm_okx.json`` with its
source, its date and, where the sources leave it open, ``uncertain: true``. Money in the quote currency,
moves and rates as fractions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import pandas as pd

from crossmargin.errors import InputError
from crossmargin.margin.account import evaluate
from crossmargin.margin.position import unrealized_pnl
from crossmargin.model import Account, Marks, Position
from crossmargin.portfolio import Portfolio, all_cross, compare_modes
from crossmargin.venues.base import Sourced, VenueRules

__all__ = [
    "PARAMS_FILE",
    "MoveTable",
    "PmParams",
    "PortfolioMarginResult",
    "load_pm_params",
    "margin_comparison",
    "portfolio_margin",
    "scaled_minimum_charge",
    "standalone_margins",
]

#: The parameter file shipped in ``crossmargin/risk/data``.
PARAMS_FILE = "pm_okx.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class MoveTable:
    """Maximum price move (fraction) per underlying: named groups, and ``others`` for the rest."""

    groups: Mapping[str, float]
    others: float

    def move_for(self, base: str) -> float:
        """Return the maximum move (fraction) of ``base``; a leading multiplier ('1000PEPE', 'kPEPE') is ignored."""
        key = base.upper().lstrip("0123456789")
        if key.startswith("K") and key[1:] in self.groups:
            key = key[1:]
        return self.groups.get(key, self.others)


@dataclass(frozen=True, slots=True, kw_only=True)
class PmParams:
    """Parameters of the scenario margin (see ``pm_okx.json``). Moves, weights and rates are fractions.

    ``min_charge_tiers``: (floor of the raw charge in quote currency, multiplier on the part above it).
    ``correlated_weight``: weight of the fully correlated requirement in the cross-unit blend (0 = OKX).
    """

    name: str
    spot_shock: MoveTable
    points_per_side: int
    extreme_move: MoveTable
    extreme_move_weight: float
    min_charge_rate: float
    min_charge_tiers: tuple[tuple[float, float], ...]
    im_multiple: float
    correlated_weight: float
    sources: Mapping[str, Sourced]
    uncertain: tuple[str, ...]
    notes: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("extreme_move_weight", "correlated_weight"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InputError(name, value, "a fraction in [0, 1]")
        if self.points_per_side < 1:
            raise InputError("points_per_side", self.points_per_side, "an integer >= 1")
        if not (math.isfinite(self.im_multiple) and self.im_multiple >= 1.0):
            raise InputError("im_multiple", self.im_multiple, "a finite number >= 1")
        if not (math.isfinite(self.min_charge_rate) and self.min_charge_rate >= 0.0):
            raise InputError("min_charge_rate", self.min_charge_rate, "a finite fraction >= 0")


def _table(entry: Mapping[str, Any]) -> MoveTable:
    groups = {base: float(group["max_move"]) for group in entry["groups"] for base in group["underlyings"]}
    return MoveTable(groups=MappingProxyType(groups), others=float(entry["others"]))


@lru_cache(maxsize=1)
def load_pm_params() -> PmParams:
    """Return the shipped parameters (``risk/data/pm_okx.json``), read once."""
    text = resources.files("crossmargin.risk").joinpath("data", PARAMS_FILE).read_text(encoding="utf-8")
    data = json.loads(text)
    sources = {
        key: Sourced(str(value["source"]), str(value["as_of"]))
        for key, value in data.items()
        if isinstance(value, Mapping) and "source" in value and "as_of" in value
    }
    uncertain = tuple(key for key, value in data.items() if isinstance(value, Mapping) and value.get("uncertain"))
    charge = data["minimum_charge"]
    return PmParams(
        name=str(data["model"]),
        spot_shock=_table(data["spot_shock"]),
        points_per_side=int(data["spot_shock"]["points_per_side"]),
        extreme_move=_table(data["extreme_move"]),
        extreme_move_weight=float(data["extreme_move_weight"]["value"]),
        min_charge_rate=float(charge["raw_rate"]),
        min_charge_tiers=tuple((float(floor), float(multiple)) for floor, multiple in charge["tiers"]),
        im_multiple=float(data["initial_to_maintenance"]["value"]),
        correlated_weight=float(data["cross_unit_offset"]["correlated_weight"]),
        sources=MappingProxyType(sources),
        uncertain=uncertain,
        notes=tuple(data["notes"]),
    )


def scaled_minimum_charge(raw: float, tiers: Sequence[tuple[float, float]]) -> float:
    """Return the MR7 minimum charge after OKX's incremental scaling (quote currency).

    Each tier's multiplier applies to the part of ``raw`` between its floor and the next floor: with tiers
    (0, x1), (10,000, x2) a raw charge of 30,000 becomes ``10,000 + 20,000 x 2 = 50,000`` (OKX 'OKEx adjusts
    scaling-factor logic in Portfolio Margin mode', Dec 2021).
    """
    total = 0.0
    for index, (floor, multiple) in enumerate(tiers):
        cap = tiers[index + 1][0] if index + 1 < len(tiers) else math.inf
        if raw > floor:
            total += multiple * (min(raw, cap) - floor)
    return total


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioMarginResult:
    """The scenario margin of a book (quote currency).

    ``mm`` / ``im``: maintenance and initial requirement of the whole book; ``units_summed``: the
    requirement with no cross-unit offset (OKX's sum of units); ``correlated``: the requirement with every
    underlying moved together. ``by_underlying``: per risk unit, its symbols, net and gross notional, each
    component (``spot_shock``, ``extreme_move`` weighted, ``minimum_charge``), its worst moves, its
    ``maintenance`` and ``initial`` requirement and which component ``binds``. ``worst_scenario``: the moves
    (fraction per underlying) behind the independent and the correlated requirement.
    """

    mm: float
    im: float
    units_summed: float
    correlated: float
    by_underlying: dict[str, dict[str, Any]]
    worst_scenario: dict[str, Any]


_Leg = tuple[Position, float]


def _loss(legs: Sequence[_Leg], move: float) -> float:
    """Return the loss (quote, > 0 is a loss) of ``legs`` (position, mark) when their marks move by ``move``."""
    return math.fsum(
        unrealized_pnl(p.side, p.size, p.entry_price, mark)
        - unrealized_pnl(p.side, p.size, p.entry_price, mark * (1.0 + move))
        for p, mark in legs
    )


def _worst(moves: Sequence[float], losses: Sequence[float]) -> tuple[float, float]:
    index = max(range(len(losses)), key=lambda i: (losses[i], -abs(moves[i])))
    return moves[index], losses[index]


def _units(account: Account, marks: Marks, rules: VenueRules) -> dict[str, list[_Leg]]:
    units: dict[str, list[_Leg]] = {}
    for index, position in enumerate(account.positions):
        base = rules.instrument(position.symbol, field=f"positions[{index}].symbol").base
        units.setdefault(base, []).append((position, marks.price(position.symbol)))
    return units


def portfolio_margin(
    account: Account, marks: Marks, rules: VenueRules, *, params: PmParams | None = None
) -> PortfolioMarginResult:
    """Return the scenario maintenance and initial margin of ``account`` at ``marks`` (see the module docstring).

    ``rules`` names each symbol's underlying; positions' margin modes are ignored (portfolio margin is one
    account-wide pool). Raises InputError for a symbol the venue does not list or a missing mark.
    """
    p = params or load_pm_params()
    fractions = [k / p.points_per_side for k in range(-p.points_per_side, p.points_per_side + 1)]
    units = _units(account, marks, rules)
    by_underlying: dict[str, dict[str, Any]] = {}
    grid_losses: dict[str, list[float]] = {}
    extreme_losses: dict[str, list[float]] = {}
    for base, legs in units.items():
        spot_range = p.spot_shock.move_for(base)
        extreme = p.extreme_move.move_for(base)
        grid_moves = [f * spot_range for f in fractions]
        grid_losses[base] = [_loss(legs, move) for move in grid_moves]
        extreme_losses[base] = [_loss(legs, -extreme), _loss(legs, extreme)]
        spot_move, spot_loss = _worst(grid_moves, grid_losses[base])
        extreme_move, extreme_loss = _worst([-extreme, extreme], extreme_losses[base])
        gross = math.fsum(leg.size * mark for leg, mark in legs)
        components = {
            "spot_shock": max(0.0, spot_loss),
            "extreme_move": p.extreme_move_weight * max(0.0, extreme_loss),
            "minimum_charge": scaled_minimum_charge(p.min_charge_rate * gross, p.min_charge_tiers),
        }
        binds = max(components, key=lambda name: components[name])
        maintenance = components[binds]
        by_underlying[base] = {
            "symbols": [leg.symbol for leg, _ in legs],
            "net_notional": math.fsum(int(leg.side) * leg.size * mark for leg, mark in legs),
            "gross_notional": gross,
            **components,
            "spot_shock_move": spot_move,
            "extreme_move_shock": extreme_move,
            "maintenance": maintenance,
            "initial": p.im_multiple * maintenance,
            "binds": binds,
        }
    units_summed = math.fsum(unit["maintenance"] for unit in by_underlying.values())
    joint_grid = [math.fsum(grid_losses[base][i] for base in units) for i in range(len(fractions))]
    joint_extreme = [math.fsum(extreme_losses[base][i] for base in units) for i in range(2)]
    spot_fraction, joint_spot = _worst(fractions, joint_grid)
    extreme_sign, joint_extreme_loss = _worst([-1.0, 1.0], joint_extreme)
    joint = {
        "spot_shock": max(0.0, joint_spot),
        "extreme_move": p.extreme_move_weight * max(0.0, joint_extreme_loss),
        "minimum_charge": math.fsum(unit["minimum_charge"] for unit in by_underlying.values()),
    }
    joint_binds = max(joint, key=lambda name: joint[name])
    correlated = joint[joint_binds]
    mm = units_summed - p.correlated_weight * (units_summed - correlated)
    if joint_binds == "extreme_move":
        joint_moves = {base: extreme_sign * p.extreme_move.move_for(base) for base in units}
    else:
        joint_moves = {base: spot_fraction * p.spot_shock.move_for(base) for base in units}
    worst_scenario = {
        "independent": {
            "moves": {
                base: unit["extreme_move_shock"] if unit["binds"] == "extreme_move" else unit["spot_shock_move"]
                for base, unit in by_underlying.items()
            },
            "requirement": units_summed,
        },
        "correlated": {"moves": joint_moves, "requirement": correlated, "binds": joint_binds},
        "correlated_weight": p.correlated_weight,
    }
    return PortfolioMarginResult(
        mm=mm,
        im=p.im_multiple * mm,
        units_summed=units_summed,
        correlated=correlated,
        by_underlying=by_underlying,
        worst_scenario=worst_scenario,
    )


def standalone_margins(
    account: Account, marks: Marks, rules: VenueRules, *, params: PmParams | None = None
) -> list[PortfolioMarginResult]:
    """Return the scenario margin of each position held alone (same wallet), in position order."""
    crossed = all_cross(account)
    return [
        portfolio_margin(replace(crossed, positions=(position,)), marks, rules, params=params)
        for position in crossed.positions
    ]


def margin_comparison(portfolio: Portfolio, *, params: PmParams | None = None) -> pd.DataFrame:
    """Return maintenance and initial requirement (quote) under cross, isolated and portfolio margin.

    Rows (index ``mode``): ``cross`` and ``isolated`` (the venue's own figures from ``evaluate`` of
    ``all_cross`` / ``all_isolated``, summed over positions), ``portfolio, positions alone`` (the scenario
    margin of each position by itself, summed) and ``portfolio`` (the whole book). Columns
    ``maintenance_margin``, ``initial_margin``, ``hedge_credit`` (portfolio row: positions alone minus the
    book, what hedges inside the book save; 0 for a single position), ``vs_cross`` (cross MM minus this
    row's MM: > 0 where this row asks less than the venue's cross margin) and ``note``. An isolated row
    the wallet cannot fund holds NaN and says why.
    """
    account, marks, rules = portfolio.account, portfolio.marks, portfolio.rules
    compared = compare_modes(account, ("cross", "isolated"))
    cross = evaluate(compared.books["cross"], marks, rules).account
    rows: list[dict[str, Any]] = [
        {"mode": "cross", "maintenance_margin": cross.maintenance_margin, "initial_margin": cross.initial_margin}
    ]
    if "isolated" in compared.books:
        isolated = evaluate(compared.books["isolated"], marks, rules).account
        rows.append(
            {
                "mode": "isolated",
                "maintenance_margin": isolated.maintenance_margin,
                "initial_margin": isolated.initial_margin,
            }
        )
    else:  # the wallet cannot fund every position isolated: compare_modes' note says why
        rows.append(
            {"mode": "isolated", "maintenance_margin": math.nan, "initial_margin": math.nan, "note": compared.notes[0]}
        )
    alone = standalone_margins(account, marks, rules, params=params)
    book = portfolio_margin(account, marks, rules, params=params)
    alone_mm = math.fsum(result.mm for result in alone)
    rows.append(
        {
            "mode": "portfolio, positions alone",
            "maintenance_margin": alone_mm,
            "initial_margin": math.fsum(result.im for result in alone),
        }
    )
    rows.append(
        {
            "mode": "portfolio",
            "maintenance_margin": book.mm,
            "initial_margin": book.im,
            "hedge_credit": alone_mm - book.mm,
        }
    )
    frame = pd.DataFrame(rows).set_index("mode")
    frame["vs_cross"] = cross.maintenance_margin - frame["maintenance_margin"]
    if "note" not in frame:
        frame["note"] = ""
    if "hedge_credit" not in frame:
        frame["hedge_credit"] = math.nan
    frame["note"] = frame["note"].fillna("")
    return frame[["maintenance_margin", "initial_margin", "hedge_credit", "vs_cross", "note"]]
